//! [`Ctx`]: one loop's connections, timers and pending work, as a handler
//! sees it. Everything here runs on the loop's thread.
//!
//! The context never calls the handler. Whatever the handler must hear about
//! (a connection opened or closed, a high-water crossing) is queued as a
//! notice and delivered by the loop once the current callback has returned.
//! That keeps every callback short and non-reentrant: a handler that closes
//! another connection from inside `on_frame` does not find itself inside
//! `on_close` before `on_frame` has finished.

use crate::buffer::Buffer;
use crate::codec::{encode_header, FORMAT_MAX_BODY, HEADER_LEN};
use crate::config::LoopConfig;
use crate::connection::{CloseReason, ConnId, ConnState, Connection};
use crate::handler::Handler;
use crate::inbox::LoopHandle;
use crate::slab::Slab;
use crate::stats::LoopStats;
use crate::timer_wheel::{TimerKey, TimerWheel};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Output buffers that drain are freed when they hold more than this. Small
/// enough that 100,000 idle connections do not each keep what their login
/// answer needed (with 16 KiB, six chat servers held 5-10 KB per idle
/// connection; with 4 KiB, 3.4-4.9 KB), large enough that a busy connection
/// does not reallocate on every pass (the echo benchmark did not change).
const KEEP_OUTPUT_CAPACITY: usize = 4 * 1024;

/// Names a timer started with [`Ctx::run_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(TimerKey);

