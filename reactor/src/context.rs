//! [`Ctx`]: what a handler can do on its loop: look, send, close, open, time.
//!
//! Every method runs on the loop's thread: a `Ctx` is only ever lent to the
//! handler's callbacks and to tasks running on that loop (debug builds check
//! it). Other threads reach a loop through its [`LoopHandle`].
//!
//! The context never calls the handler. Whatever the handler must hear about
//! (a connection opened or closed, a high-water crossing, drained output) is
//! queued as a notice and delivered by the loop once the current callback has
//! returned. That keeps every callback short and non-reentrant: a handler that
//! closes another connection from inside `on_frame` does not find itself
//! inside `on_close` before `on_frame` has finished.

use crate::buffer::Buffer;
use crate::codec::{encode_header, FORMAT_MAX_BODY, HEADER_LEN};
use crate::config::LoopConfig;
use crate::connection::{CloseReason, ConnId, ConnState};
use crate::connections::{Connections, Notice, TimerTask};
use crate::handler::Handler;
use crate::inbox::LoopHandle;
use crate::socket::start_connect;
use crate::stats::LoopStats;
use crate::timer_wheel::TimerKey;
use mio::net::TcpStream;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

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

/// One loop as its handler sees it. Only the loop's thread has one.
pub struct Ctx<H: Handler> {
    /// The loop's position in its pool.
    index: usize,
    /// The loop's thread (checked by debug assertions).
    thread: ThreadId,
    /// This loop's own handle, for handing to other threads.
    handle: LoopHandle<H>,
    /// The connections, their pending work and the timers.
    pub(crate) table: Connections<H>,
}

impl<H: Handler> Ctx<H> {
    /// Built on the loop's own thread, which it then belongs to.
    pub(crate) fn new(index: usize, handle: LoopHandle<H>, table: Connections<H>) -> Self {
        Ctx { index, thread: std::thread::current().id(), handle, table }
    }

    /// Panics in debug builds when called off the loop's thread (muduo's
    /// `assertInLoopThread`): a `Ctx` smuggled to another thread is a bug.
    #[inline]
    fn assert_in_loop_thread(&self) {
        debug_assert_eq!(std::thread::current().id(), self.thread, "Ctx used off its loop");
    }

