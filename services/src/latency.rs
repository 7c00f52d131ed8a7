//! A latency histogram for `/metrics`: fixed buckets, atomic counts, no lock.
//!
//! Any thread may record; `render` writes it in Prometheus text format as a
//! cumulative histogram (`_bucket{le=...}`, `_sum`, `_count`), which is what
//! lets an operator read p50/p99 of a stage (a commit, a router round, an
//! HTTP request) without a profiler.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 0.5 ms to 5 s.
const BUCKETS: [f64; 13] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Observations of one duration. Safe to record from any thread.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket of `BUCKETS` (not cumulative), then the
    /// ones above the last bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of all observations, in microseconds.
    sum_us: AtomicU64,
}

impl LatencyHistogram {
    pub fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(took.as_micros() as u64, Relaxed);
    }

    /// Appends the histogram `name` to `out`; `labels` are its other labels
    /// (`server="chat-1"`), or empty.
    pub fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let prefix = if labels.is_empty() { String::new() } else { format!("{labels},") };
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{prefix}le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{labels} {sum}\n{name}_count{labels} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_sum_and_count() {
        let histogram = LatencyHistogram::default();
        histogram.record(Duration::from_micros(300)); // <= 0.5 ms
        histogram.record(Duration::from_millis(3)); // <= 5 ms
        histogram.record(Duration::from_secs(9)); // above 5 s
        let mut out = String::new();
        histogram.render(&mut out, "t_seconds", "test", "server=\"s\"");
        assert!(out.contains("# TYPE t_seconds histogram\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{server=\"s\",le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{server=\"s\",le=\"0.0025\"} 1\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{server=\"s\",le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{server=\"s\",le=\"5\"} 2\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{server=\"s\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("t_seconds_sum{server=\"s\"} 9.0033\n"), "{out}");
        assert!(out.contains("t_seconds_count{server=\"s\"} 3\n"), "{out}");
    }

    #[test]
    fn without_labels_only_le_is_given() {
        let histogram = LatencyHistogram::default();
        histogram.record(Duration::from_millis(1));
        let mut out = String::new();
        histogram.render(&mut out, "g_seconds", "test", "");
        assert!(out.contains("g_seconds_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("g_seconds_sum 0.001\ng_seconds_count 1\n"), "{out}");
    }
}
