//! The gate's counters: requests by route and status, a latency histogram,
//! requests in flight; rendered in Prometheus text format.

use crate::latency::LatencyHistogram;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Safe to update from any thread.
#[derive(Default)]
pub struct GateMetrics {
    /// (route, status) → requests answered. One short lock per answer.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Time from a whole request to its answer.
    latency: LatencyHistogram,
    pub in_flight: AtomicI64,
    /// Logins refused (1104) because the address was in backoff.
    pub login_refused_address: AtomicU64,
    /// Logins refused (1104) because the account was, for that address.
    pub login_refused_account: AtomicU64,
    /// Logins by session token (no password hash).
    pub sessions_resumed: AtomicU64,
}

impl GateMetrics {
    /// Records one answered request.
    pub fn answered(&self, route: &'static str, status: u16, took: Duration) {
        *self.requests.lock().entry((route, status)).or_default() += 1;
        self.latency.record(took);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP im_gate_requests_total HTTP requests answered, by route and status\n");
        out.push_str("# TYPE im_gate_requests_total counter\n");
        for ((route, status), count) in self.requests.lock().iter() {
            let _ = writeln!(
                out,
                "im_gate_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        self.latency.render(
            &mut out,
            "im_gate_request_seconds",
            "time from a whole request to its answer",
            "",
        );
        out.push_str("# HELP im_gate_requests_in_flight requests being worked on\n");
        out.push_str("# TYPE im_gate_requests_in_flight gauge\n");
        let _ = writeln!(out, "im_gate_requests_in_flight {}", self.in_flight.load(Relaxed));
        out.push_str("# HELP im_gate_login_refusals_total logins refused by the login limits\n");
        out.push_str("# TYPE im_gate_login_refusals_total counter\n");
        for (by, counter) in
            [("address", &self.login_refused_address), ("account", &self.login_refused_account)]
        {
            let _ = writeln!(
                out,
                "im_gate_login_refusals_total{{by=\"{by}\"}} {}",
                counter.load(Relaxed)
            );
        }
        out.push_str("# HELP im_gate_sessions_resumed_total logins by session token\n");
        out.push_str("# TYPE im_gate_sessions_resumed_total counter\n");
        let _ =
            writeln!(out, "im_gate_sessions_resumed_total {}", self.sessions_resumed.load(Relaxed));
        out
    }
}
