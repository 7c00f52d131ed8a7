//! The fast rows of the fault matrix (issue 14; `perf/faults.sh` runs the
//! whole matrix under imbench load and records the figures): the status
//! server lost, the database frozen and restarted, a client that stops
//! reading without closing, the link between the two chat servers cut. A chat server killed with SIGKILL is in
//! `chat_process.rs`.
//!
//! Each runs a steady conversation through the fault (a sender that resends
//! what got no answer under the same unique id, as a client must; a receiver
//! that acknowledges what it gets; a third user's heartbeats timed) and then
//! checks what the matrix counts: every acknowledged message delivered, none
//! stored twice, none out of order within the pair, and that service came
//! back by itself.

mod util;

use proto::body::{ChatData, HeartbeatReq, MsgDeliveredAck, TextChatMsgRsp};
use proto::chat_client::ChatClient;
use proto::{ErrorCode, MsgId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use testkit::cluster::ClusterOptions;
use testkit::link::CutLink;
use testkit::mariadb::ThrowawayMariadb;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::texts::{text, QUIET};

/// How long the sender waits for a 1018 before it sends the message again.
const ANSWER_WAIT: Duration = Duration::from_millis(300);
/// Between two messages of the sender.
const PACE: Duration = Duration::from_millis(5);

/// What the sender saw.
#[derive(Default)]
struct SenderLog {
    /// (unique id, message id, when the 1018 came), in sending order.
    acknowledged: Vec<(String, u64, Instant)>,
    /// Answers with an error, by code (the client retries after them).
    refused: HashMap<i32, usize>,
    /// Copies sent again after `ANSWER_WAIT` without an answer.
    resent: usize,
}

/// What the receiver saw: each push's messages, in arrival order, with the
/// time they came.
type Deliveries = Vec<(ChatData, Instant)>;

/// A sender, a receiver and a heartbeat probe, running until `stop`.
struct Traffic {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<SenderLog>,
    receiver: JoinHandle<Deliveries>,
    probe: JoinHandle<Duration>,
}

impl Traffic {
    /// `ann` sends to `bob` as fast as the answers allow (`PACE` apart);
    /// `carol` sends a heartbeat every 100 ms and times each answer.
    fn start(ann: ChatClient, bob: (u64, ChatClient), carol: ChatClient) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sender = std::thread::spawn(move || send_steadily(ann, bob.0, &flag));
        let flag = stop.clone();
        let receiver = std::thread::spawn(move || receive_steadily(bob.1, &flag));
        let flag = stop.clone();
        let probe = std::thread::spawn(move || time_heartbeats(carol, &flag));
        Traffic { stop, sender, receiver, probe }
    }

    /// Stops the sender, lets the last pushes arrive, stops the rest.
    /// Returns what each saw (the probe: its slowest heartbeat answer).
    fn stop(self) -> (SenderLog, Deliveries, Duration) {
        self.stop.store(true, Relaxed);
        let log = self.sender.join().expect("the sender");
        (log, self.receiver.join().expect("the receiver"), self.probe.join().expect("the probe"))
    }
}

fn send_steadily(mut client: ChatClient, touid: u64, stop: &AtomicBool) -> SenderLog {
    let mut log = SenderLog::default();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut n = 0;
    while !stop.load(Relaxed) {
        let unique_id = format!("u{n}");
        let request = text(touid, &[(&unique_id, &unique_id)]);
        client.send(MsgId::TextChatMsgReq, &request).expect("the sender's connection holds");
        // This message's answer; late answers to earlier copies are checked and skipped.
        loop {
            match client.recv_json::<TextChatMsgRsp>(MsgId::TextChatMsgRsp, ANSWER_WAIT) {
                Ok(answer) if answer.error == 0 => {
                    let data = &answer.chat_datas[0];
                    let first = *ids.entry(data.unique_id.clone()).or_insert(data.message_id);
                    assert_eq!(first, data.message_id, "{} answered with two ids", data.unique_id);
                    if data.unique_id == unique_id {
                        log.acknowledged.push((unique_id, data.message_id, Instant::now()));
                        n += 1;
                        break;
                    }
                }
                Ok(answer) => {
                    *log.refused.entry(answer.error).or_default() += 1;
                    std::thread::sleep(Duration::from_millis(50)); // then the same again
                    break;
                }
                Err(_) => {
                    log.resent += 1;
                    break;
                }
            }
        }
        std::thread::sleep(PACE);
    }
    log
}

