//! Cutting a byte stream into frames: the [`Codec`] trait, and [`FrameCodec`],
//! the project's ready-made frame with its two-stage read state machine.
//!
//! TCP delivers bytes, not messages. One `read` may return half a header, or a
//! header and a third of its body, or forty whole frames and the start of the
//! forty-first. A codec turns whatever has arrived into zero or more frames and
//! says how many more bytes it needs; the connection keeps the leftover bytes
//! until the next read. The codec holds per-connection state (each connection
//! owns a clone of the codec given to the loop), so it can remember that it
//! has already parsed a header and is now waiting for the body.

use std::fmt;

/// Splits a connection's input into frames. One instance per connection.
///
/// Runs on the connection's loop thread only.
pub trait Codec: Clone + Send + 'static {
    /// A decoded frame; it borrows the input bytes, so decoding copies nothing.
    type Frame<'a>;

    /// Takes at most one frame from the front of `input`.
    ///
    /// Returns how many bytes were used. A codec may use bytes without
    /// producing a frame (a header whose body has not arrived yet): the caller
    /// drops those bytes and the codec remembers what it learned from them.
    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<Self::Frame<'a>>, FrameError>;
}

/// What one [`Codec::decode`] call achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<F> {
    /// A whole frame; `consumed` bytes of the input were used to make it.
    Frame { frame: F, consumed: usize },
    /// Not enough input. `consumed` bytes were used (they may be zero), and at
    /// least `needed` more bytes must arrive before the next frame is complete.
    /// `needed` comes from a length the codec already checked, so the caller
    /// may reserve that much memory.
    NeedMore { consumed: usize, needed: usize },
}

/// Why a byte stream cannot be decoded; the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The header announced a body longer than the configured maximum. Nothing
    /// was allocated for it.
    BodyTooLong { id: u16, len: usize, max: usize },
    /// The bytes do not follow the codec's format.
    Malformed(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BodyTooLong { id, len, max } => {
                write!(f, "frame {id} announces a {len}-byte body, over the {max}-byte limit")
            }
            FrameError::Malformed(why) => write!(f, "malformed input: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Bytes in the project's frame header: `u16` id then `u16` length, big-endian.
pub const HEADER_LEN: usize = 4;

/// The largest body the header format can describe.
pub const FORMAT_MAX_BODY: usize = u16::MAX as usize;

/// Default limit on a body (see PROTOCOL.md).
pub const DEFAULT_MAX_BODY: usize = 8 * 1024;

/// One frame of the project's protocol, borrowed from the connection's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Message id (for example 1005, LOGIN). The codec does not judge ids.
    pub id: u16,
    /// The body bytes (JSON for the chat protocol; the codec does not look).
    pub body: &'a [u8],
}

/// Where the two-stage read state machine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadState {
    /// Waiting for the 4 header bytes.
    ReadingHeader,
    /// The header was read and checked; waiting for `len` body bytes.
    ReadingBody { id: u16, len: usize },
}

/// The project's frame codec: `| id: u16 BE | len: u16 BE | body: len bytes |`.
///
/// Decoding is an explicit two-stage state machine:
///
/// ```text
///            4 bytes arrived, len <= max            len bytes arrived
/// ReadingHeader ─────────────────────────▶ ReadingBody{id,len} ──────────────▶ frame out
///      ▲                                                                            │
///      └────────────────────────────────────────────────────────────────────────────┘
/// ```
///
/// The length is checked against the limit *before* anything is sized from it,
/// so a hostile header cannot make the server allocate 64 KiB, let alone more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    /// Longest body accepted, at most [`FORMAT_MAX_BODY`].
    max_body: usize,
    /// Where this connection's stream stands.
    state: ReadState,
}

impl FrameCodec {
    /// A codec that accepts bodies of at most `max_body` bytes (clamped to 65,535).
    pub fn new(max_body: usize) -> FrameCodec {
        FrameCodec { max_body: max_body.min(FORMAT_MAX_BODY), state: ReadState::ReadingHeader }
    }

    /// The configured body limit.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The state machine's current stage (for tests and teaching).
    pub fn state(&self) -> ReadState {
        self.state
    }
}

impl Default for FrameCodec {
    fn default() -> FrameCodec {
        FrameCodec::new(DEFAULT_MAX_BODY)
    }
}

