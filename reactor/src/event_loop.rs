//! The event loop: one thread, one `mio::Poll`, and the pass it repeats.
//!
//! ```text
//! loop {
//!     poll(timeout)        sleep until a socket is ready, a task is posted or the
//!                          next timer is due; not at all while work is pending
//!     handle readiness     read each readable socket (see below), decode, on_frame;
//!                          a writable one goes on the flush list
//!     deliver notices      on_connect / on_high_water / on_drained / on_close
//!     read again           connections left unread: read budget used up, or
//!                          reading resumed after a pause (no new edge will come)
//!     run inbox tasks      work posted by other threads (at most 4096 a pass)
//!     run due timers       idle, first-frame, slow-consumer, linger, connect, user
//!     shutdown step        once asked to stop: close gracefully, exit when empty
//!     flush                write every connection's queued output (coalesced)
//! }
//! ```
//! (Notices are delivered after each step that can raise them.)
//!
//! Readiness is edge-triggered (mio always registers `EPOLLET`): the kernel
//! reports a socket once when it becomes readable, not again while data stays
//! unread. So a readable socket must be drained: read until `WouldBlock`, or
//! until a read returns less than the buffer, which for a stream socket
//! means its receive queue is empty (epoll(7); data arriving later raises a
//! new edge). The short-read shortcut is not taken when the event also
//! announced EOF or an error, which only a further read reveals. Stopping
//! earlier than that (the per-pass read budget, a paused slow consumer)
//! puts the connection on the `read_again` list, or its remaining bytes
//! would sit there unnoticed until the peer sends more.

use crate::codec::{Codec, Decoded};
use crate::connection::{CloseReason, ConnId, ConnState, ReadOutcome};
use crate::connections::{Notice, TimerTask};
use crate::context::Ctx;
use crate::handler::Handler;
use crate::inbox::{LoopShared, Task};
use crate::precise_timer::PreciseTimer;
use crate::stats::LoopStats;
use crossbeam_channel::Receiver;
use mio::{Events, Poll, Token};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The token of the inbox's waker; connections use their slab index.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// The token of the precise timer (`LoopConfig::precise_timers`).
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Tasks run per pass at most, so a flood of posts cannot starve the sockets.
const MAX_TASKS_PER_PASS: usize = 4096;

/// One loop; lives on, and is driven by, its own thread.
pub(crate) struct EventLoop<H: Handler> {
    poll: Poll,
    events: Events,
    handler: H,
    ctx: Ctx<H>,
    inbox: Receiver<Task<H>>,
    shared: Arc<LoopShared>,
    /// Every read lands here first; whole frames are decoded from it without
    /// copying, and only the tail of an incomplete frame is copied into the
    /// connection's own input buffer. One per loop, not one per connection.
    read_buffer: Vec<u8>,
    /// Timers that fired this pass (kept to reuse the allocation).
    fired: Vec<TimerTask<H>>,
    /// Set once shutdown has begun: the instant by which to be done.
    stopping: Option<Instant>,
    /// The timerfd that wakes the loop for timers, when they must be more
    /// precise than poll's millisecond timeout (see `precise_timer.rs`).
    precise_timer: Option<PreciseTimer>,
}

impl<H: Handler> EventLoop<H> {
    /// Built on the loop's thread (by the pool), with its poll and inbox.
    pub(crate) fn new(
        poll: Poll,
        inbox: Receiver<Task<H>>,
        shared: Arc<LoopShared>,
        handler: H,
        ctx: Ctx<H>,
    ) -> Self {
        let events = Events::with_capacity(ctx.config().events_capacity);
        let read_buffer = vec![0; ctx.config().read_chunk.max(64)];
        let precise_timer = match ctx.config().precise_timers {
            true => PreciseTimer::new(poll.registry(), TIMER_TOKEN)
                .map_err(|e| log::warn!("no timerfd ({e}): timers wake to the millisecond"))
                .ok(),
            false => None,
        };
        EventLoop {
            poll,
            events,
            handler,
            ctx,
            inbox,
            shared,
            read_buffer,
            fired: Vec::new(),
            stopping: None,
            precise_timer,
        }
    }

