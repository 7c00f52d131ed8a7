//! [`Acceptor`]: a thread that accepts connections and hands them to loops.
//!
//! ## Why a dedicated thread
//! The alternative is one `SO_REUSEPORT` listener per loop, letting the kernel
//! spread connections. A single acceptor keeps the distribution exact
//! (round-robin), keeps the I/O loops free of listener logic, and costs one
//! mostly sleeping thread; accepting is never the bottleneck of a chat server,
//! whose connections live for hours.
//!
//! ## Out of descriptors
//! When the process hits its descriptor limit, `accept` fails with `EMFILE`
//! (or `ENFILE` for the whole system) and the pending connection stays in the
//! kernel's backlog. The listener is still readable, so a naive loop would call
//! `accept` again at once, forever, at 100% CPU. Here the acceptor instead
//! *pauses*: it stops accepting for a back-off period (10 ms doubling to
//! 500 ms) and ignores the listener until then. Waiting clients stay in the
//! backlog and are accepted as soon as descriptors are free again. It logs one
//! warning when a burst starts and one line when it ends, not one per attempt.
//!
//! (The other classic answer keeps a spare descriptor open, and on `EMFILE`
//! closes it, accepts, closes the new connection at once and reopens the
//! spare: the client learns immediately that it was refused. Pausing was
//! chosen because the backlog lets short exhaustions go unnoticed by clients.)

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

// errno values (the same on Linux and the BSDs).
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
const ENOMEM: i32 = 12;
#[cfg(target_os = "linux")]
const ENOBUFS: i32 = 105;
#[cfg(not(target_os = "linux"))]
const ENOBUFS: i32 = 55;

/// Accepts on a listener from its own thread until stopped.
pub struct Acceptor {
    local_addr: SocketAddr,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Starts a thread named `<name>-accept` that accepts connections on
    /// `listener` and passes each one to `on_accept` (on that thread).
    pub fn start<F>(listener: TcpListener, name: &str, on_accept: F) -> io::Result<Acceptor>
    where
        F: FnMut(TcpStream, SocketAddr) + Send + 'static,
    {
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), STOP)?);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let mut state = AcceptLoop {
            poll,
            listener,
            on_accept,
            stop: thread_stop,
            paused_until: None,
            backoff: MIN_BACKOFF,
            exhausted_since: None,
            refused_while_exhausted: 0,
        };
        state.poll.registry().register(&mut state.listener, LISTENER, Interest::READABLE)?;
        let thread = std::thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || state.run())?;
        Ok(Acceptor { local_addr, waker, stop, thread: Some(thread) })
    }

    /// The address the listener is bound to (with the real port when bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes the listener; waits for the thread.
    /// Call from any thread but the acceptor's.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop();
    }
}

struct AcceptLoop<F> {
    poll: Poll,
    listener: TcpListener,
    on_accept: F,
    stop: Arc<AtomicBool>,
    /// Accepting is paused until then (out of descriptors or another error).
    paused_until: Option<Instant>,
    /// The next pause, doubled after each failure.
    backoff: Duration,
    /// When the current descriptor shortage began, for the log.
    exhausted_since: Option<Instant>,
    /// Accept attempts that failed during the current shortage.
    refused_while_exhausted: u64,
}

impl<F: FnMut(TcpStream, SocketAddr)> AcceptLoop<F> {
    fn run(mut self) {
        let mut events = Events::with_capacity(16);
        loop {
            let timeout = self.paused_until.map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("acceptor: poll failed: {e}; no longer accepting");
                    return;
                }
            }
            if self.stop.load(Ordering::Acquire) {
                return; // dropping `self.listener` closes it
            }
            if let Some(until) = self.paused_until {
                if Instant::now() < until {
                    continue; // a new connection woke us; stay paused
                }
                self.paused_until = None;
            }
            self.accept_burst();
        }
    }

    /// Accepts until the backlog is empty (`WouldBlock`) or accepting fails.
    fn accept_burst(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if let Some(since) = self.exhausted_since.take() {
                        log::info!(
                            "acceptor: descriptors available again after {:?} ({} attempts refused)",
                            since.elapsed(),
                            self.refused_while_exhausted
                        );
                        self.refused_while_exhausted = 0;
                    }
                    self.backoff = MIN_BACKOFF;
                    (self.on_accept)(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_transient(&e) => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    if self.exhausted_since.is_none() {
                        log::warn!("acceptor: {e}; pausing accepts until descriptors are free");
                        self.exhausted_since = Some(Instant::now());
                    }
                    self.refused_while_exhausted += 1;
                    self.pause();
                    return;
                }
                Err(e) => {
                    log::error!("acceptor: accept failed: {e}; retrying in {:?}", self.backoff);
                    self.pause();
                    return;
                }
            }
        }
    }

    fn pause(&mut self) {
        self.paused_until = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// Errors about one connection (the client gave up before we accepted it).
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
}
