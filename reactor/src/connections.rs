//! The loop's connection table: every connection of one loop, their poll
//! registration, the lists of those to flush or read again this pass, the
//! notices the handler has yet to hear, and the loop's timers.
//!
//! This is the bookkeeping behind [`crate::Ctx`] (which is the handler's view
//! of it) and the event loop (which drives it). A [`Connection`] does the
//! socket work and says what follows; the table does what follows: a notice,
//! a timer, a list entry, a counter. Owned by one loop thread.

use crate::backpressure::{Grew, SlowCheck};
use crate::config::LoopConfig;
use crate::connection::{
    CloseReason, CloseStep, ConnId, ConnState, ConnectStep, Connection, IdleStep,
};
use crate::handler::Handler;
use crate::slab::Slab;
use crate::stats::LoopStats;
use crate::timer_wheel::TimerWheel;
use mio::net::TcpStream;
use mio::{Registry, Token};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Something the loop must tell the handler once the current callback returns.
pub(crate) enum Notice {
    Connected(ConnId),
    HighWater(ConnId, usize),
    Drained(ConnId),
    Closed(ConnId),
}

/// A user timer's work: like a [`crate::Task`], but it never leaves the loop,
/// so it need not be `Send`.
pub(crate) type LocalTask<H> = Box<dyn FnOnce(&mut H, &mut crate::Ctx<H>)>;

/// Work the timing wheel hands back to the loop: the loop's own
/// per-connection timers, and the handler's.
pub(crate) enum TimerTask<H: Handler> {
    IdleCheck(ConnId),
    FirstFrameCheck(ConnId),
    SlowConsumerCheck(ConnId),
    LingerExpired(ConnId),
    ConnectTimeout(ConnId),
    Call(LocalTask<H>),
}

/// One loop's connections and the work pending on them.
pub(crate) struct Connections<H: Handler> {
    /// Every connection of the loop, indexed by `mio::Token`.
    pub conns: Slab<Connection<H::Codec, H::Session>>,
    /// The loop's poll registry, to (re)register sockets.
    registry: Registry,
    /// The loop's timers.
    pub timers: TimerWheel<TimerTask<H>>,
    /// Connections with output to write before the next poll.
    flush_list: Vec<ConnId>,
    /// Connections to read again without waiting for readiness (read budget
    /// used up, or reading resumed after a pause).
    pub read_again: Vec<ConnId>,
    /// What the handler must hear next.
    pub notices: VecDeque<Notice>,
    /// Cloned into every new connection.
    codec: H::Codec,
    pub config: Arc<LoopConfig>,
    /// When the current pass began (the time of the last poll return).
    pub now: Instant,
    pub stats: Arc<LoopStats>,
    /// This loop's largest output queue so far (mirrors `stats.peak_output`).
    peak_output: usize,
}

impl<H: Handler> Connections<H> {
    pub fn new(
        registry: Registry,
        codec: H::Codec,
        config: Arc<LoopConfig>,
        stats: Arc<LoopStats>,
    ) -> Self {
        let now = Instant::now();
        Connections {
            conns: Slab::new(),
            registry,
            timers: TimerWheel::new(config.timer_tick, now),
            flush_list: Vec::new(),
            read_again: Vec::new(),
            notices: VecDeque::new(),
            codec,
            config,
            now,
            stats,
            peak_output: 0,
        }
    }

    pub fn get(&self, conn: ConnId) -> Option<&Connection<H::Codec, H::Session>> {
        self.conns.get(conn.0)
    }

    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut Connection<H::Codec, H::Session>> {
        self.conns.get_mut(conn.0)
    }

    pub fn state(&self, conn: ConnId) -> Option<ConnState> {
        self.get(conn).map(|c| c.state)
    }

    /// True when there is work that must not wait for the next readiness event.
    pub fn has_pending_work(&self) -> bool {
        !self.flush_list.is_empty() || !self.read_again.is_empty() || !self.notices.is_empty()
    }

    // ----- opening ---------------------------------------------------------

