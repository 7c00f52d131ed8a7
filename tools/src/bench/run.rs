//! Driving the clients: tokens from the status server, connections spread
//! over loops and source addresses, a progress line every second, and the
//! histograms collected at the end.

use super::client::{LoadClient, Role, Shared, User, TICK};
use grpcio::{ChannelBuilder, Environment};
use hdrhistogram::Histogram;
use proto::rpc::status::{GetChatServerRequest, StatusServiceClient};
use reactor::{FrameCodec, LoopConfig, LoopPool};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The status server of the cluster under test.
pub fn status_client(addr: &str) -> StatusServiceClient {
    StatusServiceClient::new(ChannelBuilder::new(Arc::new(Environment::new(1))).connect(addr))
}

/// A token for `uid` and the chat server the status server picked for it,
/// as the gate would hand them out (without the password check).
pub fn assign(status: &StatusServiceClient, uid: u64) -> Result<(SocketAddr, String), String> {
    let reply = status
        .get_chat_server(&GetChatServerRequest { uid })
        .map_err(|e| format!("GetChatServer: {e}"))?;
    let server = reply.server.ok_or("no chat server")?;
    let addr = format!("{}:{}", server.host, server.port)
        .parse()
        .map_err(|_| "bad chat server address")?;
    Ok((addr, reply.token))
}

/// The client loops and their shared counters.
pub struct Load {
    pub pool: LoopPool<LoadClient>,
    pub shared: Arc<Shared>,
}

impl Load {
    pub fn start(threads: usize, rate_per_sender: f64) -> Load {
        Load::start_devices(threads, rate_per_sender, 1)
    }

    /// Like `start`, each user logging in on `devices` devices (1 or 2).
    pub fn start_devices(threads: usize, rate_per_sender: f64, devices: u64) -> Load {
        let shared = Arc::new(Shared::with_devices(rate_per_sender, devices));
        let config = loop_config("imbench", threads);
        let for_loops = shared.clone();
        let pool = LoopPool::start(config, FrameCodec::default(), move |_| {
            LoadClient::new(for_loops.clone())
        })
        .expect("start the client loops");
        Load { pool, shared }
    }

    /// Connects `uid` with `role` to `server` from `source` (round robin over loops).
    pub fn connect(
        &self,
        uid: u64,
        token: String,
        role: Role,
        server: SocketAddr,
        source: Option<IpAddr>,
    ) {
        self.connect_device(User::new(uid, token, role, 0), server, source);
    }

    /// Connects `user` (one of its devices) to `server` from `source`.
    pub fn connect_device(&self, user: User, server: SocketAddr, source: Option<IpAddr>) {
        let posted = self.pool.next_handle().post(move |h, ctx| h.add(ctx, server, source, user));
        if posted.is_err() {
            self.shared.connect_failed.fetch_add(1, Relaxed);
        }
    }

    /// Waits until `count` users are logged in (or failed), printing progress.
    pub fn wait_logged_in(&self, count: u64, timeout: Duration) -> bool {
        self.shared.wait_logged_in(count, timeout)
    }

    /// The loops' histograms merged: end-to-end latency, login latency, and
    /// the generator's own lateness.
    pub fn histograms(&self) -> Histograms {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in self.pool.handles().iter() {
            let sender = sender.clone();
            let _ = handle.post(move |h, _| {
                let mine = Histograms {
                    latency: h.latency.clone(),
                    login: h.login_latency.clone(),
                    lateness: h.lateness.clone(),
                };
                drop(sender.send(mine));
            });
        }
        let mut merged: Option<Histograms> = None;
        for _ in 0..self.pool.len() {
            let Ok(loop_histograms) = receiver.recv_timeout(Duration::from_secs(5)) else { break };
            match &mut merged {
                None => merged = Some(loop_histograms),
                Some(m) => m.add(&loop_histograms),
            }
        }
        merged.expect("the loops answer")
    }