    // ----- facts: cheap, no side effects ---------------------------------

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
        self.table.now
    }

    /// The pool's configuration.
    pub fn config(&self) -> &LoopConfig {
        &self.table.config
    }

    /// This loop's counters.
    pub fn stats(&self) -> &Arc<LoopStats> {
        &self.table.stats
    }

    /// Connections owned by this loop (in any state).
    pub fn connection_count(&self) -> usize {
        self.table.conns.len()
    }

    /// Ids of every connection owned by this loop.
    pub fn connection_ids(&self) -> Vec<ConnId> {
        self.table.conns.keys().map(ConnId).collect()
    }

    /// The connection's state, or `None` for an unknown or stale id.
    pub fn state(&self, conn: ConnId) -> Option<ConnState> {
        self.table.state(conn)
    }

    /// True if the connection is established and not closing.
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.state(conn) == Some(ConnState::Connected)
    }

    /// The remote address.
    pub fn peer_addr(&self, conn: ConnId) -> Option<SocketAddr> {
        self.table.get(conn).map(|c| c.peer)
    }

    /// Which of the server's listeners accepted the connection (0: the first,
    /// or an outgoing connection). A server that speaks several dialects on
    /// several ports tells them apart with it.
    pub fn listener(&self, conn: ConnId) -> Option<usize> {
        self.table.get(conn).map(|c| c.listener)
    }

    /// Bytes received and kept because they do not make a whole frame yet
    /// (0 between frames): tells a request that has begun from an idle peer.
    pub fn partial_input(&self, conn: ConnId) -> Option<usize> {
        self.table.get(conn).map(|c| c.input.len())
    }

    /// Output bytes queued and not yet written.
    pub fn queued_output(&self, conn: ConnId) -> Option<usize> {
        self.table.get(conn).map(|c| c.output.len())
    }

    /// The handler's state for this connection.
    pub fn session(&self, conn: ConnId) -> Option<&H::Session> {
        self.table.get(conn).map(|c| &c.session)
    }

    /// The handler's state for this connection, mutable.
    pub fn session_mut(&mut self, conn: ConnId) -> Option<&mut H::Session> {
        self.table.get_mut(conn).map(|c| &mut c.session)
    }

    // ----- output ------------------------------------------------------------

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
    /// the output rules (see `backpressure.rs`): the flush is scheduled, and
    /// a connection over the high-water mark stops being read.
    pub fn send_with<R>(
        &mut self,
        conn: ConnId,
        write: impl FnOnce(&mut Buffer) -> R,
    ) -> Result<R, SendError> {
        self.assert_in_loop_thread();
        let c = match self.table.get_mut(conn) {
            Some(c) if c.can_send() => c,
            _ => return Err(SendError::NotOpen),
        };
        let result = write(&mut c.output);
        self.table.output_grew(conn);
        Ok(result)
    }

    /// Asks for one [`Handler::on_drained`] call once everything queued on
    /// `conn` has been written (soon, if nothing is queued). A handler that
    /// produces a lot for one connection (the pages of a sync) produces the
    /// next part when the last one has left, so its output stays small.
    pub fn notify_when_drained(&mut self, conn: ConnId) {
        self.assert_in_loop_thread();
        let Some(c) = self.table.get_mut(conn) else { return };
        if c.output.is_empty() {
            self.table.notices.push_back(Notice::Drained(conn));
        } else {
            c.notify_drained = true;
        }
    }

    // ----- closing -------------------------------------------------------------

    /// Closes gracefully: stops dispatching input, writes what is queued,
    /// shuts down the write side, and closes when the peer does (or after
    /// the linger timeout). Use it to send a last frame and hang up.
    pub fn shutdown(&mut self, conn: ConnId) {
        self.assert_in_loop_thread();
        self.table.begin_disconnect(conn, CloseReason::Requested);
    }

    /// Closes at once; queued output is discarded.
    pub fn force_close(&mut self, conn: ConnId) {
        self.assert_in_loop_thread();
        self.table.close_now(conn, CloseReason::Requested);
    }

    // ----- opening ---------------------------------------------------------------

    /// Takes ownership of an accepted socket: registers it with this loop,
    /// starts its timers, and has `on_connect` called.
    pub fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) -> io::Result<ConnId> {
        self.adopt_from(stream, peer, 0)
    }

    /// Like [`Ctx::adopt`], for a socket accepted by the server's listener
    /// number `listener` (see [`crate::BoundServer::listen_also`]), which
    /// [`Ctx::listener`] then reports.
    pub fn adopt_from(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        listener: usize,
    ) -> io::Result<ConnId> {
        self.assert_in_loop_thread();
        self.table.insert(stream, peer, ConnState::Connected, listener)
    }

    /// Starts an outgoing connection from this loop, optionally from a given
    /// local address (to use many 127.0.0.x sources in load tests).
    /// `on_connect` runs when it is established; a failure or timeout is
    /// reported through `on_close` with `ConnectFailed` or `ConnectTimeout`.
    pub fn connect(&mut self, addr: SocketAddr, local: Option<IpAddr>) -> io::Result<ConnId> {
        self.assert_in_loop_thread();
        let stream = start_connect(addr, local)?;
        self.table.insert(stream, addr, ConnState::Connecting, 0)
    }

    // ----- timers ----------------------------------------------------------------

    /// Closes the connection after `timeout` without input (`None`: never).
    /// Checking is lazy: receiving bytes only updates a timestamp, and the
    /// single pending timer re-arms itself when it finds recent input.
    pub fn set_idle_timeout(&mut self, conn: ConnId, timeout: Option<Duration>) {
        self.assert_in_loop_thread();
        self.table.set_idle_timeout(conn, timeout);
    }

    /// Turns on TCP keep-alive for `conn`: the kernel probes a quiet peer
    /// after `idle` and the connection fails once it stops answering. For
    /// clients without a heartbeat, instead of an idle timeout.
    pub fn set_keepalive(&mut self, conn: ConnId, idle: Duration) -> io::Result<()> {
        self.assert_in_loop_thread();
        self.table.set_keepalive(conn, idle)
    }

    /// Runs `task` on this loop after `delay` (to within one timer tick).
    pub fn run_after(
        &mut self,
        delay: Duration,
        task: impl FnOnce(&mut H, &mut Ctx<H>) + 'static,
    ) -> TimerId {
        self.assert_in_loop_thread();
        let deadline = self.table.now + delay;
        TimerId(self.table.timers.insert(deadline, TimerTask::Call(Box::new(task))))
    }

    /// Cancels a timer; returns false if it already ran or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.table.timers.cancel(timer.0).is_some()
    }
}
