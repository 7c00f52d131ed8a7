//! A whole chat cluster in one test process: a status server and chat
//! servers on 127.0.0.1:0 ports, sharing one store (a fresh SQLite file or a
//! fresh MySQL database), plus logged-in clients.

use super::{new_user, TempMysql, TempSqlite};
use grpcio::{ChannelBuilder, Environment};
use proto::body::{LoginReq, LoginRsp};
use proto::chat_client::ChatClient;
use proto::rpc::status::{GetChatServerRequest, LookupUsersRequest, StatusServiceClient};
use proto::MsgId;
use services::chat::{ChatConfig, ChatServer};
use services::status::{StatusConfig, StatusServer};
use services::store::config::{BackendKind, StoreConfig};
use services::store::{AnyBackend, AnyConn, Backend, StoreConn};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(10);

/// Which store the cluster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Mysql,
}

/// The database the cluster uses, removed when the cluster is dropped.
enum TempStore {
    Sqlite(TempSqlite),
    Mysql(TempMysql),
}

pub struct Cluster {
    pub status: Option<StatusServer>,
    pub chats: Vec<Option<ChatServer>>,
    pub status_client: StatusServiceClient,
    store_config: StoreConfig,
    _store: TempStore,
}

impl Cluster {
    /// A status server and `chat_servers` chat servers, all registered.
    pub fn start(test: &str, kind: StoreKind, chat_servers: usize) -> Cluster {
        Cluster::start_with(test, kind, chat_servers, |_| {})
    }

    /// Like `start`, with `adjust` applied to each chat server's config.
    pub fn start_with(
        test: &str,
        kind: StoreKind,
        chat_servers: usize,
        adjust: impl Fn(&mut ChatConfig),
    ) -> Cluster {
        let _ = services::logging::init("warn");
        let (store, store_config) = match kind {
            StoreKind::Sqlite => {
                let temp = TempSqlite::new(test);
                let config = StoreConfig {
                    backend: BackendKind::Embedded,
                    data_dir: temp.file().parent().unwrap().to_path_buf(),
                    ..StoreConfig::default()
                };
                (TempStore::Sqlite(temp), config)
            }
            StoreKind::Mysql => {
                let temp = TempMysql::new(test);
                let config = StoreConfig::mysql(&temp.url());
                (TempStore::Mysql(temp), config)
            }
        };
        let status = StatusServer::start(&status_config()).expect("start the status server");
        let status_addr = status.local_addr().to_string();
        let channel = ChannelBuilder::new(Arc::new(Environment::new(1))).connect(&status_addr);
        let status_client = StatusServiceClient::new(channel);
        let mut cluster = Cluster {
            status: Some(status),
            chats: Vec::new(),
            status_client,
            store_config,
            _store: store,
        };
        for index in 0..chat_servers {
            let mut config = cluster.chat_config(index);
            adjust(&mut config);
            cluster.chats.push(Some(ChatServer::start(&config).expect("start a chat server")));
        }
        // Registration happens in the background: wait until all are live.
        let deadline = Instant::now() + WAIT;
        while cluster.live_servers() < chat_servers {
            assert!(Instant::now() < deadline, "chat servers did not register");
            std::thread::sleep(Duration::from_millis(20));
        }
        cluster
    }

    /// The configuration chat server `index` was (or will be) started with.
    pub fn chat_config(&self, index: usize) -> ChatConfig {
        ChatConfig {
            name: format!("chat-{}", index + 1),
            listen: "127.0.0.1:0".into(),
            rpc_listen: "127.0.0.1:0".into(),
            admin_listen: "127.0.0.1:0".into(),
            status_addr: self.status.as_ref().unwrap().local_addr().to_string(),
            io_threads: 2,
            store: self.store_config.clone(),
            ..ChatConfig::default()
        }
    }

    fn live_servers(&self) -> usize {
        // Each distinct server GetChatServer can pick proves one registration;
        // with equal loads the status server spreads picks over all of them.
        let mut seen = std::collections::HashSet::new();
        for uid in 1..=64 {
            if let Ok(reply) = self.status_client.get_chat_server(&GetChatServerRequest { uid }) {
                seen.insert(reply.server.unwrap_or_default().name);
            }
        }
        seen.len()
    }

    pub fn chat(&self, index: usize) -> &ChatServer {
        self.chats[index].as_ref().expect("chat server running")
    }

    /// A store connection of the cluster's database, for setting up data.
    pub fn store(&self) -> AnyConn {
        AnyBackend::from_config(&self.store_config).unwrap().connect().unwrap()
    }

    /// Creates a user named `name`; returns the uid.
    pub fn user(&self, name: &str) -> u64 {
        self.store().create_user(&new_user(name)).expect("create user")
    }

    /// Makes `a` and `b` friends directly in the store.
    pub fn befriend(&self, a: u64, b: u64) {
        let mut store = self.store();
        store.apply_friend(a, b, "hi", "").unwrap();
        store.accept_friend(a, b, "").unwrap();
    }

