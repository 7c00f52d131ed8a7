//! The conversation model's requests end to end (PROTOCOL.md "Messages",
//! 1111-1117): the conversation list, read marks and receipts across
//! servers and devices, ranges by seq, and friends' presence. A real
//! status server, two chat servers over real gRPC, real sockets, on both
//! stores.

mod util;

use proto::body::*;
use proto::chat_client::ChatClient;
use proto::{ErrorCode, MsgId};
use std::time::Duration;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::texts::{receive, send_text, QUIET};

/// The debounce of the offline notice in these clusters.
const DEBOUNCE: Duration = Duration::from_millis(300);

fn conversations(client: &mut ChatClient) -> Vec<ConversationInfo> {
    client.send(MsgId::LoadConversationsReq, &LoadConversationsReq { after: 0 }).unwrap();
    let listed: LoadConversationsRsp = client.recv_json(MsgId::LoadConversationsRsp, WAIT).unwrap();
    assert_eq!(listed.error, 0);
    listed.conversations
}

fn range(client: &mut ChatClient, request: LoadConversationRangeReq) -> LoadConversationRangeRsp {
    client.send(MsgId::LoadConversationRangeReq, &request).unwrap();
    client.recv_json(MsgId::LoadConversationRangeRsp, WAIT).unwrap()
}

fn read_receipt(client: &mut ChatClient) -> NotifyConversationRead {
    client.recv_json(MsgId::NotifyConversationRead, WAIT).unwrap()
}

fn presence(client: &mut ChatClient, timeout: Duration) -> Option<NotifyPresence> {
    client.recv_json(MsgId::NotifyPresence, timeout).ok()
}

