//! The friendship rules, decided once for every backend, inside one
//! transaction.
//!
//! Whether two users are already friends, what an application renews, and
//! what accepting one writes are rules of the domain, not of a database. A
//! backend only offers the row operations ([`FriendRows`]) inside a
//! transaction it opens ([`super::StoreConn::friend_transaction`]); the rules
//! below decide what to do with them, so both backends behave alike by
//! construction, and a rule is changed in one place. Runs on store worker
//! threads.

use super::model::NewMessage;
use super::pool::StoreError;

/// `from`'s application to befriend `to`.
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    pub from: u64,
    pub to: u64,
    /// What the applicant wrote to `to`.
    pub apply_text: &'a str,
    /// The name the applicant will show for `to` once they are friends.
    pub remark: &'a str,
}

/// Row operations on friendships and applications, inside one transaction.
pub trait FriendRows {
    /// True if `uid` has `friend` in its friend list.
    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError>;
    /// The remark of `from`'s pending application to `to`, if there is one;
    /// the row is locked until the transaction ends (where the backend can).
    fn pending_application(&mut self, from: u64, to: u64) -> Result<Option<String>, StoreError>;
    /// Writes the application as pending (a new row, or the old one renewed
    /// with this text and remark).
    fn put_application(&mut self, application: &Application<'_>) -> Result<(), StoreError>;
    /// Marks `from`'s application to `to` accepted.
    fn accept_application(&mut self, from: u64, to: u64) -> Result<(), StoreError>;
    /// Marks `from`'s application to `to` declined (it may apply again).
    fn decline_application(&mut self, from: u64, to: u64) -> Result<(), StoreError>;
    /// Puts `friend` in `uid`'s friend list with `remark` (or updates the remark).
    fn put_friend(&mut self, uid: u64, friend: u64, remark: &str) -> Result<(), StoreError>;
    /// The private thread of two users, created if absent.
    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError>;
}

/// An application: recorded unless the two are friends already, or the
/// same application is still pending (`Conflict` either way: a repeated
/// request must not notify the target again, or it could be spammed).
pub fn apply(rows: &mut dyn FriendRows, application: &Application<'_>) -> Result<(), StoreError> {
    if rows.is_friend(application.from, application.to)? {
        return Err(StoreError::Conflict("already friends".into()));
    }
    if rows.pending_application(application.from, application.to)?.is_some() {
        return Err(StoreError::Conflict("already applied".into()));
    }
    rows.put_application(application)
}

/// `acceptor` accepts `applicant`'s pending application: it is marked
/// accepted, each appears in the other's list (the applicant's remark from
/// the application, the acceptor's `remark`), and their private thread
/// exists. Returns the thread; `Conflict` without a pending application.
pub fn accept(
    rows: &mut dyn FriendRows,
    applicant: u64,
    acceptor: u64,
    remark: &str,
) -> Result<u64, StoreError> {
    let Some(applicant_remark) = rows.pending_application(applicant, acceptor)? else {
        return Err(StoreError::Conflict("no pending application".into()));
    };
    rows.accept_application(applicant, acceptor)?;
    rows.put_friend(applicant, acceptor, &applicant_remark)?;
    rows.put_friend(acceptor, applicant, remark)?;
    rows.private_thread(applicant, acceptor)
}

/// `decliner` declines `applicant`'s pending application: it is no longer
/// pending (nor listed), and the applicant may apply again. `Conflict`
/// without a pending application.
pub fn decline(rows: &mut dyn FriendRows, applicant: u64, decliner: u64) -> Result<(), StoreError> {
    if rows.pending_application(applicant, decliner)?.is_none() {
        return Err(StoreError::Conflict("no pending application".into()));
    }
    rows.decline_application(applicant, decliner)
}

/// The text of a new pair's first message (as the C++ server stored it; the
/// Qt clients open the new conversation with it).
pub const FIRST_MESSAGE: &str = "We are friends now!";

/// The first message of the pair made when `acceptor` accepted `applicant`:
/// from the acceptor, with a `unique_id` fixed per pair, so that storing it
/// twice stores it once.
pub fn first_message(applicant: u64, acceptor: u64) -> NewMessage {
    NewMessage {
        group: 0,
        sender: acceptor,
        receiver: applicant,
        unique_id: format!("friends-{applicant}-{acceptor}"),
        content: FIRST_MESSAGE.into(),
    }
}
