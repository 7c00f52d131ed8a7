//! Counters a loop updates as it runs, readable from any thread.
//!
//! Plain relaxed atomics: each counter is written by its loop only, so the
//! cost on the hot path is an uncontended add, and a reader (a metrics
//! endpoint, a test) sees a recent value, never a torn one.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One loop's counters. Shared as `Arc<LoopStats>`.
#[derive(Debug, Default)]
pub struct LoopStats {
    /// Connections currently owned by the loop.
    pub connections: AtomicU64,
    /// Connections ever adopted (accepted or connected).
    pub opened: AtomicU64,
    /// Connections ever closed.
    pub closed: AtomicU64,
    /// Frames handed to the handler.
    pub frames_in: AtomicU64,
    /// Bytes read from sockets.
    pub bytes_in: AtomicU64,
    /// Bytes written to sockets.
    pub bytes_out: AtomicU64,
    /// Times a connection's output crossed the high-water mark.
    pub high_water_events: AtomicU64,
    /// Connections closed as slow consumers (timeout or output limit).
    pub slow_consumer_closes: AtomicU64,
    /// Connections closed for a framing error.
    pub protocol_errors: AtomicU64,
    /// Connections closed by the idle or first-frame timeout.
    pub timeouts: AtomicU64,
    /// The most output bytes ever queued on one connection.
    pub peak_output: AtomicU64,
    /// Times a write would block and WRITABLE interest was registered.
    pub writable_asked: AtomicU64,
    /// Times the output drained and WRITABLE interest was dropped again.
    pub writable_dropped: AtomicU64,
    /// Tasks run from the inbox.
    pub tasks: AtomicU64,
    /// Passes of the loop (poll calls).
    pub polls: AtomicU64,
}

impl LoopStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn raise_peak_output(&self, queued: usize) {
        self.peak_output.fetch_max(queued as u64, Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
