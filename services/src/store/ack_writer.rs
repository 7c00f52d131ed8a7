//! Group commit of acknowledgements (MSG_DELIVERED_ACK).
//!
//! A receiver acknowledges every push, so acks arrive as fast as messages
//! do. One transaction per ack would cost one durable commit each and, on
//! SQLite, take the single write lock away from the message writer every
//! time. Instead acks go into one bounded queue; a thread takes whatever
//! has accumulated (up to `max_ids` message ids or conversations) and moves
//! the watermarks in one transaction ([`super::watermarks`]: a handful of
//! statements however many acks). Acknowledgements that arrived out of order
//! wait in that thread's [`HeldAcks`] for the seqs below them.
//!
//! Under load, acks wait up to `max_delay` for more before a batch commits:
//! a receiver acknowledges every push, and in a group of 500 every message
//! makes 499 acknowledgements, but each watermark is one row whatever the
//! number of acks a batch folds into it. With the chat server's default of
//! 250 ms, a member's watermark is written at most 4 times a second however
//! fast its group talks (MariaDB's transactions per group message fell from
//! 4.5 to about 1: perf/README.md "Groups"); a crash loses at most that
//! window of acknowledgements, whose messages are pushed again (the client
//! drops them as duplicates). The window opens only after a batch of
//! [`BUSY_ACKS`] or more: a light load's acks commit at once, so a client
//! that acknowledges and logs in again finds its watermark moved.
//!
//! Nobody waits for the result: an ack that is lost (queue full, database
//! down) only means the messages are pushed again at the next login, and
//! the client drops them as duplicates. The queue, the gathering and the
//! connection discipline (a batch that loses its connection is retried once
//! on a new one: raising a watermark is idempotent) are
//! [`super::group_commit`]'s, shared with the message writer.

use super::api::StoreConn;
use super::group_commit::{GroupCommit, GroupCommitConfig, Link};
use super::model::DeliveryAck;
use super::pool::{Backend, StoreError};
use super::watermarks::HeldAcks;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Counters of the ack writer, readable from any thread.
#[derive(Debug, Default)]
pub struct AckMetrics {
    /// Watermarks raised.
    pub marked: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Acks refused because the queue was full.
    pub busy: AtomicU64,
    /// Batches that failed (their messages are pushed again).
    pub failed_batches: AtomicU64,
    /// Acknowledged seqs waiting for an earlier one, now.
    pub held: AtomicU64,
}

/// The weight of a batch after which the next one waits `max_delay` for more.
pub const BUSY_ACKS: usize = 512;

/// Out-of-order acknowledgements kept between batches: at most this many seqs.
const HELD_CAPACITY: usize = 64 * 1024;

/// Handle to the ack writer thread. Dropping it commits what is queued.
pub struct AckWriter {
    commits: GroupCommit<DeliveryAck>,
    metrics: Arc<AckMetrics>,
}

impl AckWriter {
    /// Starts the thread `<name>-acks-0` with its own connection from
    /// `backend`. Any thread.
    pub fn start<B: Backend + Clone>(
        backend: B,
        name: &str,
        queue_capacity: usize,
        max_ids: usize,
        max_delay: Duration,
    ) -> std::io::Result<AckWriter>
    where
        B::Conn: StoreConn,
    {
        let metrics = Arc::new(AckMetrics::default());
        let settings = GroupCommitConfig::new(
            format!("{name}-acks"),
            1,
            max_ids.max(1),
            max_delay,
            queue_capacity,
        )
        .waiting_when_busy(BUSY_ACKS);
        let shared = metrics.clone();
        // One shard: its thread is the only one to touch the held acks (the
        // lock is never contended; it is there because a commit function
        // is shared).
        let held = Arc::new(Mutex::new(HeldAcks::new(HELD_CAPACITY)));
        let commits = GroupCommit::start(
            backend,
            settings,
            |ack: &DeliveryAck| ack.weight(),
            move |batch, link: &mut Link<B>| commit(&shared, &mut held.lock(), batch, link),
        )?;
        Ok(AckWriter { commits, metrics })
    }

    /// Queues an ack. Never blocks (a loop thread calls it): a full queue is
    /// `Busy` at once. Any thread.
    pub fn submit(&self, ack: DeliveryAck) -> Result<(), StoreError> {
        self.commits.submit(ack.uid, ack, &self.metrics.busy)
    }

    /// Acks waiting. Any thread.
    pub fn queue_depth(&self) -> usize {
        self.commits.queue_depth()
    }

    pub fn metrics(&self) -> &Arc<AckMetrics> {
        &self.metrics
    }
}

/// A batch of acknowledgements: watermarks moved in one transaction. On the
/// shard's thread.
fn commit<B: Backend>(
    metrics: &AckMetrics,
    held: &mut HeldAcks,
    batch: Vec<DeliveryAck>,
    link: &mut Link<B>,
) where
    B::Conn: StoreConn,
{
    let outcome = link.run(|conn| conn.acknowledge_holding(&batch, held));
    metrics.held.store(held.len() as u64, Relaxed);
    match outcome {
        Ok(marked) => {
            metrics.marked.fetch_add(marked, Relaxed);
            metrics.batches.fetch_add(1, Relaxed);
        }
        Err(e) => {
            log::warn!("{} acks not stored (pushed again at the next login): {e}", batch.len());
            metrics.failed_batches.fetch_add(1, Relaxed);
        }
    }
}
