//! What every input the fuzzers make up must satisfy, one function per
//! fuzz target. A function returns normally for a good outcome and panics
//! (an `assert!`) for a bad one; libFuzzer reports a panic as a crash.
//!
//! The same functions run twice over:
//!
//! * under libFuzzer, from `perf/fuzz/targets` (cargo-fuzz, `perf/fuzz.sh`),
//!   which explores new inputs guided by coverage;
//! * in the normal test suite (`tests/corpus_replay.rs`), over every input
//!   committed in `perf/fuzz/corpus/<target>/`: the corpus that reached new
//!   coverage, and each crash ever found. CI checks them all without a
//!   fuzzer (and without a nightly compiler).
//!
//! Beyond "never panics", each check holds its parser to a property that a
//! server depends on: the frame codec reads the same frames however TCP
//! splits the bytes and never asks for more memory than its limit; the HTTP
//! parser the same; a body either parses or is refused, and what parses
//! survives a round trip; a configuration is either accepted or refused with
//! a message.
//!
//! | target | what it feeds |
//! |---|---|
//! | `frame` | the chat frame codec ([`reactor::FrameCodec`]), byte stream in pieces |
//! | `bodies` | every JSON request body of the chat server and the gate, and the foreign dialects' rewriting |
//! | `http` | the gate's HTTP/1.1 request codec ([`services::gate::http::HttpCodec`]) |
//! | `config` | the four daemons' TOML configuration loader and validation |

use proto::body::*;
use proto::MsgId;
use reactor::codec::{encode_frame, HEADER_LEN};
use reactor::{Codec, Decoded, FrameCodec, FrameError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use services::dialect::{Dialect, Inbound};
use services::gate::http::{HttpCodec, HttpEvent};

/// A check: returns for a good outcome, panics for a bad one.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name: the directory names under `corpus/`.
pub const TARGETS: [(&str, Check); 4] =
    [("frame", frame), ("bodies", bodies), ("http", http), ("config", config)];

/// Sizes that add up to `len`, between 1 and 64 bytes, chosen by `seed`:
/// the pieces TCP might deliver a stream in.
fn pieces(seed: u8, len: usize) -> Vec<usize> {
    let mut state = u32::from(seed) | 1;
    let mut sizes = Vec::new();
    let mut left = len;
    while left > 0 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = ((state >> 16) as usize % 64 + 1).min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// What a connection made of a stream: the frames (each as `record`
/// described it), the error that closed it if any, and how many bytes were
/// left waiting for more.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<String>,
    error: Option<FrameError>,
    left: usize,
}

/// Feeds `stream` to `codec` in `sizes` pieces the way the event loop does
/// (`reactor/src/event_loop.rs`, `dispatch`): decode until more is needed,
/// keep the unused bytes, append the next piece. Checks on the way that
/// every frame uses some input, that nothing is used twice, and that a
/// codec never announces that it needs more than `max_needed` bytes (the
/// caller may reserve that much).
fn feed<C: Codec>(
    mut codec: C,
    stream: &[u8],
    sizes: &[usize],
    max_needed: usize,
    record: impl Fn(C::Frame<'_>) -> String,
) -> Outcome {
    let mut outcome = Outcome { frames: Vec::new(), error: None, left: 0 };
    let mut kept: Vec<u8> = Vec::new();
    let mut at = 0;
    for &size in sizes {
        kept.extend_from_slice(&stream[at..at + size]);
        at += size;
        let mut used = 0;
        loop {
            match codec.decode(&kept[used..]) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    assert!(consumed > 0, "a frame that used no input would spin the loop");
                    assert!(used + consumed <= kept.len(), "used more bytes than it was given");
                    used += consumed;
                    outcome.frames.push(record(frame));
                }
                Ok(Decoded::NeedMore { consumed, needed }) => {
                    assert!(used + consumed <= kept.len(), "used more bytes than it was given");
                    assert!(needed <= max_needed, "asked for {needed} bytes, over {max_needed}");
                    used += consumed;
                    break;
                }
                Err(error) => {
                    outcome.error = Some(error);
                    return outcome; // the loop closes the connection and drops the rest
                }
            }
        }
        kept.drain(..used);
    }
    outcome.left = kept.len();
    outcome
}

