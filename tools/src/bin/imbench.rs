//! `imbench`: the load generator, against a running cluster.
//!
//! ```text
//! imbench p2p  --status 127.0.0.1:7100 [--pairs 100] [--rate 50 | --in-flight K] [--seconds 10] [--mixed] [--devices 2]
//!              [--retry [--resend-after MS] [--idle M --churn N]] [--report-every S] [common]
//! imbench conn --status 127.0.0.1:7100 [--conns 1000] [--ramp 2000] [--hold 10] [--sources N] [common]
//! imbench group --status 127.0.0.1:7100 [--groups 1] [--members 500] [--senders 1] [--rate 400] [--seconds 10] [common]
//! imbench mqtt --broker 127.0.0.1:1883 [--pairs 100] [--rate 50] [--seconds 10] [--threads 2] [--json FILE]
//! imbench mqtt --broker 127.0.0.1:1883 --fanout 500 [--groups 1] [--rate 400] [--seconds 10] [--threads 2]
//! imbench storm --gate 127.0.0.1:8080 [--users 2000] [--clients 8] [--cost benchmark|default]
//!              [--alone PID] [--kill PID [--kill-after S] [--seconds S] [--resume] [--rate R]] [common]
//! common: [--store embedded --data data | --store mysql --mysql-url URL] [--prefix bench]
//!         [--threads 2] [--json FILE]
//! ```
//!
//! Users are provisioned straight into the cluster's store (see
//! `tools::bench::provision`); tokens come from the status server, which
//! also picks each user's chat server, as for a gate login.
//!
//! * `p2p`: friend pairs; each sender sends `--rate` 64-byte messages per
//!   second on a clock (open loop); latency from the send time carried in
//!   the message to the receiver's 1019, in an HDR histogram; sent,
//!   acknowledged (1018), delivered (1019), lost and duplicated counted.
//!   With `--in-flight K`, a closed loop instead: each sender keeps K
//!   messages unanswered and sends the next when a 1018 arrives. Receivers
//!   acknowledge cumulatively (1110). With `--devices 2`, every user logs
//!   in on a desktop and a mobile device on different chat servers: both
//!   of the receiver's devices count deliveries, the sender's mobile counts
//!   the copies of its own messages. Every report carries the generator's
//!   own lateness (due → written) beside the latency it measured, and a
//!   timeline (the counters after every second). With `--retry` (fault
//!   mode, for `perf/faults.sh`), clients ride through faults as a real
//!   client must: users whose connection closes log in again through the
//!   status server with jittered backoff, senders resend what has no 1018
//!   under the same unique id, and receivers count messages stored twice
//!   or out of send order. With `--idle M --churn N` (the soak), M more
//!   users stay logged in doing nothing, and N of them per second log out
//!   (close) and log in again. `--report-every S` adds a row every S
//!   seconds (counters, and the latency of that interval alone).
//! * `conn`: `--conns` users log in at `--ramp` per second from `--sources`
//!   loopback addresses (127.0.0.1, .2, ...: past the ~28k ephemeral ports
//!   of one address) and stay connected with heartbeats for `--hold`
//!   seconds; login latency, failures, and the chat servers' memory.
//! * `group`: `--groups` groups of `--members` users (each created in the
//!   store by its first member, with the others as its friends), spread
//!   over the chat servers by the status server; `--senders` of each group
//!   send, `--rate` messages per second in all (open loop, timed from when
//!   each was due); every other member receives and acknowledges. Reports
//!   deliveries per second, the latency to each recipient and to each
//!   message's last recipient (p50/p99/max), deliveries lost and duplicates.
//! * `mqtt`: the p2p shape against an MQTT broker with QoS 1 (the peer run);
//!   with `--fanout M`, the group shape: per group one publisher and M
//!   subscribers of its topic, `--rate` messages per second in all.
//! * `storm`: `--users` log in at once through the gate (HTTP, `--clients`
//!   at a time) and then to their chat servers, their passwords hashed at
//!   `--cost` (`default`: the gate's production argon2id cost). `--alone
//!   PID` pauses that chat server (SIGSTOP) during the logins, so that every
//!   user lands on the other one. With `--kill PID`, that chat server is
//!   killed (SIGKILL) `--kill-after` seconds into a `--seconds` run, and its
//!   users log in again through the gate (jittered backoff, `--clients` at a
//!   time), which sends them to the survivors: how long until all are back,
//!   and the gate's and the status server's peak CPU meanwhile. With
//!   `--resume` they resume with the session token of their password login
//!   (no password hash), otherwise they log in with the password again.
//!   With `--rate R`, users are friend pairs and each sender sends R msg/s
//!   through it all, resending what has no 1018 (fault mode): acknowledged
//!   messages lost, stored twice, reordered.

use serde_json::json;
use services::gate::password::HashCost;
use services::store::config::{BackendKind, StoreConfig};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tools::bench::client::{Role, User};
use tools::bench::provision;
use tools::bench::run::{
    assign, chat_server_pids, cpu_seconds, last_recipient, ms, pids_named, rss_kib, status_client,
    Load,
};

struct Options {
    args: Vec<String>,
}

impl Options {
    fn get(&self, name: &str) -> Option<String> {
        self.args.iter().position(|a| a == name).and_then(|i| self.args.get(i + 1)).cloned()
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.get(name)
            .map_or(default, |v| v.parse().unwrap_or_else(|_| fail(&format!("{name}: a number"))))
    }

