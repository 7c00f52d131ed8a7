//! A local cluster in this process: a status server and two chat servers on
//! 127.0.0.1:0 ports, sharing a fresh store.

use grpcio::{ChannelBuilder, Environment};
use mysql::prelude::Queryable;
use proto::rpc::status::{GetChatServerRequest, StatusServiceClient};
use services::chat::{ChatConfig, ChatServer};
use services::gate::password::HashCost;
use services::gate::{GateConfig, GateServer};
use services::status::{StatusConfig, StatusServer};
use services::store::config::StoreConfig;
use services::store::model::NewUser;
use services::store::{AnyBackend, Backend, StoreConn};
use services::verify::mail::MailConfig;
use services::verify::{VerifyConfig, VerifyServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Which store the chat servers use.
pub enum StoreChoice {
    Embedded,
    /// A MySQL/MariaDB server URL without a database; each run creates its own.
    Mysql(String),
}

impl StoreChoice {
    pub fn label(&self) -> &'static str {
        match self {
            StoreChoice::Embedded => "embedded",
            StoreChoice::Mysql(_) => "MariaDB",
        }
    }
}

pub struct Cluster {
    gate: Option<GateServer>,
    verify: Option<VerifyServer>,
    status: Option<StatusServer>,
    chats: Vec<ChatServer>,
    status_client: StatusServiceClient,
    store: StoreConfig,
    /// Removed when the cluster stops.
    data_dir: Option<PathBuf>,
    database: Option<(String, String)>,
}

impl Cluster {
    pub fn start(choice: &StoreChoice, run: usize, io_threads: usize) -> Cluster {
        let (store, data_dir, database) = match choice {
            StoreChoice::Embedded => {
                let dir =
                    std::env::temp_dir().join(format!("chat-bench-{}-{run}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let config = StoreConfig { data_dir: dir.clone(), ..StoreConfig::default() };
                (config, Some(dir), None)
            }
            StoreChoice::Mysql(server) => {
                let server = server.trim_end_matches('/').to_string();
                let name = format!("chat_bench_{}_{run}", std::process::id());
                let mut admin =
                    mysql::Conn::new(mysql::Opts::from_url(&server).expect("--mysql URL"))
                        .unwrap_or_else(|e| panic!("no MySQL at {server}: {e}"));
                admin.query_drop(format!("DROP DATABASE IF EXISTS {name}")).unwrap();
                admin.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
                let config = StoreConfig::mysql(&format!("{server}/{name}"));
                (config, None, Some((server, name)))
            }
        };
        let status = StatusServer::start(&StatusConfig {
            listen: "127.0.0.1:0".into(),
            ..StatusConfig::default()
        })
        .expect("start the status server");
        let status_addr = status.local_addr().to_string();
        let chats: Vec<ChatServer> = (1..=2)
            .map(|n| {
                ChatServer::start(&ChatConfig {
                    name: format!("chat-{n}"),
                    listen: "127.0.0.1:0".into(),
                    rpc_listen: "127.0.0.1:0".into(),
                    status_addr: status_addr.clone(),
                    io_threads,
                    store: store.clone(),
                    log_level: "warn".into(),
                    ..ChatConfig::default()
                })
                .expect("start a chat server")
            })
            .collect();
        let channel = ChannelBuilder::new(Arc::new(Environment::new(1))).connect(&status_addr);
        let cluster = Cluster {
            gate: None,
            verify: None,
            status: Some(status),
            chats,
            status_client: StatusServiceClient::new(channel),
            store,
            data_dir,
            database,
        };
        // Wait until both chat servers have registered (tokens need a live server).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while cluster.status_client.get_chat_server(&GetChatServerRequest { uid: 1 }).is_err() {
            assert!(std::time::Instant::now() < deadline, "chat servers did not register");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        cluster
    }

    /// Creates 2 × `pairs` users and makes each pair friends, directly in
    /// the store. Returns (sender, receiver) uids.
    pub fn provision(&self, pairs: usize) -> Vec<(u64, u64)> {
        let mut store = AnyBackend::from_config(&self.store).unwrap().connect().unwrap();
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

    pub fn token(&self, uid: u64) -> String {
        self.status_client.get_chat_server(&GetChatServerRequest { uid }).expect("token").token
    }

    pub fn chat_addr(&self, index: usize) -> SocketAddr {
        self.chats[index].local_addr()
    }

    /// Starts a verify server (mail spooled to `spool`, no rate limits) and
    /// a gate with password hashes of `cost`; returns the gate's address.
    pub fn start_gate(&mut self, cost: HashCost, spool: &Path) -> SocketAddr {
        let data_dir = spool.join("verify-data");
        let verify = VerifyServer::start(&VerifyConfig {
            listen: "127.0.0.1:0".into(),
            data_dir,
            resend_interval_ms: 0,
            daily_cap: u32::MAX,
            workers: 4,
            queue_capacity: 4096,
            mail: MailConfig { spool_dir: spool.to_path_buf(), ..MailConfig::default() },
            ..VerifyConfig::default()
        })
        .expect("start the verify server");
        let gate = GateServer::start(&GateConfig {
            listen: "127.0.0.1:0".into(),
            status_addr: self.status.as_ref().unwrap().local_addr().to_string(),
            verify_addr: verify.local_addr().to_string(),
            password_hash: cost,
            store: self.store.clone(),
            ..GateConfig::default()
        })
        .expect("start the gate");
        let addr = gate.local_addr();
        self.verify = Some(verify);
        self.gate = Some(gate);
        addr
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.shutdown(Duration::from_secs(2));
        }
        if let Some(verify) = self.verify.take() {
            verify.shutdown(Duration::from_secs(2));
        }
        for chat in self.chats.drain(..) {
            chat.shutdown(Duration::from_secs(2));
        }
        if let Some(status) = self.status.take() {
            status.shutdown(Duration::from_secs(2));
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((server, name)) = &self.database {
            if let Ok(mut admin) = mysql::Conn::new(mysql::Opts::from_url(server).unwrap()) {
                let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {name}"));
            }
        }
    }
}