/// `frame` target. The first byte sets the body limit and how the rest is
/// cut into pieces; the rest is the stream.
///
/// Holds: the frames are the same whole or in pieces; no body is over the
/// limit; the frames written out again are exactly the bytes they came
/// from; a stream is refused only for a header over the limit.
pub fn frame(data: &[u8]) {
    let Some((&setup, stream)) = data.split_first() else { return };
    let max_body = usize::from(setup) * 64;
    let run = |sizes: &[usize]| {
        let record = |f: reactor::Frame<'_>| format!("{} {:?}", f.id, f.body);
        feed(FrameCodec::new(max_body), stream, sizes, HEADER_LEN + max_body, record)
    };
    let whole = run(&[stream.len()]);
    assert_eq!(whole, run(&pieces(setup, stream.len())), "pieces changed the frames");

    // Once more, keeping the frames, to write them out again.
    let mut codec = FrameCodec::new(max_body);
    let (mut again, mut used) = (Vec::new(), 0);
    while let Ok(Decoded::Frame { frame, consumed }) = codec.decode(&stream[used..]) {
        assert!(frame.body.len() <= max_body, "a body over the limit came out");
        encode_frame(frame.id, frame.body, &mut again).expect("a decoded body fits the format");
        used += consumed;
    }
    assert_eq!(again, stream[..used], "frames written out differ from their bytes");
    if let Some(error) = &whole.error {
        let FrameError::BodyTooLong { len, max, .. } = error else { panic!("refused for {error}") };
        assert!(len > max && *max == max_body);
    }
}

/// `http` target. The first byte sets how the rest is cut into pieces.
///
/// Holds: the requests (and the refusal, if any) are the same whole or in
/// pieces; no body is over the limit; after a refusal nothing more comes
/// out (the gate answers it and closes).
pub fn http(data: &[u8]) {
    const MAX_HEAD: usize = 1024;
    const MAX_BODY: usize = 2048;
    let Some((&setup, stream)) = data.split_first() else { return };
    let record = |event: HttpEvent<'_>| match event {
        HttpEvent::Request(r) => {
            assert!(r.body.len() <= MAX_BODY, "a body over the limit came out");
            format!("request {} {} {} {:?}", r.method, r.path, r.keep_alive, r.body)
        }
        HttpEvent::Refused(status) => {
            assert!(matches!(status, 400 | 411 | 413 | 431), "refused with {status}");
            format!("refused {status}")
        }
    };
    let run = |sizes: &[usize]| {
        feed(HttpCodec::new(MAX_HEAD, MAX_BODY), stream, sizes, MAX_HEAD + MAX_BODY, record)
    };
    let whole = run(&[stream.len()]);
    assert_eq!(whole, run(&pieces(setup, stream.len())), "pieces changed the requests");
    assert!(whole.error.is_none(), "the HTTP codec refuses with a status, not an error");
    if let Some(refusal) = whole.frames.iter().position(|f| f.starts_with("refused")) {
        assert_eq!(refusal + 1, whole.frames.len(), "something came out after a refusal");
    }
}

/// Parses `body` as `T` the way the servers do (`serde_json::from_slice`);
/// what parses must write out and parse back to the same value.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    body: &[u8],
) -> Option<T> {
    let parsed: T = serde_json::from_slice(body).ok()?;
    let written = serde_json::to_vec(&parsed).expect("a parsed body can be written");
    let again: T = serde_json::from_slice(&written).expect("a written body parses");
    assert_eq!(parsed, again, "a body changed in a round trip");
    Some(parsed)
}

