//! A whole cluster in one process: a status server and chat servers on
//! `127.0.0.1:0` ports sharing one throwaway store (SQLite or a fresh MySQL
//! database), optionally a verify server and a gate; plus logged-in clients.
//! Everything is stopped, and the store removed, when the cluster is dropped.

use crate::process::{first_addr, start_listening, workspace_binary};
use crate::store::{new_user, test_mysql_server, TempMysql, TempSqlite, TempStore};
use grpcio::{ChannelBuilder, Environment};
use proto::body::{LoginReq, LoginRsp};
use proto::chat_client::ChatClient;
use proto::rpc::status::{GetChatServerRequest, LookupUsersRequest, StatusServiceClient};
use proto::MsgId;
use services::chat::{ChatConfig, ChatServer};
use services::dialect::Dialect;
use services::gate::password::HashCost;
use services::gate::{GateConfig, GateServer};
use services::status::{StatusConfig, StatusServer};
use services::store::config::{BackendKind, StoreConfig};
use services::store::model::NewUser;
use services::store::{AnyBackend, AnyConn, Backend, StoreConn};
use services::verify::{VerifyConfig, VerifyServer};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the helpers wait for anything.
pub const WAIT: Duration = Duration::from_secs(10);

/// Which store the cluster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Mysql,
}

/// How to build a cluster; [`Cluster::start`] covers the common case.
pub struct ClusterOptions {
    /// Names the store (and its files or database).
    pub name: String,
    pub store: StoreKind,
    /// The MySQL server for `StoreKind::Mysql` (default: the tests' server).
    pub mysql_server: Option<String>,
    pub chat_servers: usize,
    pub io_threads: usize,
    /// The status server's settings (listen is always `127.0.0.1:0`).
    pub status: StatusConfig,
}

impl ClusterOptions {
    /// Two-thread chat servers, and heartbeats quick enough that tests see
    /// re-registration within a second.
    pub fn new(name: &str, store: StoreKind, chat_servers: usize) -> ClusterOptions {
        ClusterOptions {
            name: name.to_string(),
            store,
            mysql_server: None,
            chat_servers,
            io_threads: 2,
            status: StatusConfig {
                heartbeat_interval_ms: 200,
                heartbeat_timeout_ms: 2_000,
                ..StatusConfig::default()
            },
        }
    }
}

