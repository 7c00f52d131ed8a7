//! One TCP connection and what happens to it: reading, writing, closing,
//! connecting (muduo's `TcpConnection`).
//!
//! A [`Connection`] does its own socket work and state changes, and returns
//! an outcome; the loop acts on the outcome (calls the handler, arms a
//! timer, updates a list). So this file says *what* a connection does, and
//! `event_loop.rs` says *when*. Only the owning loop's thread ever touches a
//! connection, so nothing here is locked.

use crate::backpressure::Backpressure;
use crate::buffer::Buffer;
use crate::slab::Key;
use crate::timer_wheel::TimerKey;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// Output buffers that drain are freed when they hold more than this. Small
/// enough that 100,000 idle connections do not each keep what their login
/// answer needed (with 16 KiB, six chat servers held 5-10 KB per idle
/// connection; with 4 KiB, 3.4-4.9 KB), large enough that a busy connection
/// does not reallocate on every pass (the echo benchmark did not change).
const KEEP_OUTPUT_CAPACITY: usize = 4 * 1024;

/// Names a connection within its loop. Stale ids (of a closed connection
/// whose slot was reused) are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) Key);

impl ConnId {
    /// The slot index (also the connection's `mio::Token`).
    pub fn index(self) -> usize {
        self.0.index()
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.0.index(), self.0.generation())
    }
}

/// A connection's life, in order. There is no way back.
///
/// ```text
/// Connecting ──▶ Connected ──▶ Disconnecting ──▶ Closed
///      │              └────────────────────────────▲
///      └───────────────────────────────────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// An outgoing connect is in progress.
    Connecting,
    /// Established: frames are read and dispatched, output is written.
    Connected,
    /// Closing gracefully: queued output is still written, input is no longer
    /// dispatched; then the write side is shut down and the peer's close awaited.
    Disconnecting,
    /// Closed: the handler's `on_close` is about to run or has run.
    Closed,
}

/// Why a connection was closed; passed to the handler's `on_close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (read returned 0).
    PeerClosed,
    /// A socket error (reset, broken pipe, ...).
    Io(io::ErrorKind),
    /// The codec refused the input (for example a length over the limit).
    ProtocolError,
    /// Nothing was received for the configured idle time.
    IdleTimeout,
    /// The first frame did not arrive in time.
    FirstFrameTimeout,
    /// The peer did not read its output: above the high-water mark for too
    /// long, or over the output limit.
    SlowConsumer,
    /// An outgoing connect failed.
    ConnectFailed(io::ErrorKind),
    /// An outgoing connect took longer than the configured timeout.
    ConnectTimeout,
    /// The handler asked for the close (`shutdown` or `force_close`).
    Requested,
    /// The loop is shutting down.
    Shutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by peer"),
            CloseReason::Io(kind) => write!(f, "socket error: {kind}"),
            CloseReason::ProtocolError => f.write_str("protocol error"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::FirstFrameTimeout => f.write_str("no frame in time"),
            CloseReason::SlowConsumer => f.write_str("slow consumer"),
            CloseReason::ConnectFailed(kind) => write!(f, "connect failed: {kind}"),
            CloseReason::ConnectTimeout => f.write_str("connect timed out"),
            CloseReason::Requested => f.write_str("closed by handler"),
            CloseReason::Shutdown => f.write_str("server shutting down"),
        }
    }
}

/// The loop's record of one connection.
pub(crate) struct Connection<C, S> {
    /// The non-blocking socket, registered with the loop's poll under its
    /// slab index.
    stream: TcpStream,
    /// Where the connection is in its life.
    pub state: ConnState,
    /// The connection's codec (per-connection decode state). `None` only
    /// while the loop has lent it out to decode a read.
    pub codec: Option<C>,
    /// Bytes of an incomplete frame, kept between reads. Usually empty and
    /// unallocated: whole frames are decoded straight from the loop's shared
    /// read buffer.
    pub input: Buffer,
    /// Bytes waiting to be written.
    pub output: Buffer,
    /// The handler's per-connection state.
    pub session: S,
    /// The remote address.
    pub peer: SocketAddr,
    /// Which of the server's listeners accepted it (0 for the first, and for
    /// outgoing connections).
    pub listener: usize,
    /// High-water state: reading is paused while the peer does not read.
    pub backpressure: Backpressure,
    /// WRITABLE interest is registered (only while a write would block).
    wants_writable: bool,
    /// The connection is on the loop's flush list for this pass.
    pub queued_for_flush: bool,
    /// The handler asked to hear (once) when the output is empty.
    pub notify_drained: bool,
    /// The peer sent EOF.
    peer_closed: bool,
    /// Our write side has been shut down.
    write_shut: bool,
    /// Why the connection is disconnecting or closed.
    close_reason: Option<CloseReason>,
    /// When bytes last arrived (for the idle timeout).
    last_input: Instant,
    /// Whole frames received so far (for the first-frame deadline).
    pub frames_in: u64,
    /// The idle timeout in force for this connection.
    pub idle_timeout: Option<Duration>,
    /// The pending idle check, replaced when the timeout is changed.
    pub idle_timer: Option<TimerKey>,
}

