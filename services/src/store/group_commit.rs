//! Group commit: many submitters' work, one transaction.
//!
//! One durable commit per chat message (or per acknowledgement) would cap a
//! chat server at a few hundred per second. A group-commit worker instead
//! takes whatever has accumulated in its bounded queue (up to a batch's
//! weight, waiting at most `max_delay` for more when it has less) and stores
//! it in one transaction. With `max_delay` zero (the default) nothing waits:
//! while one batch commits the next accumulates, so batches grow with the
//! load by themselves.
//!
//! This module is the part every group-commit writer shares: the bounded
//! queues (one per shard, each drained by its own thread in order), the
//! gathering, the thread names (`<name>-<shard>`), the "stopped" error, and
//! the connection discipline of [`Link`]: opened lazily, pinged after it was
//! idle (as the pool's workers do), replaced after it broke, and a batch that
//! lost its connection retried once on a new one. Retrying is only safe
//! because every batch a writer commits is idempotent (messages are unique
//! on (sender, unique_id); marking delivered twice changes nothing). What a
//! batch *is* and who hears about the outcome is the writer's: the `commit`
//! function it starts the worker with.
//!
//! A stalled database (a frozen server, a disk that stopped answering) would
//! otherwise leave every submitter waiting for as long as the stall lasts:
//! the shard's thread sits inside one commit and its queue fills slowly.
//! So each shard publishes when its current commit began, and `submit`
//! refuses work (`Busy`, the client's 1105) for a shard whose commit has
//! run longer than `stall_limit`. What was queued before stays queued and
//! is committed when the database answers again: nothing is dropped, a
//! sender just learns at once that it should retry later.
//!
//! Threads: `submit` from any thread (a loop thread too: it never blocks);
//! `commit` on the shard's own thread.

