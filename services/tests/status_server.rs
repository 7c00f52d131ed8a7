//! The status server end to end over real gRPC on 127.0.0.1:0.

use grpcio::{ChannelBuilder, Environment, RpcStatusCode};
use parking_lot::Mutex;
use proto::rpc::status::*;
use services::status::{ReportSource, StatusConfig, StatusReporter, StatusServer};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(
    token_ttl_ms: u64,
    heartbeat_timeout_ms: u64,
    heartbeat_interval_ms: u64,
) -> StatusConfig {
    StatusConfig {
        listen: "127.0.0.1:0".into(),
        token_ttl_ms,
        heartbeat_timeout_ms,
        heartbeat_interval_ms,
        ..StatusConfig::default()
    }
}

fn start(config: &StatusConfig) -> (StatusServer, StatusServiceClient) {
    let server = StatusServer::start(config).expect("start status server");
    let client = client_for(&server.local_addr().to_string());
    (server, client)
}

fn client_for(addr: &str) -> StatusServiceClient {
    let channel = ChannelBuilder::new(Arc::new(Environment::new(1))).connect(addr);
    StatusServiceClient::new(channel)
}

fn info(name: &str, port: u32) -> ChatServerInfo {
    ChatServerInfo {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        rpc_addr: format!("127.0.0.1:{}", port + 1000),
        llfcchat_port: 0,
        project_show_port: 0,
    }
}

fn register(client: &StatusServiceClient, name: &str, port: u32, load: u32) {
    client.register(&RegisterRequest { server: Some(info(name, port)), load }).expect("register");
}

fn code_of<T: std::fmt::Debug>(result: grpcio::Result<T>) -> RpcStatusCode {
    match result {
        Err(grpcio::Error::RpcFailure(status)) => status.code(),
        other => panic!("expected an RPC failure, got {other:?}"),
    }
}

fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

fn session(uid: u64, session_id: u64) -> Session {
    Session { uid, session_id, ..Session::default() }
}