/// What one `read` gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// `n` bytes are at the start of the buffer.
    Data(usize),
    /// The peer closed its side.
    Eof,
    /// Nothing more until the next readiness edge.
    WouldBlock,
    Failed(io::ErrorKind),
}

/// What writing the queued output did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub bytes: usize,
    /// The output is empty now.
    pub drained: bool,
}

/// What the loop must do after a close step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CloseStep {
    /// Nothing (already closing or closed).
    Nothing,
    /// Flush what is queued; the flush finishes the close.
    Flush,
    /// Close now, for this reason.
    CloseNow(CloseReason),
    /// The write side is shut down: wait (at most the linger time) for the peer.
    Linger,
}

/// How an outgoing connect is doing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConnectStep {
    Established,
    /// A spurious wake-up: still in progress.
    Pending,
    Failed(CloseReason),
}

/// What the idle check found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdleStep {
    /// No timeout, or not connected: nothing to check.
    Off,
    /// Silent for the whole timeout: close.
    Expired,
    /// Input arrived meanwhile: check again then.
    RecheckAt(Instant),
}

impl<C, S: Default> Connection<C, S> {
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        codec: C,
        state: ConnState,
        now: Instant,
    ) -> Self {
        Connection {
            stream,
            state,
            codec: Some(codec),
            input: Buffer::new(),
            output: Buffer::new(),
            session: S::default(),
            peer,
            listener: 0,
            backpressure: Backpressure::default(),
            // An outgoing connect waits for WRITABLE (see `Ctx::connect`).
            wants_writable: state == ConnState::Connecting,
            queued_for_flush: false,
            notify_drained: false,
            peer_closed: false,
            write_shut: false,
            close_reason: None,
            last_input: now,
            frames_in: 0,
            idle_timeout: None,
            idle_timer: None,
        }
    }
}

impl<C, S> Connection<C, S> {
    /// Input may be read and dispatched now.
    pub fn can_read(&self) -> bool {
        self.state == ConnState::Connected && !self.backpressure.reading_paused()
    }

    /// Output may still be queued.
    pub fn can_send(&self) -> bool {
        self.state == ConnState::Connected
    }

    /// Registers the socket with the loop's poll.
    /// TCP keep-alive on this socket (`socket::set_keepalive`).
    pub fn set_keepalive(&self, idle: Duration) -> io::Result<()> {
        crate::socket::set_keepalive(&self.stream, idle)
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = if self.wants_writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.register(&mut self.stream, token, interest)
    }

    /// Takes the socket out of the loop's poll (before it is dropped and closed).
    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    // ----- reading -------------------------------------------------------

    /// One `read` into `buf` (an interrupted one is retried).
    pub fn read_into(&mut self, buf: &mut [u8], now: Instant) -> ReadOutcome {
        loop {
            return match self.stream.read(buf) {
                Ok(0) => ReadOutcome::Eof,
                Ok(n) => {
                    self.last_input = now;
                    ReadOutcome::Data(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => ReadOutcome::Failed(e.kind()),
            };
        }
    }

    // ----- writing -------------------------------------------------------

    /// Writes queued output until it is empty or the socket would block,
    /// and keeps WRITABLE interest in step: asked for when a write would
    /// block, dropped once the output is empty (an always-writable socket
    /// registered for WRITABLE would wake the loop for nothing).
    pub fn write_out(
        &mut self,
        registry: &Registry,
        token: Token,
    ) -> Result<Written, io::ErrorKind> {
        let mut bytes = 0;
        let drained = loop {
            if self.output.is_empty() {
                break true;
            }
            match self.output.write_to(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero),
                Ok(n) => bytes += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.kind()),
            }
        };
        if drained {
            self.output.release_if_empty(KEEP_OUTPUT_CAPACITY);
            if self.wants_writable {
                self.wants_writable = false;
                let _ = registry.reregister(&mut self.stream, token, Interest::READABLE);
            }
        } else if !self.wants_writable {
            self.wants_writable = true;
            let interest = Interest::READABLE | Interest::WRITABLE;
            registry.reregister(&mut self.stream, token, interest).map_err(|e| e.kind())?;
        }
        Ok(Written { bytes, drained })
    }

