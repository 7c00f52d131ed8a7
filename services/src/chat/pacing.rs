//! Frames, one at a time, to a client that cannot read two at once. Loop
//! thread only.
//!
//! llfcchat's client builds one `QDataStream` over its receive buffer per
//! `readyRead` and then replaces the buffer under it: the first frame of a
//! read parses, the second is read at a stale offset, and from then on the
//! client waits for a frame length made of JSON text (it hangs on
//! "Loading..."). Any server trips it when two frames arrive together (an
//! answer and a push, a friend's acceptance and their first text). Its
//! dialect therefore gets each frame in a write of its own, [`FRAME_GAP`]
//! after the previous one and only once the previous one has left the
//! output buffer. Best effort: a client that stops reading for longer
//! still finds two frames waiting; the gap makes it rare, as it was with
//! the C++ server, which wrote each frame on its own.
//!
//! Bounded: at most [`MAX_PACED_BYTES`] wait per connection; beyond, the
//! connection is closed, as for any client that does not keep up.

use reactor::{ConnId, Ctx, Handler, SendError};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Time between two frames to a paced client.
pub const FRAME_GAP: Duration = Duration::from_millis(30);

/// Most bytes waiting for their turn on one connection.
pub const MAX_PACED_BYTES: usize = 1024 * 1024;

/// A connection's frames waiting for their turn (part of its `Session`).
#[derive(Debug, Default)]
pub struct Pacer {
    waiting: VecDeque<Vec<u8>>,
    bytes: usize,
    last_sent: Option<Instant>,
    flush_armed: bool,
}

/// A session that holds a [`Pacer`] (this module knows no more of it, so
/// that `session` may use it).
pub trait Paced {
    fn pacer_mut(&mut self) -> &mut Pacer;
}

impl Pacer {
    fn is_free(&self, now: Instant) -> bool {
        self.waiting.is_empty() && self.last_sent.is_none_or(|t| now - t >= FRAME_GAP)
    }
}

/// Sends `frame` (header and body, encoded) to `conn` now if its turn has
/// come, or queues it behind the others.
pub fn send<H: Handler>(ctx: &mut Ctx<H>, conn: ConnId, frame: Vec<u8>) -> Result<(), SendError>
where
    H::Session: Paced,
{
    let now = ctx.now();
    let output_empty = ctx.queued_output(conn) == Some(0);
    let Some(pacer) = ctx.session_mut(conn).map(|s| s.pacer_mut()) else {
        return Err(SendError::NotOpen);
    };
    if output_empty && pacer.is_free(now) {
        pacer.last_sent = Some(now);
        return ctx.send(conn, &frame);
    }
    if pacer.bytes + frame.len() > MAX_PACED_BYTES {
        log::warn!("paced output over {MAX_PACED_BYTES} bytes: closing");
        ctx.force_close(conn);
        return Err(SendError::NotOpen);
    }
    pacer.bytes += frame.len();
    pacer.waiting.push_back(frame);
    arm(ctx, conn);
    Ok(())
}

/// Schedules the next turn, unless one is scheduled.
fn arm<H: Handler>(ctx: &mut Ctx<H>, conn: ConnId)
where
    H::Session: Paced,
{
    let Some(pacer) = ctx.session_mut(conn).map(|s| s.pacer_mut()) else { return };
    if pacer.flush_armed {
        return;
    }
    pacer.flush_armed = true;
    ctx.run_after(FRAME_GAP, move |_, ctx| next_turn(ctx, conn));
}

/// One frame out, if the previous one has left; then the next turn.
fn next_turn<H: Handler>(ctx: &mut Ctx<H>, conn: ConnId)
where
    H::Session: Paced,
{
    let now = ctx.now();
    let output_empty = ctx.queued_output(conn) == Some(0);
    let Some(pacer) = ctx.session_mut(conn).map(|s| s.pacer_mut()) else { return };
    pacer.flush_armed = false;
    let frame = if output_empty { pacer.waiting.pop_front() } else { None };
    if let Some(frame) = &frame {
        pacer.bytes -= frame.len();
        pacer.last_sent = Some(now);
    }
    let more = !pacer.waiting.is_empty();
    if let Some(frame) = frame {
        if ctx.send(conn, &frame).is_err() {
            return; // closed meanwhile
        }
    }
    if more {
        arm(ctx, conn);
    }
}