    /// A fresh token for `uid` from the status server (as the gate gets one).
    pub fn token(&self, uid: u64) -> String {
        self.status_client.get_chat_server(&GetChatServerRequest { uid }).expect("token").token
    }

    /// A client connected to chat server `index` and logged in as `uid`.
    pub fn login(&self, index: usize, uid: u64) -> (ChatClient, LoginRsp) {
        let mut client = ChatClient::connect(self.chat(index).local_addr(), WAIT).unwrap();
        client.send(MsgId::LoginReq, &LoginReq { uid, token: self.token(uid) }).unwrap();
        let response: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!(response.error, 0, "login of {uid} on server {index}");
        (client, response)
    }

    /// The store every server of the cluster uses.
    pub fn store_config(&self) -> &StoreConfig {
        &self.store_config
    }

    /// The path of the embedded database (SQLite clusters only).
    pub fn sqlite_file(&self) -> std::path::PathBuf {
        self.store_config.sqlite_path()
    }

    /// Stops the status server and starts a new one (empty state) on the
    /// same address.
    pub fn restart_status(&mut self) {
        let status = self.status.take().expect("status server running");
        let addr = status.local_addr();
        status.shutdown(Duration::from_secs(2));
        let config = StatusConfig { listen: addr.to_string(), ..status_config() };
        self.status = Some(StatusServer::start(&config).expect("restart the status server"));
    }

    /// Starts the `chat-server` binary as chat server `name` of this cluster
    /// (configured through the environment, as an operator could).
    pub fn spawn_chat_process(&self, name: &str) -> ChatProcess {
        let store = &self.store_config;
        let mut command = Command::new(env!("CARGO_BIN_EXE_chat-server"));
        command
            .env("IM_CHAT_NAME", name)
            .env("IM_CHAT_LISTEN", "127.0.0.1:0")
            .env("IM_CHAT_RPC_LISTEN", "127.0.0.1:0")
            .env("IM_CHAT_ADMIN_LISTEN", "")
            .env("IM_CHAT_IO_THREADS", "2")
            .env("IM_CHAT_STATUS_ADDR", self.status.as_ref().unwrap().local_addr().to_string())
            .env("IM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match store.backend {
            BackendKind::Embedded => command
                .env("IM_CHAT_STORE__BACKEND", "embedded")
                .env("IM_CHAT_STORE__DATA_DIR", &store.data_dir),
            BackendKind::Mysql => command
                .env("IM_CHAT_STORE__BACKEND", "mysql")
                .env("IM_CHAT_STORE__MYSQL_URL", &store.mysql_url)
                .env("IM_CHAT_STORE__MYSQL_PASSWORD", &store.mysql_password),
        };
        let mut child = command.spawn().expect("start chat-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // `listening on 127.0.0.1:PORT rpc 127.0.0.1:PORT`
        let addr = line
            .split_whitespace()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address line from chat-server: {line:?}"));
        let deadline = Instant::now() + WAIT;
        while !self.is_live(name) {
            assert!(Instant::now() < deadline, "{name} did not register");
            std::thread::sleep(Duration::from_millis(20));
        }
        ChatProcess { child, addr }
    }

    /// True if the status server hands out `name` (it may take a few picks).
    fn is_live(&self, name: &str) -> bool {
        (1..=64).any(|uid| {
            let reply = self.status_client.get_chat_server(&GetChatServerRequest { uid });
            reply.is_ok_and(|r| r.server.is_some_and(|s| s.name == name))
        })
    }

    /// Where the status server says `uid` is connected, if anywhere.
    pub fn location(&self, uid: u64) -> Option<String> {
        let reply = self.status_client.lookup_users(&LookupUsersRequest { uids: vec![uid] });
        reply.expect("lookup").online.first().map(|l| l.server.clone())
    }

    /// Waits until the status server places `uid` on `server` (`None`:
    /// offline); a chat server reports logins asynchronously.
    pub fn wait_for_location(&self, uid: u64, server: Option<&str>) {
        let deadline = Instant::now() + WAIT;
        while self.location(uid).as_deref() != server {
            assert!(Instant::now() < deadline, "uid {uid} never reached {server:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Logs `uid` in on the chat server at `addr`.
    pub fn login_at(&self, addr: SocketAddr, uid: u64) -> ChatClient {
        let mut client = ChatClient::connect(addr, WAIT).unwrap();
        client.send(MsgId::LoginReq, &LoginReq { uid, token: self.token(uid) }).unwrap();
        let response: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!(response.error, 0, "login of {uid} at {addr}");
        client
    }

    /// Stops chat server `index` gracefully.
    pub fn stop_chat(&mut self, index: usize) {
        if let Some(server) = self.chats[index].take() {
            server.shutdown(Duration::from_secs(2));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.chats.len() {
            self.stop_chat(index);
        }
        if let Some(status) = self.status.take() {
            status.shutdown(Duration::from_secs(2));
        }
    }
}

/// A chat server running as a child process; killed when dropped.
pub struct ChatProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Quick heartbeats, so that tests see re-registration within a second.
fn status_config() -> StatusConfig {
    StatusConfig {
        listen: "127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 2_000,
        ..StatusConfig::default()
    }
}
