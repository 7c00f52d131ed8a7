//! The load side of the echo benchmark: a reactor client pool whose
//! connections each keep `depth` frames in flight.

use reactor::{CloseReason, ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopPool};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODY: [u8; 64] = [0x5a; 64];
const FRAME_ID: u16 = 1017;
const WARM_UP: Duration = Duration::from_secs(1);

/// What to offer the server.
pub struct Shape {
    pub connections: usize,
    /// Frames in flight per connection.
    pub depth: u32,
    pub client_threads: usize,
    pub duration: Duration,
}

/// What one measurement found.
pub struct Outcome {
    pub frames_per_second: f64,
    /// Server CPU time (user + system, all threads) per echoed frame.
    pub server_cpu_us_per_frame: f64,
    /// Connections that failed or closed early.
    pub errors: u64,
}

#[derive(Clone)]
struct Counters {
    echoed: Arc<AtomicU64>,
    connected: Arc<AtomicUsize>,
    errors: Arc<AtomicU64>,
}

/// Keeps `depth` frames in flight: one new frame for every echo.
struct LoadClient {
    depth: u32,
    counters: Counters,
}

impl Handler for LoadClient {
    type Codec = FrameCodec;
    type Session = ();

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        self.counters.connected.fetch_add(1, Relaxed);
        for _ in 0..self.depth {
            let _ = ctx.send_frame(conn, FRAME_ID, &BODY);
        }
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        if frame.body.len() != BODY.len() {
            self.counters.errors.fetch_add(1, Relaxed);
        }
        self.counters.echoed.fetch_add(1, Relaxed);
        let _ = ctx.send_frame(conn, FRAME_ID, &BODY);
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, _: ConnId, _: (), reason: &CloseReason) {
        if !matches!(reason, CloseReason::Shutdown | CloseReason::Requested) {
            self.counters.errors.fetch_add(1, Relaxed);
        }
    }
}

/// Connects, warms up, measures for `shape.duration`, disconnects.
/// `server_cpu` reads the server's CPU time so far.
pub fn run(addr: SocketAddr, shape: &Shape, server_cpu: impl Fn() -> Duration) -> Outcome {
    let counters = Counters {
        echoed: Arc::new(AtomicU64::new(0)),
        connected: Arc::new(AtomicUsize::new(0)),
        errors: Arc::new(AtomicU64::new(0)),
    };
    let config =
        LoopConfig { name: "load".into(), threads: shape.client_threads, ..LoopConfig::default() };
    let (depth, shared) = (shape.depth, counters.clone());
    let mut pool = LoopPool::start(config, FrameCodec::default(), move |_| LoadClient {
        depth,
        counters: shared.clone(),
    })
    .expect("start client loops");
    for _ in 0..shape.connections {
        pool.next_handle()
            .post(move |_, ctx| {
                if let Err(e) = ctx.connect(addr, None) {
                    eprintln!("connect to {addr}: {e}");
                }
            })
            .expect("post connect");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.connected.load(Relaxed) < shape.connections && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARM_UP);
    let (before, started, cpu_before) =
        (counters.echoed.load(Relaxed), Instant::now(), server_cpu());
    std::thread::sleep(shape.duration);
    let (after, elapsed, cpu_after) =
        (counters.echoed.load(Relaxed), started.elapsed(), server_cpu());
    pool.shutdown(Duration::from_secs(1));
    let missing = shape.connections.saturating_sub(counters.connected.load(Relaxed)) as u64;
    let frames = (after - before).max(1) as f64;
    Outcome {
        frames_per_second: frames / elapsed.as_secs_f64(),
        server_cpu_us_per_frame: (cpu_after - cpu_before).as_secs_f64() * 1e6 / frames,
        errors: counters.errors.load(Relaxed) + missing,
    }
}
