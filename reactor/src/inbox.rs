//! How other threads reach a loop: a bounded task queue plus a `mio::Waker`.
//!
//! A loop sleeps in `epoll_wait`. To hand it work, another thread pushes a
//! closure into the loop's crossbeam channel and then wakes it through an
//! eventfd registered with its poll. Waking costs a system call, so it is done
//! only when the loop might be asleep: the `notified` flag is set by the first
//! poster after the loop last looked at its inbox, and later posters see it
//! already set and skip the wake.
//!
//! ```text
//! poster:  send(task) ; if !notified.swap(true) { waker.wake() }
//! loop:    poll() ; notified.store(false) ; while let Ok(task) = try_recv() { task(..) }
//! ```
//!
//! A task sent before the loop clears the flag is seen by the drain that
//! follows; a task sent after it finds the flag clear and wakes the loop. No
//! task is ever left waiting for an unrelated event.

use crate::context::Ctx;
use crate::handler::Handler;
use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Work for a loop: runs on the loop's thread with its handler and context.
pub type Task<H> = Box<dyn FnOnce(&mut H, &mut Ctx<H>) + Send>;

/// Why a task could not be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostError {
    /// The inbox is full: the loop is overloaded. The caller decides whether
    /// to drop, retry later or report "busy"; posting never blocks.
    Full,
    /// The loop has stopped.
    Closed,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::Full => f.write_str("loop inbox full"),
            PostError::Closed => f.write_str("loop stopped"),
        }
    }
}

impl std::error::Error for PostError {}

/// State a loop shares with the threads that post to it.
pub(crate) struct LoopShared {
    /// Wakes the loop from `poll`.
    pub waker: mio::Waker,
    /// A wake is already on its way (see the module doc).
    pub notified: AtomicBool,
    /// Set once: close everything gracefully and stop by this instant.
    pub stop_deadline: Mutex<Option<Instant>>,
}

/// A way to reach one loop from any thread. Cheap to clone, `Send + Sync`.
pub struct LoopHandle<H: Handler> {
    index: usize,
    sender: Sender<Task<H>>,
    shared: Arc<LoopShared>,
}

impl<H: Handler> Clone for LoopHandle<H> {
    fn clone(&self) -> Self {
        LoopHandle { index: self.index, sender: self.sender.clone(), shared: self.shared.clone() }
    }
}

impl<H: Handler> fmt::Debug for LoopHandle<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoopHandle({})", self.index)
    }
}

impl<H: Handler> LoopHandle<H> {
    pub(crate) fn new(index: usize, sender: Sender<Task<H>>, shared: Arc<LoopShared>) -> Self {
        LoopHandle { index, sender, shared }
    }

    /// The loop's position in its pool.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Queues `task` to run on the loop's thread after its next poll.
    ///
    /// Safe to call from any thread, including the loop's own. Never blocks:
    /// a full inbox is reported as [`PostError::Full`].
    pub fn post<F>(&self, task: F) -> Result<(), PostError>
    where
        F: FnOnce(&mut H, &mut Ctx<H>) + Send + 'static,
    {
        match self.sender.try_send(Box::new(task)) {
            Ok(()) => {
                self.wake();
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(PostError::Full),
            Err(TrySendError::Disconnected(_)) => Err(PostError::Closed),
        }
    }

    /// Asks the loop to close its connections gracefully and stop by
    /// `deadline`. Safe to call from any thread; returns at once.
    pub(crate) fn request_stop(&self, deadline: Instant) {
        self.shared.stop_deadline.lock().get_or_insert(deadline);
        self.shared.notified.store(true, Ordering::Release);
        let _ = self.shared.waker.wake();
    }

    fn wake(&self) {
        if !self.shared.notified.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.shared.waker.wake() {
                log::error!("cannot wake loop {}: {e}", self.index);
            }
        }
    }
}