/// `bodies` target. The first byte picks the request (an index into the
/// ids the chat server and the gate accept), the rest is its body.
///
/// Holds: every body parses or is refused, and what parses round-trips;
/// the foreign dialects' inbound rewriting takes any body; a text of any
/// content, pushed to a project_show client, fits its 4 KiB frame limit.
pub fn bodies(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    match pick % 18 {
        0 => {
            if let Some(login) = round_trip::<LoginReq>(body) {
                let _ = services::device::Device::from_login(&login.device_id, &login.kind);
            }
        }
        1 => drop(round_trip::<SearchUserReq>(body)),
        2 => drop(round_trip::<AddFriendReq>(body)),
        3 => drop(round_trip::<AuthFriendReq>(body)),
        4 => {
            if let Some(text) = round_trip::<TextChatMsgReq>(body) {
                pushed_to_project_show(&text);
            }
        }
        5 => drop(round_trip::<HeartbeatReq>(body)),
        6 => drop(round_trip::<LoadChatThreadReq>(body)),
        7 => drop(round_trip::<CreatePrivateChatReq>(body)),
        8 => drop(round_trip::<LoadChatMsgReq>(body)),
        9 => drop(round_trip::<MsgDeliveredAck>(body)),
        10 => drop(round_trip::<ConversationAck>(body)),
        11 => drop(round_trip::<ConversationRead>(body)),
        12 => drop(round_trip::<LoadConversationsReq>(body)),
        13 => drop(round_trip::<LoadConversationRangeReq>(body)),
        14 => {
            if let Some(req) = round_trip::<GetVerifyCodeReq>(body) {
                let _ = services::verify::service::normalize_email(&req.email);
            }
        }
        15 => drop(round_trip::<RegisterReq>(body)),
        16 => drop(round_trip::<ResetPwdReq>(body)),
        _ => drop(round_trip::<UserLoginReq>(body)),
    }
    // The same bytes as a frame a foreign client may send: what a dialect
    // hands on is a request of ours, whose body the chat server parses.
    let id = 1000 + u16::from(pick) % 130;
    for dialect in [Dialect::Llfcchat, Dialect::ProjectShow] {
        if let Inbound::Request(MsgId::TextChatMsgReq, rewritten) = dialect.inbound(id, body) {
            let _ = round_trip::<TextChatMsgReq>(&rewritten);
        }
    }
}

/// A text as the project_show dialect pushes it: every frame within the
/// client's limit, each content the sender's (or a marked cut of it).
fn pushed_to_project_show(text: &TextChatMsgReq) {
    let chat_datas: Vec<ChatData> = text
        .text_array
        .iter()
        .enumerate()
        .map(|(i, item)| ChatData {
            message_id: i as u64 + 1,
            seq: i as u64 + 1,
            unique_id: item.unique_id.clone(),
            content: item.content.clone(),
            ..ChatData::default()
        })
        .collect();
    let push = serde_json::json!({"error": 0, "fromuid": 7, "touid": text.touid, "chat_datas": chat_datas});
    let frames = Dialect::ProjectShow.rewrite_out(MsgId::NotifyTextChatMsgReq, push);
    assert_eq!(frames.len(), text.text_array.len(), "one 1019 per message");
    let limit = services::dialect::project_show::MAX_FRAME_BODY;
    for ((id, body), item) in frames.iter().zip(&text.text_array) {
        assert_eq!(*id, 1019);
        assert!(body.to_string().len() <= limit, "a pushed frame is over {limit} bytes");
        let content = body["text_array"][0]["content"].as_str().expect("content");
        let kept = content.strip_suffix('…').unwrap_or(content);
        assert!(item.content.starts_with(kept), "the content is not the sender's");
    }
}

/// `config` target: the input as a TOML file for each daemon.
///
/// Holds: a configuration is accepted or refused with a message, and
/// validation of an accepted one answers too; no input panics.
pub fn config(data: &[u8]) {
    use services::config::parse;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let none = std::iter::empty::<(String, String)>;
    if let Ok(c) = parse::<services::chat::config::ChatConfig>(text, "fuzz", "", none()) {
        let _ = c.validate();
    }
    if let Ok(c) = parse::<services::gate::config::GateConfig>(text, "fuzz", "", none()) {
        let _ = c.validate();
    }
    if let Ok(c) = parse::<services::status::server::StatusConfig>(text, "fuzz", "", none()) {
        let _ = c.validate();
    }
    if let Ok(c) = parse::<services::verify::config::VerifyConfig>(text, "fuzz", "", none()) {
        let _ = c.validate();
    }
}