/// Why output could not be queued.
#[derive(Debug)]
pub enum SendError {
    /// The connection is closed, closing, or the id is stale.
    NotOpen,
    /// The frame body is longer than the frame format can carry.
    TooLarge { len: usize },
    /// The body writer failed (for example a serializer error).
    Encode(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("connection not open"),
            SendError::TooLarge { len } => write!(f, "frame body of {len} bytes is too large"),
            SendError::Encode(e) => write!(f, "encoding failed: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Something the loop must tell the handler once the current callback returns.
pub(crate) enum Notice {
    Connected(ConnId),
    HighWater(ConnId, usize),
    Closed(ConnId),
}

/// A user timer's work: like a [`crate::Task`], but it never leaves the loop,
/// so it need not be `Send`.
pub(crate) type LocalTask<H> = Box<dyn FnOnce(&mut H, &mut Ctx<H>)>;

/// Work the timing wheel hands back to the loop.
pub(crate) enum TimerTask<H: Handler> {
    IdleCheck(ConnId),
    FirstFrameCheck(ConnId),
    SlowConsumerCheck(ConnId),
    LingerExpired(ConnId),
    ConnectTimeout(ConnId),
    Call(LocalTask<H>),
}

/// The loop's state that handlers may act on. Only the loop's thread has one.
pub struct Ctx<H: Handler> {
    /// The loop's position in its pool.
    index: usize,
    /// Every connection of the loop, indexed by `mio::Token`.
    pub(crate) conns: Slab<Connection<H::Codec, H::Session>>,
    /// The loop's poll registry, to (re)register sockets.
    registry: Registry,
    /// The loop's timers.
    pub(crate) timers: TimerWheel<TimerTask<H>>,
    /// Connections with output to write before the next poll.
    pub(crate) flush_list: Vec<ConnId>,
    /// Connections to read again without waiting for readiness (read budget
    /// used up, or reading resumed after a pause).
    pub(crate) read_again: Vec<ConnId>,
    /// What the handler must hear next.
    pub(crate) notices: VecDeque<Notice>,
    /// Cloned into every new connection.
    codec: H::Codec,
    config: Arc<LoopConfig>,
    /// This loop's own handle, for handing to other threads.
    handle: LoopHandle<H>,
    /// When the current pass began (the time of the last poll return).
    pub(crate) now: Instant,
    stats: Arc<LoopStats>,
    /// This loop's largest output queue so far (mirrors `stats.peak_output`).
    peak_output: usize,
}

impl<H: Handler> Ctx<H> {
    pub(crate) fn new(
        index: usize,
        registry: Registry,
        codec: H::Codec,
        config: Arc<LoopConfig>,
        handle: LoopHandle<H>,
        stats: Arc<LoopStats>,
    ) -> Self {
        let now = Instant::now();
        Ctx {
            index,
            conns: Slab::new(),
            registry,
            timers: TimerWheel::new(config.timer_tick, now),
            flush_list: Vec::new(),
            read_again: Vec::new(),
            notices: VecDeque::new(),
            codec,
            config,
            handle,
            now,
            stats,
            peak_output: 0,
        }
    }

    // ----- facts ---------------------------------------------------------

    /// This loop's position in its pool.
    pub fn loop_index(&self) -> usize {
        self.index
    }

    /// A handle to this loop, to give to threads that will post results back.
    pub fn handle(&self) -> &LoopHandle<H> {
        &self.handle
    }

    /// The time the current pass began; cheaper than `Instant::now()`.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The pool's configuration.
    pub fn config(&self) -> &LoopConfig {
        &self.config
    }

    /// This loop's counters.
    pub fn stats(&self) -> &Arc<LoopStats> {
        &self.stats
    }

    /// Connections owned by this loop (in any state).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Ids of every connection owned by this loop.
    pub fn connection_ids(&self) -> Vec<ConnId> {
        self.conns.keys().map(ConnId).collect()
    }

    /// The connection's state, or `None` for an unknown or stale id.
    pub fn state(&self, conn: ConnId) -> Option<ConnState> {
        self.conns.get(conn.0).map(|c| c.state)
    }

    /// True if the connection is established and not closing.
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.state(conn) == Some(ConnState::Connected)
    }

    /// The remote address.
    pub fn peer_addr(&self, conn: ConnId) -> Option<SocketAddr> {
        self.conns.get(conn.0).map(|c| c.peer)
    }

    /// Output bytes queued and not yet written.
    pub fn queued_output(&self, conn: ConnId) -> Option<usize> {
        self.conns.get(conn.0).map(|c| c.output.len())
    }

    /// The handler's state for this connection.
    pub fn session(&self, conn: ConnId) -> Option<&H::Session> {
        self.conns.get(conn.0).map(|c| &c.session)
    }

    /// The handler's state for this connection, mutable.
    pub fn session_mut(&mut self, conn: ConnId) -> Option<&mut H::Session> {
        self.conns.get_mut(conn.0).map(|c| &mut c.session)
    }

    // ----- output --------------------------------------------------------

    /// Queues raw bytes. They are written before the loop polls again,
    /// together with everything else queued for this connection in this pass.
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        self.send_with(conn, |out| out.append(bytes))
    }

    /// Queues a frame of the project's format: `id`, `len`, `body`.
    pub fn send_frame(&mut self, conn: ConnId, id: u16, body: &[u8]) -> Result<(), SendError> {
        if body.len() > FORMAT_MAX_BODY {
            return Err(SendError::TooLarge { len: body.len() });
        }
        self.send_with(conn, |out| {
            out.append(&encode_header(id, body.len()));
            out.append(body);
        })
    }

    /// Queues a frame whose body `write_body` writes straight into the output
    /// buffer (for example `serde_json::to_writer`): no intermediate copy.
    /// The header is reserved first and filled in once the length is known.
    /// If the writer fails or the body is too long, nothing is queued.
    pub fn send_frame_with(
        &mut self,
        conn: ConnId,
        id: u16,
        write_body: impl FnOnce(&mut Buffer) -> io::Result<()>,
    ) -> Result<(), SendError> {
        let outcome = self.send_with(conn, |out| {
            let start = out.len();
            out.append(&[0; HEADER_LEN]);
            if let Err(e) = write_body(out) {
                out.truncate(start);
                return Err(SendError::Encode(e));
            }
            let len = out.len() - start - HEADER_LEN;
            if len > FORMAT_MAX_BODY {
                out.truncate(start);
                return Err(SendError::TooLarge { len });
            }
            out.as_mut_slice()[start..start + HEADER_LEN].copy_from_slice(&encode_header(id, len));
            Ok(())
        });
        outcome.and_then(|inner| inner)
    }

    /// Lets `write` append to the connection's output buffer, then applies
    /// the output policies (flush scheduling, high-water mark, output limit).
    pub fn send_with<R>(
        &mut self,
        conn: ConnId,
        write: impl FnOnce(&mut Buffer) -> R,
    ) -> Result<R, SendError> {
        let c = match self.conns.get_mut(conn.0) {
            Some(c) if c.can_send() => c,
            _ => return Err(SendError::NotOpen),
        };
        let result = write(&mut c.output);
        self.output_grew(conn);
        Ok(result)
    }

    /// Applies the output policies after bytes were queued on `conn`.
    fn output_grew(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        let queued = c.output.len();
        if queued > self.peak_output {
            // Touch the shared counter only when the peak moves.
            self.peak_output = queued;
            self.stats.raise_peak_output(queued);
        }
        if queued >= self.config.output_limit {
            log::warn!(
                "{conn} from {}: {queued} bytes unread, over the output limit: closing",
                c.peer
            );
            LoopStats::add(&self.stats.slow_consumer_closes, 1);
            self.close_now(conn, CloseReason::SlowConsumer);
            return;
        }
        if !c.queued_for_flush {
            c.queued_for_flush = true;
            self.flush_list.push(conn);
        }
        if queued > self.config.high_water && c.above_high_water.is_none() {
            // Stop reading from a peer that does not read: its requests would
            // only make more output. TCP flow control then slows the peer down.
            c.above_high_water = Some(self.now);
            c.reading_paused = true;
            LoopStats::add(&self.stats.high_water_events, 1);
            self.notices.push_back(Notice::HighWater(conn, queued));
            let deadline = self.now + self.config.slow_consumer_timeout;
            self.timers.insert(deadline, TimerTask::SlowConsumerCheck(conn));
        }
    }

    /// Puts `conn` on this pass's flush list (used when it becomes writable).
    pub(crate) fn schedule_flush(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            if !c.queued_for_flush {
                c.queued_for_flush = true;
                self.flush_list.push(conn);
            }
        }
    }