    /// Registers a socket (accepted, or connecting) and starts its timers.
    pub fn insert(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        state: ConnState,
        listener: usize,
    ) -> io::Result<ConnId> {
        if self.config.nodelay {
            let _ = stream.set_nodelay(true);
        }
        let codec = self.codec.clone();
        let conn = ConnId(self.conns.insert(Connection::new(stream, peer, codec, state, self.now)));
        let c = self.conns.get_mut(conn.0).expect("just inserted");
        c.listener = listener;
        if let Err(e) = c.register(&self.registry, Token(conn.index())) {
            self.conns.remove(conn.0);
            return Err(e);
        }
        LoopStats::add(&self.stats.opened, 1);
        LoopStats::add(&self.stats.connections, 1);
        if let Some(first_frame) = self.config.first_frame_timeout {
            self.timers.insert(self.now + first_frame, TimerTask::FirstFrameCheck(conn));
        }
        match state {
            ConnState::Connecting => {
                let deadline = self.now + self.config.connect_timeout;
                self.timers.insert(deadline, TimerTask::ConnectTimeout(conn));
            }
            _ => self.notices.push_back(Notice::Connected(conn)),
        }
        self.set_idle_timeout(conn, self.config.idle_timeout);
        Ok(conn)
    }

    /// An outgoing connect reported writable (or an error). True once it is
    /// established (`on_connect` is then queued).
    pub fn finish_connect(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.conns.get_mut(conn.0) else { return false };
        match c.finish_connect(&self.registry, Token(conn.index()), self.now) {
            ConnectStep::Established => {
                self.notices.push_back(Notice::Connected(conn));
                true
            }
            ConnectStep::Pending => false,
            ConnectStep::Failed(reason) => {
                self.close_now(conn, reason);
                false
            }
        }
    }

    // ----- output ------------------------------------------------------------

    /// Applies the output rules after bytes were queued on `conn`: the
    /// backpressure rules first (they may close it), then the flush.
    pub fn output_grew(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        let queued = c.output.len();
        if queued > self.peak_output {
            // Touch the shared counter only when the peak moves.
            self.peak_output = queued;
            self.stats.raise_peak_output(queued);
        }
        match c.backpressure.output_grew(queued, &self.config, self.now) {
            Grew::Within => {}
            Grew::OverLimit => {
                log::warn!(
                    "{conn} from {}: {queued} bytes unread, over the output limit: closing",
                    c.peer
                );
                LoopStats::add(&self.stats.slow_consumer_closes, 1);
                return self.close_now(conn, CloseReason::SlowConsumer);
            }
            Grew::CrossedHighWater { deadline } => {
                LoopStats::add(&self.stats.high_water_events, 1);
                self.notices.push_back(Notice::HighWater(conn, queued));
                self.timers.insert(deadline, TimerTask::SlowConsumerCheck(conn));
            }
        }
        // As `schedule_flush`, without looking the connection up again (this
        // runs for every frame sent).
        if !c.queued_for_flush {
            c.queued_for_flush = true;
            self.flush_list.push(conn);
        }
    }

