//! Store benchmark: messages committed per second, by batch size, on
//! MariaDB/MySQL and on the embedded SQLite store, in one run.
//!
//! ```text
//! cargo run --release -p store-bench [-- --seconds 3 --runs 3 --mysql mysql://root@127.0.0.1:3306]
//! ```
//!
//! Each cell appends messages with `append_messages` (one transaction per
//! call, one multi-row insert on MySQL) in batches of 1, 16, 128 and 1024, for
//! `--seconds`, and reports the median of `--runs`. Batch size 1 is the
//! baseline: one transaction, hence one durable commit, per message. Both
//! backends commit durably (InnoDB's default flush at commit; SQLite
//! synchronous=FULL). Each run uses a fresh database.

use mysql::prelude::Queryable;
use services::store::model::{NewMessage, NewUser};
use services::store::mysql::MysqlBackend;
use services::store::sqlite::SqliteBackend;
use services::store::{Backend, StoreConn};
use std::time::{Duration, Instant};

const BATCH_SIZES: [usize; 4] = [1, 16, 128, 1024];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn main() {
    services::daemon::answer_help_or_version(
        "store-bench",
        "usage: store-bench [--seconds S] [--runs R] [--mysql URL]\n  \
         message appends per second by batch size, MySQL (URL, else IM_TEST_MYSQL_URL, else \
         127.0.0.1:3306) beside the embedded store",
    );
    let seconds: f64 = arg("--seconds").map_or(3.0, |s| s.parse().expect("--seconds"));
    let runs: usize = arg("--runs").map_or(3, |s| s.parse().expect("--runs"));
    let server = arg("--mysql")
        .or_else(|| std::env::var("IM_TEST_MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".into());
    let duration = Duration::from_secs_f64(seconds);
    println!("store bench: {seconds} s per cell, median of {runs} runs; MySQL at {server}");
    let mut table = Vec::new();
    for batch in BATCH_SIZES {
        let mut mysql_rates = Vec::new();
        let mut sqlite_rates = Vec::new();
        for run in 0..runs {
            mysql_rates.push(measure(fresh_mysql(&server, run), batch, duration));
            sqlite_rates.push(measure(fresh_sqlite(run), batch, duration));
            println!(
                "  batch {batch:>4}  run {}  mysql {:>9.0} msg/s   embedded {:>9.0} msg/s",
                run + 1,
                mysql_rates[run],
                sqlite_rates[run]
            );
        }
        table.push((batch, median(mysql_rates), median(sqlite_rates)));
    }
    println!();
    println!("| messages per transaction | MariaDB msg/s | embedded (SQLite) msg/s |");
    println!("|---:|---:|---:|");
    for (batch, mysql, sqlite) in table {
        println!("| {batch} | {mysql:.0} | {sqlite:.0} |");
    }

    // Two connections appending at once (what two writer shards do).
    let mut parallel = Vec::new();
    for run in 0..runs {
        parallel.push(measure_parallel(fresh_mysql(&server, 200 + run), 1024, duration, 2));
    }
    println!();
    println!("MariaDB, 1024 per transaction, 2 connections at once: {:.0} msg/s", median(parallel));

    // Through the message writer: single-message submissions from 64 pairs of
    // users, batched by the writer itself, with 1 and 2 shards (connections).
    println!();
    println!("| MariaDB through the message writer | msg/s | messages per transaction |");
    println!("|---|---:|---:|");
    for shards in [1, 2] {
        let mut rates = Vec::new();
        let mut batch_sizes = Vec::new();
        for run in 0..runs {
            let (rate, per_batch) =
                through_writer(fresh_mysql(&server, 100 + run), shards, duration);
            rates.push(rate);
            batch_sizes.push(per_batch);
        }
        println!("| {shards} shard(s) | {:.0} | {:.0} |", median(rates), median(batch_sizes));
    }
}

/// Messages per second, and messages per transaction, through a `MessageWriter`.
fn through_writer(backend: MysqlBackend, shards: usize, duration: Duration) -> (f64, f64) {
    use services::store::message_writer::{MessageWriter, WriterConfig};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    let mut store = backend.connect().expect("connect");
    let users: Vec<u64> = (0..128)
        .map(|i| {
            let user = NewUser {
                name: format!("w{i}"),
                email: format!("w{i}@bench"),
                password_hash: "x".into(),
                ..NewUser::default()
            };
            store.create_user(&user).unwrap()
        })
        .collect();
    let writer =
        MessageWriter::start(backend, WriterConfig { shards, ..WriterConfig::default() }).unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let content = "x".repeat(64);
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < duration {
        let pair = (sent % 64) as usize;
        let message = NewMessage {
            group: 0,
            sender: users[2 * pair],
            receiver: users[2 * pair + 1],
            unique_id: format!("s{sent}"),
            content: content.clone(),
        };
        let counter = done.clone();
        match writer.submit(vec![message], move |r| {
            if r.is_ok() {
                counter.fetch_add(1, Relaxed);
            }
        }) {
            Ok(()) => sent += 1,
            Err(_) => std::thread::sleep(Duration::from_micros(200)), // queue full: back off
        }
    }
    let elapsed = started.elapsed();
    let committed = done.load(Relaxed);
    let batches = writer.metrics().batches.load(Relaxed).max(1);
    drop(writer);
    (committed as f64 / elapsed.as_secs_f64(), committed as f64 / batches as f64)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Messages per second appended in batches of `batch` for `duration`.
fn measure<B: Backend>(backend: B, batch: usize, duration: Duration) -> f64
where
    B::Conn: StoreConn,
{
    measure_parallel(backend, batch, duration, 1)
}

/// Like [`measure`] with `connections` connections appending at once, each
/// for its own pair of users (the way writer shards split the load).
fn measure_parallel<B: Backend + Sync>(
    backend: B,
    batch: usize,
    duration: Duration,
    connections: usize,
) -> f64
where
    B::Conn: StoreConn,
{
    let started = Instant::now();
    let stored: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|shard| {
                let backend = &backend;
                scope.spawn(move || {
                    let mut store = backend.connect().expect("connect");
                    let user = |name: String| NewUser {
                        email: format!("{name}@bench"),
                        name,
                        password_hash: "x".into(),
                        ..NewUser::default()
                    };
                    let a = store.create_user(&user(format!("a{shard}"))).unwrap();
                    let b = store.create_user(&user(format!("b{shard}"))).unwrap();
                    let content = "x".repeat(64);
                    let mut stored = 0u64;
                    while started.elapsed() < duration {
                        let messages: Vec<NewMessage> = (0..batch)
                            .map(|i| NewMessage {
                                group: 0,
                                sender: a,
                                receiver: b,
                                unique_id: format!("{stored}-{i}"),
                                content: content.clone(),
                            })
                            .collect();
                        stored += store.append_messages(&messages).expect("append").len() as u64;
                    }
                    stored
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    stored as f64 / started.elapsed().as_secs_f64()
}

fn fresh_mysql(server: &str, run: usize) -> MysqlBackend {
    let server = server.trim_end_matches('/');
    let name = format!("im_store_bench_{}_{run}", std::process::id());
    let mut admin = mysql::Conn::new(mysql::Opts::from_url(server).expect("MySQL URL"))
        .unwrap_or_else(|e| panic!("no MySQL/MariaDB at {server}: {e}"));
    admin.query_drop(format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
    MysqlBackend::new(&format!("{server}/{name}")).unwrap()
}

fn fresh_sqlite(run: usize) -> SqliteBackend {
    let dir = std::env::temp_dir().join(format!("im-store-bench-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    SqliteBackend::new(dir.join("im.sqlite3"))
}
