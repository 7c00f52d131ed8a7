//! Chat benchmark: friend pairs split over two chat servers, each sender at
//! a fixed rate; messages/s delivered end to end and latency percentiles, on
//! the embedded store and on MariaDB/MySQL, in one run.
//!
//! ```text
//! cargo run --release -p chat-bench [-- --pairs 100 --rate 50 --seconds 5 --runs 3
//!                                       --store both --mysql mysql://root@127.0.0.1:3306]
//! ```
//!
//! Everything runs in this process on 127.0.0.1: a status server, two chat
//! servers (one I/O loop each unless `--io-threads`), their store, and the
//! clients (one reactor loop). Each pair's sender is on chat-1 and its
//! receiver on chat-2, so every message crosses servers: sender → chat-1 →
//! group commit → 1018 to the sender, ChatService → chat-2 → 1019 to the
//! receiver, who acknowledges (1101). Latency is from the send timestamp in
//! the message to the receiver's read of the 1019. The rate is open loop
//! (sends are due by the clock, not by answers). `--same-server` puts both
//! ends of every pair on chat-1 instead.

use chat_bench::args::{number, stores};
use chat_bench::cluster::{self, StoreChoice};
use reactor::{FrameCodec, LoopPool};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tools::bench::client::{LoadClient, Role, Shared, User};

/// One run's outcome.
struct Outcome {
    offered: f64,
    acknowledged: f64,
    delivered: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    lost: u64,
    duplicates: u64,
    refused: u64,
}

fn main() {
    services::daemon::answer_help_or_version(
        "chat-bench",
        "usage: chat-bench [--pairs N] [--rate MSG/S] [--seconds S] [--runs R] [--io-threads N] \
         [--same-server] [--store embedded|mysql|both] [--mysql URL]\n  \
         messages between pairs of users across two in-process chat servers",
    );
    let pairs: usize = number("--pairs", 100);
    let rate: f64 = number("--rate", 50.0);
    let seconds: f64 = number("--seconds", 5.0);
    let runs: usize = number("--runs", 3);
    let io_threads: usize = number("--io-threads", 1);
    let same_server = std::env::args().any(|a| a == "--same-server");
    let stores = stores();
    println!(
        "chat bench: {pairs} pairs across two chat servers, {rate} msg/s per sender \
         ({:.0} msg/s offered), {seconds} s, median of {runs} runs",
        pairs as f64 * rate
    );
    let mut table = Vec::new();
    for store in &stores {
        let mut outcomes = Vec::new();
        for run in 0..runs {
            let outcome = run_once(store, run, pairs, rate, seconds, io_threads, same_server);
            println!(
                "  {:<8} run {}: delivered {:>8.0}/s  acked {:>8.0}/s  p50 {:>6.2} ms  p99 {:>7.2} ms  \
                 max {:>7.1} ms  lost {}  dup {}  refused {}",
                store.label(),
                run + 1,
                outcome.delivered,
                outcome.acknowledged,
                outcome.p50_ms,
                outcome.p99_ms,
                outcome.max_ms,
                outcome.lost,
                outcome.duplicates,
                outcome.refused
            );
            outcomes.push(outcome);
        }
        outcomes.sort_by(|a, b| a.delivered.total_cmp(&b.delivered));
        table.push((store.label(), outcomes.swap_remove(outcomes.len() / 2)));
    }
    println!();
    println!("| store | offered msg/s | delivered msg/s | p50 ms | p99 ms | max ms | lost | duplicates |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, o) in table {
        println!(
            "| {label} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} |",
            o.offered, o.delivered, o.p50_ms, o.p99_ms, o.max_ms, o.lost, o.duplicates
        );
    }
}

fn run_once(
    store: &StoreChoice,
    run: usize,
    pairs: usize,
    rate: f64,
    seconds: f64,
    io_threads: usize,
    same_server: bool,
) -> Outcome {
    let cluster = cluster::start(store, run, io_threads);
    let users = cluster.provision(pairs);
    let shared = Arc::new(Shared::new(rate));
    let config = tools::bench::run::loop_config("bench-client", 1);
    let client_shared = shared.clone();
    let mut clients =
        LoopPool::start(config, FrameCodec::new(proto::frame::FORMAT_MAX_BODY), move |_| {
            LoadClient::new(client_shared.clone())
        })
        .expect("start the client loop");
    for (sender, receiver) in users {
        for (uid, role, addr) in [
            (sender, Role::sender(receiver), cluster.chat_addr(0)),
            (receiver, Role::receiver(false), cluster.chat_addr(if same_server { 0 } else { 1 })),
        ] {
            let user = User::new(uid, cluster.token(uid), role, 0);
            clients.next_handle().post(move |h, ctx| h.add(ctx, addr, None, user)).expect("post");
        }
    }
    assert!(
        shared.wait_logged_in(2 * pairs as u64, Duration::from_secs(30)),
        "clients did not log in"
    );
    shared.send_for(seconds, |_| {});

    let (sender, receiver) = std::sync::mpsc::channel();
    for handle in clients.handles().iter() {
        let sender = sender.clone();
        handle.post(move |h, _| drop(sender.send(h.latency.clone()))).expect("post");
    }
    let mut latency = receiver.recv_timeout(Duration::from_secs(5)).expect("histogram");
    for _ in 1..clients.len() {
        latency.add(receiver.recv_timeout(Duration::from_secs(5)).expect("histogram")).unwrap();
    }
    clients.shutdown(Duration::from_secs(1));
    drop(cluster);

    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let acknowledged = shared.acknowledged.load(Relaxed);
    let delivered = shared.delivered.load(Relaxed);
    Outcome {
        offered: pairs as f64 * rate,
        acknowledged: acknowledged as f64 / seconds,
        delivered: delivered as f64 / seconds,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: latency.max() as f64 / 1000.0,
        lost: acknowledged.saturating_sub(delivered),
        duplicates: shared.duplicates.load(Relaxed),
        refused: shared.refused.load(Relaxed),
    }
}
