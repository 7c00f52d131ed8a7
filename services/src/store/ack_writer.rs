//! Group commit of acknowledgements (MSG_DELIVERED_ACK).
//!
//! A receiver acknowledges every push, so acks arrive as fast as messages
//! do. One transaction per ack would cost one durable commit each and, on
//! SQLite, take the single write lock away from the message writer every
//! time. Instead acks go into one bounded queue; a thread takes whatever
//! has accumulated (up to `max_ids` message ids) and marks it all delivered
//! in one transaction.
//!
//! Nobody waits for the result: an ack that is lost (queue full, database
//! down) only means the messages are pushed again at the next login, and
//! the client drops them as duplicates. A batch that loses its connection
//! is retried once on a new one (marking delivered is idempotent).

use super::api::StoreConn;
use super::model::Delivery;
use super::pool::{Backend, StoreError};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Counters of the ack writer, readable from any thread.
#[derive(Debug, Default)]
pub struct AckMetrics {
    /// Messages that changed to delivered.
    pub marked: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Acks refused because the queue was full.
    pub busy: AtomicU64,
    /// Batches that failed (their messages stay pending).
    pub failed_batches: AtomicU64,
}

/// Handle to the ack writer thread. Dropping it commits what is queued.
pub struct AckWriter {
    sender: Option<Sender<Delivery>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<AckMetrics>,
}

impl AckWriter {
    /// Starts the thread `<name>-acks` with its own connection from `backend`.
    pub fn start<B: Backend>(
        backend: B,
        name: &str,
        queue_capacity: usize,
        max_ids: usize,
    ) -> std::io::Result<AckWriter>
    where
        B::Conn: StoreConn,
    {
        let metrics = Arc::new(AckMetrics::default());
        let (sender, receiver) = bounded(queue_capacity.max(1));
        let worker =
            Worker { backend, conn: None, max_ids: max_ids.max(1), metrics: metrics.clone() };
        let thread = std::thread::Builder::new()
            .name(format!("{name}-acks"))
            .spawn(move || worker.run(receiver))?;
        Ok(AckWriter { sender: Some(sender), thread: Some(thread), metrics })
    }

    /// Queues an ack. Never blocks (a loop thread calls it): a full queue is
    /// `Busy` at once.
    pub fn submit(&self, ack: Delivery) -> Result<(), StoreError> {
        let sender = self.sender.as_ref().ok_or(StoreError::Busy)?;
        match sender.try_send(ack) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.metrics.busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(StoreError::Unavailable("ack writer stopped".into()))
            }
        }
    }

    pub fn queue_depth(&self) -> usize {
        self.sender.as_ref().map_or(0, Sender::len)
    }

    pub fn metrics(&self) -> &Arc<AckMetrics> {
        &self.metrics
    }
}

impl Drop for AckWriter {
    fn drop(&mut self) {
        self.sender = None; // the thread commits what is queued, then stops
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker<B: Backend> {
    backend: B,
    conn: Option<B::Conn>,
    max_ids: usize,
    metrics: Arc<AckMetrics>,
}

impl<B: Backend> Worker<B>
where
    B::Conn: StoreConn,
{
    fn run(mut self, queue: Receiver<Delivery>) {
        while let Ok(first) = queue.recv() {
            let mut ids = first.message_ids.len();
            let mut batch = vec![first];
            while ids < self.max_ids {
                match queue.try_recv() {
                    Ok(ack) => {
                        ids += ack.message_ids.len();
                        batch.push(ack);
                    }
                    Err(_) => break,
                }
            }
            self.commit(&batch);
        }
    }

    fn commit(&mut self, batch: &[Delivery]) {
        let mut outcome = self.mark(batch);
        if matches!(outcome, Err(StoreError::ConnectionLost(_))) {
            self.conn = None;
            outcome = self.mark(batch);
        }
        match outcome {
            Ok(marked) => {
                self.metrics.marked.fetch_add(marked, Relaxed);
                self.metrics.batches.fetch_add(1, Relaxed);
            }
            Err(e) => {
                log::warn!("{} acks not stored (pushed again at the next login): {e}", batch.len());
                self.metrics.failed_batches.fetch_add(1, Relaxed);
                if matches!(e, StoreError::ConnectionLost(_) | StoreError::Unavailable(_)) {
                    self.conn = None;
                }
            }
        }
    }

    fn mark(&mut self, batch: &[Delivery]) -> Result<u64, StoreError> {
        if self.conn.is_none() {
            self.conn = Some(self.backend.connect()?);
        }
        self.conn.as_mut().expect("connected above").mark_delivered_many(batch)
    }
}
