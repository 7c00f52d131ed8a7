//! Tunables of a loop pool, with defaults that suit a chat server.

use std::time::Duration;

/// Settings shared by every loop of a pool. Build with `LoopConfig::default()`
/// and change the fields you care about.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Prefix of the thread names: loops are `<name>-io-<i>`, the acceptor is
    /// `<name>-accept` (visible in `top -H`, `perf` and flame graphs).
    pub name: String,
    /// Number of loops (I/O threads). Defaults to the number of cores.
    pub threads: usize,
    /// Output bytes queued on one connection above which it is a slow
    /// consumer: the handler's `on_high_water` runs and the loop stops reading
    /// from that connection until the output drains below half of this.
    pub high_water: usize,
    /// Output bytes queued on one connection at which it is closed at once.
    /// This is the bound on per-connection memory, whatever the handler sends.
    pub output_limit: usize,
    /// How long a connection may stay above `high_water` before it is closed.
    pub slow_consumer_timeout: Duration,
    /// Close a connection that has sent nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose first whole frame has not arrived within this
    /// long after it was accepted (`None`: no deadline).
    pub first_frame_timeout: Option<Duration>,
    /// After a graceful close has sent everything and shut down the write
    /// side, how long to wait for the peer to close before forcing it.
    pub linger_timeout: Duration,
    /// How long an outgoing connection may take to be established.
    pub connect_timeout: Duration,
    /// Capacity of each loop's inbox; `post` fails when it is full.
    pub inbox_capacity: usize,
    /// Bytes read from one connection per readiness pass before the loop
    /// serves the others (that connection is picked up again next pass).
    pub read_budget: usize,
    /// Size of each loop's read buffer, shared by all its connections.
    pub read_chunk: usize,
    /// Readiness events taken from the kernel per poll.
    pub events_capacity: usize,
    /// Resolution of each loop's timing wheel.
    pub timer_tick: Duration,
    /// Wake for timers with a timerfd (nanosecond deadlines) instead of
    /// poll's timeout (whole milliseconds). For a loop whose timers tick
    /// faster than 1 ms (a load generator's send clock); two extra system
    /// calls per wake-up. Falls back to poll's timeout if the timerfd
    /// cannot be made.
    pub precise_timers: bool,
    /// Set TCP_NODELAY on every connection (the loop coalesces writes itself).
    pub nodelay: bool,
    /// Listen backlog of a [`crate::Server`]: connections waiting to be accepted.
    pub backlog: i32,
}

impl Default for LoopConfig {
    fn default() -> LoopConfig {
        LoopConfig {
            name: "reactor".to_string(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            high_water: 256 * 1024,
            output_limit: 4 * 1024 * 1024,
            slow_consumer_timeout: Duration::from_secs(10),
            idle_timeout: None,
            first_frame_timeout: None,
            linger_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(10),
            inbox_capacity: 64 * 1024,
            read_budget: 256 * 1024,
            read_chunk: 64 * 1024,
            events_capacity: 1024,
            timer_tick: Duration::from_millis(10),
            precise_timers: false,
            nodelay: true,
            backlog: 4096,
        }
    }
}

impl LoopConfig {
    /// Output level below which a paused slow consumer is read from again.
    pub fn low_water(&self) -> usize {
        self.high_water / 2
    }
}
