//! The chat server's counters and their Prometheus text rendering.

use crate::latency::LatencyHistogram;
use crate::store::ack_writer::AckMetrics;
use crate::store::message_writer::WriterMetrics;
use crate::store::PoolMetrics;
use reactor::LoopStats;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Counters written by the loops, the writer callbacks, the router and the
/// ChatService; readable from any thread.
#[derive(Debug, Default)]
pub struct ChatMetrics {
    pub logins: AtomicU64,
    pub login_failures: AtomicU64,
    pub kicks: AtomicU64,
    /// Sessions caught up from their watermark after the status server
    /// lost track of them.
    pub catch_ups: AtomicU64,
    pub frames_out: AtomicU64,
    pub bad_requests: AtomicU64,
    /// Messages handed to a local connection (live pushes and sync pages).
    pub messages_pushed: AtomicU64,
    /// Messages sent to peer chat servers for their users (a group's once
    /// per server).
    pub messages_forwarded: AtomicU64,
    /// Group pushes not written to a member whose output was full (it
    /// caught up by a sync once drained).
    pub group_pushes_skipped: AtomicU64,
    /// Pushes dropped because a queue was full or a peer call failed (the
    /// messages stay pending and reach the user at the next login).
    pub pushes_dropped: AtomicU64,
    /// Users whose message pushes failed and who were caught up later
    /// where they are (the router's debts, settled).
    pub debts_settled: AtomicU64,
    /// Users owed a catch-up beyond the router's bound: their messages
    /// wait for their next login.
    pub debts_forgotten: AtomicU64,
    /// One router round: the status lookup and every peer's push.
    pub router_rounds: LatencyHistogram,
    /// Connections closed, by why (indexed as [`CLOSE_REASONS`]).
    pub closed: [AtomicU64; CLOSE_REASONS.len()],
    /// Connections closed because they had not logged in by the deadline
    /// (also counted as `server` in `closed`).
    pub login_deadline_closes: AtomicU64,
}

/// The `reason` labels of `im_chat_connections_closed_total`.
pub const CLOSE_REASONS: [&str; 9] = [
    "peer",
    "idle",
    "first_frame",
    "slow_consumer",
    "protocol",
    "io",
    "server",
    "shutdown",
    "connect",
];

impl ChatMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Counts a closed connection under its reason.
    pub fn closed_because(&self, reason: &reactor::CloseReason) {
        use reactor::CloseReason::*;
        let index = match reason {
            PeerClosed => 0,
            IdleTimeout => 1,
            FirstFrameTimeout => 2,
            SlowConsumer => 3,
            ProtocolError => 4,
            Io(_) => 5,
            Requested => 6,
            Shutdown => 7,
            ConnectFailed(_) | ConnectTimeout => 8,
        };
        ChatMetrics::add(&self.closed[index], 1);
    }
}

/// Everything `/metrics` shows, gathered by reference.
pub struct MetricsView<'a> {
    pub server: &'a str,
    pub chat: &'a ChatMetrics,
    pub loops: &'a [Arc<LoopStats>],
    pub online_users: usize,
    pub store_queue_depth: usize,
    pub store: &'a PoolMetrics,
    pub writer_queue_depth: usize,
    pub writer: &'a WriterMetrics,
    pub acks: &'a AckMetrics,
    pub ack_queue_depth: usize,
    pub router_queue_depth: usize,
}

