//! What a logged-in session is sent from outside its request flow: stored
//! messages, friend notices, a kick. Made anywhere (writer threads, the
//! ChatService, the router), written on the session's loop (`frames.rs`).

use crate::store::model::StoredMessage;
use proto::body::{
    ChatData, NotifyAddFriend, NotifyAuthFriend, NotifyConversationRead, NotifyPresence,
    TextChatMsgRsp,
};
use proto::MsgId;
use std::sync::Arc;

/// Most messages in one 1019 frame.
pub const PUSH_CHUNK: usize = 32;

/// Something for a logged-in user, handed to the loop of each of their
/// connections (one per device).
#[derive(Debug, Clone)]
pub enum Push {
    /// 1019: stored messages, oldest first, to the receiver's devices (and
    /// to the sender's other devices: a message of one's own).
    Text(Vec<StoredMessage>),
    /// 1019: a group's messages, the same frames for every member here.
    Group(Arc<GroupPush>),
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

/// A group's messages as every member on this server is sent them: the
/// 1019 frames are encoded once, here, and the same bytes are written to
/// every member's connection (a 500-member group costs one encoding per
/// message on each server, not 500). The messages stay beside them for
/// what a frame cannot be used for (a member whose sync is running).
#[derive(Debug)]
pub struct GroupPush {
    /// One sender's messages in one group, in seq order.
    pub messages: Vec<StoredMessage>,
    /// Whole frames (header and body), in order.
    pub frames: Vec<Vec<u8>>,
}

impl GroupPush {
    pub fn new(messages: Vec<StoredMessage>) -> GroupPush {
        let mut frames = Vec::new();
        for chunk in messages.chunks(PUSH_CHUNK) {
            encode_chunk(chunk, &mut frames);
        }
        GroupPush { messages, frames }
    }

    /// Its sender (the actor of an event).
    pub fn sender(&self) -> u64 {
        self.messages.first().map_or(0, |m| m.sender)
    }
}

/// One 1019 frame of `chunk`, halved until it fits the format.
fn encode_chunk(chunk: &[StoredMessage], frames: &mut Vec<Vec<u8>>) {
    let body = match serde_json::to_vec(&text_body(chunk)) {
        Ok(body) => body,
        Err(e) => return log::warn!("a group push was not encoded (it stays pending): {e}"),
    };
    let mut frame = Vec::with_capacity(body.len() + 4);
    match reactor::codec::encode_frame(MsgId::NotifyTextChatMsgReq.code(), &body, &mut frame) {
        Ok(()) => frames.push(frame),
        Err(_) if chunk.len() > 1 => {
            let (first, second) = chunk.split_at(chunk.len() / 2);
            encode_chunk(first, frames);
            encode_chunk(second, frames);
        }
        Err(e) => log::warn!("a group message is too large to push (it stays pending): {e}"),
    }
}

/// The body of 1018 and 1019 for messages of one sender, receiver and thread.
pub fn text_body(messages: &[StoredMessage]) -> TextChatMsgRsp {
    let first = messages.first();
    TextChatMsgRsp {
        error: 0,
        fromuid: first.map_or(0, |m| m.sender),
        touid: first.map_or(0, |m| m.receiver),
        thread_id: first.map_or(0, |m| m.thread_id),
        conversation_id: first.map_or(0, |m| m.thread_id),
        // A group's messages have no receiver: the conversation is the group.
        group_id: first.filter(|m| m.receiver == 0).map_or(0, |m| m.thread_id),
        chat_datas: messages
            .iter()
            .map(|m| ChatData {
                message_id: m.message_id,
                seq: m.seq,
                unique_id: m.unique_id.clone(),
                content: m.content.clone(),
                status: i32::from(m.delivered),
                chat_time: m.chat_time,
                kind: m.kind,
            })
            .collect(),
    }
}
