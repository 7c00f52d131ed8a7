//! MariaDB's CPU per 1:1 message for its delivery state, old and new in one
//! run: `pending` rows (schema 2: a row inserted with each message, deleted
//! at its acknowledgement) against watermarks (schema 3 and up: a seq per
//! message, one watermark row per device and conversation).
//!
//! ```text
//! cargo run --release -p store-bench --bin delivery-cpu [-- --messages 100000 --runs 3 --mysql URL]
//! ```
//!
//! Each run writes `--messages` messages over 100 pairs, 500 per
//! transaction (a writer batch under load holds messages of many pairs),
//! then acknowledges every one of them the way a receiver does under load:
//! one acknowledgement per message, 1,000 per transaction (an ack-writer
//! batch). `mariadbd`'s CPU time (user + system, from /proc) is read around
//! each phase. The watermark side is the store's own code
//! (`append_messages`, `acknowledge` with 1110's cumulative form); the
//! pending side no longer exists in the code, so its statements are
//! reproduced from schema 2's backend (multi-row inserts of the messages and
//! of their pending rows in one transaction; deletes of 100 keys each,
//! ordered by the key). The two alternate run by run on fresh databases;
//! medians are printed. MariaDB must run on this machine.

use mysql::prelude::Queryable;
use services::store::model::{Acknowledged, DeliveryAck, NewMessage, NewUser};
use services::store::mysql::MysqlBackend;
use services::store::{Backend, StoreConn};

const PAIRS: usize = 100;
const PER_BATCH: usize = 500;
const ACKS_PER_BATCH: usize = 1000;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// `mariadbd`'s CPU seconds so far.
fn mariadb_cpu() -> f64 {
    let hz = 100.0; // USER_HZ on Linux
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid.to_str().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if matches!(comm.trim(), "mariadbd" | "mysqld") {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            return (ticks(11) + ticks(12)) / hz;
        }
    }
    panic!("no mariadbd on this machine: its CPU cannot be measured");
}

/// us of MariaDB CPU per message for (insert, acknowledge).
type Costs = (f64, f64);

