//! Answers and notices to one client: JSON bodies in frames. Loop thread only
//! (they write to the connection's output through its `Ctx`).

use super::metrics::ChatMetrics;
use super::pacing;
use super::services::ChatLoop;
use proto::body::{ErrorNotify, ErrorOnly};
use proto::{ErrorCode, MsgId};
use reactor::codec::encode_frame;
use reactor::{ConnId, Ctx, SendError};
use serde::Serialize;

/// Queues `body` as JSON in a frame `id`, in the connection's dialect: the
/// one place a chat frame is written (a dialect may turn it into several
/// frames, or none, and may pace them: `crate::dialect`, `pacing`).
/// Errors as `Ctx::send_frame_with`.
pub fn write<H: ChatLoop, T: Serialize>(
    ctx: &mut Ctx<H>,
    conn: ConnId,
    id: MsgId,
    body: &T,
) -> Result<(), SendError> {
    let dialect = ctx.session(conn).map(|s| s.dialect()).unwrap_or_default();
    if !dialect.rewrites_out() {
        // Straight into the output buffer: no intermediate copy.
        return ctx.send_frame_with(conn, id.code(), |out| {
            serde_json::to_writer(out, body).map_err(std::io::Error::other)
        });
    }
    let value = serde_json::to_value(body).map_err(|e| SendError::Encode(e.into()))?;
    for (wire_id, frame) in dialect.rewrite_out(id, value) {
        if dialect.paces_frames() {
            let json = serde_json::to_vec(&frame).map_err(|e| SendError::Encode(e.into()))?;
            let mut bytes = Vec::with_capacity(json.len() + 4);
            encode_frame(wire_id, &json, &mut bytes)
                .map_err(|_| SendError::TooLarge { len: json.len() })?;
            pacing::send(ctx, conn, bytes)?;
        } else {
            ctx.send_frame_with(conn, wire_id, |out| {
                serde_json::to_writer(out, &frame).map_err(std::io::Error::other)
            })?;
        }
    }
    Ok(())
}

/// Queues `body` as JSON in a frame `id`; false if the connection is gone.
pub fn send<H: ChatLoop, T: Serialize>(
    h: &H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    id: MsgId,
    body: &T,
) -> bool {
    match write(ctx, conn, id, body) {
        Ok(()) => {
            ChatMetrics::add(&h.services().metrics.frames_out, 1);
            true
        }
        Err(SendError::NotOpen) => false,
        Err(e) => {
            log::warn!("cannot send frame {}: {e}", id.code());
            false
        }
    }
}

/// Answers `id` with success and nothing else (`{"error":0}`).
pub fn send_ok<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, id: MsgId) {
    send(h, ctx, conn, id, &ErrorOnly { error: ErrorCode::Success.code() });
}

/// Answers `id` with only an error code (never `Success`: see [`send_ok`]).
pub fn send_error<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, id: MsgId, code: ErrorCode) {
    debug_assert!(code != ErrorCode::Success, "a success is sent with send_ok");
    if matches!(code, ErrorCode::Json | ErrorCode::TooLarge | ErrorCode::UidInvalid) {
        ChatMetrics::add(&h.services().metrics.bad_requests, 1);
    }
    send(h, ctx, conn, id, &ErrorOnly { error: code.code() });
}

/// Sends 1103 with `code` and closes: for what the protocol does not allow.
pub fn protocol_error<H: ChatLoop>(
    h: &H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    code: ErrorCode,
    reason: &str,
) {
    ChatMetrics::add(&h.services().metrics.bad_requests, 1);
    let notice = ErrorNotify { error: code.code(), reason: reason.into() };
    send(h, ctx, conn, MsgId::ErrorNotify, &notice);
    ctx.shutdown(conn);
}
