//! Starting and stopping a chat server (used by the binary and by tests).

use super::config::ChatConfig;
use super::handler::ChatHandler;
use super::hub::{Hub, Rules};
use super::metrics::MetricsView;
use super::router::{self, Outbound, Router};
use super::rpc::ChatRpc;
use crate::admin::AdminServer;
use crate::status::reporter::{ReportSource, StatusReporter};
use crate::store::ack_writer::AckWriter;
use crate::store::message_writer::MessageWriter;
use crate::store::{AnyBackend, DbPool};
use grpcio::{CallOption, ChannelBuilder, Environment};
use proto::rpc::status::{
    ChatServerInfo, ReportOfflineRequest, Session, StatusServiceClient, UserLocation,
};
use reactor::{FrameCodec, LoopConfig, LoopStats, Server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Most message ids marked delivered in one transaction.
const ACK_BATCH: usize = 8192;

/// The first heartbeat period, until the status server names its own.
const FIRST_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// A running chat server.
pub struct ChatServer {
    hub: Arc<Hub>,
    server: Server<ChatHandler>,
    grpc: grpcio::Server,
    reporter: StatusReporter,
    router: Router,
    admin: Option<AdminServer>,
    rpc_addr: SocketAddr,
}

impl ChatServer {
    /// Validates the configuration, opens the store, binds the client port,
    /// the ChatService and the admin port, and registers with the status
    /// server (in the background: a status server that is not up yet is
    /// retried at every heartbeat).
    pub fn start(config: &ChatConfig) -> Result<ChatServer, String> {
        config.validate()?;
        let listen = config.listen_addr()?;
        let backend = AnyBackend::from_config(&config.store)?;
        log::info!("{}: {} store", config.name, backend.kind());
        let store = DbPool::start(backend.clone(), config.store.pool(&config.name))
            .map_err(|e| format!("cannot start the store pool: {e}"))?;
        let writer = MessageWriter::start(backend.clone(), config.store.writer())
            .map_err(|e| format!("cannot start the message writer: {e}"))?;
        let acks = AckWriter::start(backend, &config.name, config.store.queue_capacity, ACK_BATCH)
            .map_err(|e| format!("cannot start the ack writer: {e}"))?;
        let env = Arc::new(Environment::new(config.grpc_threads));
        let status =
            StatusServiceClient::new(ChannelBuilder::new(env.clone()).connect(&config.status_addr));
        let (router_handle, router_queue) = router::channel(config.router_queue);
        let hub = Arc::new(Hub::new(
            config.name.clone(),
            rules(config),
            store,
            writer,
            acks,
            status,
            router_handle,
        ));

        let service = proto::rpc::chat::create_chat_service(ChatRpc::new(hub.clone()));
        let (grpc, rpc_addr) = crate::grpc::serve(env, service, &config.rpc_listen, "rpc_listen")?;

        let router = Router::start(hub.clone(), router_queue)
            .map_err(|e| format!("cannot start the router: {e}"))?;
        let factory_hub = hub.clone();
        let server = Server::start(
            listen,
            loop_config(config),
            FrameCodec::new(config.max_body),
            move |init| {
                factory_hub.set_loops(init.handles.clone());
                ChatHandler::new(factory_hub.clone())
            },
        )
        .map_err(|e| format!("listen: cannot serve on {listen}: {e}"))?;
        let addr = server.local_addr();
        let loops: Vec<Arc<LoopStats>> = server.pool().stats().to_vec();

        let info = ChatServerInfo {
            name: config.name.clone(),
            host: if config.advertise_host.is_empty() {
                addr.ip().to_string()
            } else {
                config.advertise_host.clone()
            },
            port: u32::from(addr.port()),
            rpc_addr: if config.rpc_advertise.is_empty() {
                rpc_addr.to_string()
            } else {
                config.rpc_advertise.clone()
            },
        };
        let source = Arc::new(Source { hub: hub.clone(), loops: loops.clone() });
        let reporter =
            StatusReporter::start(&config.status_addr, info, FIRST_HEARTBEAT_INTERVAL, source);

        let admin = match config.admin_listen.as_str() {
            "" => None,
            admin_listen => {
                let admin_addr: SocketAddr = admin_listen.parse().map_err(|_| "admin_listen")?;
                let view_hub = hub.clone();
                let render = Box::new(move || metrics_text(&view_hub, &loops));
                let admin = AdminServer::start(admin_addr, &config.name, render)
                    .map_err(|e| format!("admin_listen: cannot bind {admin_addr}: {e}"))?;
                Some(admin)
            }
        };
        log::info!("{} serving clients on {addr}, peers on {rpc_addr}", config.name);
        Ok(ChatServer { hub, server, grpc, reporter, router, admin, rpc_addr })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Where peers reach the ChatService.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::local_addr)
    }

    /// The `/metrics` text, also without an admin port.
    pub fn metrics_text(&self) -> String {
        metrics_text(&self.hub, self.server.pool().stats())
    }

    /// Graceful stop: stop heartbeating, tell the status server every
    /// session is gone (so routing stops at once, not after a heartbeat
    /// timeout), stop accepting and close every connection after flushing
    /// (forced after `grace`), then stop the ChatService, the router, and
    /// commit what the writer holds.
    pub fn shutdown(mut self, grace: Duration) {
        self.reporter.stop();
        report_all_offline(&self.hub);
        self.server.shutdown(grace);
        crate::grpc::shutdown_server(self.grpc, grace, &self.hub.name);
        self.router.stop();
        drop(self.admin);
        log::info!("{} stopped", self.hub.name);
        // The hub (store pool and message writer) goes with the last Arc:
        // the writer commits what it has queued before its threads end.
    }
}

