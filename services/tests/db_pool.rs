//! The database pool's guarantees: it answers "busy" instead of making
//! callers wait, it replaces broken connections and retries only what is
//! safe to retry, it survives the database going away and coming back, and a
//! reactor loop that submits jobs is never held up by it.
//!
//! The backend here is a stand-in database whose connections the test can
//! break (like KILL CONNECTION) and which it can stop and start; the same
//! guarantees are tested against MariaDB with the MySQL backend.

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopPool};
use services::store::{Backend, DbPool, JobKind, PoolConfig, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A database that can be stopped, and whose open connections can be killed.
#[derive(Default)]
struct TestDatabase {
    down: AtomicBool,
    /// Connections opened before the last kill are dead.
    epoch: AtomicU64,
}

struct TestConn {
    epoch: u64,
    db: Arc<TestDatabase>,
}

impl TestConn {
    /// A query: fails as a lost connection if this connection was killed.
    fn query(&self, value: u64) -> Result<u64, StoreError> {
        if self.db.down.load(SeqCst) || self.epoch != self.db.epoch.load(SeqCst) {
            return Err(StoreError::ConnectionLost("server closed the connection".into()));
        }
        Ok(value)
    }
}

struct TestBackend(Arc<TestDatabase>);

impl Backend for TestBackend {
    type Conn = TestConn;
    fn connect(&self) -> Result<TestConn, StoreError> {
        if self.0.down.load(SeqCst) {
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        Ok(TestConn { epoch: self.0.epoch.load(SeqCst), db: self.0.clone() })
    }
    fn ping(&self, conn: &mut TestConn) -> bool {
        conn.query(0).is_ok()
    }
}

fn pool(db: &Arc<TestDatabase>, workers: usize, queue: usize) -> DbPool<TestBackend> {
    let config = PoolConfig {
        workers,
        queue_capacity: queue,
        submit_timeout: Duration::from_millis(50),
        max_queue_wait: Duration::from_secs(2),
        ping_after_idle: Duration::from_secs(60),
        name: "test".into(),
    };
    DbPool::start(TestBackend(db.clone()), config).unwrap()
}

/// Submits and waits for the result.
fn call(pool: &DbPool<TestBackend>, kind: JobKind, value: u64) -> Result<u64, StoreError> {
    let (tx, rx) = mpsc::channel();
    pool.submit(kind, move |conn: &mut TestConn| conn.query(value), move |r| tx.send(r).unwrap())?;
    rx.recv_timeout(Duration::from_secs(5)).expect("a result, never a hang")
}

/// Keeps every worker busy until it is dropped (like a long SELECT SLEEP).
struct Gate {
    _hold: crossbeam_channel::Sender<()>,
}

fn block_workers(pool: &DbPool<TestBackend>, workers: usize) -> Gate {
    let (hold, released) = crossbeam_channel::bounded::<()>(0);
    let (started_tx, started_rx) = mpsc::channel();
    for _ in 0..workers {
        let (released, started) = (released.clone(), started_tx.clone());
        let job = move |_: &mut TestConn| {
            started.send(()).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(30)); // returns when the gate drops
            Ok(())
        };
        pool.submit(JobKind::Once, job, |_| {}).unwrap();
    }
    for _ in 0..workers {
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    Gate { _hold: hold }
}

fn release(gate: Gate) {
    drop(gate);
}

#[test]
fn a_full_queue_is_answered_busy_at_once_never_by_waiting() {
    let db = Arc::new(TestDatabase::default());
    let pool = pool(&db, 2, 4);
    let gate = block_workers(&pool, 2);
    for value in 0..4 {
        pool.try_submit(JobKind::Once, move |c: &mut TestConn| c.query(value), |_| {}).unwrap();
    }
    assert_eq!(pool.queue_depth(), 4);
    let started = Instant::now();
    let refused = pool.try_submit(JobKind::Once, |c: &mut TestConn| c.query(9), |_| {});
    assert_eq!(refused.unwrap_err(), StoreError::Busy);
    let waited = pool.submit(JobKind::Once, |c: &mut TestConn| c.query(9), |_| {});
    assert_eq!(waited.unwrap_err(), StoreError::Busy, "after at most the submit timeout");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(pool.metrics().busy.load(SeqCst), 2);
    release(gate);
    assert_eq!(call(&pool, JobKind::Once, 5), Ok(5), "drains and serves again");
}

#[test]
fn a_killed_connection_is_replaced_and_only_idempotent_jobs_are_retried() {
    let db = Arc::new(TestDatabase::default());
    let pool = pool(&db, 1, 16);
    assert_eq!(call(&pool, JobKind::Once, 1), Ok(1));
    db.epoch.fetch_add(1, SeqCst); // kill every open connection
    assert_eq!(call(&pool, JobKind::Idempotent, 2), Ok(2), "retried on a fresh connection");
    db.epoch.fetch_add(1, SeqCst);
    assert!(matches!(call(&pool, JobKind::Once, 3), Err(StoreError::ConnectionLost(_))));
    assert_eq!(call(&pool, JobKind::Once, 4), Ok(4), "the next job gets a new connection");
    let m = pool.metrics();
    assert_eq!(
        (m.connects.load(SeqCst), m.connections_lost.load(SeqCst), m.retries.load(SeqCst)),
        (3, 2, 1)
    );
}

#[test]
fn the_pool_survives_the_database_going_away_and_coming_back() {
    let db = Arc::new(TestDatabase::default());
    let pool = pool(&db, 3, 64);
    assert_eq!(call(&pool, JobKind::Once, 1), Ok(1));
    db.down.store(true, SeqCst);
    let started = Instant::now();
    for value in 0..10 {
        let result = call(&pool, JobKind::Idempotent, value);
        assert!(
            matches!(result, Err(StoreError::Unavailable(_) | StoreError::ConnectionLost(_))),
            "{result:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "failures are fast: {:?}",
        started.elapsed()
    );
    db.down.store(false, SeqCst);
    // Every worker is still there and reconnects: three jobs run at once.
    let gate = block_workers(&pool, 3);
    release(gate);
    for value in 0..10 {
        assert_eq!(call(&pool, JobKind::Once, value), Ok(value));
    }
}

#[test]
fn a_job_that_waited_too_long_in_the_queue_is_failed_busy() {
    let db = Arc::new(TestDatabase::default());
    let config = PoolConfig {
        workers: 1,
        max_queue_wait: Duration::from_millis(100),
        ..PoolConfig::default()
    };
    let pool = DbPool::start(TestBackend(db.clone()), config).unwrap();
    let gate = block_workers(&pool, 1);
    let (tx, rx) = mpsc::channel();
    pool.submit(JobKind::Once, |c: &mut TestConn| c.query(1), move |r| tx.send(r).unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    release(gate);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Err(StoreError::Busy));
}

/// A loop handler that ticks a timer every 10 ms and records the largest gap.
struct Ticker {
    pool: Arc<DbPool<TestBackend>>,
    ticks: Arc<AtomicU64>,
    worst_gap_us: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Ticker {
    fn tick(&mut self, ctx: &mut Ctx<Self>, last: Instant) {
        let now = Instant::now();
        self.worst_gap_us.fetch_max((now - last).as_micros() as u64, SeqCst);
        self.ticks.fetch_add(1, SeqCst);
        // Keep feeding the stuck pool, as a busy chat loop would.
        let handle = ctx.handle().clone();
        let submitted = self.pool.try_submit(
            JobKind::Once,
            |c: &mut TestConn| c.query(1),
            move |_| {
                let _ = handle.post(|_, _| {});
            },
        );
        if submitted.is_err() {
            self.refused.fetch_add(1, SeqCst);
        }
        ctx.run_after(Duration::from_millis(10), move |h: &mut Ticker, ctx| h.tick(ctx, now));
    }
}

impl Handler for Ticker {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, _: Frame<'_>) {}
}

#[test]
fn a_loop_that_submits_jobs_keeps_its_timers_while_every_connection_is_stuck() {
    let db = Arc::new(TestDatabase::default());
    let pool = Arc::new(pool(&db, 2, 8));
    let gate = block_workers(&pool, 2); // every worker stuck, like SELECT SLEEP
    let (ticks, worst, refused) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (p, t, w, r) = (pool.clone(), ticks.clone(), worst.clone(), refused.clone());
    let config = LoopConfig { name: "ticker".into(), threads: 1, ..LoopConfig::default() };
    let mut loops = LoopPool::start(config, FrameCodec::default(), move |_| Ticker {
        pool: p.clone(),
        ticks: t.clone(),
        worst_gap_us: w.clone(),
        refused: r.clone(),
    })
    .unwrap();
    loops.handles()[0].post(|h, ctx| h.tick(ctx, Instant::now())).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let (ticks_seen, worst_gap) = (ticks.load(SeqCst), Duration::from_micros(worst.load(SeqCst)));
    loops.shutdown(Duration::from_secs(1));
    release(gate);

    assert!(refused.load(SeqCst) > 0, "the queue filled and the loop was told busy");
    assert!(ticks_seen >= 40, "only {ticks_seen} ticks of 10 ms in a second");
    assert!(worst_gap < Duration::from_millis(200), "a timer was late by {worst_gap:?}");
}
