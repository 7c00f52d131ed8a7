//! The llfcchat dialect, frame by frame and field by field: what the
//! original llfcchat Qt client sends (read from its `tcpmgr.cpp`,
//! `logindialog.cpp`, `registerdialog.cpp`, `chatdialog.cpp`, …) and the
//! types it reads back (`toString()` on `port` and `chat_time`, `toInt()` on
//! `status`, `chat_datas[0]` unchecked in 1014/1015), against a running
//! cluster whose gate and chat servers also speak this project's own
//! dialect. No Qt needed: these are the client's bytes.

mod util;

use proto::body::{AuthFriendReq, NotifyAddFriend};
use proto::chat_client::ChatClient;
use proto::http_client::{post_json, request};
use proto::MsgId;
use serde_json::{json, Value};
use services::dialect::Dialect;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use util::cluster::{Cluster, StoreKind, WAIT};
use util::smtp::SmtpServer;

const QUIET: Duration = Duration::from_millis(400);

/// The client's password scrambling (`xorString` in its global.cpp): every
/// character XOR (length % 255). The gate stores whatever it is sent.
fn xor_string(password: &str) -> String {
    let key = (password.chars().count() % 255) as u32;
    password.chars().map(|c| char::from_u32(c as u32 ^ key).unwrap()).collect()
}

struct Legacy {
    cluster: Cluster,
    smtp: SmtpServer,
    gate: SocketAddr,
}

impl Legacy {
    fn start(test: &str, kind: StoreKind) -> Legacy {
        let mut cluster = Cluster::start_with(test, kind, 2, |chat| {
            chat.llfcchat_listen = "127.0.0.1:0".into();
        });
        let smtp = SmtpServer::start(test);
        let verify = smtp.verify_config(test);
        cluster.start_gate(verify, |gate| {
            gate.llfcchat_listen = "127.0.0.1:0".into();
            gate.request_timeout_ms = 500;
        });
        let gate = cluster.gate_dialect_addr(Dialect::Llfcchat).expect("the gate serves llfcchat");
        Legacy { cluster, smtp, gate }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let response = post_json(self.gate, path, &body, WAIT).expect("the gate answers");
        assert_eq!(response.status, 200);
        serde_json::from_slice(&response.body).expect("JSON")
    }

    /// Registration as `RegisterDialog` does it: code by mail, then the
    /// form with scrambled passwords, sex, icon and nick.
    fn register(&self, name: &str, password: &str) -> u64 {
        let email = format!("{name}@example.com");
        let before = self.smtp.mails_to(&email).len();
        let asked = self.post("/get_varifycode", json!({ "email": email }));
        assert_eq!(asked["error"], 0, "{asked}");
        let code = self.smtp.code_for(&email, before);
        let answer = self.post(
            "/user_register",
            json!({"user": name, "email": email, "passwd": xor_string(password), "sex": 0,
                   "icon": ":/res/head_1.jpg", "nick": name, "confirm": xor_string(password),
                   "varifycode": code}),
        );
        assert_eq!(answer["error"], 0, "{answer}");
        answer["uid"].as_u64().expect("uid")
    }

    /// Login as `LoginDialog` does it, then LOGIN on the chat server it was
    /// told about (host and port read with toString()).
    fn login(&self, name: &str, password: &str) -> (ChatClient, Value) {
        let answer = self.post(
            "/user_login",
            json!({"email": format!("{name}@example.com"), "passwd": xor_string(password)}),
        );
        assert_eq!(answer["error"], 0, "{answer}");
        let port = answer["port"].as_str().expect("port is a string, as the client reads it");
        let host = answer["host"].as_str().expect("host");
        let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
        let mut chat = ChatClient::connect(addr, WAIT).unwrap();
        let uid = answer["uid"].as_u64().unwrap();
        let token = answer["token"].as_str().unwrap().to_string();
        chat.send(MsgId::LoginReq, &json!({ "uid": uid, "token": token })).unwrap();
        let logged_in: Value = chat.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!(logged_in["error"], 0, "{logged_in}");
        (chat, logged_in)
    }
}

/// Everything the client reads of a stored message, with its types.
fn assert_llfcchat_message(message: &Value) {
    let time = message["chat_time"].as_str().expect("chat_time is a string");
    assert_eq!(time.len(), "2026-12-02 10:00:00".len(), "{time}");
    let status = message["status"].as_i64().expect("status is a number");
    assert!(status == 0 || status == 2, "0 unread or 2 read, never 1 (send failed): {message}");
}

