//! Driving the clients: tokens from the status server, connections spread
//! over loops and source addresses, a progress line every second, and the
//! histograms collected at the end.

use super::client::{LoadClient, Role, Shared, User, TICK};
use grpcio::{ChannelBuilder, Environment};
use hdrhistogram::Histogram;
use proto::rpc::status::{GetChatServerRequest, StatusServiceClient};
use reactor::{FrameCodec, LoopConfig, LoopPool};
use std::collections::HashMap;
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

/// How a dropped user gets a chat server and a token again (called on the
/// reconnecting thread, one user at a time).
pub type Relogin<'a> = dyn Fn(u64) -> Result<(SocketAddr, String), String> + Sync + 'a;

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
        // A client takes what a server may send: frames up to the format's limit
        // (a LOGIN_RSP with hundreds of friends is near it).
        let pool = LoopPool::start(config, FrameCodec::new(usize::MAX), move |_| {
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

    /// The group messages the loops' receivers got, merged: message id →
    /// (receivers, latency to the last of them in us).
    pub fn group_arrivals(&self) -> HashMap<u64, (u32, u64)> {
        let (sender, receiver) = std::sync::mpsc::channel();
        for handle in self.pool.handles().iter() {
            let sender = sender.clone();
            let _ = handle.post(move |h, _| drop(sender.send(h.group_arrivals.clone())));
        }
        let mut merged: HashMap<u64, (u32, u64)> = HashMap::new();
        for _ in 0..self.pool.len() {
            let Ok(arrivals) = receiver.recv_timeout(Duration::from_secs(5)) else { break };
            merge_arrivals(&mut merged, arrivals);
        }
        merged
    }

    /// Fault mode: logs in again every user whose connection closed, until
    /// `stop`: `relogin` gives a user's chat server and token (through the
    /// status server, as [`assign`], or through the gate), called on
    /// `workers` threads at once (a gate login is a blocking HTTP request).
    /// Each user waits a jittered backoff first (50-250 ms, doubling per
    /// failed attempt up to 2 s), so that thousands of users dropped at once
    /// do not come back in the same millisecond.
    pub fn reconnect_dropped(&self, relogin: &Relogin<'_>, workers: usize, stop: &AtomicBool) {
        let workers = workers.max(1);
        // Both bounded: at most `2 * workers` users are between the
        // scheduler and the workers, and the scheduler never blocks.
        let (due_sender, due) = crossbeam_channel::bounded::<(u32, User)>(workers);
        let (failed_sender, failed) = crossbeam_channel::bounded::<(u32, User)>(2 * workers);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (due, failed_sender) = (due.clone(), failed_sender.clone());
                scope.spawn(move || {
                    for (attempt, mut user) in due.iter() {
                        match relogin(user.uid) {
                            Ok((server, token)) => {
                                user.token = token;
                                user.started = Some(Instant::now());
                                self.connect_device(user, server, None);
                            }
                            Err(_) => drop(failed_sender.send((attempt + 1, user))),
                        }
                    }
                });
            }
            drop(failed_sender);
            let mut waiting: Vec<(Instant, u32, User)> = Vec::new();
            while !stop.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                let now = Instant::now();
                for user in std::mem::take(&mut *self.shared.dropped.lock()) {
                    waiting.push((now + backoff(user.uid, 0), 0, user));
                }
                for (attempt, user) in failed.try_iter() {
                    waiting.push((now + backoff(user.uid, attempt), attempt, user));
                }
                // Soonest last, so that the due ones pop off the end.
                waiting.sort_unstable_by_key(|(at, _, _)| std::cmp::Reverse(*at));
                while waiting.last().is_some_and(|(at, _, _)| *at <= now) {
                    let (at, attempt, user) = waiting.pop().expect("just looked");
                    if let Err(e) = due_sender.try_send((attempt, user)) {
                        let (attempt, user) = e.into_inner();
                        waiting.push((at, attempt, user)); // every worker busy: next round
                        break;
                    }
                }
            }
            drop(due_sender);
            // The workers finish what they hold; the rest waits for the caller.
            let mut left: Vec<User> = waiting.into_iter().map(|(_, _, user)| user).collect();
            while let Ok((_, user)) = failed.recv_timeout(Duration::from_secs(35)) {
                left.push(user);
            }
            left.extend(due.try_iter().map(|(_, user)| user));
            self.shared.dropped.lock().extend(left);
        });
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
    pids_named("chat-server")
}

/// Pids of the processes called `name` (their `comm`) on this machine.
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .collect()
}

/// CPU time `pids` have used so far (user + system), in seconds.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    // SAFETY: sysconf reads a constant of the system; it takes no pointers.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // The name in parentheses may hold spaces: count fields after it.
            let after_name = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat(5): 12 and 13 here.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / ticks_per_second
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

/// Adds one loop's arrivals to `into`: receivers summed, the latest kept.
pub fn merge_arrivals<K: std::hash::Hash + Eq>(
    into: &mut HashMap<K, (u32, u64)>,
    from: HashMap<K, (u32, u64)>,
) {
    for (key, (count, latest)) in from {
        let entry = into.entry(key).or_default();
        *entry = (entry.0 + count, entry.1.max(latest));
    }
}

/// The latency to each message's last recipient, over the messages every
/// one of `fanout` recipients got; and how many messages some recipient
/// did not get (in the run's time).
pub fn last_recipient<K>(arrivals: &HashMap<K, (u32, u64)>, fanout: u64) -> (Histogram<u64>, u64) {
    let mut last = Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut incomplete = 0;
    for &(count, latest) in arrivals.values() {
        if u64::from(count) >= fanout {
            let _ = last.record(latest.max(1));
        } else {
            incomplete += 1;
        }
    }
    (last, incomplete)
}
