//! The batched message writer (group commit).
//!
//! One `fsync` per message would cap a chat server at a few hundred messages
//! per second. Instead, messages from every connection go into one bounded
//! queue; a writer thread takes whatever has accumulated (up to `max_batch`,
//! waiting at most `max_delay` for more when it has fewer) and stores it with
//! one transaction and one multi-row insert. Only after the commit does each
//! submitter learn its message ids: that is the moment a 1018 may be sent.
//!
//! With `max_delay` zero (the default) nothing waits: while one batch commits,
//! the next accumulates, so batches grow with the load by themselves.
//!
//! The queue, the gathering and the connection discipline are
//! [`super::group_commit`]'s, shared with the acknowledgement writer; this
//! file says what a batch of messages is and who hears of its commit.
//!
//! The writer has `shards` threads, each committing on its own connection,
//! one batch after another. A submission goes to the shard of its first
//! message's pair of users, so the messages between two users are always
//! committed by the same thread, in the order they were submitted, while
//! other pairs commit in parallel (a single MySQL connection is served by one
//! server thread, which caps one shard at one core of the database). A batch
//! that loses its connection is retried once on a new one (appends are
//! idempotent on (sender, unique_id), so that is safe).

use super::api::StoreConn;
use super::group_commit::{GroupCommit, GroupCommitConfig, Link};
use super::model::{Appended, NewMessage, StoredMessage};
use super::pool::{Backend, StoreError};
use crate::latency::LatencyHistogram;
use proto::ErrorCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Thread names are `<name>-writer-<shard>`.
    pub name: String,
    /// Writer threads (and connections); pairs of users are spread over them.
    pub shards: usize,
    /// Most messages in one transaction.
    pub max_batch: usize,
    /// How long a batch smaller than `max_batch` may wait for more.
    pub max_delay: Duration,
    /// Submissions that may wait for the writer.
    pub queue_capacity: usize,
    /// A shard whose commit has run this long refuses new messages (1105 to
    /// their senders) until it ends: a stalled database answers at once.
    pub stall_limit: Duration,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            name: "store".into(),
            shards: 2,
            max_batch: 1024,
            max_delay: Duration::ZERO,
            queue_capacity: 16 * 1024,
            stall_limit: Duration::from_secs(5),
        }
    }
}

/// Counters of the writer, readable from any thread.
#[derive(Debug, Default)]
pub struct WriterMetrics {
    /// Messages committed.
    pub messages: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Batches that failed (their submitters got the error).
    pub failed_batches: AtomicU64,
    /// Submissions refused because the queue was full or the commit stalled.
    pub busy: AtomicU64,
    /// From a submission to its commit (the wait in the queue included):
    /// the part of a message's latency that is the database.
    pub commit_latency: LatencyHistogram,
}

type Done = Box<dyn FnOnce(Result<Vec<Appended>, StoreError>) + Send>;

/// What a group's submission made: its messages stored, and the members
/// they go to (as of the commit).
pub type GroupWritten = (Vec<StoredMessage>, Arc<[u64]>);

/// One submitter's messages and who to tell.
pub struct Submission {
    messages: Vec<NewMessage>,
    done: Done,
    submitted: Instant,
}

/// Handle to the writer threads. Dropping it commits what is queued and stops.
pub struct MessageWriter {
    commits: GroupCommit<Submission>,
    metrics: Arc<WriterMetrics>,
}

impl MessageWriter {
    /// Starts the writer threads, each with its own connection from `backend`.
    /// Any thread.
    pub fn start<B: Backend + Clone>(
        backend: B,
        config: WriterConfig,
    ) -> std::io::Result<MessageWriter>
    where
        B::Conn: StoreConn,
    {
        let metrics = Arc::new(WriterMetrics::default());
        let settings = GroupCommitConfig::new(
            format!("{}-writer", config.name),
            config.shards,
            config.max_batch,
            config.max_delay,
            config.queue_capacity,
        )
        .stalled_after(config.stall_limit);
        let shared = metrics.clone();
        let commits = GroupCommit::start(
            backend,
            settings,
            |job: &Submission| job.messages.len(),
            move |batch, link: &mut Link<B>| commit(&shared, batch, link),
        )?;
        Ok(MessageWriter { commits, metrics })
    }

