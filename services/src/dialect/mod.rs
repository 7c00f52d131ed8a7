//! Dialects: the chat protocol as each kind of client speaks it.
//!
//! A listener fixes a connection's dialect, on the gate and on the chat
//! servers alike (`listen` speaks this project's own, `llfcchat_listen` the
//! original llfcchat Qt client's, `project_show_listen` the project_show Qt
//! client's). Inside, there is one set of requests and pushes; a dialect
//! changes only what crosses the edge, and all of it is decided in this
//! module and nowhere else:
//!
//! * **the gate's login answer** gives the chat server's address for the
//!   dialect, with `port` as the client reads it (both Qt clients: a string);
//! * **frames in** ([`Dialect::inbound`]): a client's own ids and field names
//!   become this protocol's requests (project_show's 1023 asks for its
//!   pending messages where llfcchat's 1023 is the heartbeat);
//! * **frames out** ([`Dialect::rewrite_out`]): a body is rewritten into the
//!   shapes the client's source reads, possibly into another id, several
//!   frames, or none;
//! * **delivery** ([`Dialect::acknowledgement`], [`Dialect::syncs_at_login`]):
//!   how a client says it has a message, and when it is sent what is pending;
//! * **liveness** ([`Dialect::sends_heartbeats`]): a client without a
//!   heartbeat is watched by TCP keep-alive instead of the idle timeout.
//!
//! Each foreign dialect's tables are in its own file ([`llfcchat`],
//! [`project_show`]). Pure functions; any thread.

pub mod llfcchat;
pub mod project_show;

use proto::MsgId;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

/// How a connection's client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// This project's protocol (`proto/PROTOCOL.md`): imcli, imbench, tests.
    #[default]
    Own,
    /// The original llfcchat Qt client, unmodified.
    Llfcchat,
    /// The project_show Qt client (the re-implemented system's), unmodified.
    ProjectShow,
}

/// How a client tells the server that a pushed message reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    /// By message id (1101): what is not acknowledged is pushed again.
    ById,
    /// One acknowledgement per pushed message, in order, naming none of
    /// them (project_show's 1024): each one settles the oldest message
    /// pushed and not yet settled on this connection.
    ByCount,
    /// Never: what is written to the client counts as acknowledged (it
    /// loads its history itself; llfcchat).
    Never,
}

/// A frame from a client, in this protocol's terms.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A request of this protocol, with its body in this protocol's fields.
    Request(MsgId, Cow<'a, [u8]>),
    /// "Send me what is pending" (project_show's 1023).
    SyncPending,
    /// "I have the next message you pushed" (project_show's 1024).
    AcknowledgeNextPush,
    /// Not a request this dialect defines.
    Unknown,
}

/// A frame to write: a wire id and its body.
pub type OutFrame = (u16, Value);

impl Dialect {
    /// The name used in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Own => "own",
            Dialect::Llfcchat => "llfcchat",
            Dialect::ProjectShow => "project_show",
        }
    }

    /// How this client acknowledges pushes.
    pub fn acknowledgement(self) -> Acknowledgement {
        match self {
            Dialect::Own => Acknowledgement::ById,
            Dialect::Llfcchat => Acknowledgement::Never,
            Dialect::ProjectShow => Acknowledgement::ByCount,
        }
    }

    /// True if what is pending is pushed right after the login; false if the
    /// client asks for it ([`Inbound::SyncPending`]) or never is sent it.
    pub fn syncs_at_login(self) -> bool {
        self == Dialect::Own
    }

    /// True if the client asks for what is pending ([`Inbound::SyncPending`])
    /// once it can take it: nothing is pushed to it before (project_show's
    /// client drops a text that arrives before its main window exists).
    pub fn syncs_on_request(self) -> bool {
        self == Dialect::ProjectShow
    }

    /// True if the client sends heartbeats (1023 in this protocol and
    /// llfcchat's); project_show's client sends none.
    pub fn sends_heartbeats(self) -> bool {
        self != Dialect::ProjectShow
    }

    /// True if frames go out one per write, apart (`chat::pacing`):
    /// llfcchat's client loses its place when two arrive in one read.
    pub fn paces_frames(self) -> bool {
        self == Dialect::Llfcchat
    }

    /// How long a replaced session's connection stays open after the
    /// "logged in elsewhere" notice (1021), for the client to close it.
    /// llfcchat's client reads the notice and closes; a FIN arriving with
    /// the notice makes it show "heartbeat timeout" instead, as if the
    /// network had failed. The others get the close at once.
    pub fn kicked_close_delay(self) -> Duration {
        match self {
            Dialect::Llfcchat => Duration::from_secs(5),
            _ => Duration::ZERO,
        }
    }

    /// The largest frame body the client accepts (project_show's client
    /// aborts the connection on a frame over 4 KiB).
    pub fn max_frame_body(self) -> usize {
        match self {
            Dialect::ProjectShow => project_show::MAX_FRAME_BODY,
            _ => u16::MAX as usize,
        }
    }

    /// A frame from the client, as this protocol's request.
    pub fn inbound(self, id: u16, body: &[u8]) -> Inbound<'_> {
        match self {
            Dialect::Own | Dialect::Llfcchat => match MsgId::from_u16(id) {
                Some(id) => Inbound::Request(id, Cow::Borrowed(body)),
                None => Inbound::Unknown,
            },
            Dialect::ProjectShow => project_show::inbound(id, body),
        }
    }

    /// True if frames out must be rewritten (the caller then serializes to a
    /// `Value` first; for the own dialect it writes straight to the output).
    pub fn rewrites_out(self) -> bool {
        self != Dialect::Own
    }

    /// The frames that carry this protocol's frame `id` with `body` to the
    /// client: usually one, maybe under another id, several, or none.
    pub fn rewrite_out(self, id: MsgId, body: Value) -> Vec<OutFrame> {
        // Read receipts and presence are this protocol's: the original
        // clients have no screen for them (and no id).
        if self != Dialect::Own
            && matches!(id, MsgId::NotifyConversationRead | MsgId::NotifyPresence)
        {
            return Vec::new();
        }
        match self {
            Dialect::Own => vec![(id.code(), body)],
            Dialect::Llfcchat => vec![(id.code(), llfcchat::rewrite_out(id, body))],
            Dialect::ProjectShow => project_show::rewrite_out(id, body),
        }
    }
}

/// ` dialect IP:port` for each listener after the first (which speaks this
/// protocol): how a daemon's "listening" line names its other listeners.
pub fn listeners_text(dialects: &[Dialect], addrs: &[std::net::SocketAddr]) -> String {
    dialects.iter().zip(addrs).skip(1).map(|(d, addr)| format!(" {} {addr}", d.name())).collect()
}

/// `ms` (Unix time in milliseconds) as `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::logging::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_796_186_096_789), "2026-12-02 04:34:56");
    }

    #[test]
    fn the_own_dialect_passes_everything_through() {
        let body = json!({"chat_datas": [{"chat_time": 0, "status": 1}]});
        let frames = Dialect::Own.rewrite_out(MsgId::NotifyTextChatMsgReq, body.clone());
        assert_eq!(frames, vec![(1019, body)]);
        assert_eq!(
            Dialect::Own.inbound(1023, b"{}"),
            Inbound::Request(MsgId::HeartBeatReq, Cow::Borrowed(&b"{}"[..]))
        );
        assert_eq!(Dialect::Own.inbound(1, b"{}"), Inbound::Unknown);
    }
}
