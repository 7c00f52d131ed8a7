//! What a logged-in session is sent from outside its request flow: stored
//! messages, friend notices, a kick. Made anywhere (writer threads, the
//! ChatService, the router), written on the session's loop (`frames.rs`).

use crate::store::model::StoredMessage;
use proto::body::{NotifyAddFriend, NotifyAuthFriend, NotifyConversationRead, NotifyPresence};

/// Something for a logged-in user, handed to the loop of each of their
/// connections (one per device).
#[derive(Debug, Clone)]
pub enum Push {
    /// 1019: stored messages, oldest first, to the receiver's devices (and
    /// to the sender's other devices: a message of one's own).
    Text(Vec<StoredMessage>),
    /// 1011: someone applied to be this user's friend.
    AddFriend(NotifyAddFriend),
    /// 1015: this user's application was accepted (they are friends now),
    /// with the pair's first message.
    AuthFriend(NotifyAuthFriend, Vec<StoredMessage>),
    /// 1112: someone (the other member, or this user on another device)
    /// has read a conversation up to a seq.
    Read(NotifyConversationRead),
    /// 1117: a friend came online or went offline.
    Presence(NotifyPresence),
    /// 1021, then close: a newer login replaced this session.
    Kick,
    /// Pushes for this session may have been lost on their way (the status
    /// server had restarted and did not know where it was): push what its
    /// device has not acknowledged, from the watermark, as a login does.
    /// Made by the status reporter (see `Delivery::catch_up_everyone`).
    CatchUp,
}
