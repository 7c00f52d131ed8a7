//! The project_show dialect, frame by frame and field by field: what the
//! project_show Qt client sends (read from its `tcpmgr.cpp`,
//! `logindialog.cpp`, `regdialog.cpp`, `forgetdialog.cpp`,
//! `friendmanager.cpp`, `mainwindow.cpp`) and what it reads back, against a
//! running cluster whose gate and chat servers also speak this project's
//! own dialect. No Qt needed: these are the client's bytes.
//!
//! Every frame it is sent is checked against its 4 KiB limit (it aborts the
//! connection on a larger one) and against its ids (1021 is its friend
//! notice, not a kick).

mod util;

use proto::body::{AuthFriendReq, NotifyAddFriend, NotifyAuthFriend};
use proto::chat_client::{ChatClient, RawFrame};
use proto::http_client::post_json;
use proto::MsgId;
use serde_json::{json, Value};
use services::dialect::Dialect;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use util::cluster::{Cluster, StoreKind, WAIT};
use util::smtp::SmtpServer;

const QUIET: Duration = Duration::from_millis(400);
/// The client's `MAX_LENGTH`: it aborts on a larger frame body.
const CLIENT_MAX_BODY: usize = 4096;
/// The chat servers' idle timeout in these tests: the client sends no
/// heartbeat, so it must outlive this.
const IDLE: Duration = Duration::from_millis(600);

/// The ids the client's `ReqId` gives a meaning, from the server.
const CLIENT_IDS: [u16; 6] = [1006, 1018, 1019, 1021, 1022, 1103];

struct Shown {
    cluster: Cluster,
    smtp: SmtpServer,
    gate: SocketAddr,
}

/// One client connection, as its TcpMgr reads it.
struct Tcp {
    chat: ChatClient,
    uid: u64,
    backlog: VecDeque<RawFrame>,
}

impl Tcp {
    fn send(&mut self, id: u16, body: &Value) {
        // QJsonDocument output, as the client writes it.
        let body = serde_json::to_vec_pretty(body).unwrap();
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
        frame.extend_from_slice(&body);
        self.chat.send_raw(&frame).unwrap();
    }

    fn read(&mut self, timeout: Duration) -> Option<RawFrame> {
        self.chat.set_timeout(timeout).unwrap();
        let frame = self.chat.recv().ok()?;
        assert!(frame.body.len() <= CLIENT_MAX_BODY, "frame {} too big for the client", frame.id);
        assert!(CLIENT_IDS.contains(&frame.id), "id {} means something else to it", frame.id);
        Some(frame)
    }

    /// The next frame `id`; others are kept for later.
    fn expect(&mut self, id: u16) -> Value {
        if let Some(at) = self.backlog.iter().position(|f| f.id == id) {
            return self.backlog.remove(at).unwrap().json().unwrap();
        }
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(frame) = self.read(deadline - Instant::now()) {
                if frame.id == id {
                    return frame.json().unwrap();
                }
                self.backlog.push_back(frame);
            }
        }
        let seen: Vec<u16> = self.backlog.iter().map(|f| f.id).collect();
        panic!("no frame {id} for uid {} (other frames: {seen:?})", self.uid)
    }

    fn quiet(&mut self, id: u16) -> bool {
        if self.backlog.iter().any(|f| f.id == id) {
            return false;
        }
        let deadline = Instant::now() + QUIET;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.read(left) {
                Some(frame) if frame.id == id => return false,
                Some(frame) => self.backlog.push_back(frame),
                None => return true,
            }
        }
        true
    }

    /// One pushed text, as `sig_text_notify` reads it, acknowledged as
    /// mainwindow.cpp does (one 1024 per element, naming its local maximum).
    fn receive_text(&mut self) -> (u64, String, String) {
        let pushed = self.expect(1019);
        assert_eq!(pushed["error"], 0);
        assert_eq!(pushed["touid"].as_u64(), Some(self.uid), "it ignores texts for others");
        let items = pushed["text_array"].as_array().expect("text_array");
        assert_eq!(items.len(), 1, "one message per frame: one 1024 each");
        let msgid = items[0]["msgid"].as_str().expect("msgid is a string (toLongLong)");
        assert!(msgid.parse::<i64>().is_ok(), "{msgid}");
        let content = items[0]["content"].as_str().unwrap().to_string();
        self.send(1024, &json!({"uid": self.uid, "max_msg_id": 1_796_000_000_000i64}));
        (pushed["fromuid"].as_u64().unwrap(), msgid.to_string(), content)
    }
}

