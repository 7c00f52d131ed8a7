//! The chat server end to end: a real status server, two chat servers over
//! real gRPC, real sockets, on both stores.

mod util;

use proto::body::*;
use proto::chat_client::ChatClient;
use proto::frame::encode_frame;
use proto::{ErrorCode, MsgId};
use serde_json::json;
use services::store::model::{NewMessage, SeqCursor, LEGACY_DEVICE};
use services::store::StoreConn;
use std::time::Duration;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::texts::{nothing_pushed, receive, send_text, text, wait_until_acknowledged, QUIET};

// ----- scenarios, run on each store ----------------------------------------------

fn friends_and_messages_flow_across_servers(kind: StoreKind) {
    let cluster = Cluster::start(&format!("flow_{kind:?}"), kind, 2);
    let (ann, bob, cat) = (cluster.user("ann"), cluster.user("bob"), cluster.user("cat"));
    let (mut a, _) = cluster.login(0, ann);
    let (mut b, _) = cluster.login(1, bob);
    let (mut c, _) = cluster.login(0, cat);

    // Search by name: no e-mail in the answer.
    a.send(MsgId::SearchUserReq, &SearchUserReq { uid: "bob".into() }).unwrap();
    let found: serde_json::Value = a.recv_json(MsgId::SearchUserRsp, WAIT).unwrap();
    assert_eq!((found["error"].as_i64(), found["uid"].as_u64()), (Some(0), Some(bob)));
    assert!(found.get("email").is_none());

    // Ann (server 1) applies; Bob (server 2) is notified, accepts; Ann is notified.
    let apply =
        AddFriendReq { applyname: "hi bob".into(), bakname: "B".into(), touid: bob, uid: None };
    a.send(MsgId::AddFriendReq, &apply).unwrap();
    assert_eq!(a.recv_json::<ErrorOnly>(MsgId::AddFriendRsp, WAIT).unwrap().error, 0);
    let notice: NotifyAddFriend = b.recv_json(MsgId::NotifyAddFriendReq, WAIT).unwrap();
    assert_eq!((notice.applyuid, notice.name.as_str()), (ann, "ann"));
    b.send(MsgId::AuthFriendReq, &AuthFriendReq { touid: ann, back: "A".into(), fromuid: None })
        .unwrap();
    let accepted: AuthFriendRsp = b.recv_json(MsgId::AuthFriendRsp, WAIT).unwrap();
    assert_eq!((accepted.error, accepted.uid), (0, ann));
    let told: NotifyAuthFriend = a.recv_json(MsgId::NotifyAuthFriendReq, WAIT).unwrap();
    assert_eq!((told.fromuid, told.touid), (bob, ann));
    // The pair's first message, stored at acceptance: in 1014 and 1015, and
    // pushed to Ann as any message (she acknowledges it like the others).
    assert_eq!(accepted.chat_datas.len(), 1);
    assert_eq!(told.chat_datas, accepted.chat_datas);
    assert_eq!(told.chat_datas[0].msg_content, "We are friends now!");
    assert_eq!(told.chat_datas[0].sender, bob);
    let first = receive(&mut a, 1);
    assert_eq!(first[0].message_id, told.chat_datas[0].msg_id);

    // Messages both ways across the servers: 1018 after commit, 1019 pushed.
    let sent = send_text(&mut a, bob, &[("a-1", "hello bob"), ("a-2", "how are you")]);
    assert_eq!((sent.error, sent.fromuid, sent.touid), (0, ann, bob));
    assert_eq!(sent.chat_datas.len(), 2);
    let got = receive(&mut b, 2);
    assert_eq!(got[0].message_id, sent.chat_datas[0].message_id);
    assert_eq!((got[0].content.as_str(), got[1].content.as_str()), ("hello bob", "how are you"));
    let reply = send_text(&mut b, ann, &[("b-1", "fine, ann")]);
    assert_eq!(reply.error, 0);
    assert_eq!(receive(&mut a, 1)[0].content, "fine, ann");
    assert_eq!(reply.thread_id, sent.thread_id, "one private thread per pair");

    // Same server: Ann and Cat are both on server 1.
    cluster.befriend(cat, ann);
    let sent = send_text(&mut c, ann, &[("c-1", "hi from cat")]);
    assert_eq!(sent.error, 0);
    assert_eq!(receive(&mut a, 1)[0].message_id, sent.chat_datas[0].message_id);

    // History of the thread, newest first, and the threads list.
    b.send(
        MsgId::LoadChatMsgReq,
        &LoadChatMsgReq { thread_id: reply.thread_id, message_id: 0, uid: None },
    )
    .unwrap();
    let history: LoadChatMsgRsp = b.recv_json(MsgId::LoadChatMsgRsp, WAIT).unwrap();
    let contents: Vec<&str> = history.chat_datas.iter().map(|m| m.msg_content.as_str()).collect();
    assert_eq!(contents, ["fine, ann", "how are you", "hello bob", "We are friends now!"]);
    a.send(MsgId::LoadChatThreadReq, &LoadChatThreadReq { thread_id: 0, uid: None }).unwrap();
    let threads: LoadChatThreadRsp = a.recv_json(MsgId::LoadChatThreadRsp, WAIT).unwrap();
    assert_eq!(threads.threads.len(), 2);

    // /metrics times each stage: one commit per text request (Ann's and
    // Cat's on server 1; Bob's and his acceptance's first message on
    // server 2), and server 1's router rounds (the friend notice and the
    // pushes to Bob).
    let (one, two) = (cluster.chat(0).metrics_text(), cluster.chat(1).metrics_text());
    assert_eq!(metric(&one, "im_chat_message_commit_seconds_count{"), 2, "{one}");
    assert_eq!(metric(&two, "im_chat_message_commit_seconds_count{"), 2, "{two}");
    assert!(metric(&one, "im_chat_router_round_seconds_count{") >= 1, "{one}");
    assert!(one.contains("im_chat_message_commit_seconds_bucket{server="), "{one}");
}

