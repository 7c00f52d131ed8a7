//! The gate's counters: requests by route and status, a latency histogram,
//! requests in flight; rendered in Prometheus text format.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Safe to update from any thread.
#[derive(Default)]
pub struct GateMetrics {
    /// (route, status) → requests answered. One short lock per answer.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Cumulative counts per bucket of `BUCKETS`, then +Inf.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    pub in_flight: AtomicI64,
}

impl GateMetrics {
    /// Records one answered request.
    pub fn answered(&self, route: &'static str, status: u16, took: Duration) {
        *self.requests.lock().entry((route, status)).or_default() += 1;
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(took.as_micros() as u64, Relaxed);
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
        out.push_str("# HELP im_gate_request_seconds time from a whole request to its answer\n");
        out.push_str("# TYPE im_gate_request_seconds histogram\n");
        let mut cumulative = 0;
        for (i, count) in self.latency.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "im_gate_request_seconds_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.latency_sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "im_gate_request_seconds_sum {sum}\nim_gate_request_seconds_count {cumulative}"
        );
        out.push_str("# HELP im_gate_requests_in_flight requests being worked on\n");
        out.push_str("# TYPE im_gate_requests_in_flight gauge\n");
        let _ = writeln!(out, "im_gate_requests_in_flight {}", self.in_flight.load(Relaxed));
        out
    }
}
