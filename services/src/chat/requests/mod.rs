//! The client's requests, one concept per file. Each is the same four steps
//! on the loop thread: parse the body, authorize against the session (the
//! uid is the session's, never the body's), submit one job (store, writer or
//! status server), and reply when it comes back. [`request`] is the one
//! place where a job that cannot even be queued is answered.
//!
//! | file | requests |
//! |---|---|
//! | `login` | LOGIN (1005), HEARTBEAT (1023) |
//! | `friends` | SEARCH_USER (1007), ADD_FRIEND (1009), AUTH_FRIEND (1013) |
//! | `texts` | TEXT_CHAT_MSG (1017), MSG_DELIVERED_ACK (1101), CONVERSATION_ACK (1110) |
//! | `history` | LOAD_CHAT_THREAD (1025), CREATE_PRIVATE_CHAT (1027), LOAD_CHAT_MSG (1029) |
//! | `conversations` | CONVERSATION_READ (1111), LOAD_CONVERSATIONS (1113), LOAD_CONVERSATION_RANGE (1115) |
//! | `groups` | GROUP_CREATE (1120) … GROUP_READERS (1140): changes, lists, members, readers |

pub mod conversations;
pub mod friends;
pub mod groups;
pub mod history;
pub mod login;
pub mod texts;

use super::reply::send_error;
use super::services::{store_job, ChatLoop};
use crate::store::{AnyConn, JobKind, StoreError};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};
use serde::de::DeserializeOwned;

/// `body` as `T`, or `None` for anything that is not JSON of that shape.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// Runs `job` on a store worker and `then` on this loop with its result; if
/// the job cannot be queued, answers `reply_id` with the error (1105 busy)
/// at once. Loop thread.
pub fn request<H, T, J, Then>(
    h: &H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    reply_id: MsgId,
    kind: JobKind,
    job: J,
    then: Then,
) where
    H: ChatLoop,
    T: Send + 'static,
    J: FnMut(&mut AnyConn) -> Result<T, StoreError> + Send + 'static,
    Then: FnOnce(&mut H, &mut Ctx<H>, Result<T, StoreError>) + Send + 'static,
{
    if let Err(e) = store_job(ctx, h.services(), kind, job, then) {
        send_error(h, ctx, conn, reply_id, e.error_code());
    }
}

/// The session rule for a request from `me` about another user `target`:
/// a uid the body claims for the sender must be the session's, and the
/// target must be someone else (1011 `UidInvalid` otherwise). One place, so
/// every request applies it alike.
pub fn valid_pair(me: u64, claimed: Option<u64>, target: u64) -> bool {
    claims_self(me, claimed) && target != me && target != 0
}

/// The session rule for every request: a uid the body claims for the
/// sender (`uid`, `fromuid`), if any, must be the session's `me`.
pub fn claims_self(me: u64, claimed: Option<u64>) -> bool {
    claimed.is_none_or(|claimed| claimed == me)
}

/// A request-specific failure code, unless the store was only busy.
pub trait OrBusy {
    fn or_busy(self, error: &StoreError) -> ErrorCode;
}

impl OrBusy for ErrorCode {
    fn or_busy(self, error: &StoreError) -> ErrorCode {
        match error.error_code() {
            ErrorCode::ServerBusy => ErrorCode::ServerBusy,
            _ => self,
        }
    }
}
