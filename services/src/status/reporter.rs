//! The chat server's side of the status protocol: register, heartbeat with
//! the current load, and rebuild the status server's soft state after it
//! restarts.
//!
//! Runs on its own thread with blocking gRPC calls (never on a loop thread).
//! Each heartbeat says whether the status server still knows this chat
//! server. When it does not (the status server restarted, or dropped us after
//! a network split), the reporter registers again and re-reports every online
//! session, in batches, at once: the status server's routing is whole again
//! within one heartbeat interval of its restart.
//!
//! While the status server could not say where our sessions were (it was
//! down, or restarted and had not heard from us yet), other chat servers'
//! pushes for them found no route and were dropped (the messages are
//! stored). So once the status server knows us again after such a gap, the
//! reporter has every session here catch up from its device's watermark
//! ([`ReportSource::catch_up`]): an online user gets those messages within
//! a heartbeat interval of the status server's return, not at its next
//! login. It runs after the re-report, so anything a blind lookup missed
//! was committed before the catch-up reads the store.

use super::registry::MAX_BATCH;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use grpcio::{CallOption, ChannelBuilder, Environment};
use proto::rpc::status::{
    ChatServerInfo, HeartbeatRequest, RegisterRequest, ReportOnlineRequest, Session,
    StatusServiceClient, UserLocation,
};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the reporter asks its chat server for.
pub trait ReportSource: Send + Sync + 'static {
    /// Connections held now.
    fn load(&self) -> u32;
    /// Every session online now (for re-reporting after a status restart).
    fn sessions(&self) -> Vec<Session>;
    /// Sessions the status server says were replaced by newer logins.
    fn kick(&self, replaced: Vec<UserLocation>);
    /// Every session here is pushed what its device has not acknowledged
    /// (pushes for them may have been dropped while routing was blind).
    fn catch_up(&self);
}

/// Heartbeats a status server on behalf of one chat server until stopped.
pub struct StatusReporter {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl StatusReporter {
    /// Starts the reporter thread. `interval` is the heartbeat period until
    /// the status server says otherwise at registration.
    pub fn start(
        status_addr: &str,
        info: ChatServerInfo,
        interval: Duration,
        source: Arc<dyn ReportSource>,
    ) -> StatusReporter {
        let env = Arc::new(Environment::new(1));
        let channel = ChannelBuilder::new(env).connect(status_addr);
        let client = StatusServiceClient::new(channel);
        let (stop, stopped) = bounded(1);
        let name = format!("{}-status", info.name);
        let worker = Worker { client, info, interval, source, registered: false, blind: false };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run(stopped))
            .expect("spawn status reporter");
        StatusReporter { stop, thread: Some(thread) }
    }

    /// Stops heartbeating and waits for the thread (at most one RPC timeout).
    pub fn stop(&mut self) {
        let _ = self.stop.try_send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StatusReporter {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    client: StatusServiceClient,
    info: ChatServerInfo,
    interval: Duration,
    source: Arc<dyn ReportSource>,
    /// The status server knows us (as far as we know).
    registered: bool,
    /// Since the last good beat, the status server may not have known
    /// where our sessions are: a heartbeat failed, or it had forgotten us.
    blind: bool,
}

impl Worker {
    fn run(mut self, stopped: Receiver<()>) {
        loop {
            self.beat();
            match stopped.recv_timeout(self.interval) {
                Err(RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
    }

    fn call_option(&self) -> CallOption {
        CallOption::default().timeout(self.interval.max(Duration::from_millis(500)))
    }

    /// One heartbeat, or a (re-)registration when the status server has
    /// forgotten us.
    fn beat(&mut self) {
        if self.registered {
            let request =
                HeartbeatRequest { name: self.info.name.clone(), load: self.source.load() };
            match self.client.heartbeat_opt(&request, self.call_option()) {
                Ok(reply) if reply.registered => {
                    self.catch_up_if_blind();
                    return;
                }
                Ok(_) => log::warn!("status server forgot {}: registering again", self.info.name),
                Err(e) => {
                    log::warn!("status heartbeat failed: {e}");
                    self.blind = true;
                    return; // keep trying; it may only be a blip
                }
            }
            self.registered = false;
            self.blind = true;
        }
        self.register_and_report();
        if self.registered {
            self.catch_up_if_blind();
        }
    }

    fn catch_up_if_blind(&mut self) {
        if std::mem::take(&mut self.blind) {
            log::info!("{}: routing was blind for a while: sessions catch up", self.info.name);
            self.source.catch_up();
        }
    }

    fn register_and_report(&mut self) {
        let request = RegisterRequest { server: Some(self.info.clone()), load: self.source.load() };
        match self.client.register_opt(&request, self.call_option()) {
            Ok(reply) => {
                if reply.heartbeat_interval_ms > 0 {
                    self.interval = Duration::from_millis(reply.heartbeat_interval_ms);
                }
            }
            Err(e) => {
                log::warn!("cannot register with the status server: {e}");
                return;
            }
        }
        let sessions = self.source.sessions();
        for batch in sessions.chunks(MAX_BATCH) {
            let request =
                ReportOnlineRequest { server: self.info.name.clone(), sessions: batch.to_vec() };
            match self.client.report_online_opt(&request, self.call_option()) {
                Ok(reply) if !reply.kick.is_empty() => self.source.kick(reply.kick),
                Ok(_) => {}
                Err(e) => {
                    log::warn!("cannot re-report online sessions: {e}");
                    return; // not registered yet: the next beat tries again
                }
            }
        }
        log::info!(
            "registered {} with the status server ({} sessions)",
            self.info.name,
            sessions.len()
        );
        self.registered = true;
    }
}