fn rules(config: &ChatConfig) -> Rules {
    Rules {
        login_deadline: Duration::from_millis(config.login_deadline_ms),
        idle_timeout: Duration::from_millis(config.idle_timeout_ms),
        rpc_timeout: config.rpc_timeout(),
        sync_page: config.sync_page,
        max_texts_per_request: config.max_texts_per_request,
        history_page: config.history_page,
        thread_page: config.thread_page,
        sync_low_water: config.high_water_bytes / 4,
    }
}

fn loop_config(config: &ChatConfig) -> LoopConfig {
    let defaults = LoopConfig::default();
    LoopConfig {
        name: config.name.clone(),
        threads: if config.io_threads == 0 { defaults.threads } else { config.io_threads },
        high_water: config.high_water_bytes,
        output_limit: config.output_limit_bytes,
        slow_consumer_timeout: Duration::from_millis(config.slow_consumer_timeout_ms),
        ..defaults
    }
}

fn metrics_text(hub: &Hub, loops: &[Arc<LoopStats>]) -> String {
    MetricsView {
        server: &hub.name,
        chat: &hub.metrics,
        loops,
        online_users: hub.directory.len(),
        store_queue_depth: hub.store.queue_depth(),
        store: hub.store.metrics(),
        writer_queue_depth: hub.writer.queue_depth(),
        writer: hub.writer.metrics(),
        acks: hub.acks.metrics(),
        ack_queue_depth: hub.acks.queue_depth(),
        router_queue_depth: hub.router.queue_depth(),
    }
    .render()
}

/// One blocking call per batch of sessions; called from the thread that
/// stops the server, never from a loop.
fn report_all_offline(hub: &Hub) {
    let sessions: Vec<Session> = hub
        .directory
        .sessions()
        .into_iter()
        .map(|(uid, session_id)| Session { uid, session_id })
        .collect();
    for batch in sessions.chunks(crate::status::registry::MAX_BATCH) {
        let request = ReportOfflineRequest { server: hub.name.clone(), sessions: batch.to_vec() };
        let option = CallOption::default().timeout(hub.rules.rpc_timeout);
        if let Err(e) = hub.status.report_offline_opt(&request, option) {
            log::warn!("cannot report sessions offline at shutdown: {e}");
            return;
        }
    }
}

/// What the status reporter asks this server.
struct Source {
    hub: Arc<Hub>,
    loops: Vec<Arc<LoopStats>>,
}

impl ReportSource for Source {
    fn load(&self) -> u32 {
        let open: u64 = self.loops.iter().map(|s| LoopStats::get(&s.connections)).sum();
        u32::try_from(open).unwrap_or(u32::MAX)
    }

    fn sessions(&self) -> Vec<Session> {
        let sessions = self.hub.directory.sessions().into_iter();
        sessions.map(|(uid, session_id)| Session { uid, session_id }).collect()
    }

    fn kick(&self, replaced: Vec<UserLocation>) {
        for location in replaced {
            if location.server == self.hub.name {
                self.hub.kick_local(location.uid, location.session_id);
            } else {
                self.hub.forward(Outbound::Kick(location));
            }
        }
    }
}
