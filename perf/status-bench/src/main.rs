//! Status-server benchmark: GetChatServer + Login round trips per second.
//!
//! ```text
//! cargo run --release -p status-bench [-- --threads 4 --seconds 5 --runs 3 --servers 3]
//! ```
//!
//! Starts a status server in this process (2 gRPC threads, on 127.0.0.1:0),
//! registers `--servers` chat servers, then `--threads` client threads each
//! do, in a loop, what a login storm does per user: GetChatServer (as the
//! gate) then Login with the token (as the chat server), on one channel per
//! thread with 16 logins in flight (async calls). One "login" = those two
//! round trips. Reports the median of the runs.

use futures_executor::block_on;
use grpcio::{ChannelBuilder, Environment};
use proto::rpc::status::*;
use services::status::{StatusConfig, StatusServer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Logins each client thread keeps in flight.
const IN_FLIGHT: u64 = 16;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} needs a number")))
        .unwrap_or(default)
}

fn main() {
    services::daemon::answer_help_or_version(
        "status-bench",
        "usage: status-bench [--threads N] [--seconds S] [--runs R] [--servers N]\n  \
         GetChatServer + Login round trips per second against an in-process status server",
    );
    let (threads, seconds, runs, servers) =
        (arg("--threads", 4), arg("--seconds", 5), arg("--runs", 3), arg("--servers", 3));
    let config = StatusConfig { listen: "127.0.0.1:0".into(), ..StatusConfig::default() };
    let server = StatusServer::start(&config).expect("start status server");
    let addr = server.local_addr().to_string();
    let admin =
        StatusServiceClient::new(ChannelBuilder::new(Arc::new(Environment::new(1))).connect(&addr));
    for i in 0..servers as u32 {
        let info = ChatServerInfo {
            name: format!("chat-{i}"),
            host: "127.0.0.1".into(),
            port: 9000 + i,
            rpc_addr: format!("127.0.0.1:{}", 10000 + i),
            llfcchat_port: 0,
            project_show_port: 0,
        };
        admin.register(&RegisterRequest { server: Some(info), load: 0 }).expect("register");
    }
    // The chat servers keep heartbeating, as real ones do.
    let beating = Arc::new(AtomicBool::new(true));
    let beat = {
        let beating = beating.clone();
        std::thread::spawn(move || {
            while beating.load(Relaxed) {
                for i in 0..servers {
                    let request = HeartbeatRequest { name: format!("chat-{i}"), load: 0 };
                    admin.heartbeat(&request).expect("heartbeat");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    println!("status bench: {threads} client threads, {seconds} s per run, {runs} runs, {servers} chat servers");
    let mut rates = Vec::new();
    for run in 1..=runs {
        let rate = measure(&addr, threads, Duration::from_secs(seconds), run);
        println!("  run {run}: {rate:.0} logins/s ({:.0} round trips/s)", rate * 2.0);
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = rates[rates.len() / 2];
    println!(
        "median: {median:.0} logins/s (GetChatServer + Login), {:.0} round trips/s",
        median * 2.0
    );
    beating.store(false, Relaxed);
    beat.join().unwrap();
    server.shutdown(Duration::from_secs(2));
}

/// Logins per second over `duration`, from `threads` blocking clients.
fn measure(addr: &str, threads: u64, duration: Duration, run: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (done, stop, addr) = (done.clone(), stop.clone(), addr.to_string());
            std::thread::spawn(move || {
                let env = Arc::new(Environment::new(1));
                let client = StatusServiceClient::new(ChannelBuilder::new(env).connect(&addr));
                let mut uid = (run << 40) | (t << 32);
                while !stop.load(Relaxed) {
                    // A batch of logins in flight at once, as a gate under a
                    // login storm has: first every GetChatServer, then every Login.
                    let uids: Vec<u64> = (0..IN_FLIGHT).map(|i| uid + i + 1).collect();
                    uid += IN_FLIGHT;
                    let assigned: Vec<_> = uids
                        .iter()
                        .map(|&uid| {
                            client
                                .get_chat_server_async(&GetChatServerRequest { uid })
                                .expect("send")
                        })
                        .collect();
                    let logins: Vec<_> = uids
                        .iter()
                        .zip(assigned)
                        .map(|(&uid, reply)| {
                            let token = block_on(reply).expect("GetChatServer").token;
                            client.login_async(&LoginRequest { uid, token }).expect("send")
                        })
                        .collect();
                    for login in logins {
                        let status = block_on(login).expect("Login").status;
                        assert_eq!(status, TokenStatus::TokenValid as i32);
                    }
                    done.fetch_add(IN_FLIGHT, Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // warm-up: channels connect
    let (before, started) = (done.load(Relaxed), Instant::now());
    std::thread::sleep(duration);
    let (after, elapsed) = (done.load(Relaxed), started.elapsed());
    stop.store(true, Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    (after - before) as f64 / elapsed.as_secs_f64()
}