    /// Puts `conn` on this pass's flush list.
    pub fn schedule_flush(&mut self, conn: ConnId) {
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
    pub fn flush_all(&mut self) {
        let mut list = std::mem::take(&mut self.flush_list);
        for conn in list.drain(..) {
            self.flush(conn);
        }
        if self.flush_list.is_empty() {
            self.flush_list = list; // keep the allocation for the next pass
        }
    }

    /// Writes one connection's output, then follows up: resume reading below
    /// the low-water mark, tell a handler that waits for the drain, finish a
    /// graceful close.
    fn flush(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        c.queued_for_flush = false;
        if !matches!(c.state, ConnState::Connected | ConnState::Disconnecting) {
            return;
        }
        let was_waiting = c.wants_writable();
        let written = match c.write_out(&self.registry, Token(conn.index())) {
            Ok(written) => written,
            Err(kind) => return self.close_now(conn, CloseReason::Io(kind)),
        };
        LoopStats::add(&self.stats.bytes_out, written.bytes as u64);
        match (was_waiting, c.wants_writable()) {
            (false, true) => LoopStats::add(&self.stats.writable_asked, 1),
            (true, false) => LoopStats::add(&self.stats.writable_dropped, 1),
            _ => {}
        }
        if c.backpressure.output_shrank(c.output.len(), &self.config) {
            self.read_again.push(conn);
        }
        if written.drained && std::mem::take(&mut c.notify_drained) {
            self.notices.push_back(Notice::Drained(conn));
        }
        if written.drained && c.state == ConnState::Disconnecting {
            let step = c.output_drained_while_closing();
            self.apply(conn, step);
        }
    }

    // ----- closing ---------------------------------------------------------

    pub fn begin_disconnect(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        let step = c.begin_disconnect(reason);
        self.apply(conn, step);
    }

    /// The peer sent EOF.
    pub fn peer_closed(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        let step = c.peer_sent_eof();
        self.apply(conn, step);
    }

    /// Does what a connection's close step asks of the loop.
    fn apply(&mut self, conn: ConnId, step: CloseStep) {
        match step {
            CloseStep::Nothing => {}
            CloseStep::Flush => self.schedule_flush(conn), // the flush finishes the close
            CloseStep::CloseNow(reason) => self.close_now(conn, reason),
            CloseStep::Linger => {
                let deadline = self.now + self.config.linger_timeout;
                self.timers.insert(deadline, TimerTask::LingerExpired(conn));
            }
        }
    }

    /// Marks the connection closed; the loop removes it and calls `on_close`
    /// once the current callback returns.
    pub fn close_now(&mut self, conn: ConnId, reason: CloseReason) {
        if self.conns.get_mut(conn.0).is_some_and(|c| c.mark_closed(reason)) {
            self.notices.push_back(Notice::Closed(conn));
        }
    }

    /// Takes a closed connection out of the loop. Returns its session and
    /// why it closed; dropping the socket closes the descriptor.
    pub fn remove(&mut self, conn: ConnId) -> Option<(H::Session, CloseReason)> {
        let mut c = self.conns.remove(conn.0)?;
        c.deregister(&self.registry);
        if let Some(timer) = c.idle_timer.take() {
            self.timers.cancel(timer);
        }
        LoopStats::add(&self.stats.closed, 1);
        self.stats.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let reason = c.take_close_reason();
        Some((c.session, reason))
    }

    /// TCP keep-alive on `conn`'s socket; a closed `conn` is no error.
    pub fn set_keepalive(&mut self, conn: ConnId, idle: Duration) -> io::Result<()> {
        match self.conns.get(conn.0) {
            Some(c) => c.set_keepalive(idle),
            None => Ok(()),
        }
    }

    // ----- the loop's own timers ---------------------------------------------

    /// Closes the connection after `timeout` without input (`None`: never).
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

    /// Handles one of the loop's own timers (all but `Call`, which the loop
    /// runs with the handler).
    pub fn on_timer(&mut self, task: TimerTask<H>) {
        match task {
            TimerTask::IdleCheck(conn) => {
                let Some(c) = self.conns.get_mut(conn.0) else { return };
                match c.idle_check(self.now) {
                    IdleStep::Off => {}
                    IdleStep::Expired => {
                        LoopStats::add(&self.stats.timeouts, 1);
                        self.close_now(conn, CloseReason::IdleTimeout);
                    }
                    IdleStep::RecheckAt(deadline) => {
                        c.idle_timer =
                            Some(self.timers.insert(deadline, TimerTask::IdleCheck(conn)));
                    }
                }
            }
            TimerTask::FirstFrameCheck(conn) => {
                let silent = self
                    .get(conn)
                    .is_some_and(|c| c.state == ConnState::Connected && c.frames_in == 0);
                if silent {
                    LoopStats::add(&self.stats.timeouts, 1);
                    self.close_now(conn, CloseReason::FirstFrameTimeout);
                }
            }
            TimerTask::SlowConsumerCheck(conn) => {
                let Some(c) = self.conns.get(conn.0) else { return };
                match c.backpressure.check(&self.config, self.now) {
                    SlowCheck::Recovered => {}
                    SlowCheck::Expired => {
                        log::warn!(
                            "{conn} from {}: {} bytes unread for {:?}: closing slow consumer",
                            c.peer,
                            c.output.len(),
                            self.config.slow_consumer_timeout
                        );
                        LoopStats::add(&self.stats.slow_consumer_closes, 1);
                        self.close_now(conn, CloseReason::SlowConsumer);
                    }
                    SlowCheck::RecheckAt(deadline) => {
                        self.timers.insert(deadline, TimerTask::SlowConsumerCheck(conn));
                    }
                }
            }
            TimerTask::LingerExpired(conn) => {
                if self.state(conn) == Some(ConnState::Disconnecting) {
                    self.close_now(conn, CloseReason::Requested);
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
}
