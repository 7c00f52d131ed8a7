//! Starting and stopping a chat server (used by the binary and by tests).

use super::config::ChatConfig;
use super::conn::{self, ChatHandler};
use super::delivery::outbound::{router_queue, Outbound};
use super::delivery::presence_queue::presence_queue;
use super::delivery::Delivery;
use super::metrics::{ChatMetrics, MetricsView};
use super::peers::router::Router;
use super::peers::rpc::ChatRpc;
use super::presence::{status_session, Presence};
use super::presence_notifier::PresenceNotifier;
use super::services::{Rules, Services};
use crate::admin::AdminServer;
use crate::dialect::Dialect;
use crate::status::reporter::{ReportSource, StatusReporter};
use crate::store::ack_writer::AckWriter;
use crate::store::groups::GroupLimits;
use crate::store::message_writer::{MessageWriter, WriterConfig};
use crate::store::{AnyBackend, DbPool};
use grpcio::{ChannelBuilder, Environment};
use proto::rpc::status::{ChatServerInfo, Session, StatusServiceClient, UserLocation};
use reactor::{FrameCodec, LoopConfig, LoopStats, Server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Most message ids marked delivered in one transaction.
const ACK_BATCH: usize = 8192;
/// Acknowledgements that may wait for the ack writer: a window of
/// `ack_delay_ms` at a group's 200,000 acks a second.
const ACK_QUEUE: usize = 64 * 1024;

/// The first heartbeat period, until the status server names its own.
const FIRST_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// A running chat server.
pub struct ChatServer {
    services: Arc<Services>,
    server: Server<ChatHandler>,
    /// The dialect of each listener, by listener number.
    dialects: Arc<[Dialect]>,
    grpc: grpcio::Server,
    reporter: StatusReporter,
    router: Router,
    presence_notifier: PresenceNotifier,
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
        let writer = MessageWriter::start(
            backend.clone(),
            WriterConfig { name: config.name.clone(), ..config.store.writer() },
        )
        .map_err(|e| format!("cannot start the message writer: {e}"))?;
        let acks = AckWriter::start(
            backend,
            &config.name,
            config.store.queue_capacity.max(ACK_QUEUE),
            ACK_BATCH,
            Duration::from_millis(config.ack_delay_ms),
        )
        .map_err(|e| format!("cannot start the ack writer: {e}"))?;
        let env = Arc::new(Environment::new(config.grpc_threads));
        let status =
            StatusServiceClient::new(ChannelBuilder::new(env.clone()).connect(&config.status_addr));
        let presence = Presence::new(config.name.clone(), status, config.rpc_timeout());
        let (router_queue, router_receiver) = router_queue(config.router_queue);
        // Presence changes come at most one per login or close: a queue the
        // router's size holds any burst the loops can make.
        let (presence_events, presence_receiver) = presence_queue(config.router_queue);

        // Built in order: the loops' handles exist before the loops start,
        // so delivery can post to them from the first push on.
        let mut bound = Server::bind(listen, loop_config(config), FrameCodec::new(config.max_body))
            .map_err(|e| format!("listen: cannot serve on {listen}: {e}"))?;
        // Listener 0 speaks this project's dialect; the others, in order, theirs.
        let mut dialects = vec![Dialect::Own];
        let (mut llfcchat_port, mut project_show_port) = (0, 0);
        for (dialect, addr) in config.dialect_addrs()? {
            let bound_addr = bound
                .listen_also(addr)
                .map_err(|e| format!("{}_listen: cannot serve on {addr}: {e}", dialect.name()))?;
            let port = u32::from(bound_addr.port());
            match dialect {
                Dialect::Llfcchat => llfcchat_port = port,
                Dialect::ProjectShow => project_show_port = port,
                Dialect::Own => {}
            }
            log::info!("{} serving {} clients on {bound_addr}", config.name, dialect.name());
            dialects.push(dialect);
        }
        let dialects: Arc<[Dialect]> = dialects.into();
        let listener_dialects = dialects.clone();
        let metrics = Arc::new(ChatMetrics::default());
        let delivery = Delivery::new(conn::posters(bound.handles()), router_queue, metrics.clone());
        let services = Arc::new(Services::new(
            config.name.clone(),
            rules(config),
            store,
            writer,
            acks,
            presence,
            delivery,
            presence_events,
            metrics,
        ));

        let service = proto::rpc::chat::create_chat_service(ChatRpc::new(services.clone()));
        let (grpc, rpc_addr) = crate::grpc::serve(env, service, &config.rpc_listen, "rpc_listen")?;

        let router = Router::start(services.clone(), router_receiver, config.rpc_timeout())
            .map_err(|e| format!("cannot start the router: {e}"))?;
        let debounce = Duration::from_millis(config.presence_debounce_ms);
        let presence_notifier =
            PresenceNotifier::start(services.clone(), presence_receiver, debounce)
                .map_err(|e| format!("cannot start the presence notifier: {e}"))?;
        let handler_services = services.clone();
        let server = bound
            .start(move |_| ChatHandler::new(handler_services.clone(), dialects.clone()))
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
            llfcchat_port,
            project_show_port,
        };
        let source = Arc::new(Source { services: services.clone(), loops: loops.clone() });
        let reporter =
            StatusReporter::start(&config.status_addr, info, FIRST_HEARTBEAT_INTERVAL, source);

        let admin = match config.admin_listen.as_str() {
            "" => None,
            admin_listen => {
                let admin_addr: SocketAddr = admin_listen.parse().map_err(|_| "admin_listen")?;
                let view_services = services.clone();
                let render = Box::new(move || metrics_text(&view_services, &loops));
                let admin = AdminServer::start(admin_addr, &config.name, render)
                    .map_err(|e| format!("admin_listen: cannot bind {admin_addr}: {e}"))?;
                Some(admin)
            }
        };
        log::info!("{} serving clients on {addr}, peers on {rpc_addr}", config.name);
        Ok(ChatServer {
            services,
            server,
            dialects: listener_dialects,
            grpc,
            reporter,
            router,
            presence_notifier,
            admin,
            rpc_addr,
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// ` dialect IP:port` for each other client's listener (the daemon's
    /// "listening" line, which `imctl up` reads).
    pub fn dialect_listeners_text(&self) -> String {
        crate::dialect::listeners_text(&self.dialects, &self.server.local_addrs())
    }

    /// Where clients of `dialect` connect, if they are served.
    pub fn dialect_addr(&self, dialect: Dialect) -> Option<SocketAddr> {
        let listener = self.dialects.iter().position(|&d| d == dialect)?;
        self.server.local_addrs().get(listener).copied()
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
        metrics_text(&self.services, self.server.pool().stats())
    }

    /// Graceful stop: stop heartbeating, tell the status server every
    /// session is gone (so routing stops at once, not after a heartbeat
    /// timeout), stop accepting and close every connection after flushing
    /// (forced after `grace`), then stop the ChatService, the router, and
    /// commit what the writer holds.
    pub fn shutdown(mut self, grace: Duration) {
        self.reporter.stop();
        self.services.presence.report_all_offline(self.services.delivery.directory().sessions());
        self.server.shutdown(grace);
        crate::grpc::shutdown_server(self.grpc, grace, &self.services.name);
        self.router.stop();
        self.presence_notifier.stop();
        drop(self.admin);
        log::info!("{} stopped", self.services.name);
        // The services (store pool and message writer) goes with the last Arc:
        // the writer commits what it has queued before its threads end.
    }
}

fn rules(config: &ChatConfig) -> Rules {
    Rules {
        login_deadline: Duration::from_millis(config.login_deadline_ms),
        idle_timeout: Duration::from_millis(config.idle_timeout_ms),
        sync_page: config.sync_page,
        max_devices_per_user: config.max_devices_per_user,
        max_texts_per_request: config.max_texts_per_request,
        history_page: config.history_page,
        thread_page: config.thread_page,
        groups: GroupLimits {
            max_members: config.group_max_members,
            max_groups_per_user: config.groups_per_user,
        },
        group_invites_per_minute: config.group_invites_per_minute,
        slow_member_bytes: config.high_water_bytes / 2,
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

fn metrics_text(services: &Services, loops: &[Arc<LoopStats>]) -> String {
    MetricsView {
        server: &services.name,
        chat: &services.metrics,
        loops,
        online_users: services.delivery.directory().len(),
        store_queue_depth: services.store.queue_depth(),
        store: services.store.metrics(),
        writer_queue_depth: services.writer.queue_depth(),
        writer: services.writer.metrics(),
        acks: services.acks.metrics(),
        ack_queue_depth: services.acks.queue_depth(),
        router_queue_depth: services.delivery.router_depth(),
    }
    .render()
}

/// What the status reporter asks this server.
struct Source {
    services: Arc<Services>,
    loops: Vec<Arc<LoopStats>>,
}

impl ReportSource for Source {
    fn load(&self) -> u32 {
        let open: u64 = self.loops.iter().map(|s| LoopStats::get(&s.connections)).sum();
        u32::try_from(open).unwrap_or(u32::MAX)
    }

    fn sessions(&self) -> Vec<Session> {
        let sessions = self.services.delivery.directory().sessions();
        sessions.iter().map(status_session).collect()
    }

    fn catch_up(&self) {
        let sessions = self.services.delivery.catch_up_everyone();
        log::info!("{sessions} sessions catch up from their watermarks");
    }

    fn kick(&self, replaced: Vec<UserLocation>) {
        for location in replaced {
            if location.server == self.services.name {
                self.services.delivery.kick_local(location.uid, location.session_id);
            } else {
                self.services.delivery.forward(Outbound::Kick(location));
            }
        }
    }
}