#[test]
fn registered_servers_heartbeat_and_the_least_loaded_is_chosen() {
    let (server, client) = start(&config(60_000, 10_000, 1_000));
    register(&client, "chat-a", 9001, 30);
    register(&client, "chat-b", 9002, 10);
    register(&client, "chat-c", 9003, 20);
    assert!(
        client.heartbeat(&HeartbeatRequest { name: "chat-b".into(), load: 10 }).unwrap().registered
    );
    assert!(
        !client.heartbeat(&HeartbeatRequest { name: "nobody".into(), load: 1 }).unwrap().registered
    );

    let reply = client.get_chat_server(&GetChatServerRequest { uid: 1 }).unwrap();
    let chosen = reply.server.unwrap();
    assert_eq!((chosen.name.as_str(), chosen.port), ("chat-b", 9002));
    assert_eq!(reply.token.len(), 32);
    assert_eq!(reply.expires_in_ms, 60_000);

    // Ten more logins before the next heartbeat: b fills up to c's load, then
    // they alternate; a (30) is not chosen until both reach it.
    let mut counts = std::collections::HashMap::new();
    for uid in 2..=21 {
        let name =
            client.get_chat_server(&GetChatServerRequest { uid }).unwrap().server.unwrap().name;
        *counts.entry(name).or_insert(0) += 1;
    }
    assert_eq!(counts.get("chat-a"), None, "{counts:?}");
    // b: 9 logins to climb from 11 to c's 20, then half of the 11 left.
    assert!(matches!(counts["chat-b"], 14 | 15), "{counts:?}");
    assert_eq!(counts["chat-b"] + counts["chat-c"], 20, "{counts:?}");
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn tokens_are_valid_invalid_or_expired() {
    let (server, client) = start(&config(150, 10_000, 1_000));
    register(&client, "chat-a", 9001, 0);
    let check = |uid, token: &str| {
        TokenStatus::from_i32(
            client.login(&LoginRequest { uid, token: token.into() }).unwrap().status,
        )
        .unwrap()
    };
    let first = client.get_chat_server(&GetChatServerRequest { uid: 7 }).unwrap().token;
    assert_eq!(check(7, &first), TokenStatus::TokenValid);
    assert_eq!(check(8, &first), TokenStatus::TokenInvalid, "bound to its uid");
    assert_eq!(check(7, "0123456789abcdef0123456789abcdef"), TokenStatus::TokenInvalid);
    assert_eq!(check(7, ""), TokenStatus::TokenInvalid);
    assert_eq!(check(7, &"x".repeat(100_000)), TokenStatus::TokenInvalid);
    assert_eq!(check(7, "\u{0}\u{ffff}"), TokenStatus::TokenInvalid);

    // A second device logging in has its own token; the first stays valid
    // until the user holds eight newer ones.
    let second = client.get_chat_server(&GetChatServerRequest { uid: 7 }).unwrap().token;
    assert_ne!(first, second);
    assert_eq!(check(7, &first), TokenStatus::TokenValid, "another device's token");
    for _ in 0..7 {
        client.get_chat_server(&GetChatServerRequest { uid: 7 }).unwrap();
    }
    assert_eq!(check(7, &first), TokenStatus::TokenInvalid, "the oldest of nine is forgotten");
    assert_eq!(check(7, &second), TokenStatus::TokenValid);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(check(7, &second), TokenStatus::TokenExpired);
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_server_that_stops_heartbeating_is_no_longer_chosen_or_routed_to() {
    let (server, client) = start(&config(60_000, 300, 100));
    register(&client, "quiet", 9001, 0);
    register(&client, "busy", 9002, 500);
    client
        .report_online(&ReportOnlineRequest {
            server: "quiet".into(),
            sessions: vec![session(5, 1)],
        })
        .unwrap();
    let chosen = client.get_chat_server(&GetChatServerRequest { uid: 1 }).unwrap().server.unwrap();
    assert_eq!(chosen.name, "quiet", "least loaded while alive");

    // Only "busy" keeps heartbeating.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        client.heartbeat(&HeartbeatRequest { name: "busy".into(), load: 500 }).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    for uid in 2..10 {
        let chosen = client.get_chat_server(&GetChatServerRequest { uid }).unwrap().server.unwrap();
        assert_eq!(chosen.name, "busy");
    }
    let found = client.lookup_users(&LookupUsersRequest { uids: vec![5] }).unwrap();
    assert!(found.online.is_empty(), "users of a silent server count as offline");
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn lookup_answers_many_users_in_one_call() {
    let (server, client) = start(&config(60_000, 10_000, 1_000));
    register(&client, "chat-a", 9001, 0);
    register(&client, "chat-b", 9002, 0);
    let online = |name: &str, sessions| {
        client.report_online(&ReportOnlineRequest { server: name.into(), sessions }).unwrap()
    };
    online("chat-a", vec![session(1, 11), session(2, 12)]);
    online("chat-b", vec![session(3, 13)]);
    let mut found =
        client.lookup_users(&LookupUsersRequest { uids: vec![1, 2, 3, 4] }).unwrap().online;
    found.sort_by_key(|l| l.uid);
    let summary: Vec<(u64, &str, u64, &str)> = found
        .iter()
        .map(|l| (l.uid, l.server.as_str(), l.session_id, l.rpc_addr.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "chat-a", 11, "127.0.0.1:10001"),
            (2, "chat-a", 12, "127.0.0.1:10001"),
            (3, "chat-b", 13, "127.0.0.1:10002")
        ]
    );
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_duplicate_login_produces_a_kick_and_a_stale_offline_removes_nothing() {
    let (server, client) = start(&config(60_000, 10_000, 1_000));
    register(&client, "chat-a", 9001, 0);
    register(&client, "chat-b", 9002, 0);
    let first = client
        .report_online(&ReportOnlineRequest {
            server: "chat-a".into(),
            sessions: vec![session(42, 1)],
        })
        .unwrap();
    assert!(first.kick.is_empty());
    let second = client
        .report_online(&ReportOnlineRequest {
            server: "chat-b".into(),
            sessions: vec![session(42, 2)],
        })
        .unwrap();
    assert_eq!(second.kick.len(), 1);
    let kick = &second.kick[0];
    assert_eq!((kick.uid, kick.session_id, kick.server.as_str()), (42, 1, "chat-a"));
    assert_eq!(kick.rpc_addr, "127.0.0.1:10001", "where to send the KickUser call");

    // The kicked session's close is reported late: it must not unroute the new one.
    let stale = client
        .report_offline(&ReportOfflineRequest {
            server: "chat-a".into(),
            sessions: vec![session(42, 1)],
        })
        .unwrap();
    assert_eq!(stale.removed, 0);
    let found = client.lookup_users(&LookupUsersRequest { uids: vec![42] }).unwrap().online;
    assert_eq!((found[0].server.as_str(), found[0].session_id), ("chat-b", 2));

    let current = client
        .report_offline(&ReportOfflineRequest {
            server: "chat-b".into(),
            sessions: vec![session(42, 2)],
        })
        .unwrap();
    assert_eq!(current.removed, 1);
    assert!(client.lookup_users(&LookupUsersRequest { uids: vec![42] }).unwrap().online.is_empty());
    server.shutdown(Duration::from_secs(2));
}

/// A stand-in for a chat server's view of itself, as the reporter sees it.
struct FakeChatServer {
    sessions: Vec<Session>,
    kicked: Mutex<Vec<UserLocation>>,
    catch_ups: std::sync::atomic::AtomicUsize,
}

impl ReportSource for FakeChatServer {
    fn load(&self) -> u32 {
        self.sessions.len() as u32
    }
    fn sessions(&self) -> Vec<Session> {
        self.sessions.clone()
    }
    fn kick(&self, replaced: Vec<UserLocation>) {
        self.kicked.lock().extend(replaced);
    }
    fn catch_up(&self) {
        self.catch_ups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn after_a_restart_chat_servers_rebuild_the_soft_state_within_one_heartbeat() {
    let interval = Duration::from_millis(300);
    let (server, client) = start(&config(60_000, 2_000, interval.as_millis() as u64));
    let addr = server.local_addr();
    let chat = Arc::new(FakeChatServer {
        sessions: (1..=2500).map(|uid| session(uid, uid * 10)).collect(),
        kicked: Mutex::new(Vec::new()),
        catch_ups: Default::default(),
    });
    let mut reporter =
        StatusReporter::start(&addr.to_string(), info("chat-a", 9001), interval, chat.clone());
    let everyone: Vec<u64> = (1..=2500).collect();
    let routed = |client: &StatusServiceClient| {
        client
            .lookup_users(&LookupUsersRequest { uids: everyone.clone() })
            .map(|r| r.online.len())
            .unwrap_or(0)
    };
    assert!(wait_until(Duration::from_secs(5), || routed(&client) == 2500), "first registration");
    let catch_ups = || chat.catch_ups.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(catch_ups(), 0, "nothing was missed at the first registration");

    // Restart the status server on the same address: its state is gone.
    server.shutdown(Duration::from_secs(2));
    let mut same_addr = config(60_000, 2_000, interval.as_millis() as u64);
    same_addr.listen = addr.to_string();
    let restarted = StatusServer::start(&same_addr).expect("restart on the same port");
    let client = client_for(&addr.to_string());
    let restarted_at = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || routed(&client) == 2500), "rebuilt");
    let took = restarted_at.elapsed();
    // Within one heartbeat interval, plus the time for gRPC to reconnect.
    assert!(took < interval * 2 + Duration::from_secs(1), "rebuilt after {took:?}");
    let chosen = client.get_chat_server(&GetChatServerRequest { uid: 1 }).unwrap().server.unwrap();
    assert_eq!(chosen.name, "chat-a", "registered again");
    assert!(chat.kicked.lock().is_empty());
    // Pushes for its sessions found no route meanwhile: they catch up, once.
    assert!(wait_until(Duration::from_secs(5), || catch_ups() == 1), "caught up");
    std::thread::sleep(interval * 3);
    assert_eq!(catch_ups(), 1, "once per gap, not per heartbeat");
    reporter.stop();
    restarted.shutdown(Duration::from_secs(2));
}

#[test]
fn bad_input_gets_clear_errors() {
    let (server, client) = start(&config(60_000, 10_000, 1_000));
    assert_eq!(
        code_of(client.get_chat_server(&GetChatServerRequest { uid: 1 })),
        RpcStatusCode::UNAVAILABLE
    );
    let no_name = RegisterRequest { server: Some(info("", 9001)), load: 0 };
    assert_eq!(code_of(client.register(&no_name)), RpcStatusCode::INVALID_ARGUMENT);
    assert_eq!(
        code_of(client.register(&RegisterRequest { server: None, load: 0 })),
        RpcStatusCode::INVALID_ARGUMENT
    );
    let long_name = RegisterRequest { server: Some(info(&"n".repeat(10_000), 9001)), load: 0 };
    assert_eq!(code_of(client.register(&long_name)), RpcStatusCode::INVALID_ARGUMENT);
    let bad_port = RegisterRequest { server: Some(info("chat-a", 70_000)), load: 0 };
    assert_eq!(code_of(client.register(&bad_port)), RpcStatusCode::INVALID_ARGUMENT);

    register(&client, "chat-a", 9001, 0);
    assert_eq!(
        code_of(client.get_chat_server(&GetChatServerRequest { uid: 0 })),
        RpcStatusCode::INVALID_ARGUMENT
    );
    let unknown = ReportOnlineRequest { server: "ghost".into(), sessions: vec![session(1, 1)] };
    assert_eq!(code_of(client.report_online(&unknown)), RpcStatusCode::FAILED_PRECONDITION);

    // An empty list is a clean empty answer; an oversized one is refused.
    assert!(client.lookup_users(&LookupUsersRequest { uids: vec![] }).unwrap().online.is_empty());
    let huge = LookupUsersRequest { uids: (1..=10_001).collect() };
    assert_eq!(code_of(client.lookup_users(&huge)), RpcStatusCode::INVALID_ARGUMENT);
    let huge = ReportOnlineRequest {
        server: "chat-a".into(),
        sessions: (1..=10_001).map(|u| session(u, u)).collect(),
    };
    assert_eq!(code_of(client.report_online(&huge)), RpcStatusCode::INVALID_ARGUMENT);
    // Far past the message size limit: refused by gRPC itself, and the server lives on.
    let enormous = LookupUsersRequest { uids: (1..=2_000_000).collect() };
    assert!(client.lookup_users(&enormous).is_err());
    assert!(
        client.heartbeat(&HeartbeatRequest { name: "chat-a".into(), load: 0 }).unwrap().registered
    );
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_bad_config_names_the_key() {
    let mut bad = config(60_000, 1_000, 5_000);
    assert!(bad.validate().unwrap_err().starts_with("heartbeat_interval_ms"));
    bad = config(60_000, 10_000, 1_000);
    bad.listen = "localhost".into();
    assert!(bad.validate().unwrap_err().starts_with("listen"));
    let dir = std::env::temp_dir().join(format!("status-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("status.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ntoken_ttl_ms = \"ten\"\n").unwrap();
    let err =
        services::config::load::<StatusConfig>(Some(&file), "IM_STATUS_TEST_UNUSED_").unwrap_err();
    assert!(err.contains("token_ttl_ms"), "{err}");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ntoken_tll_ms = 5\n").unwrap();
    let err =
        services::config::load::<StatusConfig>(Some(&file), "IM_STATUS_TEST_UNUSED_").unwrap_err();
    assert!(err.contains("token_tll_ms"), "{err}");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/status.toml");
    let ok =
        services::config::load::<StatusConfig>(Some(shipped.as_ref()), "IM_STATUS_TEST_UNUSED_")
            .unwrap();
    ok.validate().unwrap();
}