impl Shown {
    fn start(test: &str, kind: StoreKind) -> Shown {
        let mut cluster = Cluster::start_with(test, kind, 2, |chat| {
            chat.project_show_listen = "127.0.0.1:0".into();
            chat.idle_timeout_ms = IDLE.as_millis() as u64;
        });
        let smtp = SmtpServer::start(test);
        let verify = smtp.verify_config(test);
        cluster.start_gate(verify, |gate| {
            gate.project_show_listen = "127.0.0.1:0".into();
        });
        let gate = cluster.gate_dialect_addr(Dialect::ProjectShow).expect("served");
        Shown { cluster, smtp, gate }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let response = post_json(self.gate, path, &body, WAIT).expect("the gate answers");
        assert_eq!(response.status, 200, "{path}");
        serde_json::from_slice(&response.body).expect("JSON")
    }

    fn code(&self, email: &str) -> String {
        let before = self.smtp.mails_to(email).len();
        let asked = self.post("/get_verifycode", json!({ "email": email }));
        assert_eq!((asked["error"].as_i64(), asked["email"].as_str()), (Some(0), Some(email)));
        self.smtp.code_for(email, before)
    }

    /// Registration as `RegDialog` does it (plain password, `verifycode`).
    fn register(&self, name: &str, password: &str) -> u64 {
        let email = format!("{name}@example.com");
        let code = self.code(&email);
        let answer = self.post(
            "/user_register",
            json!({"user": name, "email": email, "passwd": password, "confirm": password,
                   "verifycode": code}),
        );
        assert_eq!((answer["error"].as_i64(), answer["email"].as_str()), (Some(0), Some(&*email)));
        answer["uid"].as_u64().expect("uid")
    }

    /// Login as `LoginDialog` does it (`user` holds the e-mail), then 1005 to
    /// the chat server it was told about.
    fn log_in(&self, name: &str, password: &str) -> Tcp {
        let answer = self.post(
            "/user_login",
            json!({"user": format!("{name}@example.com"), "passwd": password}),
        );
        assert_eq!(answer["error"], 0, "{answer}");
        assert_eq!(answer["user"], name);
        let port = answer["port"].as_str().expect("port is a string, as the client reads it");
        let host = answer["host"].as_str().expect("host");
        let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
        let uid = answer["uid"].as_u64().unwrap();
        let token = answer["token"].as_str().unwrap().to_string();
        let chat = ChatClient::connect(addr, WAIT).unwrap();
        let mut tcp = Tcp { chat, uid, backlog: VecDeque::new() };
        tcp.send(1005, &json!({ "uid": uid, "token": token }));
        let logged_in = tcp.expect(1006);
        assert_eq!(logged_in["error"], 0, "{logged_in}");
        assert_eq!(
            (logged_in["uid"].as_u64(), logged_in["name"].as_str()),
            (Some(uid), Some(name))
        );
        assert!(logged_in.get("friend_list").is_none(), "no lists: they could pass 4 KiB");
        assert!(tcp.quiet(1019), "nothing is pushed before the client asks (1023)");
        tcp
    }

    /// [`Shown::log_in`], then 1023 as TcpMgr sends it at 1006.
    fn login(&self, name: &str, password: &str) -> Tcp {
        let mut tcp = self.log_in(name, password);
        tcp.send(1023, &json!({ "uid": tcp.uid, "max_msg_id": 0 }));
        tcp
    }
}

