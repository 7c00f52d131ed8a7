//! The database pool: a fixed set of worker threads, each owning one
//! synchronous connection, fed by one bounded queue.
//!
//! The C++ system this replaces shared connections through a mutex-guarded
//! list: callers waited forever on an empty list, broken connections were
//! dropped and not replaced until the list was empty, and reconnects ran while
//! the lock was held. Here nothing is shared but the queue:
//!
//! * **Submitting never waits long.** The queue is bounded; `submit` waits at
//!   most `submit_timeout` for room and `try_submit` (for loop threads) not at
//!   all. Either way a full queue is answered with [`StoreError::Busy`], which
//!   the protocol reports as 1105 "server busy".
//! * **No job waits forever in the queue.** A job that waited longer than
//!   `max_queue_wait` is not run but failed with `Busy`: its caller has long
//!   since answered, or should.
//! * **Each worker owns its connection**, so detecting and replacing a broken
//!   one happens on that worker's thread, under no lock, while the other
//!   workers go on. A connection is pinged before use after `ping_after_idle`.
//! * **The pool never shrinks.** A worker whose connection broke keeps its
//!   place and reconnects for its next job; if the database is down, jobs fail
//!   fast with `Unavailable` and the pool recovers by itself when it is back.
//! * **Retry once, only when safe.** A job marked [`JobKind::Idempotent`] that
//!   loses its connection is run again on a fresh one; any other job fails
//!   with `ConnectionLost`, since it may or may not have committed.
//!
//! Results come back through a callback that runs on the worker thread; a
//! reactor handler passes one that posts the result to its loop's inbox.

use crossbeam_channel::{bounded, Receiver, SendTimeoutError, Sender};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The queue was full, or the job waited too long in it: retry later (1105).
    Busy,
    /// No connection to the database could be made.
    Unavailable(String),
    /// The connection broke while the job ran; the job may or may not have
    /// taken effect.
    ConnectionLost(String),
    /// A uniqueness rule refused the write (name taken, duplicate request).
    Conflict(String),
    /// Anything else the database reported.
    Database(String),
    /// A rule of the domain refused the request (a group's membership,
    /// roles or limits: `store/groups.rs`); the client is told `code`.
    Refused(proto::ErrorCode),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Busy => f.write_str("store busy"),
            StoreError::Unavailable(why) => write!(f, "store unavailable: {why}"),
            StoreError::ConnectionLost(why) => write!(f, "store connection lost: {why}"),
            StoreError::Conflict(why) => write!(f, "conflict: {why}"),
            StoreError::Database(why) => write!(f, "database error: {why}"),
            StoreError::Refused(code) => write!(f, "refused: {code}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The protocol's error code for a client whose request failed this way:
    /// 1105 (retry later) when the store is busy or down, 1005 for a
    /// uniqueness conflict, 1002 for the rest.
    pub fn error_code(&self) -> proto::ErrorCode {
        match self {
            StoreError::Busy | StoreError::Unavailable(_) => proto::ErrorCode::ServerBusy,
            StoreError::Conflict(_) => proto::ErrorCode::UserExist,
            StoreError::ConnectionLost(_) | StoreError::Database(_) => proto::ErrorCode::RpcFailed,
            StoreError::Refused(code) => *code,
        }
    }

    /// The request was refused by a rule (a client's error), not failed by
    /// the store: not counted as a store error.
    pub fn is_refusal(&self) -> bool {
        matches!(self, StoreError::Conflict(_) | StoreError::Refused(_))
    }
}

/// How to open and check connections of one database. Called only on the
/// pool's worker threads.
pub trait Backend: Send + Sync + 'static {
    /// One connection, owned by one worker.
    type Conn: Send + 'static;
    /// Opens a connection.
    fn connect(&self) -> Result<Self::Conn, StoreError>;
    /// True if the connection still works (a cheap round trip).
    fn ping(&self, conn: &mut Self::Conn) -> bool;
}

