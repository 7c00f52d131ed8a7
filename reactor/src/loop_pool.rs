//! [`LoopPool`]: N event loops on N named threads ("one loop per thread").
//!
//! Each loop owns its connections for their whole life, so a connection's
//! state is only ever touched by one thread and needs no lock. Work for a
//! connection on another loop travels as a task through that loop's inbox.

use crate::config::LoopConfig;
use crate::connections::Connections;
use crate::context::Ctx;
use crate::event_loop::{EventLoop, WAKER_TOKEN};
use crate::handler::Handler;
use crate::inbox::{LoopHandle, LoopShared};
use crate::stats::LoopStats;
use crossbeam_channel::bounded;
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a handler factory learns about the loop it builds a handler for.
pub struct LoopInit<'a, H: Handler> {
    /// The loop's position in the pool.
    pub index: usize,
    /// Handles to every loop of the pool (including this one), for handlers
    /// that deliver to connections on other loops.
    pub handles: &'a Arc<[LoopHandle<H>]>,
}

/// A fixed set of event loops, each on its own thread.
pub struct LoopPool<H: Handler> {
    handles: Arc<[LoopHandle<H>]>,
    threads: Vec<JoinHandle<()>>,
    stats: Vec<Arc<LoopStats>>,
    /// Round-robin cursor for [`LoopPool::next_handle`].
    next: AtomicUsize,
}

/// A pool whose polls and inboxes exist but whose threads have not started:
/// its handles can be given out first, so everything built before the
/// handlers (a delivery service, an RPC server) can already post to the
/// loops. Tasks posted now run once the loops start.
pub struct PreparedPool<H: Handler> {
    config: Arc<LoopConfig>,
    codec: H::Codec,
    handles: Arc<[LoopHandle<H>]>,
    parts: Vec<(mio::Poll, crossbeam_channel::Receiver<crate::inbox::Task<H>>, Arc<LoopShared>)>,
}

impl<H: Handler> PreparedPool<H> {
    /// Handles to every loop, in order. Any thread.
    pub fn handles(&self) -> &Arc<[LoopHandle<H>]> {
        &self.handles
    }

    /// Starts one thread per loop. `factory` runs once on each loop's thread
    /// to build that loop's handler. Any thread; the loops run until
    /// [`LoopPool::shutdown`] or drop.
    pub fn start<F>(self, factory: F) -> io::Result<LoopPool<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        let PreparedPool { config, codec, handles, parts } = self;
        let factory = Arc::new(factory);
        let mut threads = Vec::with_capacity(parts.len());
        let mut stats = Vec::with_capacity(parts.len());
        for (index, (poll, inbox, shared)) in parts.into_iter().enumerate() {
            let registry = poll.registry().try_clone()?;
            let loop_stats = Arc::new(LoopStats::default());
            stats.push(loop_stats.clone());
            let handles = handles.clone();
            let config = config.clone();
            let factory = factory.clone();
            let codec = codec.clone();
            let name = format!("{}-io-{index}", config.name);
            let thread = std::thread::Builder::new().name(name).spawn(move || {
                let handler = factory(LoopInit { index, handles: &handles });
                let me = handles[index].clone();
                let table = Connections::new(registry, codec, config, loop_stats);
                let ctx = Ctx::new(index, me, table);
                EventLoop::new(poll, inbox, shared, handler, ctx).run();
            })?;
            threads.push(thread);
        }
        Ok(LoopPool { handles, threads, stats, next: AtomicUsize::new(0) })
    }
}

impl<H: Handler> LoopPool<H> {
    /// Creates `config.threads` polls and inboxes, without starting them.
    /// Any thread.
    pub fn prepare(config: LoopConfig, codec: H::Codec) -> io::Result<PreparedPool<H>> {
        let count = config.threads.max(1);
        let mut handles = Vec::with_capacity(count);
        let mut parts = Vec::with_capacity(count);
        for index in 0..count {
            let poll = mio::Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
            let (sender, receiver) = bounded(config.inbox_capacity.max(1));
            let shared = Arc::new(LoopShared {
                waker,
                notified: AtomicBool::new(false),
                stop_deadline: Mutex::new(None),
            });
            handles.push(LoopHandle::new(index, sender, shared.clone()));
            parts.push((poll, receiver, shared));
        }
        Ok(PreparedPool { config: Arc::new(config), codec, handles: handles.into(), parts })
    }

    /// Prepares and starts `config.threads` loops in one step (see
    /// [`PreparedPool::start`]). Any thread.
    pub fn start<F>(config: LoopConfig, codec: H::Codec, factory: F) -> io::Result<LoopPool<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        LoopPool::prepare(config, codec)?.start(factory)
    }

    /// Number of loops. Any thread.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Always false: a pool has at least one loop.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Handles to every loop. Any thread.
    pub fn handles(&self) -> &Arc<[LoopHandle<H>]> {
        &self.handles
    }

    /// The next loop in round-robin order. Any thread.
    pub fn next_handle(&self) -> &LoopHandle<H> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }

    /// Each loop's counters, in loop order. Any thread.
    pub fn stats(&self) -> &[Arc<LoopStats>] {
        &self.stats
    }

    /// Asks every loop to close its connections gracefully (flushing their
    /// output) and waits for the threads to exit. Connections still open at
    /// `grace` are closed forcibly, so this returns shortly after `grace`.
    ///
    /// Any thread but the pool's own: a loop cannot join itself (checked in
    /// debug builds).
    pub fn shutdown(&mut self, grace: Duration) {
        let me = std::thread::current().id();
        debug_assert!(
            self.threads.iter().all(|t| t.thread().id() != me),
            "LoopPool::shutdown called from one of its own loops"
        );
        let deadline = Instant::now() + grace;
        for handle in self.handles.iter() {
            handle.request_stop(deadline);
        }
        for thread in self.threads.drain(..) {
            let name = thread.thread().name().unwrap_or("loop").to_string();
            if thread.join().is_err() {
                log::error!("{name} panicked");
            }
        }
    }
}

impl<H: Handler> Drop for LoopPool<H> {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown(Duration::ZERO);
        }
    }
}
