//! Shared helpers for the reactor's integration tests: an echo handler, a
//! blocking frame client that speaks raw bytes, and polling waits.
#![allow(dead_code)]

use reactor::codec::{encode_frame, HEADER_LEN};
pub use reactor::Echo;
use reactor::{FrameCodec, Handler, LoopConfig, Server};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A two-loop configuration named after the test (thread names show it).
pub fn config(name: &str) -> LoopConfig {
    LoopConfig { name: name.to_string(), threads: 2, ..LoopConfig::default() }
}

pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// An echo server on a free port.
pub fn start_echo(config: LoopConfig) -> Server<Echo> {
    Server::start(localhost(), config, FrameCodec::default(), |_| Echo).expect("start echo server")
}

/// A blocking client that writes and reads raw protocol bytes.
pub struct Client {
    pub stream: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { stream }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send_frame(&mut self, id: u16, body: &[u8]) {
        self.send_raw(&frame(id, body));
    }

    /// Reads one whole frame (blocking, with the read timeout).
    pub fn read_frame(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let mut header = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut header)?;
        let (id, len) = reactor::codec::decode_header(&header);
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body)?;
        Ok((id, body))
    }

    /// True if the server closes the connection within `timeout` (EOF or
    /// reset), reading and discarding anything it still sends.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut sink = [0u8; 4096];
        while Instant::now() < deadline {
            let left =
                deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut sink) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    return false
                }
                Err(_) => return true, // reset
            }
        }
        false
    }
}

/// The bytes of one frame.
pub fn frame(id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(id, body, &mut out).unwrap();
    out
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sum of one counter over every loop of a server.
pub fn total(
    server: &Server<impl Handler>,
    counter: fn(&reactor::LoopStats) -> &std::sync::atomic::AtomicU64,
) -> u64 {
    server.pool().stats().iter().map(|s| reactor::LoopStats::get(counter(s))).sum()
}