use super::pool::{Backend, StoreError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a group-commit worker runs.
#[derive(Debug, Clone)]
pub struct GroupCommitConfig {
    /// Thread names are `<name>-<shard>` (visible in `top -H` and profiles).
    pub name: String,
    /// Threads, each with its own connection and queue.
    pub shards: usize,
    /// Most weight (messages, ids) in one transaction.
    pub max_weight: usize,
    /// How long a batch lighter than `max_weight` may wait for more.
    pub max_delay: Duration,
    /// `max_delay` applies only after a batch of at least this weight (0:
    /// always): under a light load jobs commit at once, under a heavy one
    /// they are folded into fewer, larger transactions.
    pub busy_weight: usize,
    /// Submissions that may wait, per shard.
    pub queue_capacity: usize,
    /// Ping a connection before use when it has been idle this long.
    pub ping_after_idle: Duration,
    /// A shard whose commit has run this long takes no new work until it ends.
    pub stall_limit: Duration,
}

impl GroupCommitConfig {
    /// Threads `<name>-<shard>`, pinging a connection idle for 30 s (as the
    /// pool's workers do by default), refusing work during a commit that has
    /// run for 5 s (the pool's default `max_queue_wait`).
    pub fn new(
        name: String,
        shards: usize,
        max_weight: usize,
        max_delay: Duration,
        queue_capacity: usize,
    ) -> GroupCommitConfig {
        let ping_after_idle = Duration::from_secs(30);
        let stall_limit = Duration::from_secs(5);
        GroupCommitConfig {
            name,
            shards,
            max_weight,
            max_delay,
            busy_weight: 0,
            queue_capacity,
            ping_after_idle,
            stall_limit,
        }
    }

    /// The same, waiting `max_delay` only after a batch of `weight` or more.
    pub fn waiting_when_busy(self, weight: usize) -> GroupCommitConfig {
        GroupCommitConfig { busy_weight: weight, ..self }
    }

    /// The same, refusing work during a commit that has run for `limit`.
    pub fn stalled_after(self, limit: Duration) -> GroupCommitConfig {
        GroupCommitConfig { stall_limit: limit, ..self }
    }
}

/// A shard's connection, as a commit uses it.
pub struct Link<B: Backend> {
    backend: B,
    conn: Option<B::Conn>,
    last_used: Instant,
    ping_after_idle: Duration,
}

impl<B: Backend> Link<B> {
    /// Runs `op` (one transaction) on the connection: opened if absent,
    /// pinged if idle. A lost connection is replaced and `op` run once more;
    /// after a failure that leaves the connection in doubt it is dropped, so
    /// the next batch starts on a fresh one.
    pub fn run<T>(
        &mut self,
        mut op: impl FnMut(&mut B::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut outcome = self.run_once(&mut op);
        if matches!(outcome, Err(StoreError::ConnectionLost(_))) {
            outcome = self.run_once(&mut op); // idempotent: safe to run again
        }
        outcome
    }

    fn run_once<T>(
        &mut self,
        op: &mut impl FnMut(&mut B::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(conn) = self.conn.as_mut() {
            if self.last_used.elapsed() >= self.ping_after_idle && !self.backend.ping(conn) {
                log::warn!("group commit: connection failed its ping after idle: reconnecting");
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            self.conn = Some(self.backend.connect()?);
        }
        let outcome = op(self.conn.as_mut().expect("connected above"));
        self.last_used = Instant::now();
        if matches!(outcome, Err(StoreError::ConnectionLost(_) | StoreError::Unavailable(_))) {
            self.conn = None;
        }
        outcome
    }
}

/// The submitting side. Dropping it lets every shard commit what is queued,
/// then joins the threads.
pub struct GroupCommit<J> {
    name: String,
    senders: Vec<Sender<J>>,
    /// Per shard: when its current commit began, or 0 between commits.
    committing: Vec<Arc<CommitClock>>,
    stall_limit: Duration,
    threads: Vec<JoinHandle<()>>,
}

/// When a shard's current commit began, as milliseconds since `epoch` plus
/// one (0: not committing). Written by the shard's thread, read by `submit`.
struct CommitClock {
    epoch: Instant,
    began: AtomicU64,
}

impl CommitClock {
    fn start(&self) {
        self.began.store(self.epoch.elapsed().as_millis() as u64 + 1, Relaxed);
    }

    fn stop(&self) {
        self.began.store(0, Relaxed);
    }

    /// How long the current commit has run (zero between commits).
    fn running(&self) -> Duration {
        match self.began.load(Relaxed) {
            0 => Duration::ZERO,
            began => {
                let now = self.epoch.elapsed().as_millis() as u64 + 1;
                Duration::from_millis(now.saturating_sub(began))
            }
        }
    }
}

impl<J: Send + 'static> GroupCommit<J> {
    /// Starts `config.shards` threads, each with its own connection from
    /// `backend`. A shard gathers jobs up to `config.max_weight` (a job
    /// weighs `weight(job)`) and hands each batch to `commit`, which stores it
    /// in one transaction through the shard's [`Link`] and tells whoever
    /// waits. Any thread.
    pub fn start<B, F>(
        backend: B,
        config: GroupCommitConfig,
        weight: fn(&J) -> usize,
        commit: F,
    ) -> std::io::Result<GroupCommit<J>>
    where
        B: Backend + Clone,
        F: Fn(Vec<J>, &mut Link<B>) + Clone + Send + 'static,
    {
        let (mut senders, mut threads, mut committing) = (Vec::new(), Vec::new(), Vec::new());
        let epoch = Instant::now();
        for shard in 0..config.shards.max(1) {
            let (sender, receiver) = bounded(config.queue_capacity.max(1));
            let link = Link {
                backend: backend.clone(),
                conn: None,
                last_used: Instant::now(),
                ping_after_idle: config.ping_after_idle,
            };
            let shard_config = config.clone();
            let shard_commit = commit.clone();
            let clock = Arc::new(CommitClock { epoch, began: AtomicU64::new(0) });
            let shard_clock = clock.clone();
            let thread =
                std::thread::Builder::new().name(format!("{}-{shard}", config.name)).spawn(
                    move || run(receiver, weight, shard_commit, link, &shard_clock, shard_config),
                )?;
            senders.push(sender);
            committing.push(clock);
            threads.push(thread);
        }
        let stall_limit = config.stall_limit;
        Ok(GroupCommit { name: config.name, senders, committing, stall_limit, threads })
    }

    /// Queues `job` on the shard `key` picks (equal keys: one shard, in
    /// order). Never blocks: a full queue, or a shard stalled in a commit
    /// for longer than `stall_limit`, is `Busy` at once, and counted in
    /// `busy`. Any thread.
    pub fn submit(&self, key: u64, job: J, busy: &AtomicU64) -> Result<(), StoreError> {
        let shard = (key % self.senders.len().max(1) as u64) as usize;
        let Some(sender) = self.senders.get(shard) else { return Err(self.stopped()) };
        if self.committing[shard].running() > self.stall_limit {
            busy.fetch_add(1, Relaxed);
            return Err(StoreError::Busy);
        }
        match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(self.stopped()),
        }
    }

    /// Submissions waiting, over all shards. Any thread.
    pub fn queue_depth(&self) -> usize {
        self.senders.iter().map(Sender::len).sum()
    }

    fn stopped(&self) -> StoreError {
        StoreError::Unavailable(format!("{} stopped", self.name))
    }
}

impl<J> Drop for GroupCommit<J> {
    fn drop(&mut self) {
        self.senders.clear(); // each shard commits what it has queued, then stops
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A shard's thread: block for the first job of a batch, gather more, commit.
fn run<B: Backend, J>(
    queue: Receiver<J>,
    weight: fn(&J) -> usize,
    commit: impl Fn(Vec<J>, &mut Link<B>),
    mut link: Link<B>,
    clock: &CommitClock,
    config: GroupCommitConfig,
) {
    let mut last_weight = 0;
    while let Ok(first) = queue.recv() {
        let mut gathered = weight(&first);
        let mut batch = vec![first];
        let deadline = Instant::now() + config.max_delay;
        let waits = !config.max_delay.is_zero() && last_weight >= config.busy_weight;
        while gathered < config.max_weight {
            let next = if !waits {
                queue.try_recv().map_err(|e| e == TryRecvError::Disconnected)
            } else {
                queue.recv_deadline(deadline).map_err(|e| e == RecvTimeoutError::Disconnected)
            };
            match next {
                Ok(job) => {
                    gathered += weight(&job);
                    batch.push(job);
                }
                Err(_) => break, // nothing more now (or the queue closed)
            }
        }
        last_weight = gathered;
        clock.start();
        commit(batch, &mut link);
        clock.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;

    /// A backend whose connections cost nothing: the commit function is the
    /// whole test.
    #[derive(Clone)]
    struct NoDatabase;

    impl Backend for NoDatabase {
        type Conn = ();
        fn connect(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn ping(&self, _: &mut ()) -> bool {
            true
        }
    }

    #[test]
    fn a_shard_stalled_in_a_commit_refuses_new_work_and_commits_what_it_queued() {
        // The commit of job 0 hangs until the test lets it go, as on a frozen database.
        let (release, hold) = unbounded::<()>();
        let (committed_tx, committed) = unbounded::<u64>();
        let config = GroupCommitConfig::new("stall".into(), 1, 1, Duration::ZERO, 16)
            .stalled_after(Duration::from_millis(50));
        let commits = GroupCommit::start(
            NoDatabase,
            config,
            |_: &u64| 1,
            move |batch: Vec<u64>, _: &mut Link<NoDatabase>| {
                if batch.contains(&0) {
                    let _ = hold.recv_timeout(Duration::from_secs(10));
                }
                batch.into_iter().for_each(|job| committed_tx.send(job).unwrap());
            },
        )
        .unwrap();
        let busy = AtomicU64::new(0);
        commits.submit(0, 0, &busy).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        commits.submit(0, 1, &busy).unwrap(); // the commit is young: queued
        std::thread::sleep(Duration::from_millis(100));
        assert!(matches!(commits.submit(0, 2, &busy), Err(StoreError::Busy)), "stalled: refused");
        assert_eq!(busy.load(Relaxed), 1);

        release.send(()).unwrap();
        let first: Vec<u64> = (0..2).map(|_| committed.recv_timeout(WAIT).unwrap()).collect();
        assert_eq!(first, [0, 1], "what was queued is committed, in order");
        commits.submit(0, 3, &busy).unwrap(); // no longer stalled: taken again
        assert_eq!(committed.recv_timeout(WAIT).unwrap(), 3);
    }

    #[test]
    fn the_delay_folds_batches_only_after_a_heavy_one() {
        // max_delay 300 ms, once a batch weighed 3 or more; job 100's commit
        // hangs until released (so that a heavy batch queues behind it).
        let (release, hold) = unbounded::<()>();
        let (sizes_tx, sizes) = unbounded::<usize>();
        let config = GroupCommitConfig::new("busy".into(), 1, 1000, Duration::from_millis(300), 64)
            .waiting_when_busy(3);
        let commits = GroupCommit::start(
            NoDatabase,
            config,
            |_: &u64| 1,
            move |batch: Vec<u64>, _: &mut Link<NoDatabase>| {
                if batch.contains(&100) {
                    let _ = hold.recv_timeout(WAIT);
                }
                sizes_tx.send(batch.len()).unwrap();
            },
        )
        .unwrap();
        let busy = AtomicU64::new(0);
        let started = Instant::now();
        commits.submit(0, 1, &busy).unwrap();
        assert_eq!(sizes.recv_timeout(WAIT).unwrap(), 1);
        assert!(started.elapsed() < Duration::from_millis(250), "light: committed at once");

        commits.submit(0, 100, &busy).unwrap();
        std::thread::sleep(Duration::from_millis(20)); // 100 is committing
        for job in 0..4 {
            commits.submit(0, job, &busy).unwrap();
        }
        release.send(()).unwrap();
        assert_eq!(sizes.recv_timeout(WAIT).unwrap(), 1, "100 alone");
        assert_eq!(sizes.recv_timeout(WAIT).unwrap(), 4, "what queued meanwhile: heavy");

        // After a heavy batch the next one waits and folds what comes.
        let started = Instant::now();
        commits.submit(0, 7, &busy).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        commits.submit(0, 8, &busy).unwrap();
        assert_eq!(sizes.recv_timeout(WAIT).unwrap(), 2, "folded into one");
        assert!(started.elapsed() >= Duration::from_millis(300), "it waited the delay");
    }

    const WAIT: Duration = Duration::from_secs(10);
}
