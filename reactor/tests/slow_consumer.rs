//! A client that sends but never reads: its echoes pile up on the server
//! until the high-water mark, reading from it pauses, and it is closed when it
//! stays above the mark. Server memory stays bounded and other clients are
//! served all along.

mod util;

use reactor::LoopConfig;
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{start_echo, total, wait_until, Client};

const HIGH_WATER: usize = 64 * 1024;

/// A client socket with tiny kernel buffers, so the server's output backs up
/// after kilobytes rather than megabytes of loopback buffering.
fn tiny_buffer_client(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_nonblocking(true).unwrap();
    stream
}

#[test]
fn a_client_that_never_reads_is_paused_then_closed_while_others_are_served() {
    let config = LoopConfig {
        high_water: HIGH_WATER,
        slow_consumer_timeout: Duration::from_millis(800),
        ..util::config("slow")
    };
    let server = start_echo(config);
    let addr = server.local_addr();

    // The slow consumer: writes 4 KiB frames as fast as the server takes them.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_writer = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut stream = tiny_buffer_client(addr);
        let chunk = util::frame(7, &[b's'; 4096]);
        let mut pushed_back = 0usize;
        let mut offset = 0usize;
        let started = Instant::now();
        while !stop_writer.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
            match stream.write(&chunk[offset..]) {
                Ok(n) => offset = (offset + n) % chunk.len(),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    pushed_back += 1;
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(_) => return (pushed_back, true), // the server closed us
            }
        }
        (pushed_back, false)
    });

    // Meanwhile a well-behaved client keeps getting answers.
    let mut good = Client::connect(addr);
    let mut answered = 0;
    let closed = wait_until(Duration::from_secs(15), || {
        good.send_frame(1, b"ping");
        assert_eq!(good.read_frame().expect("the good client is served"), (1, b"ping".to_vec()));
        answered += 1;
        total(&server, |s| &s.slow_consumer_closes) >= 1
    });
    if !closed {
        stop.store(true, Ordering::SeqCst);
    }
    // The writer goes on until its writes fail: that is how it learns it was closed.
    let (pushed_back, saw_close) = writer.join().unwrap();

    assert!(closed, "the slow consumer was not closed");
    assert!(saw_close, "the slow consumer's writes fail once it is closed");
    assert!(answered > 10, "the good client was served throughout ({answered} answers)");
    assert!(total(&server, |s| &s.high_water_events) >= 1);
    // Reading paused at the high-water mark, so the output never grew past it
    // by more than the frame that crossed it; TCP pushed back on the writer.
    let peak = total(&server, |s| &s.peak_output) as usize;
    assert!(peak <= HIGH_WATER + 8 * 1024, "output for one connection peaked at {peak} bytes");
    assert!(pushed_back > 0, "the writer was never pushed back");

    good.send_frame(2, b"after");
    assert_eq!(good.read_frame().unwrap(), (2, b"after".to_vec()));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_connection_over_the_output_limit_is_closed_at_once() {
    // A handler that answers one small request with more than the limit.
    use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, Server};
    struct Flood;
    impl Handler for Flood {
        type Codec = FrameCodec;
        type Session = ();
        fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, _: Frame<'_>) {
            let block = vec![0u8; 60_000];
            for _ in 0..40 {
                if ctx.send_frame(conn, 9, &block).is_err() {
                    return; // closed by the limit: further sends are refused
                }
            }
        }
    }
    let config = LoopConfig { output_limit: 1024 * 1024, ..util::config("limit") };
    let server =
        Server::start(util::localhost(), config, FrameCodec::default(), |_| Flood).unwrap();
    let mut client = Client::connect(server.local_addr());
    client.send_frame(1, b"go");
    assert!(client.closed_within(Duration::from_secs(5)));
    assert_eq!(total(&server, |s| &s.slow_consumer_closes), 1);
    let peak = total(&server, |s| &s.peak_output) as usize;
    assert!(peak < 1024 * 1024 + 60_004, "peak {peak}");
    server.shutdown(Duration::from_secs(1));
}
