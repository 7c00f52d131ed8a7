//! 1,000 concurrent clients each echo 1,000 frames through the server, and
//! every byte that comes back is checked. The clients run on the reactor's
//! own connector (a client-side loop pool), which this also tests.

mod util;

use reactor::{CloseReason, ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopPool};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use util::{config, start_echo, wait_until};

const CLIENTS: usize = 1000;
const FRAMES_PER_CLIENT: u32 = 1000;
const IN_FLIGHT: u32 = 8;
const BODY_LEN: usize = 64;

/// The body of frame `seq` of client `client`: different for every frame.
fn body(client: u32, seq: u32) -> [u8; BODY_LEN] {
    let mut out = [0u8; BODY_LEN];
    let mut x = (client as u64) << 32 | seq as u64;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

#[derive(Default)]
struct Progress {
    client: u32,
    sent: u32,
    received: u32,
}

struct Totals {
    next_client: AtomicUsize,
    finished: AtomicUsize,
    failures: AtomicUsize,
    bytes_checked: AtomicU64,
}

struct EchoClient {
    totals: Arc<Totals>,
}

impl EchoClient {
    fn send_next(ctx: &mut Ctx<Self>, conn: ConnId) {
        let progress = ctx.session_mut(conn).unwrap();
        let (client, seq) = (progress.client, progress.sent);
        progress.sent += 1;
        ctx.send_frame(conn, (seq % 65536) as u16, &body(client, seq)).unwrap();
    }
}

impl Handler for EchoClient {
    type Codec = FrameCodec;
    type Session = Progress;

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let client = self.totals.next_client.fetch_add(1, Ordering::SeqCst) as u32;
        ctx.session_mut(conn).unwrap().client = client;
        for _ in 0..IN_FLIGHT {
            Self::send_next(ctx, conn);
        }
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let progress = ctx.session_mut(conn).unwrap();
        let seq = progress.received;
        progress.received += 1;
        let expected = body(progress.client, seq);
        if frame.id != seq as u16 || frame.body != expected {
            self.totals.failures.fetch_add(1, Ordering::SeqCst);
            ctx.force_close(conn);
            return;
        }
        self.totals.bytes_checked.fetch_add(frame.body.len() as u64, Ordering::Relaxed);
        let (sent, received) = (progress.sent, progress.received);
        if received == FRAMES_PER_CLIENT {
            self.totals.finished.fetch_add(1, Ordering::SeqCst);
            ctx.shutdown(conn);
        } else if sent < FRAMES_PER_CLIENT {
            Self::send_next(ctx, conn);
        }
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, _: ConnId, progress: Progress, reason: &CloseReason) {
        if progress.received != FRAMES_PER_CLIENT {
            eprintln!(
                "client {} closed early after {}: {reason}",
                progress.client, progress.received
            );
            self.totals.failures.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn connect_all(pool: &LoopPool<EchoClient>, addr: SocketAddr) {
    for _ in 0..CLIENTS {
        pool.next_handle()
            .post(move |_, ctx| {
                ctx.connect(addr, None).expect("start connect");
            })
            .unwrap();
    }
}

#[test]
fn a_thousand_clients_each_echo_a_thousand_frames_intact() {
    let server = start_echo(config("echo1k"));
    let totals = Arc::new(Totals {
        next_client: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        bytes_checked: AtomicU64::new(0),
    });
    let client_config =
        LoopConfig { name: "echo1k-client".into(), threads: 2, ..LoopConfig::default() };
    let t = totals.clone();
    let mut clients = LoopPool::start(client_config, FrameCodec::default(), move |_| EchoClient {
        totals: t.clone(),
    })
    .unwrap();
    connect_all(&clients, server.local_addr());

    let done = wait_until(Duration::from_secs(120), || {
        totals.finished.load(Ordering::SeqCst) + totals.failures.load(Ordering::SeqCst) >= CLIENTS
    });
    assert!(done, "only {} clients finished", totals.finished.load(Ordering::SeqCst));
    assert_eq!(totals.failures.load(Ordering::SeqCst), 0);
    assert_eq!(totals.finished.load(Ordering::SeqCst), CLIENTS);
    let expected = (CLIENTS as u64) * FRAMES_PER_CLIENT as u64 * BODY_LEN as u64;
    assert_eq!(totals.bytes_checked.load(Ordering::SeqCst), expected);

    // The server saw every connection, on both loops.
    let opened: Vec<u64> =
        server.pool().stats().iter().map(|s| reactor::LoopStats::get(&s.opened)).collect();
    assert_eq!(opened.iter().sum::<u64>(), CLIENTS as u64);
    assert!(opened.iter().all(|&n| n >= (CLIENTS as u64) / 2 - 1), "round-robin: {opened:?}");

    clients.shutdown(Duration::from_secs(2));
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_connect_to_a_closed_port_is_reported_as_connect_failed() {
    struct Watch(Arc<parking_lot::Mutex<Option<CloseReason>>>);
    impl Handler for Watch {
        type Codec = FrameCodec;
        type Session = ();
        fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, _: Frame<'_>) {}
        fn on_close(&mut self, _: &mut Ctx<Self>, _: ConnId, _: (), reason: &CloseReason) {
            *self.0.lock() = Some(reason.clone());
        }
    }
    // Find a port nobody listens on: bind, note it, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let seen = Arc::new(parking_lot::Mutex::new(None));
    let s = seen.clone();
    let cfg = LoopConfig { name: "refused".into(), threads: 1, ..LoopConfig::default() };
    let mut pool = LoopPool::start(cfg, FrameCodec::default(), move |_| Watch(s.clone())).unwrap();
    let s = seen.clone();
    pool.next_handle()
        .post(move |_, ctx| {
            // Loopback may refuse at once; otherwise the refusal arrives as an event.
            if let Err(e) = ctx.connect(addr, None) {
                *s.lock() = Some(CloseReason::ConnectFailed(e.kind()));
            }
        })
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || seen.lock().is_some()));
    assert_eq!(
        seen.lock().clone(),
        Some(CloseReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused))
    );
    pool.shutdown(Duration::from_secs(1));
}
