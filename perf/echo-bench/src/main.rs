//! Echo benchmark: the reactor's echo server against a tokio multi-thread echo
//! server, under the same load, in one invocation.
//!
//! ```text
//! cargo run --release -p echo-bench                    # the full table (3 runs per cell)
//! cargo run --release -p echo-bench -- --seconds 2 --runs 1
//! ```
//!
//! Each server runs in its own child process (this binary, re-executed with
//! `serve reactor|tokio`), with the same number of I/O threads. The load comes
//! from this process: N connections on a reactor client loop, each keeping
//! `depth` 64-byte frames in flight and sending a new one for every echo it
//! gets back. Servers take turns within each run, so drift on the machine
//! affects both alike. The result is frames/s echoed (median of the runs) and
//! the ratio reactor/tokio.

mod load;
mod tokio_echo;

use reactor::{Echo, FrameCodec, LoopConfig, Server};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Options {
    connections: usize,
    seconds: f64,
    runs: usize,
    server_threads: usize,
    client_threads: usize,
    depths: Vec<u32>,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Options {
    let mut options = Options {
        connections: 100,
        seconds: 5.0,
        runs: 3,
        server_threads: 2,
        client_threads: 1,
        depths: vec![1, 16],
    };
    while let Some(flag) = args.next() {
        // As `services::daemon::answer_help_or_version` does (this bench
        // depends on the reactor alone, so that it measures only that).
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--version" | "-V" => {
                println!("echo-bench {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            _ => {}
        }
        let value = args.next().unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--connections" => options.connections = parse(&flag, &value),
            "--seconds" => options.seconds = parse(&flag, &value),
            "--runs" => options.runs = parse(&flag, &value),
            "--server-threads" => options.server_threads = parse(&flag, &value),
            "--client-threads" => options.client_threads = parse(&flag, &value),
            "--depths" => options.depths = value.split(',').map(|d| parse(&flag, d)).collect(),
            _ => fail(&format!("unknown flag {flag}")),
        }
    }
    options
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value.parse().unwrap_or_else(|_| fail(&format!("bad value for {flag}: {value}")))
}

const USAGE: &str = "usage: echo-bench [--connections N] [--seconds S] [--runs R] \
                     [--depths 1,16] [--server-threads N] [--client-threads N]";

fn fail(problem: &str) -> ! {
    eprintln!("echo-bench: {problem}");
    eprintln!("{USAGE}");
    std::process::exit(2)
}

/// A server child process; killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(kind: &str, threads: usize) -> ServerProcess {
        let me = std::env::current_exe().expect("own path");
        let mut child = Command::new(me)
            .args(["serve", kind, &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").expect("address line");
        ServerProcess { child, addr: addr.parse().unwrap() }
    }
}

impl ServerProcess {
    /// User plus system CPU time of all the server's threads so far.
    fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // utime and stime are fields 14 and 15, counted after the ")" that ends the name.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default();
        let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
        Duration::from_millis(ticks * 1000 / CLOCK_TICKS_PER_SECOND)
    }
}

/// USER_HZ: the unit of /proc CPU times (100 on every mainstream Linux build).
const CLOCK_TICKS_PER_SECOND: u64 = 100;

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Child mode: run one server until the parent closes our stdin.
fn serve(kind: &str, threads: usize) {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let wait_for_parent = || {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    };
    match kind {
        "reactor" => {
            let config = LoopConfig { name: "echo".into(), threads, ..LoopConfig::default() };
            let server = Server::start(addr, config, FrameCodec::default(), |_| Echo).unwrap();
            println!("listening on {}", server.local_addr());
            wait_for_parent();
        }
        "tokio" => tokio_echo::serve(addr, threads, wait_for_parent),
        _ => fail("serve reactor|tokio"),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Medians of throughput and of CPU per frame, each over the runs.
fn medians(runs: &mut [(f64, f64)]) -> (f64, f64) {
    (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()))
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("serve") {
        let kind = args.nth(1).unwrap_or_default();
        let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
        return serve(&kind, threads);
    }
    let options = parse_options(args);
    let duration = Duration::from_secs_f64(options.seconds);
    println!(
        "echo benchmark: {} connections, 64-byte bodies, {} s per measurement, {} runs, \
         {} server threads, {} client threads",
        options.connections,
        options.seconds,
        options.runs,
        options.server_threads,
        options.client_threads
    );
    let mut rows = Vec::new();
    for &depth in &options.depths {
        let mut reactor_rates = Vec::new();
        let mut tokio_rates = Vec::new();
        for run in 1..=options.runs {
            for (kind, rates) in [("reactor", &mut reactor_rates), ("tokio", &mut tokio_rates)] {
                let server = ServerProcess::start(kind, options.server_threads);
                let shape = load::Shape {
                    connections: options.connections,
                    depth,
                    client_threads: options.client_threads,
                    duration,
                };
                let result = load::run(server.addr, &shape, || server.cpu_time());
                println!(
                    "  depth {depth:>2}  run {run}  {kind:<7} {:>10.0} frames/s  {:>5.2} µs server CPU/frame{}",
                    result.frames_per_second,
                    result.server_cpu_us_per_frame,
                    if result.errors > 0 {
                        format!("  ({} errors)", result.errors)
                    } else {
                        String::new()
                    }
                );
                rates.push((result.frames_per_second, result.server_cpu_us_per_frame));
            }
        }
        rows.push((depth, medians(&mut reactor_rates), medians(&mut tokio_rates)));
    }
    println!();
    println!(
        "| frames in flight per connection | reactor frames/s | tokio frames/s | reactor/tokio \
         | reactor server CPU µs/frame | tokio server CPU µs/frame | CPU tokio/reactor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (depth, (reactor, reactor_cpu), (tokio, tokio_cpu)) in rows {
        println!(
            "| {depth} | {reactor:.0} | {tokio:.0} | {:.2} | {reactor_cpu:.2} | {tokio_cpu:.2} | {:.2} |",
            reactor / tokio,
            tokio_cpu / reactor_cpu
        );
    }
}
