//! The chat-server binary as an operator runs it: stopped with SIGTERM, and
//! killed with SIGKILL while its users send.

mod util;

use proto::body::{TextChatMsgReq, TextChatMsgRsp, TextItem};
use proto::MsgId;
use std::collections::HashSet;
use std::time::Duration;
use testkit::process::send_signal as signal;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::wait_with_timeout;

#[test]
fn sigterm_closes_every_session_reports_it_offline_and_exits_0() {
    let cluster = Cluster::start("chat_sigterm", StoreKind::Sqlite, 1);
    let mut process = cluster.spawn_chat_process("chat-p");
    let ann = cluster.user("ann");
    let mut client = cluster.login_at(process.addr, ann);
    cluster.wait_for_location(ann, Some("chat-p"));

    signal(process.child.id(), "-TERM");
    assert!(client.closed_within(WAIT), "the session is closed");
    let status = wait_with_timeout(&mut process.child, WAIT);
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    // Reported offline at shutdown, not left for the heartbeat timeout.
    assert_eq!(cluster.location(ann), None);
}

/// Every message whose sender got a 1018 is stored: after the server is
/// killed, the receiver gets all of them from the surviving server.
fn no_acknowledged_message_is_lost_when_a_server_is_killed(kind: StoreKind) {
    let cluster = Cluster::start(&format!("chat_kill_{kind:?}"), kind, 1);
    let process = cluster.spawn_chat_process("chat-doomed");
    let (ann, bob) = (cluster.user("ann"), cluster.user("bob"));
    cluster.befriend(ann, bob);
    let mut sender = cluster.login_at(process.addr, ann);
    let receiver = cluster.login_at(process.addr, bob);

    let sending = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for n in 0.. {
            let request = TextChatMsgReq {
                touid: bob,
                group_id: 0,
                thread_id: None,
                text_array: vec![TextItem { content: format!("m{n}"), unique_id: format!("u{n}") }],
                fromuid: None,
            };
            if sender.send(MsgId::TextChatMsgReq, &request).is_err() {
                break;
            }
            match sender.recv_json::<TextChatMsgRsp>(MsgId::TextChatMsgRsp, WAIT) {
                Ok(answer) if answer.error == 0 => {
                    acknowledged.push(answer.chat_datas[0].message_id)
                }
                _ => break,
            }
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(500));
    signal(process.child.id(), "-KILL");
    let acknowledged = sending.join().unwrap();
    drop(receiver);
    assert!(acknowledged.len() > 10, "only {} messages were sent", acknowledged.len());

    // Bob reconnects to the surviving server and gets every acknowledged one.
    let (mut bob_again, _) = cluster.login(0, bob);
    let mut missing: HashSet<u64> = acknowledged.iter().copied().collect();
    let mut last = 0;
    while !missing.is_empty() {
        let push: TextChatMsgRsp =
            bob_again.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap_or_else(|e| {
                panic!("{} acknowledged messages never arrived: {e}", missing.len())
            });
        for data in push.chat_datas {
            assert!(data.message_id > last, "in order");
            last = data.message_id;
            missing.remove(&data.message_id);
        }
    }
}

#[test]
fn sqlite_no_acknowledged_message_is_lost_when_a_server_is_killed() {
    no_acknowledged_message_is_lost_when_a_server_is_killed(StoreKind::Sqlite);
}

#[test]
fn mysql_no_acknowledged_message_is_lost_when_a_server_is_killed() {
    no_acknowledged_message_is_lost_when_a_server_is_killed(StoreKind::Mysql);
}
