//! Graceful shutdown: queued output is flushed, then connections close, all
//! within the deadline; a peer that never reads cannot hold shutdown hostage.

mod util;

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, Server};
use std::io::Read;
use std::time::{Duration, Instant};
use util::{localhost, Client};

const REPLY_LEN: usize = 3 * 1024 * 1024;

/// Answers any frame with 3 MiB of raw bytes: more than the kernel buffers hold,
/// so most of it is still queued in the loop when shutdown begins.
struct BigReply;

impl Handler for BigReply {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, _: Frame<'_>) {
        let reply: Vec<u8> = (0..REPLY_LEN).map(|i| (i % 251) as u8).collect();
        ctx.send(conn, &reply).unwrap();
    }
}

fn big_reply_server(name: &str) -> Server<BigReply> {
    let config = LoopConfig { output_limit: 8 * 1024 * 1024, ..util::config(name) };
    Server::start(localhost(), config, FrameCodec::default(), |_| BigReply).unwrap()
}

#[test]
fn shutdown_flushes_queued_output_before_closing() {
    let server = big_reply_server("flush");
    let mut client = Client::connect(server.local_addr());
    client.send_frame(1, b"send me a lot");
    std::thread::sleep(Duration::from_millis(200)); // let the reply be queued

    let started = Instant::now();
    let stopper = std::thread::spawn(move || server.shutdown(Duration::from_secs(5)));
    // Only now start reading: everything must arrive, then EOF.
    let mut received = Vec::with_capacity(REPLY_LEN);
    client.stream.read_to_end(&mut received).expect("clean close after the flush");
    stopper.join().unwrap();
    let took = started.elapsed();

    assert_eq!(received.len(), REPLY_LEN);
    assert!(received.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
fn shutdown_forces_a_peer_that_never_reads_at_the_deadline() {
    let server = big_reply_server("deadline");
    let mut client = Client::connect(server.local_addr());
    client.send_frame(1, b"and never read it");
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    server.shutdown(Duration::from_millis(500));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "it waited for the grace period ({took:?})");
    assert!(took < Duration::from_secs(3), "but not much longer ({took:?})");
    drop(client);
}

#[test]
fn shutdown_with_idle_clients_connected_returns_promptly() {
    let server = util::start_echo(util::config("idleshut"));
    let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(server.local_addr())).collect();
    for client in &mut clients {
        client.send_frame(1, b"hi");
        assert_eq!(client.read_frame().unwrap(), (1, b"hi".to_vec()));
    }
    let stopper = std::thread::spawn(move || server.shutdown(Duration::from_secs(5)));
    // Each client sees the server's half-close and closes in turn.
    for client in &mut clients {
        assert!(client.closed_within(Duration::from_secs(5)));
    }
    drop(clients);
    stopper.join().unwrap();
}
