//! What a user of the reactor writes: a [`Handler`], one instance per loop.

use crate::codec::Codec;
use crate::connection::{CloseReason, ConnId};
use crate::context::Ctx;

/// The frame type a handler's codec produces.
pub type FrameOf<'a, H> = <<H as Handler>::Codec as Codec>::Frame<'a>;

/// Reacts to connection events. Each loop builds its own instance (through
/// the factory given to the pool, on the loop's thread) and calls it on the
/// loop's thread only, so a handler needs no locks for its own state and
/// need not be `Send`.
///
/// Every callback gets the loop's [`Ctx`], through which it sends, closes,
/// starts timers and reaches per-connection sessions. Callbacks must not
/// block: hand slow work (a database query, an RPC) to another thread and
/// post the result back with [`crate::LoopHandle::post`].
pub trait Handler: Sized + 'static {
    /// Splits each connection's input into frames.
    type Codec: Codec;
    /// Per-connection state, created with `Default` when a connection opens
    /// and handed back by value to [`Handler::on_close`].
    type Session: Default + 'static;

    /// A connection was accepted, or an outgoing connect succeeded.
    fn on_connect(&mut self, _ctx: &mut Ctx<Self>, _conn: ConnId) {}

    /// A whole frame arrived. The frame borrows the loop's read buffer.
    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: FrameOf<'_, Self>);

    /// The codec refused the input. The handler may queue a last frame (an
    /// error notice); the loop then closes the connection gracefully.
    fn on_frame_error(
        &mut self,
        _ctx: &mut Ctx<Self>,
        _conn: ConnId,
        _error: &crate::codec::FrameError,
    ) {
    }

    /// The connection's queued output crossed the high-water mark. Reading
    /// from it is already paused; the handler may also stop producing for it.
    fn on_high_water(&mut self, _ctx: &mut Ctx<Self>, _conn: ConnId, _queued: usize) {}

    /// Everything queued on the connection has been written, after the
    /// handler asked with [`Ctx::notify_when_drained`] (once per request).
    fn on_drained(&mut self, _ctx: &mut Ctx<Self>, _conn: ConnId) {}

    /// The connection is closed and gone; `session` is its state.
    fn on_close(
        &mut self,
        _ctx: &mut Ctx<Self>,
        _conn: ConnId,
        _session: Self::Session,
        _reason: &CloseReason,
    ) {
    }

    /// The loop is about to close every connection gracefully (shutdown). A
    /// handler may send goodbyes or report sessions offline here.
    fn on_shutdown(&mut self, _ctx: &mut Ctx<Self>) {}
}
