//! Registration and login end to end: the gate (HTTP on the reactor), the
//! verify server mailing through a real SMTP server process, the status
//! server and a chat server, on both stores.

mod util;

use grpcio::{ChannelBuilder, Environment};
use proto::body::{LoginReq, LoginRsp};
use proto::chat_client::ChatClient;
use proto::rpc::status::{LoginRequest, TokenStatus};
use proto::MsgId;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::cluster::{StoreKind, WAIT};
use util::gate_stack::GateStack;

fn register_and_log_in(kind: StoreKind) {
    let stack = GateStack::start(&format!("gate_flow_{kind:?}"), kind);
    let code = stack.code("ann@example.com");
    assert_eq!(code.len(), 6);
    let (status, answer) = stack.post(
        "/user_register",
        json!({"email": "Ann@Example.com", "user": "ann", "passwd": "s3cret", "confirm": "s3cret",
               "varifycode": code, "nick": "Annie"}),
    );
    assert_eq!((status, answer["error"].as_i64()), (200, Some(0)), "{answer}");
    let uid = answer["uid"].as_u64().unwrap();
    assert_eq!(
        (answer["user"].as_str(), answer["email"].as_str()),
        (Some("ann"), Some("ann@example.com"))
    );

    // Log in by e-mail and by name: a chat server and a token.
    for who in ["ann@example.com", "ann"] {
        let (_, login) = stack.post("/user_login", json!({"email": who, "passwd": "s3cret"}));
        assert_eq!(login["error"], 0, "{login}");
        assert_eq!(login["uid"].as_u64(), Some(uid));
        assert!(login["host"].as_str().is_some_and(|h| !h.is_empty()));
        let port = login["port"].as_u64().unwrap() as u16;
        let token = login["token"].as_str().unwrap().to_string();
        assert!(token.len() >= 32);
        // The status server accepts the token, and so does the chat server it named.
        let env = Arc::new(Environment::new(1));
        let status_addr = stack.cluster.status.as_ref().unwrap().local_addr().to_string();
        let status = proto::rpc::status::StatusServiceClient::new(
            ChannelBuilder::new(env).connect(&status_addr),
        );
        let checked = status.login(&LoginRequest { uid, token: token.clone() }).unwrap();
        assert_eq!(TokenStatus::from_i32(checked.status), Some(TokenStatus::TokenValid));
        let addr = format!("{}:{port}", login["host"].as_str().unwrap()).parse().unwrap();
        let mut chat = ChatClient::connect(addr, WAIT).unwrap();
        chat.send(MsgId::LoginReq, &LoginReq { uid, token, ..LoginReq::default() }).unwrap();
        let welcome: LoginRsp = chat.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!((welcome.error, welcome.nick.as_str()), (0, "Annie"));
    }
    // Unknown user and wrong password: the same error.
    assert_eq!(stack.error_of("/user_login", json!({"email": "ann", "passwd": "wrong"})), 1009);
    assert_eq!(stack.error_of("/user_login", json!({"email": "nobody", "passwd": "s3cret"})), 1009);
}

#[test]
fn sqlite_register_and_log_in() {
    register_and_log_in(StoreKind::Sqlite);
}

#[test]
fn mysql_register_and_log_in() {
    register_and_log_in(StoreKind::Mysql);
}

