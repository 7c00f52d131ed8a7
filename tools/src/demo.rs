//! `imctl demo`: against a running cluster, two new users register (their
//! codes read from the mail spool), log in, end up on different chat
//! servers, become friends, talk both ways, and one of them gets a message
//! sent while they were offline. The conversation is printed.

use crate::spool::wait_for_code;
use proto::body::*;
use proto::chat_client::ChatClient;
use proto::http_client::post_json;
use proto::MsgId;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

const WAIT: Duration = Duration::from_secs(10);

/// A user of the demo, logged in to a chat server.
struct Person {
    name: String,
    uid: u64,
    server: SocketAddr,
    chat: ChatClient,
    /// Message ids already shown (the server may push one twice).
    seen: HashSet<u64>,
}

pub fn run(gate: SocketAddr, spool: &Path) -> Result<(), String> {
    let mut suffix = [0u8; 3];
    getrandom::fill(&mut suffix).map_err(|e| e.to_string())?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let alice_name = format!("alice_{suffix}");
    let bob_name = format!("bob_{suffix}");
    register(gate, spool, &alice_name)?;
    register(gate, spool, &bob_name)?;

    let mut alice = log_in(gate, &alice_name, None)?;
    let mut bob = log_in(gate, &bob_name, Some(alice.server))?;
    println!(
        "{} is on the chat server at {}, {} on {}",
        alice.name, alice.server, bob.name, bob.server
    );

    // Friends: an application, its notice, the acceptance, its notice.
    let apply = AddFriendReq {
        applyname: "Hi, it's Alice".into(),
        bakname: "Bob".into(),
        touid: bob.uid,
        uid: None,
    };
    alice.chat.send(MsgId::AddFriendReq, &apply).map_err(io)?;
    expect_ok(
        alice.chat.recv_json::<ErrorOnly>(MsgId::AddFriendRsp, WAIT).map_err(io)?.error,
        "add friend",
    )?;
    let notice: NotifyAddFriend =
        bob.chat.recv_json(MsgId::NotifyAddFriendReq, WAIT).map_err(io)?;
    println!("{} got a friend request from {}", bob.name, notice.name);
    let accept = AuthFriendReq { touid: alice.uid, back: "Alice".into(), fromuid: None };
    bob.chat.send(MsgId::AuthFriendReq, &accept).map_err(io)?;
    expect_ok(
        bob.chat.recv_json::<AuthFriendRsp>(MsgId::AuthFriendRsp, WAIT).map_err(io)?.error,
        "accept",
    )?;
    let told: NotifyAuthFriend =
        alice.chat.recv_json(MsgId::NotifyAuthFriendReq, WAIT).map_err(io)?;
    println!("{} and {} are friends now\n", alice.name, told.name);

    println!("--- conversation ---");
    say(&mut alice, &mut bob, "Hi Bob! I'm on one chat server...")?;
    say(&mut bob, &mut alice, "...and I'm on the other. Hi Alice!")?;
    say(&mut alice, &mut bob, "Log off for a moment, I'll leave you a message.")?;

    // Bob goes offline; Alice's next message waits in the store.
    let (bob_name, bob_uid) = (bob.name.clone(), bob.uid);
    drop(bob);
    std::thread::sleep(Duration::from_millis(300));
    let text = "This one waited for you while you were offline.";
    send_to(&mut alice, bob_uid, text)?;
    println!("{:>12} → {bob_name}: {text}   (sent while {bob_name} was offline)", alice.name);
    let mut bob = log_in(gate, &bob_name, None)?;
    let offline = receive(&mut bob, 1)?;
    println!("{:>12} got it at login: {}", bob.name, offline[0].content);
    println!("--- end ---");
    Ok(())
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn expect_ok(error: i32, what: &str) -> Result<(), String> {
    if error == 0 {
        Ok(())
    } else {
        Err(format!("{what}: error {error}"))
    }
}

fn post(gate: SocketAddr, path: &str, body: Value) -> Result<Value, String> {
    let response =
        post_json(gate, path, &body, WAIT).map_err(|e| format!("gate at {gate}: {e}"))?;
    serde_json::from_slice(&response.body)
        .map_err(|e| format!("gate answered {}: {e}", response.status))
}

fn register(gate: SocketAddr, spool: &Path, name: &str) -> Result<(), String> {
    let email = format!("{name}@demo.invalid");
    let since = SystemTime::now() - Duration::from_secs(1);
    let answer = post(gate, "/get_varifycode", json!({ "email": email }))?;
    expect_ok(answer["error"].as_i64().unwrap_or(-1) as i32, "get_varifycode")?;
    let code = wait_for_code(spool, &email, since, WAIT)?;
    let password = format!("demo-{name}");
    let answer = post(
        gate,
        "/user_register",
        json!({"email": email, "user": name, "passwd": password, "confirm": password, "varifycode": code}),
    )?;
    expect_ok(answer["error"].as_i64().unwrap_or(-1) as i32, "user_register")?;
    println!("registered {name} (uid {}) with the code {code} from the mail spool", answer["uid"]);
    Ok(())
}

/// Logs in through the gate and connects to the chat server it names; if
/// `avoid` is given, asks the gate again (a few times) for another server.
fn log_in(gate: SocketAddr, name: &str, avoid: Option<SocketAddr>) -> Result<Person, String> {
    for attempt in 0..6 {
        let granted = crate::gate::login(gate, name, &format!("demo-{name}"), "", WAIT)?;
        if avoid == Some(granted.server) && attempt < 5 {
            continue; // the status server spreads logins; ask again
        }
        let (uid, server) = (granted.uid, granted.server);
        let mut chat = ChatClient::connect(server, WAIT).map_err(io)?;
        chat.send(MsgId::LoginReq, &LoginReq { uid, token: granted.token, ..LoginReq::default() })
            .map_err(io)?;
        let welcome: LoginRsp = chat.recv_json(MsgId::LoginRsp, WAIT).map_err(io)?;
        expect_ok(welcome.error, "chat login")?;
        return Ok(Person { name: name.to_string(), uid, server, chat, seen: HashSet::new() });
    }
    unreachable!("the last attempt always connects")
}

/// `from` sends `text` to `to`; both sides are shown once the server has
/// stored it (1018) and `to` has received it (1019).
fn say(from: &mut Person, to: &mut Person, text: &str) -> Result<(), String> {
    send_to(from, to.uid, text)?;
    let got = receive(to, 1)?;
    println!("{:>12} → {}: {}", from.name, to.name, got[0].content);
    Ok(())
}

fn send_to(from: &mut Person, to_uid: u64, text: &str) -> Result<(), String> {
    let nanos =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let request = TextChatMsgReq {
        touid: to_uid,
        group_id: 0,
        thread_id: None,
        text_array: vec![TextItem { content: text.into(), unique_id: format!("demo-{nanos}") }],
        fromuid: None,
    };
    from.chat.send(MsgId::TextChatMsgReq, &request).map_err(io)?;
    let stored: TextChatMsgRsp = from.chat.recv_json(MsgId::TextChatMsgRsp, WAIT).map_err(io)?;
    expect_ok(stored.error, "send")
}

/// The next `count` new messages pushed to `person`, acknowledged.
fn receive(person: &mut Person, count: usize) -> Result<Vec<ChatData>, String> {
    let mut messages = Vec::new();
    while messages.len() < count {
        let push: TextChatMsgRsp =
            person.chat.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).map_err(io)?;
        let ids: Vec<u64> = push.chat_datas.iter().map(|d| d.message_id).collect();
        person
            .chat
            .send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids: ids, uid: None })
            .map_err(io)?;
        for data in push.chat_datas {
            if person.seen.insert(data.message_id) {
                messages.push(data);
            }
        }
    }
    Ok(messages)
}
