//! `reactor-echo`: a framed echo server on the reactor, as a process.
//!
//! Used to poke at the reactor from outside (the descriptor-exhaustion test
//! runs it under a low `ulimit -n`; the echo benchmark measures it).
//!
//! ```text
//! reactor-echo [--addr 127.0.0.1:7000] [--threads N] [--max-body BYTES]
//! ```
//!
//! Prints `listening on ADDR` once it accepts, logs warnings to stderr, and
//! runs until it is killed or its standard input reaches end-of-file.

use reactor::{Echo, FrameCodec, LoopConfig, Server};
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

/// Prints `warn` and worse to stderr, with the thread name.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("?");
            eprintln!("{:5} [{name}] {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

fn main() {
    let _ = log::set_logger(&StderrLogger).map(|()| log::set_max_level(log::LevelFilter::Info));
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut config = LoopConfig { name: "echo".into(), ..LoopConfig::default() };
    let mut max_body = reactor::codec::DEFAULT_MAX_BODY;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = value.parse().unwrap_or_else(|_| usage("bad --addr")),
            "--threads" => {
                config.threads = value.parse().unwrap_or_else(|_| usage("bad --threads"))
            }
            "--max-body" => max_body = value.parse().unwrap_or_else(|_| usage("bad --max-body")),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let server = Server::start(addr, config, FrameCodec::new(max_body), |_| Echo)
        .unwrap_or_else(|e| usage(&format!("cannot listen on {addr}: {e}")));
    println!("listening on {}", server.local_addr());
    // Serve until stdin closes (a parent process going away) or a signal kills us.
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    server.shutdown(Duration::from_secs(2));
}

fn usage(problem: &str) -> ! {
    eprintln!("reactor-echo: {problem}");
    eprintln!("usage: reactor-echo [--addr IP:PORT] [--threads N] [--max-body BYTES]");
    std::process::exit(2)
}