pub struct Cluster {
    pub status: Option<StatusServer>,
    pub chats: Vec<Option<ChatServer>>,
    pub status_client: StatusServiceClient,
    verify: Option<VerifyServer>,
    verify_config: Option<VerifyConfig>,
    gate: Option<GateServer>,
    status_config: StatusConfig,
    io_threads: usize,
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
        Cluster::start_options(ClusterOptions::new(test, kind, chat_servers), adjust)
    }

    /// The cluster `options` describe, with `adjust` applied to each chat
    /// server's config; returns once every chat server has registered.
    pub fn start_options(options: ClusterOptions, adjust: impl Fn(&mut ChatConfig)) -> Cluster {
        let _ = services::logging::init("warn");
        let store = match options.store {
            StoreKind::Sqlite => TempStore::Sqlite(TempSqlite::new(&options.name)),
            StoreKind::Mysql => {
                let server = options.mysql_server.clone().unwrap_or_else(test_mysql_server);
                let name = format!("im_test_{}_{}", std::process::id(), options.name);
                TempStore::Mysql(TempMysql::on(&server, &name))
            }
        };
        let status_config = StatusConfig { listen: "127.0.0.1:0".into(), ..options.status };
        let status = StatusServer::start(&status_config).expect("start the status server");
        let status_addr = status.local_addr().to_string();
        let channel = ChannelBuilder::new(Arc::new(Environment::new(1))).connect(&status_addr);
        let mut cluster = Cluster {
            status: Some(status),
            chats: Vec::new(),
            status_client: StatusServiceClient::new(channel),
            verify: None,
            verify_config: None,
            gate: None,
            status_config,
            io_threads: options.io_threads,
            store_config: store.config(),
            _store: store,
        };
        for index in 0..options.chat_servers {
            let mut config = cluster.chat_config(index);
            adjust(&mut config);
            cluster.chats.push(Some(ChatServer::start(&config).expect("start a chat server")));
        }
        // Registration happens in the background: wait until all are live.
        let deadline = Instant::now() + WAIT;
        while cluster.live_servers() < options.chat_servers {
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
            status_addr: self.status_addr(),
            io_threads: self.io_threads,
            store: self.store_config.clone(),
            ..ChatConfig::default()
        }
    }

    fn status_addr(&self) -> String {
        self.status.as_ref().expect("status server running").local_addr().to_string()
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

    /// Where clients of `dialect` connect to chat server `index`, if served.
    pub fn chat_dialect_addr(&self, index: usize, dialect: Dialect) -> Option<SocketAddr> {
        self.chat(index).dialect_addr(dialect)
    }

    /// Where clients of chat server `index` connect.
    pub fn chat_addr(&self, index: usize) -> SocketAddr {
        self.chat(index).local_addr()
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

    /// Creates 2 × `pairs` users (`s<i>`, `r<i>`) and makes each pair
    /// friends, directly in the store. Returns (sender, receiver) uids.
    pub fn provision(&self, pairs: usize) -> Vec<(u64, u64)> {
        let mut store = self.store();
        let mut user = |name: String| {
            let new =
                NewUser { email: format!("{name}@bench.invalid"), name, ..NewUser::default() };
            store.create_user(&new).expect("create a user")
        };
        let uids: Vec<(u64, u64)> =
            (0..pairs).map(|i| (user(format!("s{i}")), user(format!("r{i}")))).collect();
        for &(a, b) in &uids {
            store.apply_friend(a, b, "", "").unwrap();
            store.accept_friend(a, b, "").unwrap();
        }
        uids
    }

    /// A fresh token for `uid` from the status server (as the gate gets one).
    pub fn token(&self, uid: u64) -> String {
        self.status_client.get_chat_server(&GetChatServerRequest { uid }).expect("token").token
    }

    /// A client connected to chat server `index` and logged in as `uid`
    /// (the legacy device: no device named).
    pub fn login(&self, index: usize, uid: u64) -> (ChatClient, LoginRsp) {
        self.login_device(index, uid, "", "")
    }

    /// A client connected to chat server `index` and logged in as `uid` on
    /// the device `device_id` of `kind` (both empty: the legacy device).
    pub fn login_device(
        &self,
        index: usize,
        uid: u64,
        device_id: &str,
        kind: &str,
    ) -> (ChatClient, LoginRsp) {
        let mut client = ChatClient::connect(self.chat(index).local_addr(), WAIT).unwrap();
        let request = LoginReq {
            uid,
            token: self.token(uid),
            device_id: device_id.into(),
            kind: kind.into(),
        };
        client.send(MsgId::LoginReq, &request).unwrap();
        let response: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!(response.error, 0, "login of {uid} on server {index}");
        (client, response)
    }

    /// Logs `uid` in on the chat server at `addr`.
    pub fn login_at(&self, addr: SocketAddr, uid: u64) -> ChatClient {
        let mut client = ChatClient::connect(addr, WAIT).unwrap();
        let request = LoginReq { uid, token: self.token(uid), ..LoginReq::default() };
        client.send(MsgId::LoginReq, &request).unwrap();
        let response: LoginRsp = client.recv_json(MsgId::LoginRsp, WAIT).unwrap();
        assert_eq!(response.error, 0, "login of {uid} at {addr}");
        client
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
        let addr = self.stop_status(Duration::from_secs(2));
        self.start_status(addr);
    }

    /// Stops the status server, giving its calls in flight `grace` (its
    /// state is lost either way). Not zero with calls in flight: gRPC's C
    /// core can then abort the whole test process (an assertion in
    /// `grpc_cq_begin_op`); a kill -9 is a child process's job.
    /// Returns its address, for [`Cluster::start_status`].
    pub fn stop_status(&mut self, grace: Duration) -> SocketAddr {
        let status = self.status.take().expect("status server running");
        let addr = status.local_addr();
        status.shutdown(grace);
        addr
    }

    /// Starts a new status server (empty state) at `addr`.
    pub fn start_status(&mut self, addr: SocketAddr) {
        let config = StatusConfig { listen: addr.to_string(), ..self.status_config.clone() };
        self.status = Some(StatusServer::start(&config).expect("restart the status server"));
    }

    /// Starts the `chat-server` binary as chat server `name` of this cluster
    /// (configured through the environment, as an operator could); returns
    /// once the status server hands it out.
    pub fn spawn_chat_process(&self, name: &str) -> ChatProcess {
        let store = &self.store_config;
        let mut command = Command::new(workspace_binary("chat-server"));
        command
            .env("IM_CHAT_NAME", name)
            .env("IM_CHAT_LISTEN", "127.0.0.1:0")
            .env("IM_CHAT_RPC_LISTEN", "127.0.0.1:0")
            .env("IM_CHAT_ADMIN_LISTEN", "")
            .env("IM_CHAT_IO_THREADS", "2")
            .env("IM_CHAT_STATUS_ADDR", self.status_addr())
            .env("IM_LOG", "warn")
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
        // `listening on 127.0.0.1:PORT rpc 127.0.0.1:PORT`
        let (child, listening) = start_listening(command);
        let process = ChatProcess { child, addr: first_addr(&listening) };
        let deadline = Instant::now() + WAIT;
        while !self.is_live(name) {
            assert!(Instant::now() < deadline, "{name} did not register");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// True if the status server hands out `name` (it may take a few picks).
    fn is_live(&self, name: &str) -> bool {
        (1..=64).any(|uid| {
            let reply = self.status_client.get_chat_server(&GetChatServerRequest { uid });
            reply.is_ok_and(|r| r.server.is_some_and(|s| s.name == name))
        })
    }

    /// Where the status server says `uid` is connected, if anywhere (the
    /// first of its sessions).
    pub fn location(&self, uid: u64) -> Option<String> {
        self.locations(uid).into_iter().next()
    }

    /// The chat servers of every session of `uid`, sorted.
    pub fn locations(&self, uid: u64) -> Vec<String> {
        let reply = self.status_client.lookup_users(&LookupUsersRequest { uids: vec![uid] });
        let mut servers: Vec<String> =
            reply.expect("lookup").online.into_iter().map(|l| l.server).collect();
        servers.sort();
        servers
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

    /// Stops chat server `index` gracefully.
    pub fn stop_chat(&mut self, index: usize) {
        if let Some(server) = self.chats[index].take() {
            server.shutdown(Duration::from_secs(2));
        }
    }

    /// A gate configuration for this cluster (two I/O threads, the
    /// benchmark's password-hash cost, 2 s request deadline), talking to the
    /// verify server at `verify_addr`.
    pub fn gate_config(&self, verify_addr: SocketAddr) -> GateConfig {
        GateConfig {
            listen: "127.0.0.1:0".into(),
            status_addr: self.status_addr(),
            verify_addr: verify_addr.to_string(),
            io_threads: 2,
            request_timeout_ms: 2_000,
            password_hash: HashCost::benchmark(),
            store: self.store_config.clone(),
            ..GateConfig::default()
        }
    }

    /// Starts a verify server with `verify` (its `listen` is replaced by
    /// `127.0.0.1:0`) and a gate with [`Cluster::gate_config`] and `adjust`;
    /// returns the gate's address. Both stop with the cluster.
    pub fn start_gate(
        &mut self,
        verify: VerifyConfig,
        adjust: impl FnOnce(&mut GateConfig),
    ) -> SocketAddr {
        let verify_config = VerifyConfig { listen: "127.0.0.1:0".into(), ..verify };
        let verify = VerifyServer::start(&verify_config).expect("start the verify server");
        let mut gate_config = self.gate_config(verify.local_addr());
        adjust(&mut gate_config);
        let gate = GateServer::start(&gate_config).expect("start the gate");
        let addr = gate.local_addr();
        self.verify = Some(verify);
        self.verify_config = Some(verify_config);
        self.gate = Some(gate);
        addr
    }

    /// Where the gate serves clients of `dialect`, if it was started with a
    /// listener for them (`llfcchat_listen`, `project_show_listen`).
    pub fn gate_dialect_addr(&self, dialect: Dialect) -> Option<SocketAddr> {
        self.gate.as_ref().and_then(|gate| gate.dialect_addr(dialect))
    }

    /// Stops the verify server and starts it again on the same address and data.
    pub fn restart_verify(&mut self) {
        let old = self.verify.take().expect("verify server running");
        let addr = old.local_addr();
        old.shutdown(Duration::from_secs(2));
        let config = VerifyConfig {
            listen: addr.to_string(),
            ..self.verify_config.clone().expect("started with start_gate")
        };
        self.verify = Some(VerifyServer::start(&config).expect("restart the verify server"));
    }
}

impl Cluster {
    /// Stops the gate and the verify server, if they run.
    pub fn stop_gate(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.shutdown(Duration::from_secs(2));
        }
        if let Some(verify) = self.verify.take() {
            verify.shutdown(Duration::from_secs(2));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_gate();
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
