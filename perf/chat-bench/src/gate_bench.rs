//! Gate benchmark: the time to register and log in N users, then logins per
//! second, through the gate over HTTP, on the embedded store and MariaDB.
//!
//! ```text
//! cargo run --release -p chat-bench --bin gate-bench [-- --users 10000 --clients 8
//!     --seconds 5 --runs 3 --store both --cost low|default]
//! ```
//!
//! One process holds a status server, a chat server, a verify server that
//! spools its mails to files, and the gate. `--clients` threads act as
//! clients, one HTTP request per connection (as the original clients do).
//! Registering a user is the whole flow: request a code, read it from the
//! spooled mail, register, log in. Password hashes use argon2id at the
//! lowest cost (`--cost low`, the benchmark setting) or the production
//! default (`--cost default`: 19 MiB, 2 passes).

use chat_bench::args::{arg, number, stores};
use chat_bench::cluster::{self, StoreChoice};
use proto::http_client::post_json;
use serde_json::{json, Value};
use services::gate::password::HashCost;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    services::daemon::answer_help_or_version(
        "gate-bench",
        "usage: gate-bench [--users N] [--clients N] [--seconds S] [--runs R] \
         [--cost low|default] [--store embedded|mysql|both] [--mysql URL]\n  \
         registrations and logins per second through an in-process gate",
    );
    let _ = services::logging::init("warn");
    let users: usize = number("--users", 10_000);
    let clients: usize = number("--clients", 8);
    let seconds: f64 = number("--seconds", 5.0);
    let runs: usize = number("--runs", 3);
    let cost = match arg("--cost").as_deref().unwrap_or("low") {
        "low" => HashCost::benchmark(),
        "default" => HashCost::default(),
        other => panic!("--cost {other}: low or default"),
    };
    let stores = stores();
    println!(
        "gate bench: register and log in {users} users, then logins for {seconds} s, {clients} clients, \
         argon2id m={} KiB t={}, median of {runs} runs",
        cost.memory_kib, cost.iterations
    );
    let mut table = Vec::new();
    for store in &stores {
        let mut register_secs = Vec::new();
        let mut logins = Vec::new();
        for run in 0..runs {
            let (took, rate) = run_once(store, run, users, clients, seconds, cost.clone());
            println!(
                "  {:<8} run {}: {users} users registered and logged in in {:.2} s ({:.0}/s); logins {:.0}/s",
                store.label(),
                run + 1,
                took,
                users as f64 / took,
                rate
            );
            register_secs.push(took);
            logins.push(rate);
        }
        table.push((store.label(), median(register_secs), median(logins)));
    }
    println!();
    println!(
        "| store | register + log in {users} users, s | users/s | logins/s ({clients} clients) |"
    );
    println!("|---|---:|---:|---:|");
    for (label, took, rate) in table {
        println!("| {label} | {took:.2} | {:.0} | {rate:.0} |", users as f64 / took);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Returns (seconds to register and log in every user, logins per second).
fn run_once(
    store: &StoreChoice,
    run: usize,
    users: usize,
    clients: usize,
    seconds: f64,
    cost: HashCost,
) -> (f64, f64) {
    let mut cluster = cluster::start(store, run, 1);
    let spool = std::env::temp_dir().join(format!("gate-bench-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    std::fs::create_dir_all(&spool).unwrap();
    let gate = cluster::start_gate(&mut cluster, cost, &spool);
    let codes = Arc::new(Mutex::new(HashMap::<String, String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let indexer = {
        let (codes, stop, spool) = (codes.clone(), stop.clone(), spool.clone());
        std::thread::spawn(move || index_spool(&spool, &codes, &stop))
    };

    let started = Instant::now();
    std::thread::scope(|scope| {
        for client in 0..clients {
            let codes = &codes;
            scope.spawn(move || {
                for i in (client..users).step_by(clients) {
                    register_and_log_in(gate, i, codes);
                }
            });
        }
    });
    let register_took = started.elapsed().as_secs_f64();

    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    std::thread::scope(|scope| {
        for client in 0..clients {
            let done = &done;
            scope.spawn(move || {
                let mut i = client;
                while Instant::now() < until {
                    let answer = post(
                        gate,
                        "/user_login",
                        json!({"email": format!("u{i}"), "passwd": format!("p{i}")}),
                    );
                    assert_eq!(answer["error"], 0, "{answer}");
                    done.fetch_add(1, Relaxed);
                    i = (i + clients) % users;
                }
            });
        }
    });
    let login_rate = done.load(Relaxed) as f64 / seconds;
    stop.store(true, Relaxed);
    indexer.join().unwrap();
    drop(cluster);
    let _ = std::fs::remove_dir_all(&spool);
    (register_took, login_rate)
}

fn post(gate: SocketAddr, path: &str, body: Value) -> Value {
    let response = post_json(gate, path, &body, TIMEOUT).expect("the gate answers");
    serde_json::from_slice(&response.body).expect("a JSON answer")
}

/// The whole flow for user `i`: code by mail, register, log in.
fn register_and_log_in(gate: SocketAddr, i: usize, codes: &Mutex<HashMap<String, String>>) {
    let email = format!("u{i}@bench.invalid");
    assert_eq!(post(gate, "/get_varifycode", json!({ "email": email }))["error"], 0);
    let deadline = Instant::now() + TIMEOUT;
    let code = loop {
        if let Some(code) = codes.lock().unwrap().remove(&email) {
            break code;
        }
        assert!(Instant::now() < deadline, "no mail for {email}");
        std::thread::sleep(Duration::from_millis(1));
    };
    let password = format!("p{i}");
    let register = json!({"email": email, "user": format!("u{i}"), "passwd": password,
                          "confirm": password, "varifycode": code});
    let answer = post(gate, "/user_register", register);
    assert_eq!(answer["error"], 0, "{answer}");
    let answer = post(gate, "/user_login", json!({"email": email, "passwd": password}));
    assert_eq!(answer["error"], 0, "{answer}");
}

/// Reads every spooled mail once (then deletes it): address → code.
fn index_spool(spool: &Path, codes: &Mutex<HashMap<String, String>>, stop: &AtomicBool) {
    while !stop.load(Relaxed) {
        let mut found = false;
        for entry in std::fs::read_dir(spool).into_iter().flatten().flatten() {
            let path: PathBuf = entry.path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let Ok(mail) = std::fs::read_to_string(&path) else { continue };
            let to = mail.lines().find_map(|l| l.strip_prefix("To: ")).map(str::to_string);
            let code = mail
                .split("verification code is ")
                .nth(1)
                .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>());
            // Six digits (the default length); a half-written file is read again later.
            if let (Some(to), Some(code)) = (to, code.filter(|c| c.len() == 6)) {
                codes.lock().unwrap().insert(to, code);
                let _ = std::fs::remove_file(&path);
                found = true;
            }
        }
        if !found {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
