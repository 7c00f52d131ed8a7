//! The two-stage read state machine over real sockets: frames split across
//! reads, many frames in one read, oversized lengths, empty bodies, any id.

mod util;

use reactor::{CloseReason, ConnId, Ctx, Frame, FrameCodec, FrameError, Handler, Server};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use util::{config, frame, localhost, start_echo, wait_until, Client};

#[test]
fn a_frame_delivered_one_byte_at_a_time_is_reassembled() {
    let server = start_echo(config("bytewise"));
    let mut client = Client::connect(server.local_addr());
    let body = br#"{"uid":42,"token":"abc"}"#;
    for byte in frame(1005, body) {
        client.send_raw(&[byte]);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(client.read_frame().unwrap(), (1005, body.to_vec()));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn many_frames_in_one_write_are_all_dispatched_in_order() {
    let server = start_echo(config("burst"));
    let mut client = Client::connect(server.local_addr());
    let mut burst = Vec::new();
    for i in 0..2000u16 {
        burst.extend(frame(i, format!("frame number {i}").as_bytes()));
    }
    client.send_raw(&burst);
    for i in 0..2000u16 {
        let (id, body) = client.read_frame().unwrap();
        assert_eq!(id, i);
        assert_eq!(body, format!("frame number {i}").as_bytes());
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_header_split_across_reads_is_reassembled() {
    let server = start_echo(config("splithdr"));
    let mut client = Client::connect(server.local_addr());
    let bytes = frame(1017, b"split header");
    client.send_raw(&bytes[..1]);
    std::thread::sleep(Duration::from_millis(30));
    client.send_raw(&bytes[1..3]);
    std::thread::sleep(Duration::from_millis(30));
    client.send_raw(&bytes[3..7]);
    std::thread::sleep(Duration::from_millis(30));
    client.send_raw(&bytes[7..]);
    assert_eq!(client.read_frame().unwrap(), (1017, b"split header".to_vec()));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_zero_length_body_is_a_frame() {
    let server = start_echo(config("empty"));
    let mut client = Client::connect(server.local_addr());
    client.send_frame(1023, b"");
    client.send_frame(1023, b"");
    assert_eq!(client.read_frame().unwrap(), (1023, vec![]));
    assert_eq!(client.read_frame().unwrap(), (1023, vec![]));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn unknown_ids_reach_the_handler_the_codec_does_not_judge() {
    let server = start_echo(config("anyid"));
    let mut client = Client::connect(server.local_addr());
    for id in [0u16, 1, 999, 4242, u16::MAX] {
        client.send_frame(id, b"x");
        assert_eq!(client.read_frame().unwrap(), (id, b"x".to_vec()));
    }
    server.shutdown(Duration::from_secs(1));
}

// ----- an oversized length: refused without being allocated -------------

/// Records the largest allocation made by the server's loop threads while
/// `WATCHING` is set. Loop threads opt in through a thread-local flag that
/// the handler factory sets, so allocations by the test thread (or other
/// tests running in the same process) do not count.
struct WatchingAllocator;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LARGEST_WATCHED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IS_WATCHED_THREAD: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds GlobalAlloc's contract; `note` only updates atomics and a
// const-initialised thread-local, and never allocates (no re-entry).
unsafe impl GlobalAlloc for WatchingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's `layout` contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    if WATCHING.load(Ordering::Relaxed) && IS_WATCHED_THREAD.with(Cell::get) {
        LARGEST_WATCHED.fetch_max(size, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: WatchingAllocator = WatchingAllocator;

/// Answers a framing error with an error frame (as the chat server does with
/// 1103) and records why the connection closed.
struct StrictEcho {
    closes: Arc<parking_lot::Mutex<Vec<CloseReason>>>,
    connected: Arc<AtomicUsize>,
}

impl Handler for StrictEcho {
    type Codec = FrameCodec;
    type Session = ();

    fn on_connect(&mut self, _ctx: &mut Ctx<Self>, _conn: ConnId) {
        self.connected.fetch_add(1, Ordering::SeqCst);
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let _ = ctx.send_frame(conn, frame.id, frame.body);
    }

    fn on_frame_error(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, error: &FrameError) {
        assert!(matches!(error, FrameError::BodyTooLong { len: 60000, max: 1024, .. }));
        let _ = ctx.send_frame(conn, 1103, br#"{"error":1103}"#);
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, _: ConnId, _: (), reason: &CloseReason) {
        self.closes.lock().push(reason.clone());
    }
}

#[test]
fn a_length_over_the_maximum_is_refused_and_closed_without_allocating_it() {
    let closes = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let connected = Arc::new(AtomicUsize::new(0));
    let (c, n) = (closes.clone(), connected.clone());
    let server = Server::start(localhost(), config("toolong"), FrameCodec::new(1024), move |_| {
        IS_WATCHED_THREAD.with(|watched| watched.set(true));
        StrictEcho { closes: c.clone(), connected: n.clone() }
    })
    .unwrap();

    let mut client = Client::connect(server.local_addr());
    client.send_frame(1, b"fine");
    assert_eq!(client.read_frame().unwrap(), (1, b"fine".to_vec()));
    assert!(wait_until(Duration::from_secs(5), || connected.load(Ordering::SeqCst) == 1));

    WATCHING.store(true, Ordering::SeqCst);
    // A header announcing 60,000 bytes (the limit is 1,024), then a little body.
    let mut evil = reactor::codec::encode_header(1017, 60000).to_vec();
    evil.extend([b'A'; 100]);
    client.send_raw(&evil);

    assert_eq!(client.read_frame().unwrap(), (1103, br#"{"error":1103}"#.to_vec()));
    assert!(client.closed_within(Duration::from_secs(5)), "server closes after the error frame");
    assert!(wait_until(Duration::from_secs(5), || !closes.lock().is_empty()));
    WATCHING.store(false, Ordering::SeqCst);

    assert_eq!(closes.lock().as_slice(), &[CloseReason::ProtocolError]);
    let largest = LARGEST_WATCHED.load(Ordering::SeqCst);
    assert!(largest < 60000, "the server allocated {largest} bytes for a refused frame");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn other_connections_are_unaffected_by_a_protocol_error() {
    let server =
        Server::start(localhost(), config("isolate"), FrameCodec::new(16), |_| util::Echo).unwrap();
    let mut good = Client::connect(server.local_addr());
    let mut bad = Client::connect(server.local_addr());
    bad.send_raw(&reactor::codec::encode_header(1, 17));
    assert!(bad.closed_within(Duration::from_secs(5)));
    good.send_frame(2, b"still here");
    assert_eq!(good.read_frame().unwrap(), (2, b"still here".to_vec()));
    server.shutdown(Duration::from_secs(1));
}
