//! [`Echo`]: the reference handler, which sends every frame back as it came.
//!
//! The `reactor-echo` binary, the echo benchmark and the tests all serve it;
//! `examples/echo.rs` writes the same handler out in full as a first example.

use crate::codec::{Frame, FrameCodec};
use crate::connection::ConnId;
use crate::context::Ctx;
use crate::handler::Handler;

/// Echoes every frame of the project's format back to its sender.
pub struct Echo;

impl Handler for Echo {
    type Codec = FrameCodec;
    type Session = ();

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        // A refused send means the connection is closing; nothing to answer.
        let _ = ctx.send_frame(conn, frame.id, frame.body);
    }
}