fn quiet(client: &mut ChatClient, id: MsgId) -> bool {
    client.recv_json::<Value>(id, QUIET).is_err()
}

fn llfcchat_client_works_with_the_cluster(kind: StoreKind) {
    let legacy = Legacy::start(&format!("llfcchat_{kind:?}"), kind);
    let lin = legacy.register("lin", "secret-pw");
    let (mut l, profile) = legacy.login("lin", "secret-pw");
    assert_eq!(profile["uid"].as_u64(), Some(lin));
    for key in ["name", "nick", "icon", "desc"] {
        assert!(profile[key].is_string(), "{key}: {profile}");
    }

    // A user of this project's own dialect (imcli, say), on the other chat server.
    let own = legacy.cluster.user("owen");
    let (mut o, _) = legacy.cluster.login(1, own);

    // lin searches (by uid text) and applies; owen sees the application text.
    l.send(MsgId::SearchUserReq, &json!({ "uid": own.to_string() })).unwrap();
    let found: Value = l.recv_json(MsgId::SearchUserRsp, WAIT).unwrap();
    assert_eq!(found["uid"].as_u64(), Some(own));
    l.send(
        MsgId::AddFriendReq,
        &json!({"uid": lin, "applyname": "hello from lin", "bakname": "O", "touid": own}),
    )
    .unwrap();
    let applied: Value = l.recv_json(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(applied["error"], 0);
    let notice: NotifyAddFriend = o.recv_json(MsgId::NotifyAddFriendReq, WAIT).unwrap();
    assert_eq!((notice.applyuid, notice.desc.as_str()), (lin, "hello from lin"));

    // owen accepts: lin's 1015 carries the first message (read unchecked by the client).
    o.send(MsgId::AuthFriendReq, &AuthFriendReq { touid: lin, back: "L".into(), fromuid: None })
        .unwrap();
    let told: Value = l.recv_json(MsgId::NotifyAuthFriendReq, WAIT).unwrap();
    assert_eq!(told["fromuid"].as_u64(), Some(own));
    let first = &told["chat_datas"][0];
    assert_eq!(first["msg_content"], "We are friends now!");
    assert!(first["thread_id"].as_u64().is_some_and(|t| t > 0));
    assert_llfcchat_message(first);
    assert!(quiet(&mut l, MsgId::NotifyTextChatMsgReq), "1015 carried it; no 1019 too");

    // Text both ways, across the two servers.
    let text = json!({"touid": lin, "text_array": [{"unique_id": "o-1", "content": "hi lin"}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let stored: Value = o.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert_eq!(stored["error"], 0);
    let pushed: Value = l.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap();
    assert_eq!(pushed["fromuid"].as_u64(), Some(own));
    assert_eq!(pushed["chat_datas"][0]["content"], "hi lin");
    assert_llfcchat_message(&pushed["chat_datas"][0]);
    let thread_id = pushed["thread_id"].as_u64().unwrap();
    l.send(
        MsgId::TextChatMsgReq,
        &json!({"fromuid": lin, "touid": own, "thread_id": thread_id,
                "text_array": [{"content": "hi owen", "unique_id": "5d6e-uuid"}]}),
    )
    .unwrap();
    let sent: Value = l.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert_eq!((sent["error"].as_i64(), sent["thread_id"].as_u64()), (Some(0), Some(thread_id)));
    assert_eq!(sent["chat_datas"][0]["unique_id"], "5d6e-uuid");
    assert_llfcchat_message(&sent["chat_datas"][0]);
    let got: Value = o.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap();
    assert_eq!(got["chat_datas"][0]["content"], "hi owen");
    assert!(got["chat_datas"][0]["chat_time"].is_i64(), "the own dialect keeps numbers");

    // Heartbeat as chatdialog.cpp sends it.
    l.send(MsgId::HeartBeatReq, &json!({ "fromuid": lin })).unwrap();
    let beat: Value = l.recv_json(MsgId::HeartbeatRsp, WAIT).unwrap();
    assert_eq!(beat["error"], 0);

    // Offline: owen writes while lin is away. At lin's next login nothing is
    // pushed (the client has not loaded its threads yet); it loads threads
    // and history itself, and what history showed it is not shown again.
    drop(l);
    legacy.cluster.wait_for_location(lin, None);
    let text = json!({"touid": lin, "text_array": [{"unique_id": "o-2", "content": "while away"}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let stored: Value = o.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    let away_id = stored["chat_datas"][0]["message_id"].as_u64().unwrap();
    let (mut l, _) = legacy.login("lin", "secret-pw");
    assert!(quiet(&mut l, MsgId::NotifyTextChatMsgReq), "no push at login for this client");
    l.send(MsgId::LoadChatThreadReq, &json!({ "uid": lin, "thread_id": 0 })).unwrap();
    let threads: Value = l.recv_json(MsgId::LoadChatThreadRsp, WAIT).unwrap();
    assert_eq!(threads["threads"][0]["thread_id"].as_u64(), Some(thread_id));
    assert_eq!(threads["threads"][0]["type"], "private");
    l.send(MsgId::LoadChatMsgReq, &json!({ "thread_id": thread_id, "message_id": 0 })).unwrap();
    let history: Value = l.recv_json(MsgId::LoadChatMsgRsp, WAIT).unwrap();
    let newest = &history["chat_datas"][0];
    assert_eq!(
        (newest["msg_id"].as_u64(), newest["msg_content"].as_str()),
        (Some(away_id), Some("while away"))
    );
    assert_llfcchat_message(newest);
    drop(l);
    legacy.cluster.wait_for_location(lin, None);
    // Shown once: the same user on this project's dialect gets nothing pending.
    let (mut again, _) = legacy.cluster.login(0, lin);
    assert!(
        again.recv_json::<Value>(MsgId::NotifyTextChatMsgReq, QUIET).is_err(),
        "what the llfcchat client was shown is delivered"
    );
    drop(again);

    // A second login elsewhere: the first session is told (1021), and the
    // connection is left for the client to close (a close arriving with the
    // notice makes this client report a network failure instead); the server
    // closes it later if the client does not.
    let (mut first_session, _) = legacy.login("lin", "secret-pw");
    let (_second, _) = legacy.login("lin", "secret-pw");
    let offline: Value = first_session.recv_json(MsgId::NotifyOffLineReq, WAIT).unwrap();
    assert_eq!((offline["error"].as_i64(), offline["uid"].as_u64()), (Some(0), Some(lin)));
    assert!(!first_session.closed_within(QUIET), "not closed with the notice");
    assert!(first_session.closed_within(WAIT), "closed by the server in the end");
}

#[test]
fn sqlite_llfcchat_client_works_with_the_cluster() {
    llfcchat_client_works_with_the_cluster(StoreKind::Sqlite);
}

#[test]
fn mysql_llfcchat_client_works_with_the_cluster() {
    llfcchat_client_works_with_the_cluster(StoreKind::Mysql);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_without_an_unasked_answer() {
    let legacy = Legacy::start("llfcchat_idle", StoreKind::Sqlite);
    let answered = request(legacy.gate, "GET", "/healthz", b"", WAIT).unwrap();
    assert_eq!(answered.status, 200);
    // One keep-alive request, then silence past the 500 ms request deadline.
    let mut stream = TcpStream::connect(legacy.gate).unwrap();
    std::io::Write::write_all(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break, // closed
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("the idle connection was not closed: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "one answer, to the one request: {text}");
    assert!(!text.contains("408"), "{text}");
}

/// Its client parses only the first frame of a read (`chat::pacing`): two
/// answers asked for at once leave one write each, some time apart.
#[test]
fn frames_reach_this_client_one_write_at_a_time() {
    let legacy = Legacy::start("llfcchat_paced", StoreKind::Sqlite);
    let uid = legacy.register("pia", "secret-pw");
    let (mut client, _) = legacy.login("pia", "secret-pw");
    let mut gaps = Vec::new();
    for _ in 0..3 {
        // Two requests in one write: a heartbeat and a search, answered at once.
        let mut both = Vec::new();
        for (id, body) in [
            (MsgId::HeartBeatReq, json!({ "fromuid": uid })),
            (MsgId::SearchUserReq, json!({ "uid": uid.to_string() })),
        ] {
            proto::frame::encode_frame(id.code(), body.to_string().as_bytes(), &mut both).unwrap();
        }
        client.send_raw(&both).unwrap();
        client.recv_json::<Value>(MsgId::HeartbeatRsp, WAIT).unwrap();
        let first = std::time::Instant::now();
        client.recv_json::<Value>(MsgId::SearchUserRsp, WAIT).unwrap();
        gaps.push(first.elapsed());
    }
    // A lower bound only (a busy machine makes gaps longer, and this test
    // thread may itself be late for a read, hence the best of three).
    let best = gaps.iter().max().unwrap();
    assert!(*best >= Duration::from_millis(15), "gaps {gaps:?}");
}
