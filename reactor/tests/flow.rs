//! How a loop shares itself among connections and follows their output:
//! the read budget keeps one flooding peer from starving another, WRITABLE
//! interest is asked only while a write would block and dropped once the
//! output drains, and `on_drained` tells the handler when its output has left.

mod util;

use parking_lot::Mutex;
use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, Server};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use util::{localhost, total, wait_until, Client};

/// Records the id of every frame, in the order the loop dispatched them.
struct Recorder {
    seen: Arc<Mutex<Vec<u16>>>,
}

impl Handler for Recorder {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, frame: Frame<'_>) {
        self.seen.lock().push(frame.id);
    }
}

#[test]
fn a_flooding_peer_does_not_starve_another_on_the_same_loop() {
    let budget = 16 * 1024;
    let config =
        LoopConfig { threads: 1, read_budget: budget, read_chunk: budget, ..util::config("fair") };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let server = Server::start(localhost(), config, FrameCodec::default(), move |_| Recorder {
        seen: recorded.clone(),
    })
    .unwrap();
    let mut flood = Client::connect(server.local_addr());
    let mut single = Client::connect(server.local_addr());
    assert!(wait_until(Duration::from_secs(5), || total(&server, |s| &s.connections) == 2));

    // Hold the loop still while both peers write, so both are ready at once.
    let held = Arc::new(std::sync::Barrier::new(2));
    let release = held.clone();
    server.pool().handles()[0]
        .post(move |_, _| {
            release.wait();
            std::thread::sleep(Duration::from_millis(300));
        })
        .unwrap();
    held.wait();
    const FLOOD_FRAMES: usize = 1000;
    let bulk: Vec<u8> = (0..FLOOD_FRAMES).flat_map(|_| util::frame(1, &[b'f'; 1000])).collect();
    let writer = std::thread::spawn(move || {
        flood.send_raw(&bulk);
        flood
    });
    std::thread::sleep(Duration::from_millis(100)); // the flood is queued first
    single.send_frame(2, b"me too");
    let _flood = writer.join().unwrap();

    assert!(wait_until(Duration::from_secs(10), || seen.lock().len() == FLOOD_FRAMES + 1));
    let order = seen.lock().clone();
    let position = order.iter().position(|&id| id == 2).unwrap();
    // Within the first budget's worth of flood frames (plus one partial read).
    let per_budget = budget / 1006 + 2;
    assert!(
        position <= per_budget,
        "served after {position} flood frames (budget allows {per_budget})"
    );
}

/// Sends a block of frames at connect, asks to hear when they have left, then
/// sends one frame more from `on_drained`.
struct Burst;

const BURST_FRAMES: usize = 128;
const BURST_BODY: usize = 60 * 1024;
const DRAINED: u16 = 99;

impl Handler for Burst {
    type Codec = FrameCodec;
    type Session = ();
    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let body = vec![b'b'; BURST_BODY];
        for _ in 0..BURST_FRAMES {
            ctx.send_frame(conn, 1, &body).unwrap();
        }
        ctx.notify_when_drained(conn);
    }
    fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, _: Frame<'_>) {}
    fn on_drained(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        ctx.send_frame(conn, DRAINED, b"all sent").unwrap();
    }
}

#[test]
fn writable_interest_is_asked_while_blocked_and_dropped_once_drained() {
    let config = LoopConfig {
        high_water: 64 * 1024 * 1024,
        output_limit: 128 * 1024 * 1024,
        ..util::config("writable")
    };
    let server = Server::start(localhost(), config, FrameCodec::default(), |_| Burst).unwrap();
    let mut client = Client::connect(server.local_addr());

    // ~7.5 MB does not fit the loopback socket buffers: a write blocks.
    assert!(wait_until(Duration::from_secs(5), || total(&server, |s| &s.writable_asked) == 1));
    assert_eq!(total(&server, |s| &s.writable_dropped), 0, "still blocked: still asked");
    let polls_before = total(&server, |s| &s.polls);
    std::thread::sleep(Duration::from_millis(200));
    let idle_polls = total(&server, |s| &s.polls) - polls_before;
    assert!(idle_polls < 20, "a blocked socket must not wake the loop: {idle_polls} polls");

    let mut frames = 0;
    loop {
        let (id, body) = client.read_frame().expect("frame");
        if id == DRAINED {
            assert_eq!(body, b"all sent");
            break;
        }
        assert_eq!(body.len(), BURST_BODY);
        frames += 1;
    }
    assert_eq!(frames, BURST_FRAMES, "on_drained ran only after the whole burst was written");
    assert!(wait_until(Duration::from_secs(5), || total(&server, |s| &s.writable_dropped) == 1));
    assert_eq!(total(&server, |s| &s.writable_asked), 1);

    // Once drained, an idle connection does not wake the loop.
    let polls_before = total(&server, |s| &s.polls);
    std::thread::sleep(Duration::from_millis(200));
    assert!(total(&server, |s| &s.polls) - polls_before < 20);
    let mut rest = Vec::new();
    client.stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let _ = client.stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "nothing after the drained notice");
}