fn main() {
    services::daemon::answer_help_or_version(
        "delivery-cpu",
        "usage: delivery-cpu [--messages N] [--runs R] [--mysql URL]\n  \
         MariaDB CPU per message: pending rows (schema 2) against watermarks (now)",
    );
    let messages: usize = arg("--messages").map_or(100_000, |s| s.parse().expect("--messages"));
    let runs: usize = arg("--runs").map_or(3, |s| s.parse().expect("--runs"));
    let server = arg("--mysql")
        .or_else(|| std::env::var("IM_TEST_MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".into());
    println!("{messages} messages over {PAIRS} pairs per run, {runs} runs each, alternating");
    let (mut pending, mut watermarks): (Vec<Costs>, Vec<Costs>) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let p = pending_rows(&server, run, messages);
        println!("  run {}  pending rows: insert {:.1} us, ack {:.1} us", run + 1, p.0, p.1);
        pending.push(p);
        let w = watermark_rows(&server, run, messages);
        println!("  run {}  watermarks:   insert {:.1} us, ack {:.1} us", run + 1, w.0, w.1);
        watermarks.push(w);
    }
    println!();
    println!("| delivery state | insert, us of MariaDB CPU per message | acknowledge | both |");
    println!("|---|---:|---:|---:|");
    for (name, costs) in [("`pending` rows (schema 2)", pending), ("watermarks (now)", watermarks)]
    {
        let insert = median(costs.iter().map(|c| c.0).collect());
        let ack = median(costs.iter().map(|c| c.1).collect());
        let both = median(costs.iter().map(|c| c.0 + c.1).collect());
        println!("| {name} | {insert:.1} | {ack:.1} | {both:.1} |");
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn fresh_database(server: &str, name: &str) -> String {
    let mut admin = mysql::Conn::new(mysql::Opts::from_url(server).expect("url")).expect("connect");
    admin.query_drop(format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
    format!("{}/{name}", server.trim_end_matches('/'))
}

/// The watermark side: the store's own code on a fresh database.
fn watermark_rows(server: &str, run: usize, messages: usize) -> Costs {
    let url = fresh_database(server, &format!("im_delivery_cpu_w{run}"));
    let backend = MysqlBackend::new(&url).expect("MySQL URL");
    let mut store = backend.connect().expect("connect");
    let users: Vec<u64> = (0..2 * PAIRS)
        .map(|i| {
            let user = NewUser {
                name: format!("u{i}"),
                email: format!("u{i}@bench"),
                password_hash: "x".into(),
                ..NewUser::default()
            };
            store.create_user(&user).unwrap()
        })
        .collect();
    let started = mariadb_cpu();
    let mut stored = Vec::with_capacity(messages);
    for first in (0..messages).step_by(PER_BATCH) {
        let batch: Vec<NewMessage> = (first..(first + PER_BATCH).min(messages))
            .map(|n| NewMessage {
                group: 0,
                sender: users[2 * (n % PAIRS)],
                receiver: users[2 * (n % PAIRS) + 1],
                unique_id: format!("m{n}"),
                content: "x".repeat(64),
            })
            .collect();
        stored.extend(store.append_messages(&batch).expect("append"));
    }
    let inserted = mariadb_cpu();
    for acks in stored.chunks(ACKS_PER_BATCH) {
        let acks: Vec<DeliveryAck> = acks
            .iter()
            .map(|m| DeliveryAck {
                uid: m.receiver,
                device: String::new(),
                acknowledged: Acknowledged::UpTo { conversation: m.thread_id, seq: m.seq },
            })
            .collect();
        store.acknowledge(&acks).expect("acknowledge");
    }
    let acknowledged = mariadb_cpu();
    let per = |cpu: f64| cpu * 1e6 / messages as f64;
    (per(inserted - started), per(acknowledged - inserted))
}

/// The pending side: schema 2's tables and statements, reproduced.
fn pending_rows(server: &str, run: usize, messages: usize) -> Costs {
    let url = fresh_database(server, &format!("im_delivery_cpu_p{run}"));
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&url).expect("url")).expect("connect");
    conn.query_drop(
        "CREATE TABLE messages (
            message_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            thread_id  BIGINT UNSIGNED NOT NULL,
            sender     BIGINT UNSIGNED NOT NULL,
            receiver   BIGINT UNSIGNED NOT NULL,
            unique_id  VARCHAR(64) NOT NULL,
            content    TEXT NOT NULL,
            chat_time  BIGINT NOT NULL,
            UNIQUE KEY messages_sender_unique (sender, unique_id),
            KEY messages_thread (thread_id, message_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    )
    .unwrap();
    conn.query_drop(
        "CREATE TABLE pending (
            receiver   BIGINT UNSIGNED NOT NULL,
            message_id BIGINT UNSIGNED NOT NULL,
            PRIMARY KEY (receiver, message_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    )
    .unwrap();
    let started = mariadb_cpu();
    let mut keys: Vec<(u64, u64)> = Vec::with_capacity(messages);
    for first in (0..messages).step_by(PER_BATCH) {
        let batch: Vec<usize> = (first..(first + PER_BATCH).min(messages)).collect();
        let mut tx = conn.start_transaction(read_committed()).unwrap();
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
        let values: Vec<mysql::Value> = batch
            .iter()
            .flat_map(|&n| {
                let pair = (n % PAIRS) as u64;
                let (sender, receiver) = (2 * pair + 1, 2 * pair + 2);
                [
                    (pair + 1).into(),
                    sender.into(),
                    receiver.into(),
                    format!("m{n}").into(),
                    "x".repeat(64).into(),
                    0i64.into(),
                ]
            })
            .collect();
        tx.exec_drop(
            format!(
                "INSERT INTO messages (thread_id, sender, receiver, unique_id, content, chat_time) \
                 VALUES {rows}"
            ),
            values,
        )
        .unwrap();
        // Consecutive ids from the first (innodb_autoinc_lock_mode's guarantee
        // for one multi-row insert, which schema 2's writer relied on too).
        let first_id = tx.last_insert_id().expect("an id");
        let new: Vec<(u64, u64)> = batch
            .iter()
            .enumerate()
            .map(|(i, &n)| (2 * (n % PAIRS) as u64 + 2, first_id + i as u64))
            .collect();
        let rows = vec!["(?, ?)"; new.len()].join(", ");
        let values: Vec<mysql::Value> =
            new.iter().flat_map(|&(r, m)| [r.into(), m.into()]).collect();
        tx.exec_drop(
            format!("INSERT IGNORE INTO pending (receiver, message_id) VALUES {rows}"),
            values,
        )
        .unwrap();
        tx.commit().unwrap();
        keys.extend(new);
    }
    let inserted = mariadb_cpu();
    for batch in keys.chunks(ACKS_PER_BATCH) {
        let mut tx = conn.start_transaction(read_committed()).unwrap();
        for part in batch.chunks(100) {
            let rows = vec!["(?, ?)"; part.len()].join(", ");
            let values: Vec<mysql::Value> =
                part.iter().flat_map(|&(r, m)| [r.into(), m.into()]).collect();
            tx.exec_drop(
                format!(
                    "DELETE FROM pending WHERE (receiver, message_id) IN ({rows}) \
                     ORDER BY receiver, message_id LIMIT {}",
                    part.len()
                ),
                values,
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let acknowledged = mariadb_cpu();
    let per = |cpu: f64| cpu * 1e6 / messages as f64;
    (per(inserted - started), per(acknowledged - inserted))
}

/// Schema 2's writers ran under READ COMMITTED (no gap locks on `pending`).
fn read_committed() -> mysql::TxOpts {
    mysql::TxOpts::default().set_isolation_level(Some(mysql::IsolationLevel::ReadCommitted))
}