fn receive_steadily(mut client: ChatClient, stop: &AtomicBool) -> Deliveries {
    let mut deliveries = Vec::new();
    let mut quiet_since = Instant::now();
    // After `stop`, keep reading until nothing came for QUIET.
    while !stop.load(Relaxed) || quiet_since.elapsed() < QUIET {
        let Ok(push) = client.recv_json::<TextChatMsgRsp>(MsgId::NotifyTextChatMsgReq, QUIET / 5)
        else {
            continue;
        };
        quiet_since = Instant::now();
        let message_ids = push.chat_datas.iter().map(|m| m.message_id).collect();
        client.send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids, uid: None }).unwrap();
        deliveries.extend(push.chat_datas.into_iter().map(|m| (m, Instant::now())));
    }
    deliveries
}

fn time_heartbeats(mut client: ChatClient, stop: &AtomicBool) -> Duration {
    let mut slowest = Duration::ZERO;
    while !stop.load(Relaxed) {
        let asked = Instant::now();
        client.send(MsgId::HeartBeatReq, &HeartbeatReq { fromuid: None }).unwrap();
        let answer = client.recv_json::<proto::body::ErrorOnly>(MsgId::HeartbeatRsp, WAIT);
        assert_eq!(answer.expect("every heartbeat is answered").error, 0);
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    slowest
}

/// Logs `uid` in again on server `index` and takes whatever it is owed
/// (the login sync), until nothing more comes.
fn collect_at_login(cluster: &Cluster, index: usize, uid: u64) -> Vec<ChatData> {
    let (mut client, _) = cluster.login(index, uid);
    let mut got = Vec::new();
    while let Ok(push) = client.recv_json::<TextChatMsgRsp>(MsgId::NotifyTextChatMsgReq, QUIET) {
        let message_ids = push.chat_datas.iter().map(|m| m.message_id).collect();
        client.send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids, uid: None }).unwrap();
        got.extend(push.chat_datas);
    }
    got
}

/// The matrix's counts for one pair: acknowledged messages never
/// delivered, messages stored twice (one unique id, two message ids), and
/// messages stored out of the order they were sent (in seq order, the
/// sender's numbers `u0, u1, ...` must rise).
#[derive(Debug, PartialEq)]
struct Counts {
    lost: usize,
    duplicated: usize,
    reordered: usize,
}

fn count(log: &SenderLog, delivered: &[ChatData]) -> Counts {
    let mut by_unique: HashMap<&str, HashSet<u64>> = HashMap::new();
    let mut by_seq: std::collections::BTreeMap<u64, u64> = Default::default();
    for message in delivered {
        by_unique.entry(&message.unique_id).or_default().insert(message.message_id);
        let n = message.unique_id.trim_start_matches('u').parse::<u64>().expect("u<n>");
        by_seq.insert(message.seq, n);
    }
    let delivered_ids: HashSet<u64> = delivered.iter().map(|m| m.message_id).collect();
    let lost = log.acknowledged.iter().filter(|(_, id, _)| !delivered_ids.contains(id)).count();
    let duplicated = by_unique.values().filter(|ids| ids.len() > 1).count();
    let sent_order: Vec<u64> = by_seq.into_values().collect();
    let reordered = sent_order.windows(2).filter(|w| w[1] <= w[0]).count();
    Counts { lost, duplicated, reordered }
}

/// ann → bob across two chat servers and carol's heartbeats on the first,
/// on `cluster`.
fn start_traffic(cluster: &Cluster) -> (Traffic, u64) {
    let (ann, bob, carol) = (cluster.user("ann"), cluster.user("bob"), cluster.user("carol"));
    cluster.befriend(ann, bob);
    let (sender, _) = cluster.login(0, ann);
    let (receiver, _) = cluster.login(1, bob);
    let (probe, _) = cluster.login(0, carol);
    (Traffic::start(sender, (bob, receiver), probe), bob)
}

