//! The chat frame: `| id: u16 BE | len: u16 BE | body |`. The codec itself
//! lives in the reactor (`reactor::codec`), so that the servers and every
//! client decode frames with the same code; this module adds JSON.

use crate::msg_id::MsgId;
pub use reactor::codec::{
    decode_header, encode_frame, encode_header, FrameCodec, DEFAULT_MAX_BODY, FORMAT_MAX_BODY,
    HEADER_LEN,
};
use serde::Serialize;

/// Why a JSON frame could not be built.
#[derive(Debug)]
pub enum EncodeError {
    Json(serde_json::Error),
    /// The body is longer than the frame format can carry.
    TooLarge(usize),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::Json(e) => write!(f, "cannot encode JSON: {e}"),
            EncodeError::TooLarge(len) => write!(f, "a {len}-byte body does not fit in a frame"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// The bytes of a frame whose body is `body` as compact JSON.
pub fn json_frame<T: Serialize>(id: MsgId, body: &T) -> Result<Vec<u8>, EncodeError> {
    let json = serde_json::to_vec(body).map_err(EncodeError::Json)?;
    let mut out = Vec::with_capacity(HEADER_LEN + json.len());
    encode_frame(id.code(), &json, &mut out).map_err(|_| EncodeError::TooLarge(json.len()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::HeartbeatReq;

    #[test]
    fn a_json_frame_has_the_header_then_compact_json() {
        let bytes = json_frame(MsgId::HeartBeatReq, &HeartbeatReq::default()).unwrap();
        assert_eq!(bytes, [0x03, 0xff, 0x00, 0x02, b'{', b'}']);
    }
}