/// Whether a job may safely run twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Reads, and writes that are idempotent by construction: retried once
    /// on a fresh connection if the connection is lost.
    Idempotent,
    /// Run at most once.
    Once,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Worker threads, each with one connection.
    pub workers: usize,
    /// Jobs that may wait in the queue.
    pub queue_capacity: usize,
    /// How long `submit` waits for room in a full queue.
    pub submit_timeout: Duration,
    /// A job that waited longer than this in the queue fails with `Busy`.
    pub max_queue_wait: Duration,
    /// Ping a connection before use when it has been idle this long.
    pub ping_after_idle: Duration,
    /// Thread name prefix (`<name>-db-<i>`).
    pub name: String,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            workers: 4,
            queue_capacity: 4096,
            submit_timeout: Duration::from_millis(100),
            max_queue_wait: Duration::from_secs(5),
            ping_after_idle: Duration::from_secs(30),
            name: "store".into(),
        }
    }
}

/// Counters of a pool, readable from any thread.
#[derive(Debug, Default)]
pub struct PoolMetrics {
    /// Jobs that ran (successfully or not).
    pub jobs: AtomicU64,
    /// Jobs that returned an error.
    pub errors: AtomicU64,
    /// Submissions refused or jobs dropped as `Busy`.
    pub busy: AtomicU64,
    /// Connections opened (the first ones included).
    pub connects: AtomicU64,
    /// Attempts to connect that failed.
    pub connect_failures: AtomicU64,
    /// Connections found broken (by a job or a ping) and dropped.
    pub connections_lost: AtomicU64,
    /// Jobs run a second time after a lost connection.
    pub retries: AtomicU64,
    /// Total and largest time jobs waited in the queue, in microseconds.
    pub wait_us_total: AtomicU64,
    pub wait_us_max: AtomicU64,
}

type Task<B> = Box<dyn FnOnce(&mut Worker<B>) + Send>;

/// The pool. Dropping it lets the workers finish the queued jobs and stop.
pub struct DbPool<B: Backend> {
    sender: Option<Sender<Task<B>>>,
    threads: Vec<JoinHandle<()>>,
    metrics: Arc<PoolMetrics>,
    config: PoolConfig,
}

impl<B: Backend> DbPool<B> {
    /// Starts the workers. They connect lazily, on their first job, so a
    /// database that is down at start-up does not stop the daemon.
    pub fn start(backend: B, config: PoolConfig) -> std::io::Result<DbPool<B>> {
        let backend = Arc::new(backend);
        let metrics = Arc::new(PoolMetrics::default());
        let (sender, receiver) = bounded::<Task<B>>(config.queue_capacity.max(1));
        let mut threads = Vec::new();
        for index in 0..config.workers.max(1) {
            let worker = Worker {
                backend: backend.clone(),
                conn: None,
                last_used: Instant::now(),
                ping_after_idle: config.ping_after_idle,
                metrics: metrics.clone(),
            };
            let receiver: Receiver<Task<B>> = receiver.clone();
            let name = format!("{}-db-{index}", config.name);
            threads.push(
                std::thread::Builder::new().name(name).spawn(move || worker.serve(receiver))?,
            );
        }
        Ok(DbPool { sender: Some(sender), threads, metrics, config })
    }