#[test]
fn codes_are_single_use_expire_and_burn_after_wrong_attempts() {
    let mut stack = GateStack::start_with(
        "gate_codes",
        StoreKind::Sqlite,
        |v| {
            v.max_attempts = 3;
            v.code_ttl_ms = 1_500;
        },
        |_| {},
    );
    let register = |stack: &GateStack, name: &str, email: &str, code: &str| {
        stack.error_of(
            "/user_register",
            json!({"email": email, "user": name, "passwd": "p", "confirm": "p", "varifycode": code}),
        )
    };
    // Wrong, then right; then the same code again.
    let code = stack.code("bob@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(register(&stack, "bob", "bob@example.com", wrong), 1004);
    assert_eq!(register(&stack, "bob", "bob@example.com", &code), 0);
    assert_eq!(register(&stack, "bob2", "bob@example.com", &code), 1005, "e-mail taken");
    let code = stack.code("bob3@example.com");
    assert_eq!(register(&stack, "bob3", "bob3@example.com", &code), 0);
    let code_again = stack.code("other@example.com");
    assert_eq!(register(&stack, "bob4", "other@example.com", &code_again), 0);
    assert_eq!(register(&stack, "bob5", "other@example.com", &code_again), 1005);

    // Three wrong attempts burn the code: even the right one is refused.
    let code = stack.code("cat@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        assert_eq!(register(&stack, "cat", "cat@example.com", wrong), 1004);
    }
    assert_eq!(register(&stack, "cat", "cat@example.com", &code), 1003);

    // Codes survive a verify-server restart...
    let code = stack.code("dan@example.com");
    stack.restart_verify();
    assert_eq!(register(&stack, "dan", "dan@example.com", &code), 0);
    // ...and expire.
    let code = stack.code("eve@example.com");
    std::thread::sleep(Duration::from_millis(1_600));
    assert_eq!(register(&stack, "eve", "eve@example.com", &code), 1003);
    // No code at all.
    assert_eq!(register(&stack, "fay", "fay@example.com", "123456"), 1003);
}

#[test]
fn mails_are_rate_limited_per_address() {
    let stack = GateStack::start_with(
        "gate_rate",
        StoreKind::Sqlite,
        |v| {
            v.resend_interval_ms = 60_000;
        },
        |_| {},
    );
    assert_eq!(stack.error_of("/get_varifycode", json!({"email": "g@example.com"})), 0);
    assert_eq!(stack.error_of("/get_varifycode", json!({"email": "g@example.com"})), 1104);
    assert_eq!(stack.error_of("/get_varifycode", json!({"email": "h@example.com"})), 0);
    assert_eq!(stack.smtp.mails_to("g@example.com").len(), 1);
    // The daily cap, with no interval.
    let capped = GateStack::start_with("gate_cap", StoreKind::Sqlite, |v| v.daily_cap = 2, |_| {});
    for expected in [0, 0, 1104] {
        assert_eq!(capped.error_of("/get_varifycode", json!({"email": "i@example.com"})), expected);
    }
    assert_eq!(capped.error_of("/get_varifycode", json!({"email": "not an address"})), 1001);
}

#[test]
fn a_password_is_reset_with_a_code_for_the_users_own_address() {
    let stack = GateStack::start("gate_reset", StoreKind::Sqlite);
    stack.register("ann", "ann@example.com");
    stack.register("bob", "bob@example.com");
    // Bob's address with Ann's name: refused before any code is spent.
    let code = stack.code("bob@example.com");
    let reset = |user: &str, email: &str, code: &str, password: &str| {
        stack.error_of(
            "/reset_pwd",
            json!({"email": email, "user": user, "passwd": password, "varifycode": code}),
        )
    };
    assert_eq!(reset("ann", "bob@example.com", &code, "stolen"), 1007);
    let code = stack.code("ann@example.com");
    assert_eq!(reset("ann", "ann@example.com", "999999x", "new-pass"), 1004);
    assert_eq!(reset("ann", "ann@example.com", &code, "new-pass"), 0);
    assert_eq!(stack.error_of("/user_login", json!({"email": "ann", "passwd": "pw-ann"})), 1009);
    assert_eq!(stack.error_of("/user_login", json!({"email": "ann", "passwd": "new-pass"})), 0);
}

#[test]
fn names_and_addresses_are_unique_even_when_registering_at_once() {
    let stack = GateStack::start("gate_unique", StoreKind::Sqlite);
    stack.register("ann", "ann@example.com");
    let code = stack.code("ann2@example.com");
    let answer = stack.error_of(
        "/user_register",
        json!({"email": "ann2@example.com", "user": "ann", "passwd": "p", "confirm": "p", "varifycode": code}),
    );
    assert_eq!(answer, 1005, "name taken");
    assert_eq!(
        stack.error_of(
            "/user_register",
            json!({"email": "x@example.com", "user": "x", "passwd": "p", "confirm": "q", "varifycode": "1"}),
        ),
        1006,
        "password and confirmation differ"
    );

    // Two registrations of one name with two valid codes, at once: one wins.
    let codes = [stack.code("r1@example.com"), stack.code("r2@example.com")];
    let addr = stack.addr();
    let outcomes: Vec<i64> = std::thread::scope(|scope| {
        let racers: Vec<_> = codes
            .iter()
            .enumerate()
            .map(|(i, code)| {
                scope.spawn(move || {
                    let email = format!("r{}@example.com", i + 1);
                    util::gate_stack::error_of(
                        addr,
                        "/user_register",
                        json!({"email": email, "user": "racer", "passwd": "p", "confirm": "p", "varifycode": code}),
                    )
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut sorted = outcomes.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1005], "{outcomes:?}");
}

// ----- HTTP bad input ------------------------------------------------------------

/// Sends raw bytes, then reads until the server closes or `timeout` passes.
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8], timeout: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(bytes).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) => break false, // timed out with the connection open
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

#[test]
fn bad_http_gets_a_status_or_a_clean_close() {
    let stack = GateStack::start_with(
        "gate_http",
        StoreKind::Sqlite,
        |_| {},
        |g| {
            g.max_body_bytes = 1024;
            g.request_timeout_ms = 700;
        },
    );
    let addr = stack.addr();
    let short = Duration::from_secs(5);
    let status_of = |bytes: &[u8]| {
        let (answer, closed) = raw_exchange(addr, bytes, short);
        assert!(closed, "the connection is closed after {answer:?}");
        answer.split_whitespace().nth(1).unwrap_or("none").to_string()
    };
    assert_eq!(status_of(b"GARBAGE\x01\x02 / nonsense\r\n\r\n"), "400");
    let mut huge_head = b"GET /healthz HTTP/1.1\r\n".to_vec();
    for i in 0..400 {
        huge_head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(40)).as_bytes());
    }
    huge_head.extend_from_slice(b"\r\n");
    assert_eq!(status_of(&huge_head), "431");
    assert_eq!(status_of(b"POST /user_login HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"), "413");
    assert_eq!(
        status_of(b"POST /user_login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        "411"
    );
    // A body shorter than its Content-Length: the request never completes.
    assert_eq!(status_of(b"POST /user_login HTTP/1.1\r\nContent-Length: 50\r\n\r\n{}"), "408");
    // A body longer than its Content-Length: the rest is a malformed next request.
    let (answer, closed) = raw_exchange(
        addr,
        b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}xx garbage\r\n\r\n",
        short,
    );
    assert!(
        closed && answer.contains("404 Not Found") && answer.contains("400 Bad Request"),
        "{answer}"
    );
    // Routes and methods.
    assert_eq!(status_of(b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n"), "404");
    assert_eq!(status_of(b"GET /user_login HTTP/1.1\r\nConnection: close\r\n\r\n"), "405");
    // Invalid UTF-8, invalid JSON, wrong types: 200 with error 1001.
    for body in [&b"\xff\xfe{"[..], b"{\"email\": ", b"{\"email\": 5, \"passwd\": []}", b"[]"] {
        let request = [
            format!(
                "POST /user_login HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            body.to_vec(),
        ]
        .concat();
        let (answer, _) = raw_exchange(addr, &request, short);
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("{\"error\":1001}"),
            "{answer}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let stack = GateStack::start("gate_pipeline", StoreKind::Sqlite);
    stack.register("ann", "ann@example.com");
    let login = br#"{"email":"ann","passwd":"pw-ann"}"#;
    let mut bytes = Vec::new();
    // A slow request (a password check on a worker) before two instant ones.
    bytes.extend_from_slice(
        format!("POST /user_login HTTP/1.1\r\nContent-Length: {}\r\n\r\n", login.len()).as_bytes(),
    );
    bytes.extend_from_slice(login);
    bytes.extend_from_slice(b"GET /healthz HTTP/1.1\r\n\r\n");
    bytes.extend_from_slice(b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n");
    let (answer, closed) = raw_exchange(stack.addr(), &bytes, WAIT);
    assert!(closed);
    let statuses: Vec<&str> =
        answer.match_indices("HTTP/1.1 ").map(|(i, _)| &answer[i + 9..i + 12]).collect();
    assert_eq!(statuses, ["200", "200", "404"], "{answer}");
    assert!(answer.find("\"uid\"").unwrap() < answer.find("ok\n").unwrap(), "login answered first");
}

#[test]
fn a_slow_loris_is_dropped_while_others_are_served() {
    let stack = GateStack::start_with(
        "gate_loris",
        StoreKind::Sqlite,
        |_| {},
        |g| g.request_timeout_ms = 800,
    );
    let addr = stack.addr();
    let mut loris = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    let mut dropped = false;
    for byte in b"POST /user_login HTTP/1.1\r\nContent-Length: 10\r\nX-Slow: ".iter().cycle() {
        if loris.write_all(&[*byte]).is_err() {
            dropped = true;
            break;
        }
        // Another client is served at once meanwhile.
        let response = proto::http_client::request(addr, "GET", "/healthz", b"", WAIT).unwrap();
        assert_eq!(response.status, 200);
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let mut rest = String::new();
    let _ = loris.read_to_string(&mut rest);
    assert!(dropped || rest.contains("408"), "the slow client was not dropped: {rest:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_request_that_begins_just_before_the_keep_alive_deadline_is_served() {
    // Found by the llfcchat client on MariaDB: Qt reuses a kept-alive
    // connection ~10 s later and writes the head and the body separately;
    // the deadline (counted from the previous answer) fired between them
    // and answered 408.
    let stack = GateStack::start_with(
        "gate_late_keepalive",
        StoreKind::Sqlite,
        |_| {},
        |g| g.request_timeout_ms = 600,
    );
    let mut client = TcpStream::connect(stack.addr()).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    client.write_all(health).unwrap();
    let mut first = [0u8; 12];
    client.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut buffer = [0u8; 4096];
    let _ = client.read(&mut buffer); // the rest of the first answer
    std::thread::sleep(Duration::from_millis(500)); // just before the deadline
    client.write_all(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the deadline passes mid-request
    client.write_all(b"{}").unwrap();
    let mut answer = [0u8; 12];
    client.read_exact(&mut answer).unwrap();
    let status = String::from_utf8_lossy(&answer[9..12]).to_string();
    assert_ne!(status, "408", "a request that had only begun got a 408");
}

#[test]
fn health_and_metrics_are_served() {
    let stack = GateStack::start("gate_metrics", StoreKind::Sqlite);
    stack.error_of("/user_login", json!({"email": "nobody", "passwd": "x"}));
    let metrics = proto::http_client::request(stack.addr(), "GET", "/metrics", b"", WAIT).unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("im_gate_requests_total{route=\"user_login\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("im_gate_request_seconds_bucket{le=\"+Inf\"}"), "{text}");
    assert!(
        text.contains("im_gate_requests_in_flight 1"),
        "only the metrics request itself: {text}"
    );
    let health = proto::http_client::request(stack.addr(), "GET", "/healthz", b"", WAIT).unwrap();
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
}

/// A login POSTed from the local address `from` (127.0.0.x), as another host would.
fn login_from(stack: &GateStack, from: [u8; 4], who: &str, password: &str) -> i64 {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from((from, 0)).into()).unwrap();
    socket.connect(&stack.addr().into()).unwrap();
    let body = serde_json::to_vec(&json!({"email": who, "passwd": password})).unwrap();
    let response = proto::http_client::request_on(
        socket.into(),
        stack.addr(),
        "POST",
        "/user_login",
        &body,
        WAIT,
    )
    .unwrap();
    assert_eq!(response.status, 200);
    response.json::<serde_json::Value>().unwrap()["error"].as_i64().unwrap()
}

#[test]
fn wrong_passwords_back_off_without_locking_the_owner_out() {
    let stack = GateStack::start_with(
        "gate_login_limits",
        StoreKind::Sqlite,
        |_| {},
        |gate| {
            gate.login_limits.account_failures = 5;
            gate.login_limits.address_failures = 12;
            // Long enough for the refused attempts below to fit in it.
            gate.login_limits.base_backoff_ms = 2_000;
            gate.login_limits.max_backoff_ms = 4_000;
        },
    );
    stack.register("ann", "ann@example.com");
    let owner = [127, 0, 0, 2];
    let stranger = [127, 0, 0, 3];
    assert_eq!(login_from(&stack, owner, "ann", "pw-ann"), 0, "the owner's usual address");

    // A stranger guesses: 5 wrong answers, then 1104, even for the right one.
    let answers: Vec<i64> = (0..30).map(|_| login_from(&stack, stranger, "ann", "guess")).collect();
    assert_eq!(answers[..5], [1009; 5]);
    assert!(answers[5..].iter().all(|&e| e == 1104), "{answers:?}");
    assert_eq!(login_from(&stack, stranger, "ann", "pw-ann"), 1104, "not even the right one");
    // Meanwhile the owner, from the address that logged in before, is let in
    // (and that gives the stranger no fresh guesses).
    assert_eq!(login_from(&stack, owner, "ann", "pw-ann"), 0);
    assert_eq!(login_from(&stack, stranger, "ann", "pw-ann"), 1104);

    // The backoff ends (at most max_backoff_ms after the last failure).
    let deadline = Instant::now() + WAIT;
    while login_from(&stack, stranger, "ann", "pw-ann") != 0 {
        assert!(Instant::now() < deadline, "the backoff never ended");
        std::thread::sleep(Duration::from_millis(100));
    }

    // One address guessing across accounts backs off as a whole.
    let spray = [127, 0, 0, 4];
    let answers: Vec<i64> =
        (0..16).map(|i| login_from(&stack, spray, &format!("user{i}"), "guess")).collect();
    assert_eq!(answers[..12], [1009; 12]);
    assert!(answers[12..].iter().all(|&e| e == 1104), "{answers:?}");
    assert_eq!(login_from(&stack, owner, "ann", "pw-ann"), 0, "other addresses are not affected");
    let metrics = proto::http_client::request(stack.addr(), "GET", "/metrics", b"", WAIT).unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    for by in ["account", "address"] {
        let line = format!("im_gate_login_refusals_total{{by=\"{by}\"}} ");
        let count = text.lines().find_map(|l| l.strip_prefix(line.as_str())).unwrap_or("0");
        assert!(count.parse::<u64>().unwrap() > 0, "{by}: {text}");
    }
}

/// Logs `token` in on the chat server `answer` names; true if it is welcomed.
fn chat_login_works(answer: &serde_json::Value) -> bool {
    let uid = answer["uid"].as_u64().unwrap();
    let addr = format!("{}:{}", answer["host"].as_str().unwrap(), answer["port"]).parse().unwrap();
    let mut chat = ChatClient::connect(addr, WAIT).unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    let login = LoginReq { uid, token, device_id: "phone-1".into(), kind: "mobile".into() };
    chat.send(MsgId::LoginReq, &login).unwrap();
    chat.recv_json::<LoginRsp>(MsgId::LoginRsp, WAIT).unwrap().error == 0
}

/// A password login that names a device gets a session token; the device
/// logs in again with it and no password, until it expires, is replaced by
/// the device's next password login, is logged out, or the password is reset.
fn sessions_resume_without_the_password_until_revoked(kind: StoreKind) {
    let stack = GateStack::start(&format!("gate_sessions_{kind:?}"), kind);
    let ann = stack.register("ann", "ann@example.com");
    let bob = stack.register("bob", "bob@example.com");
    let password_login = |who: &str, device: &str| {
        let (_, answer) = stack.post(
            "/user_login",
            json!({"email": who, "passwd": format!("pw-{who}"), "device_id": device}),
        );
        assert_eq!(answer["error"], 0, "{answer}");
        answer
    };
    let plain = stack.post("/user_login", json!({"email": "ann", "passwd": "pw-ann"})).1;
    assert!(plain.get("session_token").is_none(), "no device, no session: {plain}");
    assert_eq!(
        stack.error_of(
            "/user_login",
            json!({"email": "ann", "passwd": "pw-ann", "device_id": "a b"})
        ),
        1001
    );

    let first = password_login("ann", "phone-1");
    let session = first["session_token"].as_str().unwrap().to_string();
    assert_eq!(session.len(), 32);
    assert!(first["session_expires_in_ms"].as_u64().unwrap() > 0);
    let resume = |uid: u64, device: &str, session: &str| {
        stack
            .post(
                "/resume_session",
                json!({"uid": uid, "device_id": device, "session_token": session}),
            )
            .1
    };
    let resumed = resume(ann, "phone-1", &session);
    assert_eq!((resumed["error"].as_i64(), resumed["uid"].as_u64()), (Some(0), Some(ann)));
    assert!(resumed.get("session_token").is_none(), "the same token goes on: {resumed}");
    assert!(chat_login_works(&resumed), "the chat server takes the resumed login");
    // Bound to its user and its device; nothing but ours is looked up.
    assert_eq!(resume(bob, "phone-1", &session)["error"], 1010);
    assert_eq!(resume(ann, "desk", &session)["error"], 1010);
    assert_eq!(resume(ann, "phone-1", &"0".repeat(32))["error"], 1010);
    assert_eq!(resume(ann, "phone-1", "not a token")["error"], 1010);
    assert_eq!(stack.error_of("/resume_session", json!({"uid": ann})), 1001);
    assert_eq!(resume(ann, "", &session)["error"], 1001);

    // The device's next password login replaces its token.
    let second = password_login("ann", "phone-1")["session_token"].as_str().unwrap().to_string();
    assert_eq!(resume(ann, "phone-1", &session)["error"], 1010);
    assert_eq!(resume(ann, "phone-1", &second)["error"], 0);

    // A logout revokes that token, not the user's others.
    let desk = password_login("ann", "desk")["session_token"].as_str().unwrap().to_string();
    assert_eq!(stack.error_of("/logout", json!({ "session_token": second })), 0);
    assert_eq!(stack.error_of("/logout", json!({ "session_token": second })), 1010);
    assert_eq!(resume(ann, "phone-1", &second)["error"], 1010);
    assert_eq!(resume(ann, "desk", &desk)["error"], 0);

    // A password reset revokes every token of the user; others keep theirs.
    let bobs = password_login("bob", "laptop")["session_token"].as_str().unwrap().to_string();
    let code = stack.code("ann@example.com");
    let reset =
        json!({"email": "ann@example.com", "user": "ann", "passwd": "new", "varifycode": code});
    assert_eq!(stack.error_of("/reset_pwd", reset), 0);
    assert_eq!(resume(ann, "desk", &desk)["error"], 1010);
    assert_eq!(resume(bob, "laptop", &bobs)["error"], 0);

    let metrics = proto::http_client::request(stack.addr(), "GET", "/metrics", b"", WAIT).unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("im_gate_sessions_resumed_total 4"), "{text}");
}

#[test]
fn sqlite_sessions_resume_without_the_password_until_revoked() {
    sessions_resume_without_the_password_until_revoked(StoreKind::Sqlite);
}

#[test]
fn mysql_sessions_resume_without_the_password_until_revoked() {
    sessions_resume_without_the_password_until_revoked(StoreKind::Mysql);
}

#[test]
fn a_session_token_expires() {
    let stack = GateStack::start_with(
        "gate_session_expiry",
        StoreKind::Sqlite,
        |_| {},
        |gate| gate.sessions.ttl_ms = 1_500,
    );
    let ann = stack.register("ann", "ann@example.com");
    let (_, login) = stack
        .post("/user_login", json!({"email": "ann", "passwd": "pw-ann", "device_id": "phone-1"}));
    let body = json!({"uid": ann, "device_id": "phone-1", "session_token": login["session_token"]});
    assert_eq!(stack.error_of("/resume_session", body.clone()), 0);
    std::thread::sleep(Duration::from_millis(1_600));
    assert_eq!(stack.error_of("/resume_session", body), 1010);
}
