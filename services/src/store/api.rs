//! The store's operations, implemented by each backend's connection type.
//! They run on the pool's worker threads (never on a loop thread).

use super::friends::{self, FriendRows};
use super::model::*;
use super::pool::StoreError;

/// One connection's worth of store operations.
pub trait StoreConn: Send + 'static {
    /// Creates a user; `Conflict` if the name or the e-mail is taken.
    fn create_user(&mut self, user: &NewUser) -> Result<u64, StoreError>;
    fn user_by_uid(&mut self, uid: u64) -> Result<Option<UserRecord>, StoreError>;
    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Returns false if there is no such user.
    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError>;

    /// Runs `rules` on this connection's friendship rows inside one
    /// transaction, committed if `rules` succeeds and rolled back if not.
    /// The rules themselves are [`super::friends`]'s, the same for every backend.
    fn friend_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn FriendRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError>;
    /// Records (or renews) `from`'s application to befriend `to`; `Conflict`
    /// if they are already friends.
    fn apply_friend(
        &mut self,
        from: u64,
        to: u64,
        apply_text: &str,
        remark: &str,
    ) -> Result<(), StoreError> {
        let application = friends::Application { from, to, apply_text, remark };
        self.friend_transaction(&mut |rows| friends::apply(rows, &application).map(|()| 0))
            .map(drop)
    }
    /// `acceptor` accepts `applicant`'s pending application (see
    /// [`friends::accept`]). Returns the thread id; `Conflict` without a
    /// pending application.
    fn accept_friend(
        &mut self,
        applicant: u64,
        acceptor: u64,
        remark: &str,
    ) -> Result<u64, StoreError> {
        self.friend_transaction(&mut |rows| friends::accept(rows, applicant, acceptor, remark))
    }
    /// `decliner` declines `applicant`'s pending application (see
    /// [`friends::decline`]); `Conflict` without a pending application.
    fn decline_friend(&mut self, applicant: u64, decliner: u64) -> Result<(), StoreError> {
        self.friend_transaction(&mut |rows| friends::decline(rows, applicant, decliner).map(|()| 0))
            .map(drop)
    }
    fn are_friends(&mut self, a: u64, b: u64) -> Result<bool, StoreError>;
    /// Many users in one transaction, for provisioning benchmark runs;
    /// `Conflict` (and nothing stored) if a name or e-mail is taken.
    fn create_users(&mut self, users: &[NewUser]) -> Result<Vec<u64>, StoreError>;
    /// Makes each pair friends in one transaction, as if the first had
    /// applied and the second accepted: the accepted application, both
    /// friendship rows (empty remarks) and the private thread.
    fn befriend_pairs(&mut self, pairs: &[(u64, u64)]) -> Result<(), StoreError>;
    /// Profile, friends and pending applications, in three queries.
    fn login_data(&mut self, uid: u64) -> Result<Option<LoginData>, StoreError>;

    /// The private thread of two users, created if absent.
    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError>;
    fn thread(&mut self, thread_id: u64) -> Result<Option<ThreadRecord>, StoreError>;
    /// A user's threads with ids above `after`, oldest first, at most `limit`.
    fn threads_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError>;

    /// Stores a batch in one transaction. A message whose (sender,
    /// unique_id) is already stored is not stored again: the stored one is
    /// returned in its place. The result is in the order of `batch`.
    fn append_messages(&mut self, batch: &[NewMessage]) -> Result<Vec<StoredMessage>, StoreError>;
    /// Messages of a thread with ids below `before` (0: the newest), newest
    /// first, at most `limit`.
    fn thread_page(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// Undelivered messages to `receiver` with ids above `after`, oldest first.
    fn pending_for(
        &mut self,
        receiver: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// Marks messages to `receiver` delivered; ids of other receivers are
    /// ignored. Returns how many changed.
    fn mark_delivered(&mut self, receiver: u64, message_ids: &[u64]) -> Result<u64, StoreError> {
        self.mark_delivered_many(&[Delivery { receiver, message_ids: message_ids.to_vec() }])
    }
    /// Many receivers' acknowledgements in one transaction (group commit of
    /// acks, as the message writer does for messages).
    fn mark_delivered_many(&mut self, acks: &[Delivery]) -> Result<u64, StoreError>;
}
