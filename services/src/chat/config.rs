//! `conf/chat*.toml`; every key can be overridden with `IM_CHAT_<KEY>`
//! (`IM_CHAT_STORE__BACKEND` for a key of the `[store]` table).

use crate::dialect::Dialect;
use crate::store::config::StoreConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings of one chat server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Unique in the cluster; the status server and peers know it by this.
    pub name: String,
    /// Where clients connect (the long TCP connection), `IP:port`.
    pub listen: String,
    /// Where the original llfcchat Qt client connects (its dialect, see
    /// `crate::dialect`), `IP:port`; empty: not served.
    pub llfcchat_listen: String,
    /// Where the project_show Qt client connects (its dialect); empty: not served.
    pub project_show_listen: String,
    /// The host clients are told to connect to (the gate hands it out);
    /// empty: the IP of `listen`.
    pub advertise_host: String,
    /// Where peer chat servers reach this one's ChatService (gRPC).
    pub rpc_listen: String,
    /// The address peers are told to use for `rpc_listen`; empty: the same.
    pub rpc_advertise: String,
    /// The status server, `host:port`.
    pub status_addr: String,
    /// Prometheus metrics and health checks over HTTP; empty: off.
    pub admin_listen: String,
    /// I/O loop threads; 0: one per core.
    pub io_threads: usize,
    /// grpcio completion-queue threads (the ChatService and outgoing calls).
    pub grpc_threads: usize,
    /// A connection must have logged in this long after it was accepted.
    pub login_deadline_ms: u64,
    /// A connection that sends nothing (not even a heartbeat) for this long
    /// is closed. Clients send a heartbeat every 10 s.
    pub idle_timeout_ms: u64,
    /// Largest frame body accepted from a client, in bytes (at most 65,535).
    pub max_body: usize,
    /// Output queued for one connection above which it is a slow consumer.
    pub high_water_bytes: usize,
    /// Output queued for one connection at which it is closed.
    pub output_limit_bytes: usize,
    /// How long a slow consumer may stay above `high_water_bytes`.
    pub slow_consumer_timeout_ms: u64,
    /// Pending messages read per page when pushing them after a login.
    pub sync_page: usize,
    /// Devices a user may have (logins naming a device_id); a new one beyond
    /// it makes the store forget the device seen longest ago.
    pub max_devices_per_user: usize,
    /// Messages per TEXT_CHAT_MSG request, and history/thread page sizes.
    pub max_texts_per_request: usize,
    pub history_page: usize,
    pub thread_page: usize,
    /// How long a user's last session must stay gone before its friends are
    /// told it is offline (a quick reconnect is not told at all).
    pub presence_debounce_ms: u64,
    /// How long acknowledgements wait for more before they are stored
    /// together (`store/ack_writer.rs`): each watermark is written once per
    /// window, however many acks it folds.
    pub ack_delay_ms: u64,
    /// Members of one group, its owner included (PROTOCOL.md "Groups").
    pub group_max_members: usize,
    /// Groups one user may be a member of.
    pub groups_per_user: usize,
    /// Group invitations (users invited, at creation too) one user may
    /// make per minute, on this server.
    pub group_invites_per_minute: usize,
    /// Timeout of every call to the status server and to peers.
    pub rpc_timeout_ms: u64,
    /// Pushes for users on other chat servers that may wait for the router.
    pub router_queue: usize,
    /// error, warn, info, debug or trace (`IM_LOG` overrides).
    pub log_level: String,
    pub store: StoreConfig,
}

impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            name: "chat-1".into(),
            listen: "127.0.0.1:8090".into(),
            llfcchat_listen: String::new(),
            project_show_listen: String::new(),
            advertise_host: String::new(),
            rpc_listen: "127.0.0.1:8190".into(),
            rpc_advertise: String::new(),
            status_addr: "127.0.0.1:7100".into(),
            admin_listen: String::new(),
            io_threads: 0,
            grpc_threads: 2,
            login_deadline_ms: 10_000,
            idle_timeout_ms: 35_000,
            max_body: 8 * 1024,
            high_water_bytes: 256 * 1024,
            output_limit_bytes: 4 * 1024 * 1024,
            slow_consumer_timeout_ms: 10_000,
            sync_page: 200,
            max_devices_per_user: 10,
            max_texts_per_request: 64,
            history_page: 50,
            thread_page: 50,
            presence_debounce_ms: 3_000,
            ack_delay_ms: 250,
            group_max_members: 500,
            groups_per_user: 200,
            group_invites_per_minute: 1_000,
            rpc_timeout_ms: 3_000,
            router_queue: 64 * 1024,
            log_level: "info".into(),
            store: StoreConfig::default(),
        }
    }
}

impl ChatConfig {
    /// Checks what serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("name: must not be empty".into());
        }
        self.listen_addr()?;
        if self.rpc_listen.parse::<SocketAddr>().is_err() {
            return Err(format!("rpc_listen: `{}` is not an IP:port address", self.rpc_listen));
        }
        if !self.status_addr.contains(':') {
            return Err(format!("status_addr: `{}` is not a host:port address", self.status_addr));
        }
        if !self.admin_listen.is_empty() && self.admin_listen.parse::<SocketAddr>().is_err() {
            return Err(format!("admin_listen: `{}` is not an IP:port address", self.admin_listen));
        }
        if self.max_body == 0 || self.max_body > usize::from(u16::MAX) {
            return Err("max_body: must be between 1 and 65535".into());
        }
        if self.high_water_bytes == 0 || self.output_limit_bytes <= self.high_water_bytes {
            return Err("output_limit_bytes: must be more than high_water_bytes (> 0)".into());
        }
        for (key, value) in [
            ("sync_page", self.sync_page),
            ("max_devices_per_user", self.max_devices_per_user),
            ("max_texts_per_request", self.max_texts_per_request),
            ("history_page", self.history_page),
            ("thread_page", self.thread_page),
            ("router_queue", self.router_queue),
            ("grpc_threads", self.grpc_threads),
            ("group_max_members", self.group_max_members),
            ("groups_per_user", self.groups_per_user),
            ("group_invites_per_minute", self.group_invites_per_minute),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        for (key, value) in [
            ("login_deadline_ms", self.login_deadline_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("rpc_timeout_ms", self.rpc_timeout_ms),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be more than 0"));
            }
        }
        self.store.validate()
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen
            .parse()
            .map_err(|_| format!("listen: `{}` is not an IP:port address", self.listen))
    }

    /// The listeners of the other clients' dialects that are configured.
    pub fn dialect_addrs(&self) -> Result<Vec<(Dialect, SocketAddr)>, String> {
        crate::config::dialect_listeners(&[
            (Dialect::Llfcchat, "llfcchat_listen", &self.llfcchat_listen),
            (Dialect::ProjectShow, "project_show_listen", &self.project_show_listen),
        ])
    }

    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }
}

impl crate::daemon::DaemonConfig for ChatConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_errors_name_the_key() {
        ChatConfig::default().validate().unwrap();
        let config = ChatConfig { max_body: 70_000, ..ChatConfig::default() };
        assert!(config.validate().unwrap_err().starts_with("max_body"));
        let config = ChatConfig { listen: "nowhere".into(), ..ChatConfig::default() };
        assert!(config.validate().unwrap_err().starts_with("listen"));
    }

    #[test]
    fn the_store_table_nests() {
        let config: ChatConfig =
            toml::from_str("name = \"chat-9\"\n[store]\nbackend = \"mysql\"\n").unwrap();
        assert_eq!(config.name, "chat-9");
        assert_eq!(config.store.backend, crate::store::config::BackendKind::Mysql);
    }
}