impl Codec for FrameCodec {
    type Frame<'a> = Frame<'a>;

    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<Frame<'a>>, FrameError> {
        let mut used = 0;
        loop {
            let available = input.len() - used;
            match self.state {
                ReadState::ReadingHeader => {
                    if available < HEADER_LEN {
                        let needed = HEADER_LEN - available;
                        return Ok(Decoded::NeedMore { consumed: used, needed });
                    }
                    let (id, len) = decode_header(&input[used..used + HEADER_LEN]);
                    if len > self.max_body {
                        return Err(FrameError::BodyTooLong { id, len, max: self.max_body });
                    }
                    used += HEADER_LEN;
                    self.state = ReadState::ReadingBody { id, len };
                }
                ReadState::ReadingBody { id, len } => {
                    if available < len {
                        let needed = len - available;
                        return Ok(Decoded::NeedMore { consumed: used, needed });
                    }
                    let body = &input[used..used + len];
                    self.state = ReadState::ReadingHeader;
                    let frame = Frame { id, body };
                    return Ok(Decoded::Frame { frame, consumed: used + len });
                }
            }
        }
    }
}

/// Reads `(id, len)` from a 4-byte header. Both fields are unsigned.
pub fn decode_header(header: &[u8]) -> (u16, usize) {
    let id = u16::from_be_bytes([header[0], header[1]]);
    let len = u16::from_be_bytes([header[2], header[3]]);
    (id, len as usize)
}

/// Writes the 4-byte header for a body of `len` bytes.
///
/// Panics if `len` exceeds [`FORMAT_MAX_BODY`]; callers check first (see
/// [`encode_frame`]).
pub fn encode_header(id: u16, len: usize) -> [u8; HEADER_LEN] {
    let len = u16::try_from(len).expect("frame body longer than the format allows");
    let [i0, i1] = id.to_be_bytes();
    let [l0, l1] = len.to_be_bytes();
    [i0, i1, l0, l1]
}

/// Appends a whole frame to `out`, or refuses a body the format cannot carry.
pub fn encode_frame(id: u16, body: &[u8], out: &mut impl Extend<u8>) -> Result<(), FrameError> {
    if body.len() > FORMAT_MAX_BODY {
        let (len, max) = (body.len(), FORMAT_MAX_BODY);
        return Err(FrameError::BodyTooLong { id, len, max });
    }
    out.extend(encode_header(id, body.len()));
    out.extend(body.iter().copied());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(id: u16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(id, body, &mut out).unwrap();
        out
    }

    #[test]
    fn whole_frame_in_one_piece() {
        let bytes = frame_bytes(1005, b"{}");
        let mut codec = FrameCodec::default();
        let decoded = codec.decode(&bytes).unwrap();
        let frame = Frame { id: 1005, body: b"{}" };
        assert_eq!(decoded, Decoded::Frame { frame, consumed: 6 });
        assert_eq!(codec.state(), ReadState::ReadingHeader);
    }

    #[test]
    fn header_is_consumed_before_the_body_arrives() {
        let bytes = frame_bytes(7, b"abc");
        let mut codec = FrameCodec::default();
        let decoded = codec.decode(&bytes[..5]).unwrap();
        assert_eq!(decoded, Decoded::NeedMore { consumed: 4, needed: 2 });
        assert_eq!(codec.state(), ReadState::ReadingBody { id: 7, len: 3 });
        // The caller dropped the 4 header bytes; the body follows.
        let decoded = codec.decode(&bytes[4..]).unwrap();
        let frame = Frame { id: 7, body: b"abc" };
        assert_eq!(decoded, Decoded::Frame { frame, consumed: 3 });
    }

    #[test]
    fn partial_header_uses_nothing() {
        let mut codec = FrameCodec::default();
        let decoded = codec.decode(&[0, 1, 0]).unwrap();
        assert_eq!(decoded, Decoded::NeedMore { consumed: 0, needed: 1 });
    }

    #[test]
    fn zero_length_body_is_a_frame() {
        let bytes = frame_bytes(1023, b"");
        let mut codec = FrameCodec::default();
        let frame = Frame { id: 1023, body: b"" };
        assert_eq!(codec.decode(&bytes).unwrap(), Decoded::Frame { frame, consumed: 4 });
    }

    #[test]
    fn length_over_the_limit_is_refused_from_the_header_alone() {
        let mut codec = FrameCodec::new(100);
        let err = codec.decode(&encode_header(9, 101)).unwrap_err();
        assert_eq!(err, FrameError::BodyTooLong { id: 9, len: 101, max: 100 });
    }

    #[test]
    fn fields_are_unsigned() {
        // The original read these as i16: 0xFFFF became -1.
        assert_eq!(decode_header(&[0xFF, 0xFF, 0xFF, 0xFF]), (65535, 65535));
    }

    #[test]
    fn encode_refuses_a_body_the_format_cannot_describe() {
        let mut out = Vec::new();
        assert!(encode_frame(1, &vec![0; FORMAT_MAX_BODY + 1], &mut out).is_err());
        assert!(out.is_empty());
    }
}