fn project_show_client_works_with_the_cluster(kind: StoreKind) {
    let shown = Shown::start(&format!("project_show_{kind:?}"), kind);
    let pia = shown.register("pia", "secret123");
    let mut p = shown.login("pia", "secret123");

    // A user of this project's own dialect (imcli, say), on the other chat server.
    let own = shown.cluster.user("owen");
    let (mut o, _) = shown.cluster.login(1, own);

    // Search over HTTP, as FriendManager does it; no one's e-mail is shown.
    let found = shown.post("/search_friends", json!({"uid": pia, "keyword": "owen"}));
    assert_eq!(found["error"], 0);
    let user = &found["users"][0];
    assert_eq!((user["uid"].as_u64(), user["name"].as_str()), (Some(own), Some("owen")));
    assert_eq!((user["email"].as_str(), user["isFriend"].as_bool()), (Some(""), Some(false)));
    // A uid that did not log in from here is not believed.
    let refused = shown.post("/search_friends", json!({"uid": own, "keyword": "pia"}));
    assert_eq!(refused["error"], 1011, "{refused}");
    let refused = shown.post("/get_my_friends", json!({ "uid": own }));
    assert_eq!(refused["error"], 1011, "{refused}");

    // pia applies over HTTP: owen is told (1011) with the application's text.
    let request = json!({"from_uid": pia, "to_uid": own, "desc": "hi from pia"});
    assert_eq!(shown.post("/send_friend_request", request.clone())["error"], 0);
    let notice: NotifyAddFriend = o.recv_json(MsgId::NotifyAddFriendReq, WAIT).unwrap();
    assert_eq!((notice.applyuid, notice.desc.as_str()), (pia, "hi from pia"));
    assert_eq!(shown.post("/send_friend_request", request)["error"], 1005, "applied already");

    // owen accepts on his protocol: pia is told (1022) and gets the first message.
    o.send(MsgId::AuthFriendReq, &AuthFriendReq { touid: pia, back: "P".into(), fromuid: None })
        .unwrap();
    let reply = p.expect(1022);
    assert_eq!(reply, json!({"error": 0, "from_uid": pia, "to_uid": own, "agree": true}));
    let (from, _, first) = p.receive_text();
    assert_eq!((from, first.as_str()), (own, "We are friends now!"));
    let friends = shown.post("/get_my_friends", json!({ "uid": pia }));
    assert_eq!(friends["friends"][0]["uid"].as_u64(), Some(own), "{friends}");

    // Text both ways, across the two servers.
    let text = json!({"touid": pia, "text_array": [{"unique_id": "o-1", "content": "hi pia"}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let _: Value = o.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    let (from, _, content) = p.receive_text();
    assert_eq!((from, content.as_str()), (own, "hi pia"));
    let msgid = "1796190000000"; // its msgid: a millisecond timestamp
    p.send(
        1017,
        &json!({"fromuid": pia, "touid": own, "text_array": [{"content": "hi owen", "msgid": msgid}]}),
    );
    let sent = p.expect(1018);
    assert_eq!(sent, json!({"error": 0, "fromuid": pia, "touid": own}));
    let got: Value = o.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap();
    assert_eq!(got["chat_datas"][0]["content"], "hi owen");
    assert_eq!(got["chat_datas"][0]["unique_id"], msgid, "its msgid makes a resend idempotent");

    // No heartbeat: quiet for longer than the idle timeout, still connected
    // (owen, on this project's protocol, keeps his session with heartbeats).
    for _ in 0..9 {
        std::thread::sleep(IDLE / 3);
        o.send(MsgId::HeartBeatReq, &json!({})).unwrap();
    }
    let text =
        json!({"touid": pia, "text_array": [{"unique_id": "o-2", "content": "still there?"}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let (_, _, content) = p.receive_text();
    assert_eq!(content, "still there?");

    // A message longer than its frames is cut to fit, and says so.
    let long = "x".repeat(6000);
    let text = json!({"touid": pia, "text_array": [{"unique_id": "o-3", "content": long}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let (_, _, content) = p.receive_text();
    assert!(content.len() < CLIENT_MAX_BODY && content.ends_with('…'), "{}", content.len());

    // The other way round: an own-dialect user applies, pia lists and accepts over HTTP.
    let quin = shown.cluster.user("quin");
    let (mut q, _) = shown.cluster.login(0, quin);
    q.send(
        MsgId::AddFriendReq,
        &json!({"uid": quin, "applyname": "quin here", "bakname": "", "touid": pia}),
    )
    .unwrap();
    let _: Value = q.recv_json(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(p.expect(1021)["error"], 0, "its friend notice: it then asks the gate");
    let requests = shown.post("/get_friend_requests", json!({ "uid": pia }));
    let first = &requests["requests"][0];
    assert_eq!((first["uid"].as_u64(), first["desc"].as_str()), (Some(quin), Some("quin here")));
    assert_eq!(first["status"], 0);
    let accept = json!({"from_uid": quin, "to_uid": pia, "agree": true});
    assert_eq!(shown.post("/reply_friend_request", accept.clone())["error"], 0);
    let told: NotifyAuthFriend = q.recv_json(MsgId::NotifyAuthFriendReq, WAIT).unwrap();
    assert_eq!(told.fromuid, pia);
    assert_eq!(told.chat_datas[0].msg_content, "We are friends now!");
    assert_eq!(shown.post("/reply_friend_request", accept)["error"], 1011, "nothing pending");
    let friends = shown.post("/get_my_friends", json!({ "uid": pia }));
    assert_eq!(friends["friends"].as_array().map(Vec::len), Some(2), "{friends}");

    // Declined: no longer listed, and it may apply again.
    let ray = shown.cluster.user("ray");
    let (mut r, _) = shown.cluster.login(0, ray);
    let apply = json!({"uid": ray, "applyname": "ray", "bakname": "", "touid": pia});
    r.send(MsgId::AddFriendReq, &apply).unwrap();
    let _: Value = r.recv_json(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(p.expect(1021)["error"], 0);
    let decline = json!({"from_uid": ray, "to_uid": pia, "agree": false});
    assert_eq!(shown.post("/reply_friend_request", decline)["error"], 0);
    let requests = shown.post("/get_friend_requests", json!({ "uid": pia }));
    assert_eq!(requests["requests"], json!([]), "{requests}");
    r.send(MsgId::AddFriendReq, &apply).unwrap();
    let again: Value = r.recv_json(MsgId::AddFriendRsp, WAIT).unwrap();
    assert_eq!(again["error"], 0, "{again}");

    // Offline: two messages wait; at the next login they come after 1023,
    // one frame each. Only the first is acknowledged before pia leaves: the
    // second comes again, and nothing acknowledged does.
    drop(p);
    shown.cluster.wait_for_location(pia, None);
    let (mut o, _) = shown.cluster.login(1, own); // his idle timeout is short here
    for (id, content) in [("o-4", "away one"), ("o-5", "away two")] {
        let text = json!({"touid": pia, "text_array": [{"unique_id": id, "content": content}]});
        o.send(MsgId::TextChatMsgReq, &text).unwrap();
        let _: Value = o.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    }
    let mut p = shown.login("pia", "secret123");
    let (_, one_id, one) = p.receive_text();
    assert_eq!(one, "away one");
    let two = p.expect(1019); // read, not acknowledged
    assert_eq!(two["text_array"][0]["content"], "away two");
    assert!(p.quiet(1019), "everything acknowledged earlier stays delivered");
    drop(p);
    shown.cluster.wait_for_location(pia, None);
    let mut p = shown.login("pia", "secret123");
    let (_, two_id, two) = p.receive_text();
    assert_eq!(two, "away two");
    assert!(two_id.parse::<u64>().unwrap() > one_id.parse::<u64>().unwrap());
    assert!(p.quiet(1019));
    drop(p);
    shown.cluster.wait_for_location(pia, None);
    // Even a live message waits until the client asks: before its 1023 its
    // main window does not exist yet, and it would drop the text unseen.
    let mut p = shown.log_in("pia", "secret123");
    let (mut o, _) = shown.cluster.login(1, own); // his idle timeout is short here
    let text = json!({"touid": pia, "text_array": [{"unique_id": "o-6", "content": "live"}]});
    o.send(MsgId::TextChatMsgReq, &text).unwrap();
    let _: Value = o.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
    assert!(p.quiet(1019), "held back until asked");
    p.send(1023, &json!({ "uid": pia, "max_msg_id": 0 }));
    let (_, _, live) = p.receive_text();
    assert_eq!(live, "live");
    assert!(p.quiet(1019), "all acknowledged now");

    // A second login elsewhere: the first connection is closed, and sent no
    // 1021 (its friend notice).
    let _second = shown.login("pia", "secret123");
    assert!(p.chat.closed_within(WAIT), "the older session is closed");
    assert!(p.backlog.iter().all(|f| f.id != 1021), "no kick frame it would misread");

    // Password reset as ForgetDialog does it: e-mail, code, new password.
    let email = "pia@example.com";
    let code = shown.code(email);
    let reset = shown.post(
        "/reset_password",
        json!({"email": email, "verifycode": code, "passwd": "newsecret456"}),
    );
    assert_eq!(reset["error"], 0, "{reset}");
    let old = shown.post("/user_login", json!({"user": email, "passwd": "secret123"}));
    assert_eq!(old["error"], 1009);
    let _p = shown.login("pia", "newsecret456");
}

#[test]
fn sqlite_project_show_client_works_with_the_cluster() {
    project_show_client_works_with_the_cluster(StoreKind::Sqlite);
}

#[test]
fn mysql_project_show_client_works_with_the_cluster() {
    project_show_client_works_with_the_cluster(StoreKind::Mysql);
}

#[test]
fn its_friend_routes_exist_on_its_listener_only() {
    let shown = Shown::start("project_show_routes", StoreKind::Sqlite);
    let own_gate = shown.cluster.gate_dialect_addr(Dialect::Own).expect("the gate");
    for path in ["/search_friends", "/get_friend_requests", "/send_friend_request"] {
        let answer = post_json(own_gate, path, &json!({"uid": 1}), WAIT).unwrap();
        assert_eq!(answer.status, 404, "{path} on this protocol's listener");
    }
    let garbage = post_json(shown.gate, "/get_my_friends", &json!("not an object"), WAIT).unwrap();
    assert_eq!(garbage.status, 200);
    let garbage: Value = serde_json::from_slice(&garbage.body).unwrap();
    assert_eq!(garbage["error"], 1001);
}
