//! A whole chat cluster in one test process: a status server and chat
//! servers on 127.0.0.1:0 ports, sharing one store (a fresh SQLite file or a
//! fresh MySQL database), plus logged-in clients.

use super::{new_user, TempMysql, TempSqlite};
use grpcio::{ChannelBuilder, Environment};
use proto::body::{LoginReq, LoginRsp};
use proto::chat_client::ChatClient;
use proto::rpc::status::{GetChatServerRequest, StatusServiceClient};
use proto::MsgId;
use services::chat::{ChatConfig, ChatServer};
use services::status::{StatusConfig, StatusServer};
use services::store::config::{BackendKind, StoreConfig};
use services::store::{AnyBackend, AnyConn, Backend, StoreConn};
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
                let (url, password) = split_password(&temp.url());
                let config = StoreConfig {
                    backend: BackendKind::Mysql,
                    mysql_url: url,
                    mysql_password: password,
                    ..StoreConfig::default()
                };
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

    /// Stops the status server and starts a new one (empty state) on the
    /// same address.
    pub fn restart_status(&mut self) {
        let status = self.status.take().expect("status server running");
        let addr = status.local_addr();
        status.shutdown(Duration::from_secs(2));
        let config = StatusConfig { listen: addr.to_string(), ..status_config() };
        self.status = Some(StatusServer::start(&config).expect("restart the status server"));
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

/// Quick heartbeats, so that tests see re-registration within a second.
fn status_config() -> StatusConfig {
    StatusConfig {
        listen: "127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 2_000,
        ..StatusConfig::default()
    }
}

/// `mysql://user:password@host/db` → (`mysql://user@host/db`, `password`).
fn split_password(url: &str) -> (String, String) {
    let rest = url.strip_prefix("mysql://").unwrap_or(url);
    match rest.split_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, password)) => (format!("mysql://{user}@{host}"), password.to_string()),
            None => (url.to_string(), String::new()),
        },
        None => (url.to_string(), String::new()),
    }
}
