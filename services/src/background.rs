//! A named thread that runs until it is told to stop, and is waited for:
//! the chat server's router and presence notifier. The thread's body polls
//! its [`StopFlag`] between rounds (each round bounded by a timeout of its
//! own), so `stop` returns within one round.
//!
//! `start` and `stop` from any thread but the background one itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Tells a background thread's body that it should end.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The handle: stopping (or dropping) it sets the flag and joins the thread.
pub struct Background {
    stop: StopFlag,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts `body` on a thread called `name`.
    pub fn start(
        name: String,
        body: impl FnOnce(StopFlag) + Send + 'static,
    ) -> std::io::Result<Background> {
        let stop = StopFlag::default();
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name(name).spawn(move || body(flag))?;
        Ok(Background { stop, thread: Some(thread) })
    }

    /// Sets the flag and waits for the body to return.
    pub fn stop(&mut self) {
        self.stop.0.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