    /// Fault mode: logs in again, through the status server (which picks a
    /// live chat server and issues a token), every user whose connection
    /// closed, until `stop`. Each waits a jittered backoff first (50-250 ms,
    /// doubling per failed attempt up to 2 s), so that thousands of users
    /// dropped at once do not come back in the same millisecond.
    pub fn reconnect_dropped(&self, status: &StatusServiceClient, stop: &AtomicBool) {
        let mut waiting: Vec<(Instant, u32, User)> = Vec::new();
        while !stop.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            let now = Instant::now();
            for user in std::mem::take(&mut *self.shared.dropped.lock()) {
                waiting.push((now + backoff(user.uid, 0), 0, user));
            }
            let (due, later): (Vec<_>, Vec<_>) =
                waiting.drain(..).partition(|(at, _, _)| *at <= now);
            waiting = later;
            for (_, attempt, mut user) in due {
                match assign(status, user.uid) {
                    Ok((server, token)) => {
                        user.token = token;
                        user.started = Some(Instant::now());
                        self.connect_device(user, server, None);
                    }
                    Err(_) => {
                        let attempt = attempt + 1;
                        waiting.push((Instant::now() + backoff(user.uid, attempt), attempt, user));
                    }
                }
            }
        }
        self.shared.dropped.lock().extend(waiting.into_iter().map(|(_, _, user)| user));
    }

    /// The end-to-end latency recorded since the last call, over all loops
    /// (each starts afresh).
    pub fn take_interval_latency(&self) -> Histogram<u64> {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in self.pool.handles().iter() {
            let sender = sender.clone();
            let _ = handle.post(move |h, _| {
                let _ = sender.send(h.take_interval_latency());
            });
        }
        let mut merged = Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
        for _ in 0..self.pool.len() {
            let Ok(part) = receiver.recv_timeout(Duration::from_secs(5)) else { break };
            let _ = merged.add(&part);
        }
        merged
    }

    /// Logs out one idle user (on the next loop in turn): the soak's churn.
    pub fn log_out_idle(&self) {
        let _ = self.pool.next_handle().post(|h, ctx| {
            h.log_out_one_idle(ctx);
        });
    }

    /// Fault mode: messages stored out of send order, over every receiver
    /// (connected, or still waiting to log in again).
    pub fn reordered(&self) -> u64 {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in self.pool.handles().iter() {
            let sender = sender.clone();
            let _ = handle.post(move |h, _| {
                let _ = sender.send(h.reordered());
            });
        }
        let connected: u64 = (0..self.pool.len())
            .filter_map(|_| receiver.recv_timeout(Duration::from_secs(5)).ok())
            .sum();
        connected + self.shared.dropped.lock().iter().map(User::reordered).sum::<u64>()
    }

    pub fn stop(mut self) {
        self.pool.shutdown(Duration::from_secs(2));
    }
}

/// How long user `uid` waits before its `attempt`-th login after a lost
/// connection: 50-250 ms (spread by the uid), doubled per failed attempt,
/// at most 2 s.
fn backoff(uid: u64, attempt: u32) -> Duration {
    let spread = uid.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40; // 0 .. 2^24
    let base = 50 + spread % 200;
    Duration::from_millis((base << attempt.min(5)).min(2_000))
}

/// What the client loops measured, in microseconds.
pub struct Histograms {
    pub latency: Histogram<u64>,
    pub login: Histogram<u64>,
    pub lateness: Histogram<u64>,
}

impl Histograms {
    fn add(&mut self, other: &Histograms) {
        let _ = self.latency.add(&other.latency);
        let _ = self.login.add(&other.login);
        let _ = self.lateness.add(&other.lateness);
    }
}

/// The client loops' configuration: their timers tick every [`TICK`] and
/// wake on a timerfd, so that sends leave close to when they are due.
pub fn loop_config(name: &str, threads: usize) -> LoopConfig {
    LoopConfig {
        name: name.into(),
        threads,
        timer_tick: TICK,
        precise_timers: true,
        ..LoopConfig::default()
    }
}

/// Milliseconds at quantile `q` of a microsecond histogram.
pub fn ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1000.0
}

/// Pids of the chat servers running on this machine (by process name).
pub fn chat_server_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "chat-server")
        })
        .collect()
}

/// Resident memory of `pids`, in KiB.
pub fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}