    /// Writes the output of every connection that has some: called once per
    /// pass, just before polling. This is where write coalescing happens:
    /// all the replies a pass produced for one peer leave in one `write`.
    pub(crate) fn flush_all(&mut self) {
        let mut list = std::mem::take(&mut self.flush_list);
        for conn in list.drain(..) {
            self.flush(conn);
        }
        if self.flush_list.is_empty() {
            self.flush_list = list; // keep the allocation for the next pass
        }
    }

    /// Writes until the output is empty or the socket would block.
    fn flush(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        c.queued_for_flush = false;
        if !matches!(c.state, ConnState::Connected | ConnState::Disconnecting) {
            return;
        }
        let mut written = 0;
        let outcome = loop {
            if c.output.is_empty() {
                break Ok(true);
            }
            match c.output.write_to(&mut c.stream) {
                Ok(0) => break Err(io::ErrorKind::WriteZero),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e.kind()),
            }
        };
        LoopStats::add(&self.stats.bytes_out, written as u64);
        let drained = match outcome {
            Ok(drained) => drained,
            Err(kind) => {
                self.close_now(conn, CloseReason::Io(kind));
                return;
            }
        };
        // Ask for WRITABLE only after a short write, and drop it once drained:
        // an always-writable socket would wake the loop for nothing.
        let token = Token(conn.index());
        if drained {
            c.output.release_if_empty(KEEP_OUTPUT_CAPACITY);
            if c.wants_writable {
                c.wants_writable = false;
                let _ = self.registry.reregister(&mut c.stream, token, Interest::READABLE);
            }
        } else if !c.wants_writable {
            c.wants_writable = true;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self.registry.reregister(&mut c.stream, token, interest) {
                self.close_now(conn, CloseReason::Io(e.kind()));
                return;
            }
        }
        if c.above_high_water.is_some() && c.output.len() <= self.config.low_water() {
            c.above_high_water = None;
            if c.reading_paused {
                c.reading_paused = false;
                self.read_again.push(conn);
            }
        }
        if drained && c.state == ConnState::Disconnecting {
            self.finish_disconnect(conn);
        }
    }

    // ----- closing -------------------------------------------------------

    /// Closes gracefully: stops dispatching input, writes what is queued,
    /// shuts down the write side, and closes when the peer does (or after
    /// the linger timeout). Use it to send a last frame and hang up.
    pub fn shutdown(&mut self, conn: ConnId) {
        self.begin_disconnect(conn, CloseReason::Requested);
    }

    /// Closes at once; queued output is discarded.
    pub fn force_close(&mut self, conn: ConnId) {
        self.close_now(conn, CloseReason::Requested);
    }

    pub(crate) fn begin_disconnect(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        match c.state {
            ConnState::Connected => {
                c.state = ConnState::Disconnecting;
                c.close_reason = Some(reason);
                self.schedule_flush(conn); // the flush finishes the disconnect
            }
            ConnState::Connecting => self.close_now(conn, reason),
            ConnState::Disconnecting | ConnState::Closed => {}
        }
    }

    /// All output is written: hang up, or half-close and wait for the peer.
    fn finish_disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        if c.peer_closed {
            let reason = c.close_reason.clone().unwrap_or(CloseReason::PeerClosed);
            self.close_now(conn, reason);
        } else if !c.write_shut {
            c.write_shut = true;
            let _ = c.stream.shutdown(Shutdown::Write);
            let deadline = self.now + self.config.linger_timeout;
            self.timers.insert(deadline, TimerTask::LingerExpired(conn));
        }
    }

    /// The peer sent EOF.
    pub(crate) fn peer_closed(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        c.peer_closed = true;
        match c.state {
            ConnState::Connected => self.begin_disconnect(conn, CloseReason::PeerClosed),
            ConnState::Disconnecting => {
                let reason = c.close_reason.clone().unwrap_or(CloseReason::PeerClosed);
                self.close_now(conn, reason);
            }
            _ => {}
        }
    }

    /// Marks the connection closed; the loop removes it and calls `on_close`
    /// once the current callback returns.
    pub(crate) fn close_now(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        if c.state == ConnState::Closed {
            return;
        }
        c.state = ConnState::Closed;
        c.close_reason.get_or_insert(reason);
        self.notices.push_back(Notice::Closed(conn));
    }

    /// Takes a closed connection out of the loop. Returns its session and
    /// why it closed.
    pub(crate) fn remove(&mut self, conn: ConnId) -> Option<(H::Session, CloseReason)> {
        let mut c = self.conns.remove(conn.0)?;
        let _ = self.registry.deregister(&mut c.stream);
        if let Some(timer) = c.idle_timer.take() {
            self.timers.cancel(timer);
        }
        LoopStats::add(&self.stats.closed, 1);
        self.stats.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let reason = c.close_reason.take().unwrap_or(CloseReason::Requested);
        Some((c.session, reason))
        // `c.stream` is dropped here: the descriptor is closed.
    }

    // ----- opening -------------------------------------------------------

    /// Takes ownership of an accepted socket: registers it with this loop,
    /// starts its timers, and has `on_connect` called.
    pub fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) -> io::Result<ConnId> {
        self.insert(stream, peer, ConnState::Connected, Interest::READABLE)
    }

    /// Starts an outgoing connection from this loop, optionally from a given
    /// local address (to use many 127.0.0.x sources in load tests).
    /// `on_connect` runs when it is established; a failure or timeout is
    /// reported through `on_close` with `ConnectFailed` or `ConnectTimeout`.
    pub fn connect(&mut self, addr: SocketAddr, local: Option<IpAddr>) -> io::Result<ConnId> {
        let stream = start_connect(addr, local)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        let conn = self.insert(stream, addr, ConnState::Connecting, interest)?;
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.wants_writable = true;
        }
        let deadline = self.now + self.config.connect_timeout;
        self.timers.insert(deadline, TimerTask::ConnectTimeout(conn));
        Ok(conn)
    }

    fn insert(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        state: ConnState,
        interest: Interest,
    ) -> io::Result<ConnId> {
        if self.config.nodelay {
            let _ = stream.set_nodelay(true);
        }
        let codec = self.codec.clone();
        let conn = ConnId(self.conns.insert(Connection::new(stream, peer, codec, state, self.now)));
        let c = self.conns.get_mut(conn.0).expect("just inserted");
        if let Err(e) = self.registry.register(&mut c.stream, Token(conn.index()), interest) {
            self.conns.remove(conn.0);
            return Err(e);
        }
        LoopStats::add(&self.stats.opened, 1);
        LoopStats::add(&self.stats.connections, 1);
        if let Some(first_frame) = self.config.first_frame_timeout {
            let deadline = self.now + first_frame;
            self.timers.insert(deadline, TimerTask::FirstFrameCheck(conn));
        }
        self.set_idle_timeout(conn, self.config.idle_timeout);
        if state == ConnState::Connected {
            self.notices.push_back(Notice::Connected(conn));
        }
        Ok(conn)
    }

    /// An outgoing connect reported writable (or an error): see whether it
    /// is established. Returns true once it is.
    pub(crate) fn finish_connect(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(conn.0) else { return false };
        if c.state != ConnState::Connecting {
            return false;
        }
        match c.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                self.close_now(conn, CloseReason::ConnectFailed(e.kind()));
                return false;
            }
        }
        match c.stream.peer_addr() {
            Ok(peer) => {
                c.peer = peer;
                c.state = ConnState::Connected;
                c.last_input = self.now;
                c.wants_writable = false;
                let token = Token(conn.index());
                if let Err(e) = self.registry.reregister(&mut c.stream, token, Interest::READABLE) {
                    self.close_now(conn, CloseReason::Io(e.kind()));
                    return false;
                }
                self.notices.push_back(Notice::Connected(conn));
                true
            }
            // Spurious wake-up: the handshake is still in progress.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => false,
            Err(e) => {
                self.close_now(conn, CloseReason::ConnectFailed(e.kind()));
                false
            }
        }
    }

    // ----- timers --------------------------------------------------------

    /// Closes the connection after `timeout` without input (`None`: never).
    /// Checking is lazy: receiving bytes only updates a timestamp, and the
    /// single pending timer re-arms itself when it finds recent input.
    pub fn set_idle_timeout(&mut self, conn: ConnId, timeout: Option<Duration>) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        if let Some(old) = c.idle_timer.take() {
            self.timers.cancel(old);
        }
        c.idle_timeout = timeout;
        if let Some(timeout) = timeout {
            let deadline = self.now + timeout;
            c.idle_timer = Some(self.timers.insert(deadline, TimerTask::IdleCheck(conn)));
        }
    }

    /// Runs `task` on this loop after `delay` (to within one timer tick).
    pub fn run_after(
        &mut self,
        delay: Duration,
        task: impl FnOnce(&mut H, &mut Ctx<H>) + 'static,
    ) -> TimerId {
        let deadline = self.now + delay;
        TimerId(self.timers.insert(deadline, TimerTask::Call(Box::new(task))))
    }

    /// Cancels a timer; returns false if it already ran or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.timers.cancel(timer.0).is_some()
    }

    /// Handles one of the loop's own timers (all but `Call`).
    pub(crate) fn on_connection_timer(&mut self, task: TimerTask<H>) {
        match task {
            TimerTask::IdleCheck(conn) => self.check_idle(conn),
            TimerTask::FirstFrameCheck(conn) => {
                let silent = self
                    .conns
                    .get(conn.0)
                    .is_some_and(|c| c.state == ConnState::Connected && c.frames_in == 0);
                if silent {
                    LoopStats::add(&self.stats.timeouts, 1);
                    self.close_now(conn, CloseReason::FirstFrameTimeout);
                }
            }
            TimerTask::SlowConsumerCheck(conn) => self.check_slow_consumer(conn),
            TimerTask::LingerExpired(conn) => {
                if self.state(conn) == Some(ConnState::Disconnecting) {
                    let reason = CloseReason::Requested;
                    self.close_now(conn, reason);
                }
            }
            TimerTask::ConnectTimeout(conn) => {
                if self.state(conn) == Some(ConnState::Connecting) {
                    self.close_now(conn, CloseReason::ConnectTimeout);
                }
            }
            TimerTask::Call(_) => unreachable!("the loop runs Call timers itself"),
        }
    }

    fn check_idle(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        c.idle_timer = None;
        let Some(timeout) = c.idle_timeout else { return };
        if c.state != ConnState::Connected {
            return;
        }
        let deadline = c.last_input + timeout;
        if self.now >= deadline {
            LoopStats::add(&self.stats.timeouts, 1);
            self.close_now(conn, CloseReason::IdleTimeout);
        } else {
            c.idle_timer = Some(self.timers.insert(deadline, TimerTask::IdleCheck(conn)));
        }
    }

    fn check_slow_consumer(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        let Some(since) = c.above_high_water else { return };
        let deadline = since + self.config.slow_consumer_timeout;
        if self.now >= deadline {
            log::warn!(
                "{conn} from {}: {} bytes unread for {:?}: closing slow consumer",
                c.peer,
                c.output.len(),
                self.config.slow_consumer_timeout
            );
            LoopStats::add(&self.stats.slow_consumer_closes, 1);
            self.close_now(conn, CloseReason::SlowConsumer);
        } else {
            // It drained and filled up again since this check was armed.
            self.timers.insert(deadline, TimerTask::SlowConsumerCheck(conn));
        }
    }

    /// True when there is work that must not wait for the next readiness event.
    pub(crate) fn has_pending_work(&self) -> bool {
        !self.flush_list.is_empty() || !self.read_again.is_empty() || !self.notices.is_empty()
    }
}

/// Starts a non-blocking connect, optionally bound to a local address first.
fn start_connect(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    if let Some(ip) = local {
        // Let connect() pick the port for the whole 4-tuple instead of bind():
        // the same source port can then serve several destinations, and ports
        // in TIME_WAIT can be reused, so a source address is not used up at
        // ~28k connections per process run.
        #[cfg(target_os = "linux")]
        bind_address_no_port(&socket);
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// IP_BIND_ADDRESS_NO_PORT (Linux 4.2+); a kernel without it only loses
/// the port sharing, so a failure is ignored.
#[cfg(target_os = "linux")]
fn bind_address_no_port(socket: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(target_os = "linux")]
const EINPROGRESS: i32 = 115;
#[cfg(not(target_os = "linux"))]
const EINPROGRESS: i32 = 36;
