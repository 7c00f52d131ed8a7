//! One TCP connection as its loop sees it: the socket, its state, its
//! buffers and its flags. Only the owning loop's thread ever touches it, so
//! nothing here is locked.

use crate::buffer::Buffer;
use crate::slab::Key;
use crate::timer_wheel::TimerKey;
use mio::net::TcpStream;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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
    /// The non-blocking socket, registered with the loop's poll under `index`.
    pub stream: TcpStream,
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
    /// WRITABLE interest is registered (only after a short write).
    pub wants_writable: bool,
    /// The connection is on the loop's flush list for this pass.
    pub queued_for_flush: bool,
    /// Input is not read while the peer does not read its output.
    pub reading_paused: bool,
    /// Since when output has been above the high-water mark, if it is.
    pub above_high_water: Option<Instant>,
    /// The peer sent EOF.
    pub peer_closed: bool,
    /// Our write side has been shut down.
    pub write_shut: bool,
    /// Why the connection is disconnecting or closed.
    pub close_reason: Option<CloseReason>,
    /// When bytes last arrived (for the idle timeout).
    pub last_input: Instant,
    /// Whole frames received so far (for the first-frame deadline).
    pub frames_in: u64,
    /// The idle timeout in force for this connection.
    pub idle_timeout: Option<Duration>,
    /// The pending idle check, replaced when the timeout is changed.
    pub idle_timer: Option<TimerKey>,
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
            wants_writable: false,
            queued_for_flush: false,
            reading_paused: false,
            above_high_water: None,
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
        self.state == ConnState::Connected && !self.reading_paused
    }

    /// Output may still be queued.
    pub fn can_send(&self) -> bool {
        self.state == ConnState::Connected
    }
}
