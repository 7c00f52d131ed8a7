//! Several devices per user, end to end: a real status server, two chat
//! servers over real gRPC, real sockets, on both stores.
//!
//! The rules under test (PROTOCOL.md "Devices"): every online device of the
//! receiver gets a push, and the sender's other devices get its own message;
//! each device keeps its own watermark; one session per device kind, and a
//! login that names no device replaces them all.

mod util;

use proto::body::{ConversationAck, NotifyOffline};
use proto::chat_client::ChatClient;
use proto::MsgId;
use services::store::StoreConn;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::texts::{nothing_pushed, receive, send_text, wait_until_device_acknowledged};

fn kicked(client: &mut ChatClient, uid: u64) {
    let notice: NotifyOffline = client.recv_json(MsgId::NotifyOffLineReq, WAIT).unwrap();
    assert_eq!(notice.uid, uid);
    assert!(client.closed_within(WAIT));
}

fn wait_for_locations(cluster: &Cluster, uid: u64, servers: &[&str]) {
    let deadline = std::time::Instant::now() + WAIT;
    while cluster.locations(uid) != servers {
        assert!(std::time::Instant::now() < deadline, "uid {uid} never reached {servers:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn every_device_keeps_the_conversation(kind: StoreKind) {
    let cluster = Cluster::start(&format!("devices_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(1, ann);
    let (mut desk, _) = cluster.login_device(0, bob, "bob-pc", "desktop");
    let (mut phone, _) = cluster.login_device(1, bob, "bob-phone", "mobile");
    wait_for_locations(&cluster, bob, &["chat-1", "chat-2"]);

    // Both of bob's devices get ann's message, each on its own server.
    let hello = send_text(&mut a, bob, &[("m1", "hello, both of you")]).chat_datas[0].clone();
    assert_eq!(receive(&mut desk, 1)[0].message_id, hello.message_id);
    assert_eq!(receive(&mut phone, 1)[0].message_id, hello.message_id);

    // Bob answers from the phone: ann gets it, the desktop shows it too,
    // the phone has its 1018 and no push.
    let answer = send_text(&mut phone, ann, &[("m2", "from my phone")]).chat_datas[0].clone();
    assert_eq!(answer.seq, hello.seq + 1);
    assert_eq!(receive(&mut a, 1)[0].message_id, answer.message_id);
    let on_desk = receive(&mut desk, 1);
    assert_eq!((on_desk[0].message_id, on_desk[0].seq), (answer.message_id, answer.seq));
    assert!(nothing_pushed(&mut phone));

    // The desktop acknowledges up to the answer; the phone acknowledges
    // nothing. Both go away (the phone as if killed: no goodbye).
    let conversation = send_text(&mut a, bob, &[("m3", "still there?")]).thread_id;
    let third = receive(&mut desk, 1)[0].clone();
    assert_eq!(receive(&mut phone, 1)[0].message_id, third.message_id);
    desk.send(
        MsgId::ConversationAck,
        &ConversationAck { conversation_id: conversation, seq: third.seq },
    )
    .unwrap();
    wait_until_device_acknowledged(&cluster, bob, "bob-pc");
    drop((desk, phone));
    wait_for_locations(&cluster, bob, &[]);

    // Each device comes back to its own place: the desktop to nothing, the
    // phone to all three (its own answer too), in seq order.
    let (mut desk, _) = cluster.login_device(1, bob, "bob-pc", "desktop");
    assert!(nothing_pushed(&mut desk));
    let (mut phone, _) = cluster.login_device(0, bob, "bob-phone", "mobile");
    let again: Vec<u64> = receive(&mut phone, 3).iter().map(|m| m.seq).collect();
    assert_eq!(again, [hello.seq, answer.seq, third.seq]);
    wait_for_locations(&cluster, bob, &["chat-1", "chat-2"]);

    // A new device starts where its user is: nothing old is pushed to it.
    // Being a second desktop, it replaces the first desktop only.
    let (mut laptop, _) = cluster.login_device(0, bob, "bob-laptop", "desktop");
    kicked(&mut desk, bob);
    assert!(nothing_pushed(&mut laptop));
    let fourth = send_text(&mut a, bob, &[("m4", "new machine?")]).chat_datas[0].clone();
    assert_eq!(receive(&mut laptop, 1)[0].message_id, fourth.message_id);
    assert_eq!(receive(&mut phone, 1)[0].message_id, fourth.message_id);

    // A login that names no device (an original client) replaces them all,
    // and gets what its own watermark is owed: ann's messages, not bob's.
    wait_for_locations(&cluster, bob, &["chat-1", "chat-1"]);
    let (mut legacy, _) = cluster.login(1, bob);
    kicked(&mut laptop, bob);
    kicked(&mut phone, bob);
    let owed: Vec<u64> = receive(&mut legacy, 3).iter().map(|m| m.message_id).collect();
    assert_eq!(owed, [hello.message_id, third.message_id, fourth.message_id]);
    wait_for_locations(&cluster, bob, &["chat-2"]);
}

/// One user's two devices, on different chat servers, send the same
/// unique_id at the same moment (a client's outbox replayed on both):
/// one row, and both answers carry its message_id and seq.
fn the_same_unique_id_from_two_servers_at_once_is_one_message(kind: StoreKind) {
    let cluster = Cluster::start(&format!("same_id_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (_b, _) = cluster.login(0, bob);
    for round in 0..10 {
        let (mut pc, _) = cluster.login_device(0, ann, "ann-pc", "desktop");
        let (mut phone, _) = cluster.login_device(1, ann, "ann-phone", "mobile");
        let id = format!("outbox-{round}");
        let items = [(id.as_str(), "sent twice")];
        let (one, two) = std::thread::scope(|scope| {
            let one = scope.spawn(|| send_text(&mut pc, bob, &items));
            let two = scope.spawn(|| send_text(&mut phone, bob, &items));
            (one.join().unwrap(), two.join().unwrap())
        });
        let (one, two) = (&one.chat_datas[0], &two.chat_datas[0]);
        assert_eq!((one.message_id, one.seq), (two.message_id, two.seq), "round {round}");
    }
    let thread = cluster.store().private_thread(ann, bob).unwrap();
    let stored = cluster.store().thread_page(thread, 0, 100).unwrap();
    let mut seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "one row per unique_id, seqs without holes");
}

#[test]
fn sqlite_the_same_unique_id_from_two_servers_at_once_is_one_message() {
    the_same_unique_id_from_two_servers_at_once_is_one_message(StoreKind::Sqlite);
}

#[test]
fn mysql_the_same_unique_id_from_two_servers_at_once_is_one_message() {
    the_same_unique_id_from_two_servers_at_once_is_one_message(StoreKind::Mysql);
}

#[test]
fn sqlite_every_device_keeps_the_conversation() {
    every_device_keeps_the_conversation(StoreKind::Sqlite);
}

#[test]
fn mysql_every_device_keeps_the_conversation() {
    every_device_keeps_the_conversation(StoreKind::Mysql);
}
