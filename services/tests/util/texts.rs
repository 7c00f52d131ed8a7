//! Texts as a test client sends and receives them: the 1018 answer, 1019
//! pushes de-duplicated by message id, waiting for acknowledgements.

use super::cluster::{Cluster, WAIT};
use proto::body::{ChatData, TextChatMsgReq, TextChatMsgRsp, TextItem};
use proto::chat_client::ChatClient;
use proto::MsgId;
use services::store::model::{SeqCursor, LEGACY_DEVICE};
use services::store::StoreConn;
use std::collections::HashSet;
use std::time::Duration;

/// How long a client waits to be sure nothing more comes.
pub const QUIET: Duration = Duration::from_millis(500);

pub fn text(touid: u64, items: &[(&str, &str)]) -> TextChatMsgReq {
    TextChatMsgReq {
        touid,
        group_id: 0,
        thread_id: None,
        text_array: items
            .iter()
            .map(|(unique_id, content)| TextItem {
                content: content.to_string(),
                unique_id: unique_id.to_string(),
            })
            .collect(),
        fromuid: None,
    }
}

/// Sends texts and returns the 1018 answer.
pub fn send_text(client: &mut ChatClient, touid: u64, items: &[(&str, &str)]) -> TextChatMsgRsp {
    client.send(MsgId::TextChatMsgReq, &text(touid, items)).unwrap();
    client.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap()
}

/// Receives 1019 pushes until `count` distinct messages arrived (duplicates
/// on the wire are allowed: clients de-duplicate by message id).
pub fn receive(client: &mut ChatClient, count: usize) -> Vec<ChatData> {
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    while messages.len() < count {
        let push: TextChatMsgRsp = client.recv_json(MsgId::NotifyTextChatMsgReq, WAIT).unwrap();
        for data in push.chat_datas {
            if seen.insert(data.message_id) {
                messages.push(data);
            }
        }
    }
    messages
}

/// Waits until the store has nothing pending for `uid`'s legacy device
/// (acks are stored asynchronously and have no response).
pub fn wait_until_acknowledged(cluster: &Cluster, uid: u64) {
    wait_until_device_acknowledged(cluster, uid, LEGACY_DEVICE);
}

/// Waits until the store has nothing pending for `device` of `uid`.
pub fn wait_until_device_acknowledged(cluster: &Cluster, uid: u64, device: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    let owed = |cluster: &Cluster| {
        let page = cluster.store().backlog(uid, device, SeqCursor::default(), 1).unwrap();
        page.messages.len()
    };
    while owed(cluster) > 0 {
        assert!(std::time::Instant::now() < deadline, "acknowledgement never stored");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn nothing_pushed(client: &mut ChatClient) -> bool {
    client.recv_json::<TextChatMsgRsp>(MsgId::NotifyTextChatMsgReq, QUIET).is_err()
}