fn offline_messages_arrive_in_order_once_acknowledged(kind: StoreKind) {
    let cluster = Cluster::start(&format!("offline_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let mut sent_ids = Vec::new();
    for batch in 0..10 {
        let items: Vec<(String, String)> = (0..10)
            .map(|i| (format!("u{batch}-{i}"), format!("message {}", batch * 10 + i)))
            .collect();
        let items: Vec<(&str, &str)> =
            items.iter().map(|(u, c)| (u.as_str(), c.as_str())).collect();
        let sent = send_text(&mut a, bob, &items);
        assert_eq!(sent.error, 0);
        sent_ids.extend(sent.chat_datas.iter().map(|d| d.message_id));
    }

    // Bob logs in on the other server: all 100, in order.
    let (mut b, _) = cluster.login(1, bob);
    let got = receive(&mut b, 100);
    let got_ids: Vec<u64> = got.iter().map(|d| d.message_id).collect();
    assert_eq!(got_ids, sent_ids);
    assert_eq!(got[99].content, "message 99");
    b.send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids: got_ids, uid: None }).unwrap();
    assert!(nothing_pushed(&mut b));
    drop(b);

    // Acknowledged: the next login pushes nothing.
    wait_until_acknowledged(&cluster, bob);
    let (mut b, _) = cluster.login(0, bob);
    assert!(nothing_pushed(&mut b));
}