    /// True while WRITABLE interest is registered.
    pub fn wants_writable(&self) -> bool {
        self.wants_writable
    }

    // ----- closing -------------------------------------------------------

    /// Starts a graceful close: input is no longer dispatched, queued output
    /// is still written (the flush then calls [`Connection::output_drained_while_closing`]).
    pub fn begin_disconnect(&mut self, reason: CloseReason) -> CloseStep {
        match self.state {
            ConnState::Connected => {
                self.state = ConnState::Disconnecting;
                self.close_reason = Some(reason);
                CloseStep::Flush
            }
            ConnState::Connecting => CloseStep::CloseNow(reason),
            ConnState::Disconnecting | ConnState::Closed => CloseStep::Nothing,
        }
    }

    /// All output of a closing connection is written: hang up if the peer
    /// already closed, else shut down our write side and wait for its EOF.
    pub fn output_drained_while_closing(&mut self) -> CloseStep {
        if self.peer_closed {
            CloseStep::CloseNow(self.close_reason.clone().unwrap_or(CloseReason::PeerClosed))
        } else if !self.write_shut {
            self.write_shut = true;
            let _ = self.stream.shutdown(Shutdown::Write);
            CloseStep::Linger
        } else {
            CloseStep::Nothing
        }
    }

    /// The peer sent EOF.
    pub fn peer_sent_eof(&mut self) -> CloseStep {
        self.peer_closed = true;
        match self.state {
            ConnState::Connected => self.begin_disconnect(CloseReason::PeerClosed),
            ConnState::Disconnecting => {
                CloseStep::CloseNow(self.close_reason.clone().unwrap_or(CloseReason::PeerClosed))
            }
            _ => CloseStep::Nothing,
        }
    }

    /// Marks the connection closed. False if it already was.
    pub fn mark_closed(&mut self, reason: CloseReason) -> bool {
        if self.state == ConnState::Closed {
            return false;
        }
        self.state = ConnState::Closed;
        self.close_reason.get_or_insert(reason);
        true
    }

    /// Why it closed (taken once, when the loop removes it).
    pub fn take_close_reason(&mut self) -> CloseReason {
        self.close_reason.take().unwrap_or(CloseReason::Requested)
    }

    // ----- connecting ----------------------------------------------------

    /// An outgoing connect reported writable (or an error): see whether it
    /// is established, and if so listen for input only.
    pub fn finish_connect(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> ConnectStep {
        if self.state != ConnState::Connecting {
            return ConnectStep::Pending;
        }
        match self.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                return ConnectStep::Failed(CloseReason::ConnectFailed(e.kind()))
            }
        }
        match self.stream.peer_addr() {
            Ok(peer) => {
                self.peer = peer;
                self.state = ConnState::Connected;
                self.last_input = now;
                self.wants_writable = false;
                match registry.reregister(&mut self.stream, token, Interest::READABLE) {
                    Ok(()) => ConnectStep::Established,
                    Err(e) => ConnectStep::Failed(CloseReason::Io(e.kind())),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => ConnectStep::Pending,
            Err(e) => ConnectStep::Failed(CloseReason::ConnectFailed(e.kind())),
        }
    }

    // ----- timeouts ------------------------------------------------------

    /// The idle timer fired at `now`. Receiving bytes only updates a
    /// timestamp; this single timer re-arms itself when it finds recent input.
    pub fn idle_check(&mut self, now: Instant) -> IdleStep {
        self.idle_timer = None;
        let Some(timeout) = self.idle_timeout else { return IdleStep::Off };
        if self.state != ConnState::Connected {
            return IdleStep::Off;
        }
        let deadline = self.last_input + timeout;
        if now >= deadline {
            IdleStep::Expired
        } else {
            IdleStep::RecheckAt(deadline)
        }
    }
}