impl MetricsView<'_> {
    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sum = |f: fn(&LoopStats) -> &AtomicU64| -> u64 {
            self.loops.iter().map(|s| f(s).load(Relaxed)).sum()
        };
        let c = self.chat;
        let peak_output = self.loops.iter().map(|s| s.peak_output.load(Relaxed)).max().unwrap_or(0);
        let rows: [(&str, &str, &str, u64); 31] = [
            ("im_chat_connections", "gauge", "open connections", sum(|s| &s.connections)),
            ("im_chat_online_users", "gauge", "logged-in users", self.online_users as u64),
            (
                "im_chat_connections_opened_total",
                "counter",
                "connections accepted",
                sum(|s| &s.opened),
            ),
            ("im_chat_logins_total", "counter", "successful logins", c.logins.load(Relaxed)),
            (
                "im_chat_login_failures_total",
                "counter",
                "refused logins",
                c.login_failures.load(Relaxed),
            ),
            (
                "im_chat_kicks_total",
                "counter",
                "sessions replaced by a newer login",
                c.kicks.load(Relaxed),
            ),
            (
                "im_chat_catch_ups_total",
                "counter",
                "sessions synced again after the status server lost track of them",
                c.catch_ups.load(Relaxed),
            ),
            ("im_chat_frames_in_total", "counter", "frames received", sum(|s| &s.frames_in)),
            ("im_chat_frames_out_total", "counter", "frames sent", c.frames_out.load(Relaxed)),
            (
                "im_chat_bad_requests_total",
                "counter",
                "requests answered with 1001/1103/1106",
                c.bad_requests.load(Relaxed),
            ),
            (
                "im_chat_messages_committed_total",
                "counter",
                "messages stored by the writer",
                self.writer.messages.load(Relaxed),
            ),
            (
                "im_chat_message_batches_total",
                "counter",
                "writer transactions",
                self.writer.batches.load(Relaxed),
            ),
            (
                "im_chat_writer_refused_total",
                "counter",
                "message submissions refused (1105): writer queue full or its commit stalled",
                self.writer.busy.load(Relaxed),
            ),
            (
                "im_chat_writer_failed_batches_total",
                "counter",
                "writer transactions that failed (their senders got the error)",
                self.writer.failed_batches.load(Relaxed),
            ),
            (
                "im_chat_messages_pushed_total",
                "counter",
                "messages pushed to local connections",
                c.messages_pushed.load(Relaxed),
            ),
            (
                "im_chat_group_pushes_skipped_total",
                "counter",
                "group pushes skipped for a slow member (caught up by a sync)",
                c.group_pushes_skipped.load(Relaxed),
            ),
            (
                "im_chat_messages_forwarded_total",
                "counter",
                "messages sent to peer chat servers",
                c.messages_forwarded.load(Relaxed),
            ),
            (
                "im_chat_messages_acked_total",
                "counter",
                "messages acknowledged by receivers",
                self.acks.marked.load(Relaxed),
            ),
            (
                "im_chat_ack_queue_depth",
                "gauge",
                "acknowledgements waiting to be stored",
                self.ack_queue_depth as u64,
            ),
            (
                "im_chat_acks_dropped_total",
                "counter",
                "acknowledgements refused by a full queue (pushed again at the next login)",
                self.acks.busy.load(Relaxed),
            ),
            (
                "im_chat_router_debts_settled_total",
                "counter",
                "users whose pushes to a peer failed, caught up there later",
                c.debts_settled.load(Relaxed),
            ),
            (
                "im_chat_router_debts_forgotten_total",
                "counter",
                "users owed a catch-up beyond the router's bound (synced at their next login)",
                c.debts_forgotten.load(Relaxed),
            ),
            (
                "im_chat_pushes_dropped_total",
                "counter",
                "pushes that failed (a full inbox, or a peer call: its users are caught up later)",
                c.pushes_dropped.load(Relaxed),
            ),
            (
                "im_chat_store_queue_depth",
                "gauge",
                "store jobs waiting",
                self.store_queue_depth as u64,
            ),
            (
                "im_chat_store_busy_total",
                "counter",
                "store jobs refused as busy",
                self.store.busy.load(Relaxed),
            ),
            (
                "im_chat_store_errors_total",
                "counter",
                "store jobs that failed",
                self.store.errors.load(Relaxed),
            ),
            (
                "im_chat_writer_queue_depth",
                "gauge",
                "message submissions waiting",
                self.writer_queue_depth as u64,
            ),
            (
                "im_chat_router_queue_depth",
                "gauge",
                "pushes waiting for peer servers",
                self.router_queue_depth as u64,
            ),
            (
                "im_chat_slow_consumer_closes_total",
                "counter",
                "connections closed as slow consumers",
                sum(|s| &s.slow_consumer_closes),
            ),
            (
                "im_chat_peak_output_bytes",
                "gauge",
                "largest output queue of one connection so far",
                peak_output,
            ),
            (
                "im_chat_protocol_errors_total",
                "counter",
                "connections closed for bad frames",
                sum(|s| &s.protocol_errors),
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let _ = writeln!(out, "{name}{{server=\"{}\"}} {value}", self.server);
        }
        let name = "im_chat_connections_closed_total";
        let _ = writeln!(out, "# HELP {name} connections closed, by why\n# TYPE {name} counter");
        for (reason, count) in CLOSE_REASONS.iter().zip(&c.closed) {
            let count = count.load(Relaxed);
            let _ =
                writeln!(out, "{name}{{server=\"{}\",reason=\"{reason}\"}} {count}", self.server);
        }
        let name = "im_chat_login_deadline_closes_total";
        let _ = writeln!(
            out,
            "# HELP {name} connections closed for not logging in in time\n# TYPE {name} counter\n\
             {name}{{server=\"{}\"}} {}",
            self.server,
            c.login_deadline_closes.load(Relaxed)
        );
        let server = format!("server=\"{}\"", self.server);
        self.writer.commit_latency.render(
            &mut out,
            "im_chat_message_commit_seconds",
            "from a message's submission to the writer to its commit",
            &server,
        );
        c.router_rounds.render(
            &mut out,
            "im_chat_router_round_seconds",
            "one router round: status lookup and pushes to peers",
            &server,
        );
        out
    }
}