    /// Queues messages to store; `done` runs on the writer thread after the
    /// commit with the stored messages, in the order given. Never blocks (a
    /// loop thread may call it): a full queue is `Busy` at once. Any thread.
    pub fn submit(
        &self,
        messages: Vec<NewMessage>,
        done: impl FnOnce(Result<Vec<StoredMessage>, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.submit_batch(messages, move |appended| {
            let stored = appended.and_then(|all| {
                all.into_iter()
                    .map(|a| match a {
                        Appended::Stored { message, .. } => Ok(message),
                        Appended::NotMember => Err(StoreError::Refused(ErrorCode::NotMember)),
                    })
                    .collect()
            });
            done(stored)
        })
    }

    /// [`MessageWriter::submit`] for messages of one sender to one group:
    /// `done` gets them with the group's members, or `Refused(NotMember)`
    /// if the sender was not a member when they would have committed.
    pub fn submit_to_group(
        &self,
        messages: Vec<NewMessage>,
        done: impl FnOnce(Result<GroupWritten, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.submit_batch(messages, move |appended| {
            let written = appended.and_then(|all| {
                let mut members: Option<Arc<[u64]>> = None;
                let mut stored = Vec::with_capacity(all.len());
                for a in all {
                    let Appended::Stored { message, members: m } = a else {
                        return Err(StoreError::Refused(ErrorCode::NotMember));
                    };
                    members = members.or(m);
                    stored.push(message);
                }
                Ok((stored, members.unwrap_or_else(|| Arc::from(Vec::new()))))
            });
            done(written)
        })
    }

    fn submit_batch(
        &self,
        messages: Vec<NewMessage>,
        done: impl FnOnce(Result<Vec<Appended>, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        // The pair of users (or the group and its sender) picks the shard,
        // so one pair, and one sender in a group, is always committed in order.
        let pair = messages.first().map_or((0, 0), |m| {
            if m.group != 0 {
                (m.group, m.sender)
            } else {
                (m.sender.min(m.receiver), m.sender.max(m.receiver))
            }
        });
        let key = pair.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ pair.1;
        let submission = Submission { messages, done: Box::new(done), submitted: Instant::now() };
        self.commits.submit(key, submission, &self.metrics.busy)
    }

    /// Submissions waiting, over all shards. Any thread.
    pub fn queue_depth(&self) -> usize {
        self.commits.queue_depth()
    }

    pub fn metrics(&self) -> &Arc<WriterMetrics> {
        &self.metrics
    }
}

/// A batch of messages: one multi-row insert, then every submitter hears.
/// On the shard's thread.
fn commit<B: Backend>(metrics: &WriterMetrics, mut batch: Vec<Submission>, link: &mut Link<B>)
where
    B::Conn: StoreConn,
{
    // Move the messages out (no copy); each submitter's count says which are its own.
    let counts: Vec<usize> = batch.iter().map(|s| s.messages.len()).collect();
    let messages: Vec<NewMessage> =
        batch.iter_mut().flat_map(|s| std::mem::take(&mut s.messages)).collect();
    match link.run(|conn| conn.append_batch(&messages)) {
        Ok(stored) => {
            metrics.messages.fetch_add(stored.len() as u64, Relaxed);
            metrics.batches.fetch_add(1, Relaxed);
            let mut stored = stored.into_iter();
            for (submission, count) in batch.into_iter().zip(counts) {
                let mine: Vec<Appended> = stored.by_ref().take(count).collect();
                metrics.commit_latency.record(submission.submitted.elapsed());
                (submission.done)(Ok(mine));
            }
        }
        Err(e) => {
            log::warn!("message batch of {} not stored: {e}", messages.len());
            metrics.failed_batches.fetch_add(1, Relaxed);
            for submission in batch {
                (submission.done)(Err(e.clone()));
            }
        }
    }
}