/// Both members of a pair, on different chat servers, send at once: the
/// conversation's seqs (from 1018 and 1019) are 1..N without a hole or a
/// duplicate, each side receives the other's in seq order, and a
/// cumulative acknowledgement (1110) decides what the next login is owed.
fn a_conversation_is_numbered_and_acknowledged_up_to_a_seq(kind: StoreKind) {
    let cluster = Cluster::start(&format!("seq_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let ((mut a, _), (mut b, _)) = (cluster.login(0, ann), cluster.login(1, bob));
    let per_side = 60;
    let send_all = |client: &mut ChatClient, to: u64, tag: &str| -> Vec<(u64, u64)> {
        for batch in 0..per_side / 3 {
            let items: Vec<(String, String)> =
                (0..3).map(|i| (format!("{tag}{batch}-{i}"), format!("{tag} {batch}"))).collect();
            let items: Vec<(&str, &str)> =
                items.iter().map(|(u, c)| (u.as_str(), c.as_str())).collect();
            client.send(MsgId::TextChatMsgReq, &text(to, &items)).unwrap();
        }
        // Answers and pushes interleave: collect both until each has all.
        let mut answered = Vec::new();
        let mut pushed = Vec::new();
        while answered.len() < per_side || pushed.len() < per_side {
            let raw = client.recv().unwrap();
            if raw.id == MsgId::NotifyPresence.code() {
                continue; // the other one came online
            }
            let (id, frame): (u16, TextChatMsgRsp) = (raw.id, raw.json().unwrap());
            assert_eq!(frame.conversation_id, frame.thread_id);
            let seqs = frame.chat_datas.iter().map(|d| (frame.conversation_id, d.seq));
            match MsgId::from_u16(id) {
                Some(MsgId::TextChatMsgRsp) => answered.extend(seqs),
                Some(MsgId::NotifyTextChatMsgReq) => pushed.extend(seqs),
                other => panic!("unexpected frame {other:?}"),
            }
        }
        assert!(pushed.windows(2).all(|w| w[0].1 < w[1].1), "pushes in seq order: {pushed:?}");
        [answered, pushed].concat()
    };
    let (from_a, from_b) = std::thread::scope(|scope| {
        let one = scope.spawn(|| send_all(&mut a, bob, "a"));
        let two = scope.spawn(|| send_all(&mut b, ann, "b"));
        (one.join().unwrap(), two.join().unwrap())
    });
    let conversation = from_a[0].0;
    let mut seqs: Vec<u64> = from_a.iter().map(|&(_, seq)| seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2 * per_side as u64).collect::<Vec<_>>(), "1..N, no hole");
    let mut seen_by_b: Vec<u64> = from_b.iter().map(|&(_, seq)| seq).collect();
    seen_by_b.sort_unstable();
    assert_eq!(seen_by_b, seqs, "both sides saw the same conversation");

    // Bob has everything up to 10; at his next login he is owed ann's
    // messages above 10 only, in seq order.
    b.send(MsgId::ConversationAck, &ConversationAck { conversation_id: conversation, seq: 10 })
        .unwrap();
    drop(b);
    let owed = |cluster: &Cluster| {
        let page = cluster.store().backlog(bob, LEGACY_DEVICE, SeqCursor::default(), 1000).unwrap();
        page.messages.len()
    };
    let deadline = std::time::Instant::now() + WAIT;
    // send_all returns its own messages first: ann's above 10.
    let expected = from_a[..per_side].iter().filter(|&&(_, seq)| seq > 10).count();
    while owed(&cluster) > expected {
        assert!(std::time::Instant::now() < deadline, "the acknowledgement was never stored");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut b, _) = cluster.login(0, bob);
    let again = receive(&mut b, expected);
    assert!(again.windows(2).all(|w| w[0].seq < w[1].seq) && again[0].seq > 10);
    b.send(MsgId::ConversationAck, &ConversationAck { conversation_id: conversation, seq: 1000 })
        .unwrap();
    wait_until_acknowledged(&cluster, bob);
    drop(b);
    let (mut b, _) = cluster.login(1, bob);
    assert!(nothing_pushed(&mut b));
}

/// A resend (and a repeat inside one request) is stored once, answered
/// with the first ids, and pushed once, acknowledged or not.
fn a_resend_is_stored_once(kind: StoreKind) {
    let cluster = Cluster::start(&format!("resend_{kind:?}"), kind, 1);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let (mut b, _) = cluster.login(0, bob);
    let first = send_text(&mut a, bob, &[("same-id", "once"), ("same-id", "once")]);
    assert_eq!(first.chat_datas[0].message_id, first.chat_datas[1].message_id);
    let pushed: TextChatMsgRsp = b.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap();
    assert_eq!(pushed.chat_datas.len(), 1, "the repeat in the request is not pushed");
    let again = send_text(&mut a, bob, &[("same-id", "once")]);
    assert_eq!(first.chat_datas[0].message_id, again.chat_datas[0].message_id);
    assert!(nothing_pushed(&mut b), "nor is the resend, unacknowledged as it is");
    let thread = cluster.store().private_thread(ann, bob).unwrap();
    assert_eq!(cluster.store().thread_page(thread, 0, 10).unwrap().len(), 1);
}

fn a_second_login_elsewhere_kicks_the_first(kind: StoreKind) {
    let cluster = Cluster::start(&format!("kick_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let (mut first, _) = cluster.login(0, bob);
    cluster.wait_for_location(bob, Some("chat-1")); // reported asynchronously
    let (mut second, _) = cluster.login(1, bob);
    let kicked: NotifyOffline = first.recv_json(MsgId::NotifyOffLineReq, WAIT).unwrap();
    assert_eq!(kicked.uid, bob);
    assert!(first.closed_within(WAIT));
    // The first session's close did not unroute the second: it still receives.
    std::thread::sleep(Duration::from_millis(200));
    let sent = send_text(&mut a, bob, &[("after-kick", "still there?")]);
    let got = receive(&mut second, 1)[0].message_id;
    assert_eq!(got, sent.chat_datas[0].message_id);
    second
        .send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids: vec![got], uid: None })
        .unwrap();
    wait_until_acknowledged(&cluster, bob);

    // And the same on one server: the newer login wins there too.
    let (mut third, _) = cluster.login(1, bob);
    assert!(second.recv_json::<NotifyOffline>(MsgId::NotifyOffLineReq, WAIT).is_ok());
    let sent = send_text(&mut a, bob, &[("third", "and now?")]);
    assert_eq!(receive(&mut third, 1)[0].message_id, sent.chat_datas[0].message_id);
}

fn routing_recovers_after_the_status_server_restarts(kind: StoreKind) {
    let mut cluster = Cluster::start(&format!("status_restart_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let (mut b, _) = cluster.login(1, bob);
    cluster.restart_status();
    // The chat servers learn at their next heartbeat that the new status
    // server does not know them, register again and re-report their users;
    // until then a push may find no route (the message waits in the store).
    let deadline = std::time::Instant::now() + WAIT;
    let mut n = 0;
    loop {
        n += 1;
        let sent = send_text(&mut a, bob, &[(&format!("r{n}"), "are you there?")]);
        assert_eq!(sent.error, 0);
        let pushed: Result<TextChatMsgRsp, _> = b.recv_json(MsgId::NotifyTextChatMsgReq, QUIET);
        if pushed.is_ok_and(|p| p.chat_datas[0].message_id == sent.chat_datas[0].message_id) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "routing never came back");
    }
}

/// Defects found by trying the cluster as a new user would (issue 14).
fn repeats_neither_notify_nor_push_again(kind: StoreKind) {
    let cluster = Cluster::start(&format!("repeats_{kind:?}"), kind, 2);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    let (mut a, _) = cluster.login(0, ann);
    let (mut b, _) = cluster.login(1, bob);

    // A repeated friend request: 1005, and the target is told once.
    let apply = AddFriendReq { applyname: "hi".into(), bakname: "B".into(), touid: bob, uid: None };
    a.send(MsgId::AddFriendReq, &apply).unwrap();
    assert_eq!(a.recv_json::<ErrorOnly>(MsgId::AddFriendRsp, WAIT).unwrap().error, 0);
    a.send(MsgId::AddFriendReq, &apply).unwrap();
    let again = a.recv_json::<ErrorOnly>(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(again.error, ErrorCode::UserExist.code(), "1005 for a repeated request");
    b.recv_json::<NotifyAddFriend>(MsgId::NotifyAddFriendReq, WAIT).unwrap();
    assert!(
        b.recv_json::<NotifyAddFriend>(MsgId::NotifyAddFriendReq, QUIET).is_err(),
        "notified once"
    );

    // A resend of a message the receiver acknowledged: the same id back, no push.
    cluster.store().accept_friend(ann, bob, "").unwrap();
    let sent = send_text(&mut a, bob, &[("x-1", "once")]);
    let got = receive(&mut b, 1);
    assert_eq!(got[0].message_id, sent.chat_datas[0].message_id);
    b.send(
        MsgId::MsgDeliveredAck,
        &MsgDeliveredAck { message_ids: vec![got[0].message_id], uid: None },
    )
    .unwrap();
    wait_until_acknowledged(&cluster, bob);
    let resent = send_text(&mut a, bob, &[("x-1", "once")]);
    assert_eq!(resent.chat_datas[0].message_id, sent.chat_datas[0].message_id);
    assert!(nothing_pushed(&mut b), "an acknowledged message is not pushed again");
}

#[test]
fn sqlite_repeats_neither_notify_nor_push_again() {
    repeats_neither_notify_nor_push_again(StoreKind::Sqlite);
}

#[test]
fn mysql_repeats_neither_notify_nor_push_again() {
    repeats_neither_notify_nor_push_again(StoreKind::Mysql);
}

#[test]
fn sqlite_routing_recovers_after_the_status_server_restarts() {
    routing_recovers_after_the_status_server_restarts(StoreKind::Sqlite);
}
#[test]
fn mysql_routing_recovers_after_the_status_server_restarts() {
    routing_recovers_after_the_status_server_restarts(StoreKind::Mysql);
}

#[test]
fn sqlite_friends_and_messages_flow_across_servers() {
    friends_and_messages_flow_across_servers(StoreKind::Sqlite);
}
#[test]
fn mysql_friends_and_messages_flow_across_servers() {
    friends_and_messages_flow_across_servers(StoreKind::Mysql);
}
#[test]
fn sqlite_offline_messages_arrive_in_order_once_acknowledged() {
    offline_messages_arrive_in_order_once_acknowledged(StoreKind::Sqlite);
}
#[test]
fn mysql_offline_messages_arrive_in_order_once_acknowledged() {
    offline_messages_arrive_in_order_once_acknowledged(StoreKind::Mysql);
}
#[test]
fn sqlite_a_conversation_is_numbered_and_acknowledged_up_to_a_seq() {
    a_conversation_is_numbered_and_acknowledged_up_to_a_seq(StoreKind::Sqlite);
}
#[test]
fn mysql_a_conversation_is_numbered_and_acknowledged_up_to_a_seq() {
    a_conversation_is_numbered_and_acknowledged_up_to_a_seq(StoreKind::Mysql);
}
#[test]
fn sqlite_a_resend_is_stored_once() {
    a_resend_is_stored_once(StoreKind::Sqlite);
}
#[test]
fn mysql_a_resend_is_stored_once() {
    a_resend_is_stored_once(StoreKind::Mysql);
}
#[test]
fn sqlite_a_second_login_elsewhere_kicks_the_first() {
    a_second_login_elsewhere_kicks_the_first(StoreKind::Sqlite);
}
#[test]
fn mysql_a_second_login_elsewhere_kicks_the_first() {
    a_second_login_elsewhere_kicks_the_first(StoreKind::Mysql);
}

// ----- session rules and bad input (one store is enough) ---------------------------

#[test]
fn only_login_and_heartbeat_before_login() {
    let cluster = Cluster::start("before_login", StoreKind::Sqlite, 1);
    let mut client = ChatClient::connect(cluster.chat(0).local_addr(), WAIT).unwrap();
    client.send(MsgId::HeartBeatReq, &HeartbeatReq::default()).unwrap();
    assert_eq!(client.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap().error, 0);
    client.send(MsgId::SearchUserReq, &SearchUserReq { uid: "1".into() }).unwrap();
    let notice: ErrorNotify = client.recv_json(MsgId::ErrorNotify, WAIT).unwrap();
    assert_eq!(notice.error, ErrorCode::NotLoggedIn.code());
    assert!(client.closed_within(WAIT));

    // A wrong token, then a good one on the same connection.
    let uid = cluster.user("dan");
    let mut client = ChatClient::connect(cluster.chat(0).local_addr(), WAIT).unwrap();
    client
        .send(MsgId::LoginReq, &LoginReq { uid, token: "forged".into(), ..LoginReq::default() })
        .unwrap();
    let refused: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
    assert_eq!(refused.error, ErrorCode::TokenInvalid.code());
    client
        .send(MsgId::LoginReq, &LoginReq { uid, token: cluster.token(uid), ..LoginReq::default() })
        .unwrap();
    let ok: serde_json::Value = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
    assert_eq!((ok["error"].as_i64(), ok["name"].as_str()), (Some(0), Some("dan")));
    let text = ok.to_string();
    assert!(!text.contains("argon2") && !text.contains("password"), "no hash in {text}");
}

#[test]
fn a_connection_that_does_not_log_in_in_time_is_closed() {
    let cluster =
        Cluster::start_with("deadline", StoreKind::Sqlite, 1, |c| c.login_deadline_ms = 300);
    let mut client = ChatClient::connect(cluster.chat(0).local_addr(), WAIT).unwrap();
    let notice: ErrorNotify = client.recv_json(MsgId::ErrorNotify, WAIT).unwrap();
    assert_eq!(notice.error, ErrorCode::NotLoggedIn.code());
    assert!(client.closed_within(WAIT));
}

#[test]
fn the_session_uid_is_the_only_uid() {
    let cluster = Cluster::start("uids", StoreKind::Sqlite, 1);
    let (ann, bob, eve) = (cluster.user("ann"), cluster.user("bob"), cluster.user("eve"));
    cluster.befriend(ann, bob);
    let (mut e, _) = cluster.login(0, eve);
    // Claiming to be Ann: refused.
    let mut spoof = text(bob, &[("x", "I am ann")]);
    spoof.fromuid = Some(ann);
    e.send(MsgId::TextChatMsgReq, &spoof).unwrap();
    let refused: TextChatMsgRsp = e.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert_eq!(refused.error, ErrorCode::UidInvalid.code());
    // Not a friend: refused.
    let refused = send_text(&mut e, bob, &[("y", "hello stranger")]);
    assert_eq!(refused.error, ErrorCode::NotFriends.code());
    // Reading Ann and Bob's thread: refused.
    let thread = cluster.store().private_thread(ann, bob).unwrap();
    e.send(MsgId::LoadChatMsgReq, &LoadChatMsgReq { thread_id: thread, message_id: 0, uid: None })
        .unwrap();
    let refused: LoadChatMsgRsp = e.recv_json(MsgId::LoadChatMsgRsp, WAIT).unwrap();
    assert_eq!(refused.error, ErrorCode::UidInvalid.code());
    // A thread with a non-friend: refused.
    e.send(MsgId::CreatePrivateChatReq, &CreatePrivateChatReq { other_id: ann, uid: None })
        .unwrap();
    let refused: CreatePrivateChatRsp = e.recv_json(MsgId::CreatePrivateChatRsp, WAIT).unwrap();
    assert_eq!(refused.error, ErrorCode::NotFriends.code());
}

#[test]
fn a_body_that_claims_another_uid_is_refused_for_every_request() {
    let cluster = Cluster::start("claimed_uids", StoreKind::Sqlite, 1);
    let (ann, bob, eve) = (cluster.user("ann"), cluster.user("bob"), cluster.user("eve"));
    cluster.befriend(eve, bob);
    let thread = cluster.store().private_thread(eve, bob).unwrap();
    let (mut e, _) = cluster.login(0, eve);
    let claims = |id: MsgId, body: serde_json::Value, e: &mut ChatClient| {
        let mut frame = Vec::new();
        encode_frame(id.code(), body.to_string().as_bytes(), &mut frame).unwrap();
        e.send_raw(&frame).unwrap();
    };
    // Each names Ann as the sender (`uid` or `fromuid`, as the clients spell it): 1011.
    let requests = [
        (MsgId::LoadChatThreadReq, json!({"uid": ann, "thread_id": 0}), MsgId::LoadChatThreadRsp),
        (
            MsgId::CreatePrivateChatReq,
            json!({"uid": ann, "other_id": bob}),
            MsgId::CreatePrivateChatRsp,
        ),
        (
            MsgId::LoadChatMsgReq,
            json!({"fromuid": ann, "thread_id": thread}),
            MsgId::LoadChatMsgRsp,
        ),
        (MsgId::HeartBeatReq, json!({"fromuid": ann}), MsgId::HeartbeatRsp),
    ];
    for (id, body, reply) in requests {
        claims(id, body, &mut e);
        let answer: ErrorOnly = e.recv_json(reply, WAIT).unwrap();
        assert_eq!(answer.error, ErrorCode::UidInvalid.code(), "{id:?}");
    }
    // 1101 has no response: a 1103 with 1011, nothing acknowledged, the session stays.
    claims(MsgId::MsgDeliveredAck, json!({"uid": ann, "message_ids": [1]}), &mut e);
    let notice: ErrorNotify = e.recv_json(MsgId::ErrorNotify, WAIT).unwrap();
    assert_eq!(notice.error, ErrorCode::UidInvalid.code());
    // Its own uid, as a number or a string, is accepted.
    claims(MsgId::LoadChatThreadReq, json!({"uid": eve.to_string(), "thread_id": 0}), &mut e);
    let own: LoadChatThreadRsp = e.recv_json(MsgId::LoadChatThreadRsp, WAIT).unwrap();
    assert_eq!((own.error, own.threads.len()), (0, 1));
    claims(MsgId::HeartBeatReq, json!({"fromuid": eve}), &mut e);
    assert_eq!(e.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap().error, 0);

    // Ids no store holds (beyond 2^63) are a client's error, never the store's.
    for (id, body, reply) in [
        (MsgId::LoadChatThreadReq, json!({"thread_id": u64::MAX}), MsgId::LoadChatThreadRsp),
        (MsgId::LoadChatMsgReq, json!({"thread_id": u64::MAX}), MsgId::LoadChatMsgRsp),
        (
            MsgId::LoadChatMsgReq,
            json!({"thread_id": thread, "message_id": u64::MAX}),
            MsgId::LoadChatMsgRsp,
        ),
        (MsgId::CreatePrivateChatReq, json!({"other_id": u64::MAX}), MsgId::CreatePrivateChatRsp),
        (MsgId::SearchUserReq, json!({"uid": u64::MAX.to_string()}), MsgId::SearchUserRsp),
        (MsgId::AddFriendReq, json!({"touid": u64::MAX, "applyname": "x"}), MsgId::AddFriendRsp),
        (MsgId::AuthFriendReq, json!({"touid": u64::MAX}), MsgId::AuthFriendRsp),
        (
            MsgId::TextChatMsgReq,
            json!({"touid": u64::MAX, "text_array": [{"unique_id": "u", "content": "x"}]}),
            MsgId::TextChatMsgRsp,
        ),
    ] {
        claims(id, body, &mut e);
        // An answer each (an empty page for a cursor past the end, an error
        // code otherwise), none of them a store failure.
        let answer: ErrorOnly = e.recv_json(reply, WAIT).unwrap();
        assert!(![1012, 1013, 1105].contains(&answer.error), "{id:?}: {}", answer.error);
        let errors = metric(&cluster.chat(0).metrics_text(), "im_chat_store_errors_total");
        assert_eq!(errors, 0, "{id:?} counted as a store error");
    }
    claims(MsgId::MsgDeliveredAck, json!({"message_ids": [u64::MAX]}), &mut e);
    claims(MsgId::HeartBeatReq, json!({}), &mut e);
    e.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the acknowledgement writer's batch
    let metrics = cluster.chat(0).metrics_text();
    assert_eq!(metric(&metrics, "im_chat_store_errors_total"), 0, "{metrics}");
}

#[test]
fn bad_input_gets_an_error_code_or_a_clean_close() {
    let cluster = Cluster::start("bad_input", StoreKind::Sqlite, 1);
    let uid = cluster.user("fay");
    let (mut client, _) = cluster.login(0, uid);
    // Not JSON, wrong types: 1001, the connection stays.
    let mut frame = Vec::new();
    encode_frame(MsgId::TextChatMsgReq.code(), b"{not json", &mut frame).unwrap();
    client.send_raw(&frame).unwrap();
    let answer: ErrorOnly = client.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert_eq!(answer.error, ErrorCode::Json.code());
    frame.clear();
    encode_frame(MsgId::SearchUserReq.code(), br#"{"uid":[1,2]}"#, &mut frame).unwrap();
    client.send_raw(&frame).unwrap();
    let answer: ErrorOnly = client.recv_json(MsgId::SearchUserRsp, WAIT).unwrap();
    assert_eq!(answer.error, ErrorCode::Json.code());
    frame.clear();
    encode_frame(MsgId::TextChatMsgReq.code(), &[0xff, 0xfe, b'{'], &mut frame).unwrap();
    client.send_raw(&frame).unwrap();
    let answer: ErrorOnly = client.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert_eq!(answer.error, ErrorCode::Json.code());
    // Still served.
    client.send(MsgId::HeartBeatReq, &HeartbeatReq::default()).unwrap();
    assert_eq!(client.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap().error, 0);
    // A length over the limit: 1103, then closed.
    client.send_raw(&[0x03, 0xf1, 0xff, 0xff]).unwrap();
    let notice: ErrorNotify = client.recv_json(MsgId::ErrorNotify, WAIT).unwrap();
    assert_eq!(notice.error, ErrorCode::TooLarge.code());
    assert!(client.closed_within(WAIT));
}

#[test]
fn a_huge_backlog_is_pushed_in_pages_without_starving_others() {
    const BACKLOG: usize = 100_000;
    let cluster = Cluster::start("backlog", StoreKind::Sqlite, 1);
    let (ann, bob, cat) = (cluster.user("ann"), cluster.user("bob"), cluster.user("cat"));
    cluster.befriend(ann, bob);
    let mut store = cluster.store();
    for chunk in 0..BACKLOG / 1000 {
        let batch: Vec<NewMessage> = (0..1000)
            .map(|i| NewMessage {
                group: 0,
                sender: ann,
                receiver: bob,
                unique_id: format!("{chunk}-{i}"),
                content: format!("backlog message {} of the day", chunk * 1000 + i),
            })
            .collect();
        store.append_messages(&batch).unwrap();
    }
    let (mut b, _) = cluster.login(0, bob);
    // Bob reads slowly at first; meanwhile another user is served promptly.
    let (mut c, _) = cluster.login(0, cat);
    for _ in 0..20 {
        let started = std::time::Instant::now();
        c.send(MsgId::HeartBeatReq, &HeartbeatReq::default()).unwrap();
        c.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "another user was starved");
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = receive(&mut b, BACKLOG);
    assert!(got.windows(2).all(|w| w[0].message_id < w[1].message_id), "in order");
    let metrics = cluster.chat(0).metrics_text();
    // The output queue never grew past the high-water mark plus about one page.
    let peak = metric(&metrics, "im_chat_peak_output_bytes{");
    assert!(peak > 0 && peak < 256 * 1024 + 200 * 1024, "peak output {peak}");
}

/// The value of the first `/metrics` line that starts with `prefix`.
fn metric(metrics: &str, prefix: &str) -> u64 {
    let line = metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_token_issued_to_another_uid_is_refused() {
    let cluster = Cluster::start("foreign_token", StoreKind::Sqlite, 1);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    let mut client = ChatClient::connect(cluster.chat(0).local_addr(), WAIT).unwrap();
    client
        .send(
            MsgId::LoginReq,
            &LoginReq { uid: bob, token: cluster.token(ann), ..LoginReq::default() },
        )
        .unwrap();
    let refused: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
    assert_eq!(refused.error, ErrorCode::TokenInvalid.code());
}

#[test]
fn garbage_truncated_frames_and_unknown_ids_leave_other_sessions_alone() {
    // Random bytes may read as the start of a valid frame that never ends:
    // the login deadline closes those.
    let cluster =
        Cluster::start_with("garbage", StoreKind::Sqlite, 1, |c| c.login_deadline_ms = 500);
    let addr = cluster.chat(0).local_addr();
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let (mut b, _) = cluster.login(0, bob);

    // Unknown id after login: 1103 with 1106, the session stays.
    let mut frame = Vec::new();
    encode_frame(4242, b"{}", &mut frame).unwrap();
    a.send_raw(&frame).unwrap();
    let notice: ErrorNotify = a.recv_json(MsgId::ErrorNotify, WAIT).unwrap();
    assert_eq!(notice.error, ErrorCode::ProtocolError.code());

    // Random bytes from many connections (a fixed seed: the same run every time).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut junk_clients = Vec::new();
    for _ in 0..50 {
        let mut junk = vec![0u8; 1 + (state % 3000) as usize];
        for byte in junk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let mut client = ChatClient::connect(addr, WAIT).unwrap();
        let _ = client.send_raw(&junk);
        junk_clients.push(client);
    }
    for client in &mut junk_clients {
        assert!(client.closed_within(WAIT), "garbage before login is closed");
    }
    // A truncated frame, then the client goes away.
    let mut truncated = ChatClient::connect(addr, WAIT).unwrap();
    truncated.send_raw(&[0x03, 0xed, 0x00, 0x40, b'{', b'"']).unwrap();
    drop(truncated);

    // The logged-in users were never disturbed.
    let sent = send_text(&mut a, bob, &[("after-garbage", "still here")]);
    assert_eq!(receive(&mut b, 1)[0].message_id, sent.chat_datas[0].message_id);
}

#[test]
fn with_the_store_stalled_heartbeats_are_still_answered_at_once() {
    let cluster = Cluster::start_with("stalled", StoreKind::Sqlite, 1, |c| {
        c.store.pool_workers = 2;
        c.store.queue_capacity = 16;
        c.store.writer_shards = 1;
    });
    let names = ["ann", "bob", "cat"];
    let [ann, bob, cat] = names.map(|n| cluster.user(n));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    let (mut c, _) = cluster.login(0, cat);

    // Another process holds the database's write lock: every write waits.
    let blocker = rusqlite::Connection::open(cluster.sqlite_file()).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for n in 0..40 {
        a.send(MsgId::TextChatMsgReq, &text(bob, &[(&format!("s{n}"), "stuck")])).unwrap();
        let apply =
            AddFriendReq { applyname: "hi".into(), bakname: String::new(), touid: cat, uid: None };
        a.send(MsgId::AddFriendReq, &apply).unwrap();
    }
    // Past the queue bound, the stuck user is told the server is busy.
    let busy: ErrorOnly = a.recv_json(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(busy.error, ErrorCode::ServerBusy.code());
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = std::time::Instant::now();
        c.send(MsgId::HeartBeatReq, &HeartbeatReq::default()).unwrap();
        c.recv_json::<ErrorOnly>(MsgId::HeartbeatRsp, WAIT).unwrap();
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(slowest < Duration::from_millis(100), "a heartbeat took {slowest:?}");
    blocker.execute_batch("COMMIT").unwrap();
    // The lock is gone: the messages that were queued are stored and
    // acknowledged (those past the bound were refused with 1105 at once).
    let answers: Vec<i32> = (0..40)
        .map(|_| a.recv_json::<TextChatMsgRsp>(MsgId::TextChatMsgRsp, WAIT).unwrap().error)
        .collect();
    assert!(answers.contains(&0) && answers.contains(&ErrorCode::ServerBusy.code()), "{answers:?}");
    assert!(answers.iter().all(|&e| e == 0 || e == ErrorCode::ServerBusy.code()), "{answers:?}");
}

#[test]
fn metrics_and_health_are_served_over_http() {
    let cluster = Cluster::start("metrics", StoreKind::Sqlite, 1);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let (mut a, _) = cluster.login(0, ann);
    send_text(&mut a, bob, &[("m", "counted")]);
    let admin = cluster.chat(0).admin_addr().expect("admin port");
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(admin).unwrap();
        use std::io::{Read, Write};
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let metrics = get("/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    for line in [
        "im_chat_connections{server=\"chat-1\"} 1",
        "im_chat_online_users{server=\"chat-1\"} 1",
        "im_chat_logins_total{server=\"chat-1\"} 1",
        "im_chat_messages_committed_total{server=\"chat-1\"} 1",
        "# TYPE im_chat_store_queue_depth gauge",
    ] {
        assert!(metrics.contains(line), "no `{line}` in {metrics}");
    }
    assert!(get("/healthz").starts_with("HTTP/1.1 200 OK"));
    assert!(get("/nowhere").starts_with("HTTP/1.1 404"));
}

#[test]
fn large_pending_messages_are_pushed_in_frames_that_fit() {
    let cluster = Cluster::start("large_pending", StoreKind::Sqlite, 1);
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let big = "x".repeat(4000);
    let batch: Vec<NewMessage> = (0..100)
        .map(|i| NewMessage {
            group: 0,
            sender: ann,
            receiver: bob,
            unique_id: format!("big{i}"),
            content: big.clone(),
        })
        .collect();
    cluster.store().append_messages(&batch).unwrap();
    // 100 × 4 KB from one sender in one thread: far more than one 64 KiB frame.
    let (mut b, _) = cluster.login(0, bob);
    let got = receive(&mut b, 100);
    assert!(got.iter().all(|m| m.content.len() == 4000));
}

#[test]
fn connections_closed_for_not_logging_in_or_idling_are_counted_by_reason() {
    // Issue 14, defect 8.
    let cluster = Cluster::start_with("close_reasons", StoreKind::Sqlite, 1, |chat| {
        chat.login_deadline_ms = 300;
        chat.idle_timeout_ms = 600;
    });
    let server = "server=\"chat-1\"";
    let mut anonymous = ChatClient::connect(cluster.chat(0).local_addr(), WAIT).unwrap();
    assert!(anonymous.closed_within(WAIT), "closed at the login deadline");
    drop(anonymous); // the server's graceful close ends with ours
    let ann = cluster.user("ann");
    let (mut silent, _) = cluster.login(0, ann);
    assert!(silent.closed_within(WAIT), "closed when idle");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = cluster.chat(0).metrics_text();
        let idle = format!("im_chat_connections_closed_total{{{server},reason=\"idle\"}}");
        let login = format!("im_chat_login_deadline_closes_total{{{server}}}");
        let by_server = format!("im_chat_connections_closed_total{{{server},reason=\"server\"}}");
        if metric(&text, &idle) == 1 && metric(&text, &login) == 1 && metric(&text, &by_server) == 1
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
