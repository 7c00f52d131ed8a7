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
//! The writer has `shards` threads, each committing on its own connection,
//! one batch after another. A submission goes to the shard of its first
//! message's pair of users, so the messages between two users are always
//! committed by the same thread, in the order they were submitted, while
//! other pairs commit in parallel (a single MySQL connection is served by one
//! server thread, which caps one shard at one core of the database). A batch
//! that loses its connection is retried once on a new one (appends are
//! idempotent on (sender, unique_id), so that is safe).

use super::api::StoreConn;
use super::model::{NewMessage, StoredMessage};
use super::pool::{Backend, StoreError};
use crate::latency::LatencyHistogram;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Writer threads (and connections); pairs of users are spread over them.
    pub shards: usize,
    /// Most messages in one transaction.
    pub max_batch: usize,
    /// How long a batch smaller than `max_batch` may wait for more.
    pub max_delay: Duration,
    /// Submissions that may wait for the writer.
    pub queue_capacity: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            shards: 2,
            max_batch: 1024,
            max_delay: Duration::ZERO,
            queue_capacity: 16 * 1024,
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
    /// Submissions refused because the queue was full.
    pub busy: AtomicU64,
    /// From a submission to its commit (the wait in the queue included):
    /// the part of a message's latency that is the database.
    pub commit_latency: LatencyHistogram,
}

type Done = Box<dyn FnOnce(Result<Vec<StoredMessage>, StoreError>) + Send>;

struct Submission {
    messages: Vec<NewMessage>,
    done: Done,
    submitted: Instant,
}

/// Handle to the writer thread. Dropping it commits what is queued and stops.
pub struct MessageWriter {
    /// One queue per shard; emptied when stopping.
    senders: Vec<Sender<Submission>>,
    threads: Vec<JoinHandle<()>>,
    metrics: Arc<WriterMetrics>,
}

impl MessageWriter {
    /// Starts the writer threads, each with its own connection from `backend`.
    pub fn start<B: Backend + Clone>(
        backend: B,
        config: WriterConfig,
    ) -> std::io::Result<MessageWriter>
    where
        B::Conn: StoreConn,
    {
        let metrics = Arc::new(WriterMetrics::default());
        let (mut senders, mut threads) = (Vec::new(), Vec::new());
        for shard in 0..config.shards.max(1) {
            let (sender, receiver) = bounded(config.queue_capacity.max(1));
            let worker = Worker {
                backend: backend.clone(),
                conn: None,
                config: config.clone(),
                metrics: metrics.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("message-writer-{shard}"))
                .spawn(move || worker.run(receiver))?;
            senders.push(sender);
            threads.push(thread);
        }
        Ok(MessageWriter { senders, threads, metrics })
    }

    /// Queues messages to store; `done` runs on the writer thread after the
    /// commit with the stored messages, in the order given. Never blocks (a
    /// loop thread may call it): a full queue is `Busy` at once.
    pub fn submit(
        &self,
        messages: Vec<NewMessage>,
        done: impl FnOnce(Result<Vec<StoredMessage>, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        // The pair of users picks the shard, so one pair is always committed in order.
        let pair = messages
            .first()
            .map_or((0, 0), |m| (m.sender.min(m.receiver), m.sender.max(m.receiver)));
        let hash = pair.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ pair.1;
        let shard = (hash % self.senders.len().max(1) as u64) as usize;
        let sender = self
            .senders
            .get(shard)
            .ok_or_else(|| StoreError::Unavailable("writer stopped".into()))?;
        let submission = Submission { messages, done: Box::new(done), submitted: Instant::now() };
        match sender.try_send(submission) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.metrics.busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(StoreError::Unavailable("writer stopped".into()))
            }
        }
    }

    /// Submissions waiting, over all shards.
    pub fn queue_depth(&self) -> usize {
        self.senders.iter().map(Sender::len).sum()
    }

    pub fn metrics(&self) -> &Arc<WriterMetrics> {
        &self.metrics
    }
}

impl Drop for MessageWriter {
    fn drop(&mut self) {
        self.senders.clear(); // each shard commits what it has queued, then stops
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

struct Worker<B: Backend> {
    backend: B,
    conn: Option<B::Conn>,
    config: WriterConfig,
    metrics: Arc<WriterMetrics>,
}

impl<B: Backend> Worker<B>
where
    B::Conn: StoreConn,
{
    fn run(mut self, queue: Receiver<Submission>) {
        // Block for the first submission of a batch, then gather more.
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            let mut count = batch[0].messages.len();
            let deadline = Instant::now() + self.config.max_delay;
            while count < self.config.max_batch {
                let next = if self.config.max_delay.is_zero() {
                    queue.try_recv().map_err(|e| e == TryRecvError::Disconnected)
                } else {
                    queue.recv_deadline(deadline).map_err(|e| e == RecvTimeoutError::Disconnected)
                };
                match next {
                    Ok(submission) => {
                        count += submission.messages.len();
                        batch.push(submission);
                    }
                    Err(_) => break, // nothing more now (or the queue closed)
                }
            }
            self.commit(batch);
        }
    }

    /// Stores a batch in one transaction and tells every submitter.
    fn commit(&mut self, mut batch: Vec<Submission>) {
        // Move the messages out (no copy); each submitter's count says which are its own.
        let counts: Vec<usize> = batch.iter().map(|s| s.messages.len()).collect();
        let messages: Vec<NewMessage> =
            batch.iter_mut().flat_map(|s| std::mem::take(&mut s.messages)).collect();
        let mut outcome = self.append(&messages);
        if matches!(outcome, Err(StoreError::ConnectionLost(_))) {
            self.conn = None;
            outcome = self.append(&messages); // idempotent: safe to run again
        }
        match outcome {
            Ok(stored) => {
                self.metrics.messages.fetch_add(stored.len() as u64, Relaxed);
                self.metrics.batches.fetch_add(1, Relaxed);
                let mut stored = stored.into_iter();
                for (submission, count) in batch.into_iter().zip(counts) {
                    let mine: Vec<StoredMessage> = stored.by_ref().take(count).collect();
                    self.metrics.commit_latency.record(submission.submitted.elapsed());
                    (submission.done)(Ok(mine));
                }
            }
            Err(e) => {
                log::warn!("message batch of {} not stored: {e}", messages.len());
                self.metrics.failed_batches.fetch_add(1, Relaxed);
                if matches!(e, StoreError::ConnectionLost(_) | StoreError::Unavailable(_)) {
                    self.conn = None;
                }
                for submission in batch {
                    (submission.done)(Err(e.clone()));
                }
            }
        }
    }

    fn append(&mut self, messages: &[NewMessage]) -> Result<Vec<StoredMessage>, StoreError> {
        if self.conn.is_none() {
            self.conn = Some(self.backend.connect()?);
        }
        self.conn.as_mut().expect("connected above").append_messages(messages)
    }
}