/// Everything bob got, live and at a new login, checked against what ann
/// was told was stored.
fn check_nothing_lost(cluster: &Cluster, bob: u64, log: &SenderLog, live: Deliveries) {
    let mut delivered: Vec<ChatData> = live.into_iter().map(|(m, _)| m).collect();
    delivered.extend(collect_at_login(cluster, 1, bob));
    assert!(log.acknowledged.len() > 20, "only {} messages acknowledged", log.acknowledged.len());
    let counts = count(log, &delivered);
    assert_eq!(counts, Counts { lost: 0, duplicated: 0, reordered: 0 });
}

/// After a fault that bob rode out online: heartbeats were answered within a
/// second throughout, service came back by itself (more than 20 messages
/// acknowledged after `back`), and every acknowledged message reached bob
/// live, without a new login.
fn assert_back_and_delivered_live(
    log: &SenderLog,
    live: &Deliveries,
    slowest_heartbeat: Duration,
    back: Instant,
) {
    assert!(slowest_heartbeat < Duration::from_secs(1), "a heartbeat took {slowest_heartbeat:?}");
    let after = log.acknowledged.iter().filter(|(_, _, at)| *at > back).count();
    assert!(after > 20, "only {after} messages acknowledged after the fault ended");
    let live_ids: HashSet<u64> = live.iter().map(|(m, _)| m.message_id).collect();
    let missed = log.acknowledged.iter().filter(|(_, id, _)| !live_ids.contains(id)).count();
    assert_eq!(missed, 0, "acknowledged messages that bob, online throughout, did not get");
}

