//! Tasks posted from other threads run on the target loop's thread, reach
//! connections owned by that loop, and a full inbox says so instead of blocking.

mod util;

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopPool, PostError, Server};
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;
use util::{localhost, Client};

struct Nothing;

impl Handler for Nothing {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, _: Frame<'_>) {}
}

#[test]
fn a_posted_task_runs_on_the_target_loops_thread() {
    let config = LoopConfig { name: "posted".into(), threads: 3, ..LoopConfig::default() };
    let mut pool = LoopPool::start(config, FrameCodec::default(), |_| Nothing).unwrap();
    let (tx, rx) = mpsc::channel();
    for handle in pool.handles().iter() {
        let tx = tx.clone();
        handle
            .post(move |_, ctx| {
                let name = std::thread::current().name().unwrap().to_string();
                tx.send((ctx.loop_index(), name)).unwrap();
            })
            .unwrap();
    }
    let mut seen: Vec<(usize, String)> =
        (0..3).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
    seen.sort();
    let expected: Vec<(usize, String)> = (0..3).map(|i| (i, format!("posted-io-{i}"))).collect();
    assert_eq!(seen, expected);
    pool.shutdown(Duration::from_secs(1));
}

#[test]
fn a_full_inbox_refuses_posts_instead_of_blocking() {
    let config =
        LoopConfig { name: "full".into(), threads: 1, inbox_capacity: 4, ..LoopConfig::default() };
    let mut pool = LoopPool::start(config, FrameCodec::default(), |_| Nothing).unwrap();
    let handle = pool.handles()[0].clone();
    let (started_tx, started_rx) = mpsc::channel();
    // Occupy the loop (a test may block it on purpose; servers never do).
    handle
        .post(move |_, _| {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        })
        .unwrap();
    started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let outcomes: Vec<Result<(), PostError>> = (0..10).map(|_| handle.post(|_, _| {})).collect();
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 4);
    assert!(outcomes[4..].iter().all(|r| *r == Err(PostError::Full)));
    pool.shutdown(Duration::from_secs(1));
    assert_eq!(handle.post(|_, _| {}), Err(PostError::Closed));
}

/// A relay: a frame `{to}` from one client is delivered to client `to`,
/// wherever its connection lives, through that loop's inbox.
struct Relay {
    handles: std::sync::Arc<[reactor::LoopHandle<Relay>]>,
    directory: std::sync::Arc<parking_lot::Mutex<HashMap<u8, (usize, ConnId)>>>,
}

impl Handler for Relay {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        if frame.id == 1 {
            // Register: body = [name].
            self.directory.lock().insert(frame.body[0], (ctx.loop_index(), conn));
            ctx.send_frame(conn, 1, b"ok").unwrap();
        } else {
            // Deliver: body = [to, text...].
            let Some(&(owner, target)) = self.directory.lock().get(&frame.body[0]) else { return };
            let text = frame.body[1..].to_vec();
            let source_loop = ctx.loop_index();
            self.handles[owner]
                .post(move |_, ctx| {
                    let note = format!("from loop {source_loop} to loop {}: ", ctx.loop_index());
                    let mut body = note.into_bytes();
                    body.extend(text);
                    ctx.send_frame(target, 2, &body).unwrap();
                })
                .unwrap();
        }
    }
}

#[test]
fn a_connection_on_another_loop_is_reached_through_its_inbox() {
    let directory = std::sync::Arc::new(parking_lot::Mutex::new(HashMap::new()));
    let d = directory.clone();
    let server =
        Server::start(localhost(), util::config("relay"), FrameCodec::default(), move |init| {
            Relay { handles: init.handles.clone(), directory: d.clone() }
        })
        .unwrap();
    // Round-robin: the first two connections land on loops 0 and 1.
    let mut a = Client::connect(server.local_addr());
    let mut b = Client::connect(server.local_addr());
    a.send_frame(1, b"a");
    assert_eq!(a.read_frame().unwrap(), (1, b"ok".to_vec()));
    b.send_frame(1, b"b");
    assert_eq!(b.read_frame().unwrap(), (1, b"ok".to_vec()));
    let (loop_a, loop_b) = {
        let directory = directory.lock();
        (directory[&b'a'].0, directory[&b'b'].0)
    };
    assert_ne!(loop_a, loop_b);

    a.send_frame(2, b"bhello");
    let expected = format!("from loop {loop_a} to loop {loop_b}: hello");
    assert_eq!(b.read_frame().unwrap(), (2, expected.into_bytes()));
    server.shutdown(Duration::from_secs(1));
}