    /// Queues `job`, waiting at most `submit_timeout` for room. `done` gets
    /// the result on a worker thread. Call from threads that may wait briefly.
    pub fn submit<T, F, D>(&self, kind: JobKind, job: F, done: D) -> Result<(), StoreError>
    where
        T: 'static,
        F: FnMut(&mut B::Conn) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        self.enqueue(kind, job, done, self.config.submit_timeout)
    }

    /// Queues `job` only if there is room now. For reactor loop threads,
    /// which must never wait.
    pub fn try_submit<T, F, D>(&self, kind: JobKind, job: F, done: D) -> Result<(), StoreError>
    where
        T: 'static,
        F: FnMut(&mut B::Conn) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        self.enqueue(kind, job, done, Duration::ZERO)
    }

    /// Jobs waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.sender.as_ref().map_or(0, Sender::len)
    }

    /// The pool's counters.
    pub fn metrics(&self) -> &Arc<PoolMetrics> {
        &self.metrics
    }

    fn enqueue<T, F, D>(
        &self,
        kind: JobKind,
        mut job: F,
        done: D,
        wait: Duration,
    ) -> Result<(), StoreError>
    where
        T: 'static,
        F: FnMut(&mut B::Conn) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let sender =
            self.sender.as_ref().ok_or_else(|| StoreError::Unavailable("pool stopped".into()))?;
        let enqueued = Instant::now();
        let max_wait = self.config.max_queue_wait;
        let task: Task<B> = Box::new(move |worker: &mut Worker<B>| {
            let waited = enqueued.elapsed();
            worker.note_wait(waited);
            let result = if waited > max_wait {
                worker.metrics.busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy)
            } else {
                worker.run(kind, &mut job)
            };
            done(result);
        });
        match sender.send_timeout(task, wait) {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => {
                self.metrics.busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy)
            }
            Err(SendTimeoutError::Disconnected(_)) => {
                Err(StoreError::Unavailable("pool stopped".into()))
            }
        }
    }
}

impl<B: Backend> Drop for DbPool<B> {
    fn drop(&mut self) {
        self.sender.take(); // workers see the queue close once it is empty
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One worker thread's state: its connection and nothing shared but counters.
struct Worker<B: Backend> {
    backend: Arc<B>,
    conn: Option<B::Conn>,
    last_used: Instant,
    ping_after_idle: Duration,
    metrics: Arc<PoolMetrics>,
}

impl<B: Backend> Worker<B> {
    fn serve(mut self, jobs: Receiver<Task<B>>) {
        while let Ok(task) = jobs.recv() {
            task(&mut self);
        }
    }

    fn note_wait(&self, waited: Duration) {
        let us = waited.as_micros() as u64;
        self.metrics.wait_us_total.fetch_add(us, Relaxed);
        self.metrics.wait_us_max.fetch_max(us, Relaxed);
    }

    /// Runs a job, replacing a lost connection and retrying once if allowed.
    fn run<T>(
        &mut self,
        kind: JobKind,
        job: &mut dyn FnMut(&mut B::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.metrics.jobs.fetch_add(1, Relaxed);
        let attempts = if kind == JobKind::Idempotent { 2 } else { 1 };
        let mut outcome = Err(StoreError::Unavailable("not run".into()));
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.metrics.retries.fetch_add(1, Relaxed);
            }
            let conn = match self.ready_connection() {
                Ok(conn) => conn,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            outcome = job(conn);
            self.last_used = Instant::now();
            match &outcome {
                Err(StoreError::ConnectionLost(why)) => {
                    log::warn!("store connection lost: {why}");
                    self.metrics.connections_lost.fetch_add(1, Relaxed);
                    self.conn = None; // replaced on the next attempt or job
                }
                _ => break,
            }
        }
        if outcome.as_ref().is_err_and(|e| !e.is_refusal()) {
            self.metrics.errors.fetch_add(1, Relaxed);
        }
        outcome
    }

    /// The worker's connection: pinged if it has been idle, opened if absent.
    fn ready_connection(&mut self) -> Result<&mut B::Conn, StoreError> {
        if let Some(conn) = self.conn.as_mut() {
            if self.last_used.elapsed() >= self.ping_after_idle && !self.backend.ping(conn) {
                log::warn!("store connection failed its ping after idle: reconnecting");
                self.metrics.connections_lost.fetch_add(1, Relaxed);
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            match self.backend.connect() {
                Ok(conn) => {
                    self.metrics.connects.fetch_add(1, Relaxed);
                    self.conn = Some(conn);
                }
                Err(e) => {
                    self.metrics.connect_failures.fetch_add(1, Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }
}