fn wait_for_sessions(cluster: &Cluster, uid: u64, count: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while cluster.locations(uid).len() != count {
        assert!(std::time::Instant::now() < deadline, "uid {uid} never had {count} sessions");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn the_first_screen_read_receipts_and_ranges(kind: StoreKind) {
    let cluster = Cluster::start(&format!("conversations_{kind:?}"), kind, 2);
    let (ann, bob, cat) = (cluster.user("ann"), cluster.user("bob"), cluster.user("cat"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login_device(1, ann, "ann-pc", "desktop");
    let (mut desk, _) = cluster.login_device(1, bob, "bob-pc", "desktop");
    let (mut phone, _) = cluster.login_device(0, bob, "bob-phone", "mobile");
    wait_for_sessions(&cluster, bob, 2);
    let items = [("r1", "one"), ("r2", "two"), ("r3", "three")];
    let conversation = send_text(&mut a, bob, &items).conversation_id;
    receive(&mut desk, 3);
    receive(&mut phone, 3);

    // The first screen, on the phone.
    let listed = conversations(&mut phone);
    assert_eq!(listed.len(), 1);
    let first = &listed[0];
    assert_eq!((first.conversation_id, first.peer_uid, first.last_seq), (conversation, ann, 3));
    assert_eq!((first.unread, first.read_seq, first.peer_read_seq), (3, 0, 0));
    assert_eq!(first.last_message.as_ref().unwrap().msg_content, "three");

    // Read on the phone (server 1): ann (server 2) sees the receipt, so
    // does bob's desktop (server 2); the phone is not told its own.
    let read = ConversationRead { conversation_id: conversation, seq: 2 };
    phone.send(MsgId::ConversationRead, &read).unwrap();
    for client in [&mut a, &mut desk] {
        let receipt = read_receipt(client);
        assert_eq!((receipt.conversation_id, receipt.uid, receipt.seq), (conversation, bob, 2));
    }
    assert!(phone
        .recv_json::<NotifyConversationRead>(MsgId::NotifyConversationRead, QUIET)
        .is_err());
    let on_desk = &conversations(&mut desk)[0];
    assert_eq!((on_desk.unread, on_desk.read_seq), (1, 2), "read elsewhere, cleared here");
    assert_eq!(conversations(&mut a)[0].peer_read_seq, 2, "ann's first two show as read");
    // A mark never goes down, and a foreign one is ignored.
    phone
        .send(MsgId::ConversationRead, &ConversationRead { conversation_id: conversation, seq: 1 })
        .unwrap();
    let (mut c, _) = cluster.login(0, cat);
    c.send(MsgId::ConversationRead, &ConversationRead { conversation_id: conversation, seq: 3 })
        .unwrap();
    assert!(a.recv_json::<NotifyConversationRead>(MsgId::NotifyConversationRead, QUIET).is_err());
    assert_eq!(conversations(&mut desk)[0].read_seq, 2);

    // Ranges by seq: forwards, backwards, between; members only.
    let seqs = |r: &LoadConversationRangeRsp| r.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    let base = LoadConversationRangeReq { conversation_id: conversation, ..Default::default() };
    let forwards = range(&mut phone, LoadConversationRangeReq { limit: 2, ..base.clone() });
    assert_eq!((seqs(&forwards), forwards.load_more), (vec![1, 2], true));
    let backwards =
        range(&mut phone, LoadConversationRangeReq { before_seq: 4, limit: 2, ..base.clone() });
    assert_eq!((seqs(&backwards), backwards.load_more), (vec![2, 3], true));
    let between =
        range(&mut a, LoadConversationRangeReq { after_seq: 1, before_seq: 3, ..base.clone() });
    assert_eq!((seqs(&between), between.load_more), (vec![2], false));
    assert_eq!(between.messages[0].msg_content, "two");
    assert_eq!(range(&mut c, base.clone()).error, ErrorCode::UidInvalid.code(), "not cat's");
    let crossed = LoadConversationRangeReq { after_seq: 3, before_seq: 3, ..base };
    assert_eq!(range(&mut phone, crossed).error, ErrorCode::Json.code());
}

fn friends_see_presence_with_a_debounced_offline(kind: StoreKind) {
    let adjust = |config: &mut services::chat::ChatConfig| {
        config.presence_debounce_ms = DEBOUNCE.as_millis() as u64;
    };
    let cluster = Cluster::start_with(&format!("presence_{kind:?}"), kind, 2, adjust);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, login) = cluster.login(0, ann);
    assert!(!login.friend_list[0].online, "bob is not on yet");
    cluster.wait_for_location(ann, Some("chat-1"));

    // Bob's first device is told to ann (across servers); his second is not.
    let (desk, login) = cluster.login_device(1, bob, "bob-pc", "desktop");
    assert!(login.friend_list[0].online, "ann is on");
    let came = presence(&mut a, WAIT).expect("bob came online");
    assert_eq!((came.uid, came.online), (bob, true));
    let (phone, _) = cluster.login_device(0, bob, "bob-phone", "mobile");
    wait_for_sessions(&cluster, bob, 2);
    assert_eq!(presence(&mut a, QUIET), None, "not his first device");

    // One device goes: he is still on. The other goes and comes back
    // within the debounce: nothing is told.
    drop(phone);
    wait_for_sessions(&cluster, bob, 1);
    drop(desk);
    let (desk, _) = cluster.login_device(1, bob, "bob-pc", "desktop");
    assert_eq!(presence(&mut a, DEBOUNCE * 3), None, "a quick reconnect is not told");

    // Gone for good: told once the debounce has passed.
    drop(desk);
    let gone = presence(&mut a, WAIT).expect("bob went offline");
    assert_eq!((gone.uid, gone.online), (bob, false));
}

#[test]
fn sqlite_the_first_screen_read_receipts_and_ranges() {
    the_first_screen_read_receipts_and_ranges(StoreKind::Sqlite);
}

#[test]
fn mysql_the_first_screen_read_receipts_and_ranges() {
    the_first_screen_read_receipts_and_ranges(StoreKind::Mysql);
}

#[test]
fn sqlite_friends_see_presence_with_a_debounced_offline() {
    friends_see_presence_with_a_debounced_offline(StoreKind::Sqlite);
}

#[test]
fn mysql_friends_see_presence_with_a_debounced_offline() {
    friends_see_presence_with_a_debounced_offline(StoreKind::Mysql);
}