fn status_server_lost_under_load(kind: StoreKind) {
    let mut cluster = Cluster::start(&format!("fault_status_{kind:?}"), kind, 2);
    let (traffic, bob) = start_traffic(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    // Its state is gone either way; a grace of zero trips an assertion in
    // gRPC's C core inside this (shared) test process, so 300 ms.
    let addr = cluster.stop_status(Duration::from_millis(300));
    std::thread::sleep(Duration::from_secs(1));
    cluster.start_status(addr);
    let restarted = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (log, live, slowest_heartbeat) = traffic.stop();

    // What was pushed while routing was blind reached bob too (his server
    // caught his session up once the status server knew it again).
    assert_back_and_delivered_live(&log, &live, slowest_heartbeat, restarted);
    check_nothing_lost(&cluster, bob, &log, live);
}

#[test]
fn sqlite_the_status_server_lost_under_load_loses_nothing_and_routing_comes_back() {
    status_server_lost_under_load(StoreKind::Sqlite);
}

#[test]
fn mysql_the_status_server_lost_under_load_loses_nothing_and_routing_comes_back() {
    status_server_lost_under_load(StoreKind::Mysql);
}

/// The link from chat-1 to chat-2's ChatService cut for 3 s under load,
/// then healed: ann (chat-1) keeps being told her messages are stored, and
/// bob (chat-2), online throughout, gets every one without logging in again
/// (chat-1's router owes him what its failed calls carried, and has chat-2
/// catch him up once a call works again).
fn chat_link_cut_under_load(kind: StoreKind) {
    let link = CutLink::start();
    let options = ClusterOptions::new(&format!("fault_link_{kind:?}"), kind, 2);
    let cluster = Cluster::start_options(options, |chat| {
        chat.rpc_timeout_ms = 500;
        if chat.name == "chat-2" {
            chat.rpc_advertise = link.addr().to_string();
        }
    });
    link.set_target(cluster.chat(1).rpc_addr());
    let (traffic, bob) = start_traffic(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    link.cut();
    std::thread::sleep(Duration::from_secs(3));
    link.heal();
    let healed = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (log, live, slowest_heartbeat) = traffic.stop();

    assert_back_and_delivered_live(&log, &live, slowest_heartbeat, healed);
    let metrics = cluster.chat(0).metrics_text();
    let settled = metrics
        .lines()
        .find(|l| l.starts_with("im_chat_router_debts_settled_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(settled.is_some_and(|n| n > 0), "bob's debt settled: {metrics}");
    check_nothing_lost(&cluster, bob, &log, live);
}

#[test]
fn sqlite_a_cut_link_between_chat_servers_loses_nothing_and_delivery_resumes() {
    chat_link_cut_under_load(StoreKind::Sqlite);
}

#[test]
fn mysql_a_cut_link_between_chat_servers_loses_nothing_and_delivery_resumes() {
    chat_link_cut_under_load(StoreKind::Mysql);
}

/// What happens to the test's own MariaDB while the traffic runs.
#[derive(Debug, Clone, Copy)]
enum DatabaseFault {
    /// SIGSTOP for 3 s, then SIGCONT: connections open, nothing answers.
    Frozen,
    /// Stopped for 2 s (every connection closed), then started again.
    Restarted,
}

fn database_fault_under_load(fault: DatabaseFault) {
    let mut db = ThrowawayMariadb::start(&format!("fault-{fault:?}").to_lowercase());
    let mut options = ClusterOptions::new(&format!("fault_db_{fault:?}"), StoreKind::Mysql, 2);
    options.mysql_server = Some(db.server_url());
    // A writer stalled for half a second refuses new messages (1105).
    let cluster = Cluster::start_options(options, |chat| chat.store.max_queue_wait_ms = 500);
    let (traffic, bob) = start_traffic(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    match fault {
        DatabaseFault::Frozen => {
            db.freeze();
            std::thread::sleep(Duration::from_secs(3));
            db.thaw();
        }
        DatabaseFault::Restarted => {
            db.stop();
            std::thread::sleep(Duration::from_secs(2));
            db.run();
        }
    }
    let back = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (log, live, slowest_heartbeat) = traffic.stop();

    // The loops never waited for the database.
    assert!(slowest_heartbeat < Duration::from_secs(1), "a heartbeat took {slowest_heartbeat:?}");
    // Senders were told (1105 or another error), not left waiting.
    let refused: usize = log.refused.values().sum();
    assert!(refused > 0, "no message was refused while the database was gone: {:?}", log.refused);
    if matches!(fault, DatabaseFault::Frozen) {
        let busy = log.refused.get(&ErrorCode::ServerBusy.code()).copied().unwrap_or(0);
        assert!(busy > 0, "a stalled writer answers 1105: {:?}", log.refused);
    }
    // And service resumed by itself.
    let after = log.acknowledged.iter().filter(|(_, _, at)| *at > back).count();
    assert!(after > 20, "only {after} messages acknowledged after the database came back");
    check_nothing_lost(&cluster, bob, &log, live);
}

#[test]
fn mysql_a_frozen_database_gets_1105s_heartbeats_on_time_and_nothing_acknowledged_lost() {
    database_fault_under_load(DatabaseFault::Frozen);
}

#[test]
fn mysql_a_restarted_database_is_survived_without_losing_anything_acknowledged() {
    database_fault_under_load(DatabaseFault::Restarted);
}

/// A half-open client: connected, but it neither reads nor sends (a process
/// stopped with SIGSTOP looks like this to the server, and so does a link
/// that dropped without a FIN).
fn half_open_client(kind: StoreKind) {
    let cluster = Cluster::start_with(&format!("fault_half_open_{kind:?}"), kind, 2, |chat| {
        chat.idle_timeout_ms = 800;
    });
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut sender, _) = cluster.login(0, ann);
    let (mut silent, _) = cluster.login(1, bob);
    let started = Instant::now();
    let mut acknowledged = HashSet::new();
    for n in 0..30 {
        let unique_id = format!("h{n}");
        let answer = util::texts::send_text(&mut sender, bob, &[(&unique_id, "to nobody")]);
        assert_eq!(answer.error, 0);
        acknowledged.insert(answer.chat_datas[0].message_id);
    }
    // The server gives up on bob at his heartbeat deadline and says he is gone.
    cluster.wait_for_location(bob, None);
    let offline_after = started.elapsed();
    assert!(offline_after < WAIT, "offline after {offline_after:?}");
    assert!(silent.closed_within(WAIT), "the half-open connection is closed");
    // Everything pushed into the dead socket, never acknowledged, comes at
    // the next login.
    let got: HashSet<u64> =
        collect_at_login(&cluster, 0, bob).into_iter().map(|m| m.message_id).collect();
    assert_eq!(got, acknowledged);
}

#[test]
fn sqlite_a_half_open_client_goes_offline_at_its_deadline_and_gets_everything_at_the_next_login() {
    half_open_client(StoreKind::Sqlite);
}

#[test]
fn mysql_a_half_open_client_goes_offline_at_its_deadline_and_gets_everything_at_the_next_login() {
    half_open_client(StoreKind::Mysql);
}