    fn store(&self) -> StoreConfig {
        match self.get("--store").as_deref().unwrap_or("embedded") {
            "embedded" => StoreConfig {
                data_dir: self.get("--data").unwrap_or_else(|| "data".into()).into(),
                ..StoreConfig::default()
            },
            "mysql" => StoreConfig {
                backend: BackendKind::Mysql,
                mysql_url: self
                    .get("--mysql-url")
                    .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/im".into()),
                mysql_password: std::env::var("IM_BENCH_MYSQL_PASSWORD").unwrap_or_default(),
                ..StoreConfig::default()
            },
            other => fail(&format!("--store {other}: embedded or mysql")),
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("imbench: {message}");
    std::process::exit(2)
}

fn main() {
    services::daemon::answer_help_or_version(
        "imbench",
        "usage: imbench p2p|conn|mqtt|storm --status HOST:PORT [options]\n  \
         the load generator; its options are in perf/README.md and the source's header",
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = Options { args: args.clone() };
    let report = match args.first().map(String::as_str) {
        Some("p2p") => p2p(&options),
        Some("conn") => conn(&options),
        Some("mqtt") if options.get("--fanout").is_some() => mqtt_fanout(&options),
        Some("mqtt") => mqtt(&options),
        Some("group") => group(&options),
        Some("storm") => storm(&options),
        _ => fail(
            "usage: imbench p2p|conn|mqtt --status HOST:PORT [options] (see the source's header)",
        ),
    };
    let report = report.unwrap_or_else(|e| fail(&e));
    if let Some(path) = options.get("--json") {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap())
            .unwrap_or_else(|e| fail(&format!("--json {path}: {e}")));
        println!("report written to {path}");
    }
}

fn p2p(o: &Options) -> Result<serde_json::Value, String> {
    let status = status_client(&o.get("--status").unwrap_or_else(|| "127.0.0.1:7100".into()));
    let (pairs, rate, seconds) = (
        o.number("--pairs", 100usize),
        o.number("--rate", 50.0f64),
        o.number("--seconds", 10.0f64),
    );
    let prefix = o.get("--prefix").unwrap_or_else(|| "bench".into());
    let uids = provision::users(&o.store(), &prefix, pairs * 2, true)?;
    let mixed = o.args.iter().any(|a| a == "--mixed");
    let in_flight = o.number("--in-flight", 0u64);
    let devices = o.number("--devices", 1u64);
    if !(1..=2).contains(&devices) {
        return Err("--devices: 1 or 2".into());
    }
    let (idle, churn) = (o.number("--idle", 0usize), o.number("--churn", 0.0f64));
    let retry = o.args.iter().any(|a| a == "--retry");
    if churn > 0.0 && (idle == 0 || !retry) {
        return Err("--churn needs --idle M and --retry (churned users log in again)".into());
    }
    let report_every = o.number("--report-every", 0.0f64);
    let load = Load::start_devices(o.number("--threads", 2usize), rate, devices);
    load.shared.in_flight.store(in_flight, Relaxed);
    load.shared.retrying.store(retry, Relaxed);
    if let Some(ms) = o.get("--resend-after") {
        let ms: u64 = ms.parse().map_err(|_| "--resend-after: milliseconds")?;
        load.shared.resend_after_ms.store(ms.max(1), Relaxed);
    }
    let mut cross = 0;
    let mut servers: Vec<std::net::SocketAddr> = Vec::new();
    for (n, pair) in uids.chunks_exact(2).enumerate() {
        // The status server spreads consecutive logins over the servers: by
        // default every sender lands on one server and every receiver on the
        // other; with --mixed, every other pair asks for its receiver first,
        // so that each server commits, forwards and delivers.
        let (sender, receiver) = if !mixed || n % 2 == 0 {
            let sender = assign(&status, pair[0])?;
            (sender, assign(&status, pair[1])?)
        } else {
            let receiver = assign(&status, pair[1])?;
            (assign(&status, pair[0])?, receiver)
        };
        let ((sender_at, sender_token), (receiver_at, receiver_token)) = (sender, receiver);
        cross += usize::from(sender_at != receiver_at);
        for at in [sender_at, receiver_at] {
            if !servers.contains(&at) {
                servers.push(at);
            }
        }
        let sender_role = Role::sender(pair[1]);
        let receiver_role = Role::receiver(retry);
        load.connect_device(
            User::new(pair[0], sender_token.clone(), sender_role, 0),
            sender_at,
            None,
        );
        load.connect_device(
            User::new(pair[1], receiver_token.clone(), receiver_role, 0),
            receiver_at,
            None,
        );
        if devices == 2 {
            // The second device of each user on another server than its first.
            let other = |at| *servers.iter().find(|&&s| s != at).unwrap_or(&at);
            let mirror = Role::mirror();
            load.connect_device(
                User::new(pair[0], sender_token, mirror, 1),
                other(sender_at),
                None,
            );
            let receiver_role = Role::receiver(retry);
            load.connect_device(
                User::new(pair[1], receiver_token, receiver_role, 1),
                other(receiver_at),
                None,
            );
        }
    }
    let idle_uids = if idle > 0 {
        provision::users(&o.store(), &format!("{prefix}idle"), idle, false)?
    } else {
        Vec::new()
    };
    for &uid in &idle_uids {
        let (server, token) = assign(&status, uid)?;
        load.connect(uid, token, Role::Idle, server, None);
    }
    let logins = 2 * pairs as u64 * devices + idle as u64;
    if !load.wait_logged_in(logins, Duration::from_secs(60)) {
        return Err("not every user could log in".into());
    }
    // A closed loop offers what the system takes: no fixed rate to report.
    let offered = if in_flight > 0 { 0.0 } else { pairs as f64 * rate };
    if in_flight > 0 {
        println!("{pairs} pairs logged in ({cross} split over two servers); {in_flight} messages in flight per sender for {seconds} s");
    } else {
        println!("{pairs} pairs logged in ({cross} split over two servers); sending {offered} msg/s for {seconds} s");
    }
    let stop_reconnecting = std::sync::atomic::AtomicBool::new(false);
    let mut intervals: Vec<serde_json::Value> = Vec::new();
    let mut next_report = report_every;
    let mut report = std::thread::scope(|scope| {
        if retry {
            scope.spawn(|| {
                load.reconnect_dropped(&|uid| assign(&status, uid), 2, &stop_reconnecting)
            });
        }
        if churn > 0.0 {
            scope.spawn(|| {
                let every = Duration::from_secs_f64(1.0 / churn);
                while !stop_reconnecting.load(Relaxed) {
                    std::thread::sleep(every);
                    load.log_out_idle();
                }
            });
        }
        let on_sample = |elapsed: f64| {
            if report_every > 0.0 && elapsed >= next_report && elapsed <= seconds + 0.05 {
                next_report += report_every;
                let row = interval_row(&load, elapsed);
                println!("  interval: {row}");
                intervals.push(row);
            }
        };
        let report = drive_and_report(&load.shared, offered, seconds, on_sample, || {
            let h = load.histograms();
            (h.latency, h.lateness)
        });
        stop_reconnecting.store(true, Relaxed);
        report
    });
    if report_every > 0.0 {
        report["intervals"] = json!(intervals);
    }
    if retry {
        let s = &load.shared;
        let faults = json!({
            "resent": s.resent.load(Relaxed), "reconnected": s.reconnected.load(Relaxed),
            "stored_twice": s.stored_twice.load(Relaxed), "reordered": load.reordered(),
            "still_disconnected": s.dropped.lock().len(),
        });
        println!("fault mode: {faults}");
        report["faults"] = faults;
    }
    load.stop();
    Ok(json!({"scenario": "p2p", "pairs": pairs, "cross_server_pairs": cross,
              "devices_per_user": devices, "in_flight_per_sender": in_flight, "result": report}))
}

/// Groups fanning messages out (see the header): users provisioned and
/// grouped straight in the store, then logged in through the status server.
fn group(o: &Options) -> Result<serde_json::Value, String> {
    let status = status_client(&o.get("--status").unwrap_or_else(|| "127.0.0.1:7100".into()));
    let (groups, members, senders) = (
        o.number("--groups", 1usize),
        o.number("--members", 500usize),
        o.number("--senders", 1usize),
    );
    let (rate, seconds) = (o.number("--rate", 400.0f64), o.number("--seconds", 10.0f64));
    if members < 2 || senders == 0 || senders >= members {
        return Err("--members: at least 2, and more than --senders (at least 1)".into());
    }
    let prefix = o.get("--prefix").unwrap_or_else(|| format!("grp{members}x"));
    let uids = provision::users(&o.store(), &prefix, groups * members, false)?;
    let group_ids = provision::groups(&o.store(), &uids, members)?;
    let load = Load::start(o.number("--threads", 2usize), rate / (groups * senders) as f64);
    let receivers = (members - senders) as u64;
    load.shared.fanout.store(receivers, Relaxed);
    let mut servers: Vec<std::net::SocketAddr> = Vec::new();
    for (group, users) in group_ids.iter().zip(uids.chunks_exact(members)) {
        for (i, &uid) in users.iter().enumerate() {
            let (at, token) = assign(&status, uid)?;
            if !servers.contains(&at) {
                servers.push(at);
            }
            let role = if i < senders { Role::group_sender(*group) } else { Role::receiver(false) };
            load.connect_device(User::new(uid, token, role, 0), at, None);
        }
    }
    if !load.wait_logged_in((groups * members) as u64, Duration::from_secs(60)) {
        return Err("not every member could log in".into());
    }
    println!(
        "{groups} group(s) of {members} logged in over {} chat servers; {senders} sender(s) each, \
         {rate} msg/s in all ({} deliveries/s offered) for {seconds} s",
        servers.len(),
        rate * receivers as f64
    );
    // The database's CPU while the messages flow (not while users and the
    // group were made), its idle rate of the second before subtracted.
    let database = [pids_named("mariadbd"), pids_named("mysqld")].concat();
    let idle_before = cpu_seconds(&database);
    std::thread::sleep(Duration::from_secs(1));
    let idle_per_s = cpu_seconds(&database) - idle_before;
    let pids = chat_server_pids();
    let (cpu_before, database_before, started) =
        (cpu_seconds(&pids), cpu_seconds(&database), Instant::now());
    let mut report = drive_and_report(
        &load.shared,
        rate,
        seconds,
        |_| {},
        || {
            let h = load.histograms();
            (h.latency, h.lateness)
        },
    );
    let cpu = cpu_seconds(&pids) - cpu_before;
    let database_busy =
        (cpu_seconds(&database) - database_before - idle_per_s * started.elapsed().as_secs_f64())
            .max(0.0);
    let acknowledged = load.shared.acknowledged.load(Relaxed).max(1);
    let (last, incomplete) = last_recipient(&load.group_arrivals(), receivers);
    let fanned = json!({
        "groups": groups, "members": members, "senders_per_group": senders,
        "receivers_per_message": receivers,
        "deliveries_offered_per_s": rate * receivers as f64,
        "last_recipient_ms": {"p50": ms(&last, 0.5), "p99": ms(&last, 0.99),
                              "max": last.max() as f64 / 1000.0, "messages": last.len()},
        "messages_some_recipient_missed": incomplete,
        "chat_servers_cpu_seconds": cpu,
        "database_cpu_us_per_message": if database.is_empty() {
            serde_json::Value::Null
        } else {
            json!(database_busy * 1e6 / acknowledged as f64)
        },
    });
    println!("group: {fanned}");
    report["group"] = fanned;
    load.stop();
    Ok(json!({"scenario": "group", "result": report}))
}

/// The group shape on an MQTT broker: per group one QoS 1 publisher and
/// `--fanout` subscribers of its topic.
fn mqtt_fanout(o: &Options) -> Result<serde_json::Value, String> {
    use tools::bench::mqtt::{MqttClient, MqttCodec, Role as MqttRole};
    let broker: std::net::SocketAddr = o
        .get("--broker")
        .unwrap_or_else(|| "127.0.0.1:1883".into())
        .parse()
        .map_err(|_| "--broker: IP:PORT")?;
    let (groups, fanout) = (o.number("--groups", 1u64), o.number("--fanout", 500u64));
    let (rate, seconds) = (o.number("--rate", 400.0f64), o.number("--seconds", 10.0f64));
    let shared = std::sync::Arc::new(tools::bench::client::Shared::new(rate / groups as f64));
    shared.fanout.store(fanout, Relaxed);
    let config = tools::bench::run::loop_config("imbench-mqtt", o.number("--threads", 2usize));
    let for_loops = shared.clone();
    let mut pool =
        reactor::LoopPool::start(config, MqttCodec, move |_| MqttClient::new(for_loops.clone()))
            .map_err(|e| e.to_string())?;
    let run = std::process::id();
    for group in 1..=groups {
        let topic = format!("imbench/{run}/g{group}");
        let mut roles = vec![(0, MqttRole::Sender { topic: topic.clone(), sent: 0 })];
        for n in 1..=fanout {
            let seen = Default::default();
            roles.push((n, MqttRole::Receiver { topic: topic.clone(), group, seen }));
        }
        for (n, role) in roles {
            let id = group * 1_000_000 + n;
            let _ = pool.next_handle().post(move |h, ctx| h.add(ctx, broker, id, role));
        }
    }
    let clients = groups * (fanout + 1);
    if !shared.wait_logged_in(clients, Duration::from_secs(60)) {
        return Err(format!("cannot connect and subscribe {clients} clients to {broker}"));
    }
    println!(
        "{groups} topic(s) with {fanout} QoS 1 subscribers each on {broker}; \
         publishing {rate} msg/s in all ({} deliveries/s offered) for {seconds} s",
        rate * fanout as f64
    );
    let gather = |pool: &reactor::LoopPool<MqttClient>| {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in pool.handles().iter() {
            let sender = sender.clone();
            let _ = handle.post(move |h, _| {
                drop(sender.send((h.latency.clone(), h.lateness.clone(), h.group_arrivals.clone())))
            });
        }
        let (mut latency, mut lateness, mut arrivals) =
            receiver.recv_timeout(Duration::from_secs(5)).expect("a loop answers");
        for _ in 1..pool.len() {
            let (l, g, a) = receiver.recv_timeout(Duration::from_secs(5)).expect("a loop answers");
            let _ = latency.add(l);
            let _ = lateness.add(g);
            tools::bench::run::merge_arrivals(&mut arrivals, a);
        }
        (latency, lateness, arrivals)
    };
    let mut arrivals = HashMap::new();
    let mut report = drive_and_report(
        &shared,
        rate,
        seconds,
        |_| {},
        || {
            let (latency, lateness, all) = gather(&pool);
            arrivals = all;
            (latency, lateness)
        },
    );
    let (last, incomplete) = last_recipient(&arrivals, fanout);
    let fanned = json!({
        "groups": groups, "receivers_per_message": fanout,
        "deliveries_offered_per_s": rate * fanout as f64,
        "last_recipient_ms": {"p50": ms(&last, 0.5), "p99": ms(&last, 0.99),
                              "max": last.max() as f64 / 1000.0, "messages": last.len()},
        "messages_some_recipient_missed": incomplete,
    });
    println!("group: {fanned}");
    report["group"] = fanned;
    pool.shutdown(Duration::from_secs(2));
    Ok(json!({"scenario": "mqtt-fanout", "broker": broker.to_string(), "result": report}))
}

/// The same shape against an MQTT broker with QoS 1 (see `tools::bench::mqtt`).
fn mqtt(o: &Options) -> Result<serde_json::Value, String> {
    use tools::bench::mqtt::{MqttClient, MqttCodec, Role as MqttRole};
    let broker: std::net::SocketAddr = o
        .get("--broker")
        .unwrap_or_else(|| "127.0.0.1:1883".into())
        .parse()
        .map_err(|_| "--broker: IP:PORT")?;
    let (pairs, rate, seconds) = (
        o.number("--pairs", 100usize),
        o.number("--rate", 50.0f64),
        o.number("--seconds", 10.0f64),
    );
    let shared = std::sync::Arc::new(tools::bench::client::Shared::new(rate));
    let config = tools::bench::run::loop_config("imbench-mqtt", o.number("--threads", 2usize));
    let for_loops = shared.clone();
    let mut pool =
        reactor::LoopPool::start(config, MqttCodec, move |_| MqttClient::new(for_loops.clone()))
            .map_err(|e| e.to_string())?;
    for pair in 0..pairs as u64 {
        let topic = format!("imbench/{}", 2 * pair + 1);
        let (sender, receiver) = (2 * pair, 2 * pair + 1);
        let roles = [
            (sender, MqttRole::Sender { topic: topic.clone(), sent: 0 }),
            (receiver, MqttRole::Receiver { topic, group: 0, seen: Default::default() }),
        ];
        for (id, role) in roles {
            let _ = pool.next_handle().post(move |h, ctx| h.add(ctx, broker, id, role));
        }
    }
    if !shared.wait_logged_in(2 * pairs as u64, Duration::from_secs(30)) {
        return Err(format!("cannot connect and subscribe {} clients to {broker}", 2 * pairs));
    }
    println!(
        "{pairs} MQTT pairs connected to {broker}; publishing {} msg/s (QoS 1) for {seconds} s",
        pairs as f64 * rate
    );
    let histograms = || {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in pool.handles().iter() {
            let sender = sender.clone();
            let _ =
                handle.post(move |h, _| drop(sender.send((h.latency.clone(), h.lateness.clone()))));
        }
        let (mut latency, mut lateness) =
            receiver.recv_timeout(Duration::from_secs(5)).expect("a loop answers");
        for _ in 1..pool.len() {
            let (l, g) = receiver.recv_timeout(Duration::from_secs(5)).expect("a loop answers");
            let _ = latency.add(l);
            let _ = lateness.add(g);
        }
        (latency, lateness)
    };
    let report = drive_and_report(&shared, pairs as f64 * rate, seconds, |_| {}, histograms);
    pool.shutdown(Duration::from_secs(2));
    Ok(json!({"scenario": "mqtt", "broker": broker.to_string(), "pairs": pairs, "result": report}))
}

/// Sends for `seconds` with a progress line each second, waits for what is
/// in flight, then prints and returns the outcome.
/// The counters now and the latency since the last row (`--report-every`).
fn interval_row(load: &Load, elapsed: f64) -> serde_json::Value {
    let s = &load.shared;
    let latency = load.take_interval_latency();
    let (acknowledged, delivered) = (s.acknowledged.load(Relaxed), s.delivered.load(Relaxed));
    json!({
        "seconds": (elapsed * 10.0).round() / 10.0, "sent": s.sent.load(Relaxed),
        "acknowledged": acknowledged, "delivered": delivered,
        "undelivered_now": acknowledged.saturating_sub(delivered),
        "refused": s.refused.load(Relaxed), "closed": s.closed.load(Relaxed),
        "reconnected": s.reconnected.load(Relaxed), "churned": s.churned.load(Relaxed),
        "latency_ms": {"p50": ms(&latency, 0.5), "p99": ms(&latency, 0.99),
                       "max": latency.max() as f64 / 1000.0},
    })
}

/// Sends for `seconds`, printing a line a second and calling `on_sample`
/// at every sample (100 ms), then reports.
fn drive_and_report(
    s: &std::sync::Arc<tools::bench::client::Shared>,
    offered: f64,
    seconds: f64,
    mut on_sample: impl FnMut(f64),
    histograms: impl FnOnce() -> (hdrhistogram::Histogram<u64>, hdrhistogram::Histogram<u64>),
) -> serde_json::Value {
    let (mut last_sent, mut last_delivered, mut last_print) = (0, 0, 0.0);
    // The counters every 100 ms, through the drain: [seconds, sent,
    // acknowledged, delivered, refused, closed] (perf/faults.sh reads
    // recovery from it).
    let mut timeline: Vec<[f64; 6]> = Vec::new();
    s.send_for(seconds, |elapsed| {
        let (sent, delivered) = (s.sent.load(Relaxed), s.delivered.load(Relaxed));
        let (refused, closed) = (s.refused.load(Relaxed), s.closed.load(Relaxed));
        let acknowledged = s.acknowledged.load(Relaxed);
        let row = [sent, acknowledged, delivered, refused, closed].map(|c| c as f64);
        timeline.push([(elapsed * 1000.0).round() / 1000.0, row[0], row[1], row[2], row[3], row[4]]);
        if elapsed - last_print >= 0.999 && elapsed <= seconds + 0.05 {
            let per_s = |now: u64, before: u64| (now - before) as f64 / (elapsed - last_print);
            println!(
                "  {elapsed:>5.1} s  sent {:>7.0}/s  delivered {:>7.0}/s  refused {refused}  closed {closed}",
                per_s(sent, last_sent),
                per_s(delivered, last_delivered),
            );
            (last_sent, last_delivered, last_print) = (sent, delivered, elapsed);
        }
        on_sample(elapsed);
    });
    let (latency, lateness) = histograms();
    let (sent, acked, delivered) =
        (s.sent.load(Relaxed), s.acknowledged.load(Relaxed), s.delivered.load(Relaxed));
    let by_device: Vec<u64> = s.delivered_by_device.iter().map(|d| d.load(Relaxed)).collect();
    let report = json!({
        "offered_per_s": offered,
        "seconds": seconds, "sent": sent, "acknowledged": acked, "delivered": delivered,
        "delivered_per_s": delivered as f64 / seconds, "refused": s.refused.load(Relaxed),
        "lost": s.lost(),
        "devices_per_user": s.devices,
        "delivered_by_device": by_device,
        "mirrored_to_senders_other_device": s.mirrored.load(Relaxed),
        // Pushed twice on the wire (a live push racing the login sync):
        // removed by the client, which shows each message once.
        "wire_duplicates_removed": s.duplicates.load(Relaxed),
        "stale_from_earlier_runs": s.stale.load(Relaxed),
        "latency_ms": {"p50": ms(&latency, 0.5), "p90": ms(&latency, 0.9), "p99": ms(&latency, 0.99),
                       "p999": ms(&latency, 0.999), "max": latency.max() as f64 / 1000.0},
        // The generator's own: from when each send was due to when it was
        // written. The latency above is only trustworthy while this is small.
        "generator_lateness_ms": {"p50": ms(&lateness, 0.5), "p99": ms(&lateness, 0.99),
                                  "max": lateness.max() as f64 / 1000.0},
        "timeline": timeline,
    });
    println!();
    println!("| sent | acknowledged | delivered | delivered/s | lost | wire dup removed | p50 ms | p90 | p99 | p999 | max |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let l = &report["latency_ms"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    println!(
        "| {sent} | {acked} | {delivered} | {:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
        delivered as f64 / seconds, report["lost"], report["wire_duplicates_removed"], f(&l["p50"]), f(&l["p90"]), f(&l["p99"]),
        f(&l["p999"]), f(&l["max"])
    );
    let g = &report["generator_lateness_ms"];
    println!(
        "generator lateness (due → written): p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms",
        f(&g["p50"]),
        f(&g["p99"]),
        f(&g["max"])
    );
    if s.devices > 1 {
        println!(
            "deliveries per receiving device: {:?}; copies on the senders' other devices: {}",
            report["delivered_by_device"], report["mirrored_to_senders_other_device"]
        );
    }
    report
}

fn conn(o: &Options) -> Result<serde_json::Value, String> {
    let status = status_client(&o.get("--status").unwrap_or_else(|| "127.0.0.1:7100".into()));
    let (count, ramp, hold) = (
        o.number("--conns", 1000usize),
        o.number("--ramp", 2000.0f64),
        o.number("--hold", 10.0f64),
    );
    let sources: Vec<IpAddr> =
        (1..=o.number("--sources", 1u8)).map(|i| IpAddr::from([127, 0, 0, i])).collect();
    let prefix = o.get("--prefix").unwrap_or_else(|| "bench".into());
    let uids = provision::users(&o.store(), &prefix, count, false)?;
    let servers = chat_server_pids();
    let rss_before = rss_kib(&servers);
    let load = Load::start(o.number("--threads", 2usize), 0.0);
    let started = Instant::now();
    for (i, &uid) in uids.iter().enumerate() {
        let (server, token) = assign(&status, uid)?;
        load.connect(uid, token, Role::Idle, server, sources.get(i % sources.len()).copied());
        // The ramp: user i starts at i / ramp seconds.
        let due = Duration::from_secs_f64(i as f64 / ramp);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let all = load.wait_logged_in(count as u64, Duration::from_secs(120));
    let ramp_took = started.elapsed().as_secs_f64();
    println!(
        "{} logged in after {ramp_took:.1} s; holding for {hold} s",
        load.shared.logged_in.load(Relaxed)
    );
    let hold_until = Instant::now() + Duration::from_secs_f64(hold);
    while Instant::now() < hold_until {
        std::thread::sleep(
            Duration::from_secs(1).min(hold_until.saturating_duration_since(Instant::now())),
        );
        println!(
            "  connected {}  closed {}",
            load.shared.logged_in.load(Relaxed) - load.shared.closed.load(Relaxed),
            load.shared.closed.load(Relaxed)
        );
    }
    let rss_after = rss_kib(&servers);
    let login = load.histograms().login;
    let s = &load.shared;
    let connected = s.logged_in.load(Relaxed) - s.closed.load(Relaxed);
    let per_conn = (rss_after.saturating_sub(rss_before) * 1024) as f64 / connected.max(1) as f64;
    let report = json!({
        "scenario": "conn", "connections": count, "sources": sources.len(), "logged_in": s.logged_in.load(Relaxed),
        "still_connected": connected, "failed": s.login_failed.load(Relaxed) + s.connect_failed.load(Relaxed),
        "all_logged_in": all, "ramp_seconds": ramp_took, "hold_seconds": hold,
        "login_ms": {"p50": ms(&login, 0.5), "p99": ms(&login, 0.99), "max": login.max() as f64 / 1000.0},
        "chat_servers": servers.len(), "server_rss_kib_before": rss_before, "server_rss_kib_after": rss_after,
        "server_bytes_per_connection": per_conn,
    });
    load.stop();
    println!();
    println!("| connections | logged in | still connected | failed | login p50 ms | p99 | max | server RSS before → after | bytes/conn |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    let l = &report["login_ms"];
    println!(
        "| {count} | {} | {connected} | {} | {:.2} | {:.2} | {:.1} | {} → {} KiB | {per_conn:.0} |",
        report["logged_in"],
        report["failed"],
        l["p50"].as_f64().unwrap(),
        l["p99"].as_f64().unwrap(),
        l["max"].as_f64().unwrap(),
        rss_before,
        rss_after
    );
    Ok(report)
}

/// The device storm users name at the gate with `--resume` (their session
/// tokens are bound to it).
const STORM_DEVICE: &str = "imbench-storm";

/// How long a paused chat server (`--alone`) is given to be passed over:
/// the status server stops handing out a server that missed two heartbeats
/// (1 s apart) while another is fresh.
const PASSED_OVER_AFTER: Duration = Duration::from_secs(4);

/// Sends `signal` to `pid` (an operator-named process).
fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours; a
    // wrong pid only makes it fail.
    unsafe {
        libc::kill(pid, signal);
    }
}

fn storm(o: &Options) -> Result<serde_json::Value, String> {
    let gate: std::net::SocketAddr = o
        .get("--gate")
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .map_err(|_| "--gate: IP:PORT")?;
    let (count, clients) = (o.number("--users", 2000usize), o.number("--clients", 8usize).max(1));
    let resume = o.args.iter().any(|a| a == "--resume");
    let (cost, cost_name) = match o.get("--cost").as_deref().unwrap_or("benchmark") {
        "benchmark" => (HashCost::benchmark(), "benchmark"),
        "default" => (HashCost::default(), "default"),
        other => return Err(format!("--cost {other}: benchmark or default")),
    };
    let rate = o.number("--rate", 0.0f64);
    let talking = rate > 0.0;
    if talking && count % 2 == 1 {
        return Err("--users: an even number with --rate (senders and receivers)".into());
    }
    let number =
        |name: &str| o.get(name).map(|p| p.parse::<i32>().map_err(|_| format!("{name}: a pid")));
    let kill = number("--kill").transpose()?;
    let alone = number("--alone").transpose()?;
    // Users hashed at another cost are other users.
    let default_prefix = if cost_name == "default" { "stormslow" } else { "storm" };
    let prefix = o.get("--prefix").unwrap_or_else(|| default_prefix.into());
    let uids = provision::users_hashed_at(&o.store(), &prefix, count, talking, &cost)?;
    let name_of: std::collections::HashMap<u64, String> =
        uids.iter().enumerate().map(|(i, &uid)| (uid, format!("{prefix}{i}"))).collect();
    let load = Load::start(o.number("--threads", 2usize), rate);
    load.shared.retrying.store(kill.is_some(), Relaxed);
    let sessions = parking_lot::Mutex::new(std::collections::HashMap::<u64, String>::new());
    let device = if resume { STORM_DEVICE } else { "" };
    let role_of = |i: usize| match (talking, i % 2) {
        (false, _) => Role::Idle,
        (true, 0) => Role::sender(uids[i + 1]),
        (true, _) => Role::receiver(kill.is_some()),
    };
    if let Some(pid) = alone {
        signal(pid, libc::SIGSTOP);
        std::thread::sleep(PASSED_OVER_AFTER);
    }
    let gate_latency =
        parking_lot::Mutex::new(hdrhistogram::Histogram::<u64>::new(3).expect("histogram"));
    // Logs users in through the gate with their password, `clients` at a
    // time, and hands each chat login to the loops; returns how many the
    // gate refused.
    let started = Instant::now();
    let refused = std::sync::atomic::AtomicU64::new(0);
    let indexes: Vec<usize> = (0..count).collect();
    std::thread::scope(|scope| {
        for part in indexes.chunks(count.div_ceil(clients).max(1)) {
            let (load, refused, gate_latency, sessions) =
                (&load, &refused, &gate_latency, &sessions);
            let (role_of, uids, prefix) = (&role_of, &uids, &prefix);
            scope.spawn(move || {
                for &i in part {
                    let begun = Instant::now();
                    let name = format!("{prefix}{i}");
                    let timeout = Duration::from_secs(30);
                    match tools::gate::login(gate, &name, provision::PASSWORD, device, timeout) {
                        Ok(granted) if granted.uid == uids[i] => {
                            let took = (begun.elapsed().as_micros() as u64).max(1);
                            let _ = gate_latency.lock().record(took);
                            sessions.lock().insert(granted.uid, granted.session_token);
                            load.connect(
                                granted.uid,
                                granted.token,
                                role_of(i),
                                granted.server,
                                None,
                            );
                        }
                        _ => drop(refused.fetch_add(1, Relaxed)),
                    }
                }
            });
        }
    });
    if refused.load(Relaxed) > 0 {
        return Err(format!("the gate refused {} logins", refused.load(Relaxed)));
    }
    load.wait_logged_in(count as u64, Duration::from_secs(600));
    let storm_seconds = started.elapsed().as_secs_f64();
    let logged_in = load.shared.logged_in.load(Relaxed);
    println!(
        "login storm: {logged_in} of {count} users logged in through the gate in {storm_seconds:.2} s \
         (password hashes at the {cost_name} cost)"
    );
    let storm_gate = gate_latency.lock().clone();
    let storm_chat = load.histograms().login;
    if let Some(pid) = alone {
        signal(pid, libc::SIGCONT);
        std::thread::sleep(PASSED_OVER_AFTER); // it heartbeats and registers again
    }
    let mut report = json!({
        "scenario": "storm", "users": count, "clients": clients, "password_cost": cost_name,
        "logged_in": logged_in,
        "storm_seconds": storm_seconds, "logins_per_s": logged_in as f64 / storm_seconds,
        "gate_login_ms": {"p50": ms(&storm_gate, 0.5), "p99": ms(&storm_gate, 0.99), "max": storm_gate.max() as f64 / 1000.0},
        "chat_login_ms": {"p50": ms(&storm_chat, 0.5), "p99": ms(&storm_chat, 0.99), "max": storm_chat.max() as f64 / 1000.0},
        "reconnect": serde_json::Value::Null,
    });
    let Some(pid) = kill else {
        load.stop();
        return Ok(report);
    };

    // The reconnect storm: users whose connection closes log in again
    // through the gate (with their session token, or with the password),
    // which sends them to a live chat server; a login that lands on the
    // dead one before the status server drops it fails and is retried.
    let gate_logins = std::sync::atomic::AtomicU64::new(0);
    let relogin = |uid: u64| -> Result<(std::net::SocketAddr, String), String> {
        gate_logins.fetch_add(1, Relaxed);
        let timeout = Duration::from_secs(30);
        let granted = if resume {
            let token = sessions.lock().get(&uid).cloned().unwrap_or_default();
            tools::gate::resume(gate, uid, STORM_DEVICE, &token, timeout)
                .map_err(|e| e.to_string())?
        } else {
            tools::gate::login(gate, &name_of[&uid], provision::PASSWORD, "", timeout)?
        };
        Ok((granted.server, granted.token))
    };
    let (seconds, kill_after) = (o.number("--seconds", 15.0f64), o.number("--kill-after", 2.0f64));
    // The survivor is the chat server still running; imbench is the load.
    let mut watched: Vec<(&str, Vec<u32>)> = ["gate-server", "status-server", "chat-server"]
        .iter()
        .map(|&name| (name, pids_named(name)))
        .collect();
    watched.push(("imbench", vec![std::process::id()]));
    let stop_reconnecting = std::sync::atomic::AtomicBool::new(false);
    let outcome = parking_lot::Mutex::new(serde_json::Value::Null);
    let offered = if talking { (count / 2) as f64 * rate } else { 0.0 };
    let drive = std::thread::scope(|scope| {
        scope.spawn(|| load.reconnect_dropped(&relogin, clients, &stop_reconnecting));
        scope.spawn(|| {
            std::thread::sleep(Duration::from_secs_f64(kill_after));
            let s = &load.shared;
            let closed_before = s.closed.load(Relaxed);
            let killed_at = Instant::now();
            signal(pid, libc::SIGKILL);
            // Everyone is back once every user is connected again and stays
            // so for a second; CPU sampled every 100 ms meanwhile.
            let mut cpu: Vec<(f64, Vec<f64>)> = Vec::new();
            let mut last_short = 0.0;
            let deadline = Duration::from_secs_f64((seconds - kill_after).max(1.0));
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let at = killed_at.elapsed().as_secs_f64();
                cpu.push((at, watched.iter().map(|(_, pids)| cpu_seconds(pids)).collect()));
                let closed = s.closed.load(Relaxed);
                let connected = s.logged_in.load(Relaxed) - closed;
                if connected < count as u64 || closed == closed_before {
                    last_short = at;
                } else if at - last_short >= 1.0 || killed_at.elapsed() > deadline {
                    break;
                }
                if killed_at.elapsed() > deadline {
                    last_short = f64::NAN; // not everyone came back
                    break;
                }
            }
            let lost_connections = s.closed.load(Relaxed) - closed_before;
            // Peak CPU: the most any 1-second window of samples used.
            let peak = |k: usize| {
                let mut best: f64 = 0.0;
                for (i, (t0, c0)) in cpu.iter().enumerate() {
                    if let Some((t1, c1)) = cpu[i..].iter().find(|(t1, _)| t1 - t0 >= 0.999) {
                        best = best.max((c1[k] - c0[k]) / (t1 - t0) * 100.0);
                    }
                }
                best
            };
            let used = |k: usize| cpu.last().map_or(0.0, |l| l.1[k]) - cpu.first().map_or(0.0, |f| f.1[k]);
            let mut result = json!({
                "killed_pid": pid, "connections_lost": lost_connections,
                "all_back_seconds": if last_short.is_nan() { serde_json::Value::Null } else { json!(last_short + 0.1) },
                "resumed_with_session_token": resume,
            });
            for (k, (name, _)) in watched.iter().enumerate() {
                result[format!("{name}_peak_cpu_percent")] = json!((peak(k) * 10.0).round() / 10.0);
                result[format!("{name}_cpu_seconds")] = json!((used(k) * 100.0).round() / 100.0);
            }
            *outcome.lock() = result;
        });
        let report = drive_and_report(
            &load.shared,
            offered,
            seconds,
            |_| {},
            || {
                let h = load.histograms();
                (h.latency, h.lateness)
            },
        );
        stop_reconnecting.store(true, Relaxed);
        report
    });
    let mut reconnect = outcome.into_inner();
    reconnect["gate_logins"] = json!(gate_logins.load(Relaxed));
    reconnect["chat_logins_after_the_kill"] = json!(load.shared.reconnected.load(Relaxed));
    reconnect["still_disconnected"] = json!(load.shared.dropped.lock().len());
    reconnect["generator_lateness_p99_ms"] = drive["generator_lateness_ms"]["p99"].clone();
    let s = &load.shared;
    reconnect["messages"] = json!({
        "offered_per_s": offered, "acknowledged": drive["acknowledged"], "delivered": drive["delivered"],
        "lost": drive["lost"], "stored_twice": s.stored_twice.load(Relaxed), "reordered": load.reordered(),
        "resent": s.resent.load(Relaxed),
    });
    println!(
        "reconnect storm: {} connections lost; all back {} s after the kill \
         ({} gate logins{}); CPU peak (100% = a core): gate {}%, status {}%, chat servers {}%, imbench {}%; messages: {}",
        reconnect["connections_lost"],
        reconnect["all_back_seconds"],
        reconnect["gate_logins"],
        if resume { ", by session token" } else { ", by password" },
        reconnect["gate-server_peak_cpu_percent"],
        reconnect["status-server_peak_cpu_percent"],
        reconnect["chat-server_peak_cpu_percent"],
        reconnect["imbench_peak_cpu_percent"],
        reconnect["messages"],
    );
    report["reconnect"] = reconnect;
    load.stop();
    Ok(report)
}