    /// Runs passes until shutdown completes. Loop thread only (it is the loop).
    pub(crate) fn run(mut self) {
        loop {
            let timeout = self.wake_up_timeout();
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("loop {}: poll failed: {e}; stopping", self.ctx.loop_index());
                self.close_all(CloseReason::Shutdown);
                return;
            }
            self.ctx.table.now = Instant::now();
            LoopStats::add(&self.ctx.stats().polls, 1);

            self.handle_readiness();
            self.deliver_notices();
            self.read_again();
            self.run_tasks();
            self.run_timers();
            self.deliver_notices();
            if self.shutdown_step() {
                return;
            }
            self.ctx.table.flush_all();
            self.deliver_notices();
        }
    }

    /// The timeout to give poll: [`EventLoop::poll_timeout`]'s, or, with a
    /// precise timer, none (the timerfd, armed for that instant, wakes it).
    fn wake_up_timeout(&self) -> Option<Duration> {
        let timeout = self.poll_timeout();
        let Some(timer) = &self.precise_timer else { return timeout };
        match timeout {
            Some(wait) if !wait.is_zero() => match timer.arm(wait) {
                Ok(()) => None,
                Err(_) => Some(wait), // the millisecond timeout, then
            },
            other => other,
        }
    }

    /// How long the next poll may sleep: not at all while work is pending,
    /// else until the next timer (or the shutdown deadline), else forever.
    fn poll_timeout(&self) -> Option<Duration> {
        if self.ctx.table.has_pending_work() || !self.inbox.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let timer = self.ctx.table.timers.time_to_next(now);
        let stop = self.stopping.map(|deadline| deadline.saturating_duration_since(now));
        match (timer, stop) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_readiness(&mut self) {
        // The event list is taken out so that handling can borrow `self`.
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for event in events.iter() {
            let token = event.token();
            if token == WAKER_TOKEN {
                continue; // the inbox is drained in every pass anyway
            }
            if token == TIMER_TOKEN {
                if let Some(timer) = &self.precise_timer {
                    timer.clear(); // the timers themselves run in every pass
                }
                continue;
            }
            // Closed connections stay in the slab until this batch is done,
            // so an index here cannot belong to a newer connection yet.
            let Some(key) = self.ctx.table.conns.key_at(token.0) else { continue };
            let conn = ConnId(key);
            if self.ctx.state(conn) == Some(ConnState::Connecting) {
                // Read only after on_connect has run, in a later step.
                if self.ctx.table.finish_connect(conn) {
                    self.ctx.table.read_again.push(conn);
                }
                continue;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                let short_read_drains = !(event.is_read_closed() || event.is_error());
                self.read_ready(conn, short_read_drains);
            }
            if event.is_writable() {
                self.ctx.table.schedule_flush(conn);
            }
        }
        self.events = events;
    }

    /// Reads `conn` until it is drained (see the module doc), EOF, an error,
    /// a pause, or the read budget is used up; decodes and dispatches frames
    /// as bytes arrive.
    fn read_ready(&mut self, conn: ConnId, short_read_drains: bool) {
        let mut budget = self.ctx.config().read_budget;
        loop {
            let now = self.ctx.now();
            let Some(c) = self.ctx.table.get_mut(conn) else { return };
            let discarding = match c.state {
                ConnState::Connected if c.can_read() => false,
                // Still read while closing, to see the peer's EOF; drop the bytes.
                ConnState::Disconnecting => true,
                _ => return,
            };
            if budget == 0 {
                // Be fair to the other connections; come back next pass.
                self.ctx.table.read_again.push(conn);
                return;
            }
            match c.read_into(&mut self.read_buffer, now) {
                ReadOutcome::Data(n) => {
                    budget = budget.saturating_sub(n);
                    LoopStats::add(&self.ctx.stats().bytes_in, n as u64);
                    if !discarding {
                        self.absorb(conn, n);
                    }
                    if short_read_drains && n < self.read_buffer.len() {
                        return;
                    }
                }
                ReadOutcome::Eof => return self.ctx.table.peer_closed(conn),
                ReadOutcome::WouldBlock => return,
                ReadOutcome::Failed(kind) => {
                    return self.ctx.table.close_now(conn, CloseReason::Io(kind))
                }
            }
        }
    }

    /// Decodes `n` fresh bytes from the read buffer, after any bytes the
    /// connection kept from an earlier read: the second stage of the frame
    /// state machine, where a half frame is reassembled.
    fn absorb(&mut self, conn: ConnId, n: usize) {
        let fresh = std::mem::take(&mut self.read_buffer);
        let Some(c) = self.ctx.table.get_mut(conn) else { return };
        if c.input.is_empty() {
            // Common case: decode straight from the loop's read buffer.
            let (used, needed) = self.dispatch(conn, &fresh[..n]);
            let leftover = &fresh[used..n];
            if let Some(c) = self.ctx.table.get_mut(conn) {
                if !leftover.is_empty() && c.state != ConnState::Closed {
                    // `needed` was checked by the codec: reserve the whole frame once.
                    c.input.reserve(leftover.len() + needed);
                    c.input.append(leftover);
                }
            }
        } else {
            let mut input = std::mem::take(&mut c.input);
            input.append(&fresh[..n]);
            self.dispatch_input(conn, input);
        }
        self.read_buffer = fresh;
    }

    /// Decodes what is in `input` (the connection's kept bytes), keeps the rest.
    fn dispatch_input(&mut self, conn: ConnId, mut input: crate::Buffer) {
        let (used, _) = self.dispatch(conn, input.as_slice());
        input.consume(used);
        if let Some(c) = self.ctx.table.get_mut(conn) {
            input.release_if_empty(0);
            c.input = input;
        }
    }

    /// Decodes bytes a paused connection kept, before reading more.
    fn dispatch_kept_input(&mut self, conn: ConnId) {
        let Some(c) = self.ctx.table.get_mut(conn) else { return };
        if c.input.is_empty() || !c.can_read() {
            return;
        }
        let input = std::mem::take(&mut c.input);
        self.dispatch_input(conn, input);
    }

    /// Runs the codec over `bytes` and hands each frame to the handler.
    /// Returns the bytes used and how many more the next frame needs.
    /// Stops early if the connection stops reading (closed, closing, paused).
    fn dispatch(&mut self, conn: ConnId, bytes: &[u8]) -> (usize, usize) {
        let Some(c) = self.ctx.table.get_mut(conn) else { return (bytes.len(), 0) };
        // Lend the codec out: the handler gets `&mut ctx`, which owns the connection.
        let Some(mut codec) = c.codec.take() else { return (0, 0) };
        let mut used = 0;
        let mut needed = 0;
        let mut frames = 0;
        while self.ctx.table.get(conn).is_some_and(|c| c.can_read()) {
            match codec.decode(&bytes[used..]) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    used += consumed;
                    frames += 1;
                    self.handler.on_frame(&mut self.ctx, conn, frame);
                }
                Ok(Decoded::NeedMore { consumed, needed: more }) => {
                    used += consumed;
                    needed = more;
                    break;
                }
                Err(error) => {
                    log::debug!("{conn}: {error}");
                    LoopStats::add(&self.ctx.stats().protocol_errors, 1);
                    self.handler.on_frame_error(&mut self.ctx, conn, &error);
                    self.ctx.table.begin_disconnect(conn, CloseReason::ProtocolError);
                    used = bytes.len(); // the stream is out of sync: drop the rest
                    break;
                }
            }
        }
        if let Some(c) = self.ctx.table.get_mut(conn) {
            c.codec = Some(codec);
            c.frames_in += frames;
        }
        LoopStats::add(&self.ctx.stats().frames_in, frames);
        (used, needed)
    }

    /// Connections that must be read without waiting for a new edge.
    fn read_again(&mut self) {
        let pending = std::mem::take(&mut self.ctx.table.read_again);
        for conn in pending {
            self.dispatch_kept_input(conn);
            self.read_ready(conn, false);
        }
        self.deliver_notices();
    }

    /// Runs tasks posted by other threads.
    fn run_tasks(&mut self) {
        // Clear the flag before draining (see inbox.rs for why this order).
        self.shared.notified.store(false, Ordering::Release);
        std::sync::atomic::fence(Ordering::SeqCst);
        for _ in 0..MAX_TASKS_PER_PASS {
            let Ok(task) = self.inbox.try_recv() else { break };
            task(&mut self.handler, &mut self.ctx);
            LoopStats::add(&self.ctx.stats().tasks, 1);
        }
        self.deliver_notices();
    }

    fn run_timers(&mut self) {
        let mut fired = std::mem::take(&mut self.fired);
        let now = self.ctx.now();
        self.ctx.table.timers.expire(now, &mut fired);
        for task in fired.drain(..) {
            match task {
                TimerTask::Call(call) => call(&mut self.handler, &mut self.ctx),
                other => self.ctx.table.on_timer(other),
            }
        }
        self.fired = fired;
    }

    /// Tells the handler what happened, until nothing more happens.
    fn deliver_notices(&mut self) {
        while let Some(notice) = self.ctx.table.notices.pop_front() {
            match notice {
                Notice::Connected(conn) => {
                    if self.ctx.state(conn) == Some(ConnState::Connected) {
                        self.handler.on_connect(&mut self.ctx, conn);
                    }
                }
                Notice::HighWater(conn, queued) => {
                    if self.ctx.is_open(conn) {
                        self.handler.on_high_water(&mut self.ctx, conn, queued);
                    }
                }
                Notice::Drained(conn) => {
                    if self.ctx.is_open(conn) {
                        self.handler.on_drained(&mut self.ctx, conn);
                    }
                }
                Notice::Closed(conn) => {
                    if let Some((session, reason)) = self.ctx.table.remove(conn) {
                        log::debug!("{conn} closed: {reason}");
                        self.handler.on_close(&mut self.ctx, conn, session, &reason);
                    }
                }
            }
        }
    }

    /// Advances a requested shutdown. Returns true when the loop may exit.
    fn shutdown_step(&mut self) -> bool {
        if self.stopping.is_none() {
            let Some(deadline) = *self.shared.stop_deadline.lock() else { return false };
            self.stopping = Some(deadline);
            self.handler.on_shutdown(&mut self.ctx);
        }
        let deadline = self.stopping.expect("set above");
        // Every pass, since a connection may have been adopted meanwhile.
        for conn in self.ctx.connection_ids() {
            if self.ctx.is_open(conn) {
                self.ctx.table.begin_disconnect(conn, CloseReason::Shutdown);
            }
        }
        self.deliver_notices();
        if self.ctx.table.conns.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            let left = self.ctx.connection_count();
            log::warn!(
                "loop {}: forcing {left} connections closed at the shutdown deadline",
                self.ctx.loop_index()
            );
            self.close_all(CloseReason::Shutdown);
            return true;
        }
        false
    }

    fn close_all(&mut self, reason: CloseReason) {
        for conn in self.ctx.connection_ids() {
            self.ctx.table.close_now(conn, reason.clone());
        }
        self.deliver_notices();
    }
}
