//! Notices from the gate to users connected to chat servers.
//!
//! The project_show client applies for and accepts friends over HTTP on the
//! gate, and the other side expects the same push (1011, 1015) as when it
//! happens over a chat connection. The gate asks the status server where
//! the user is (`LookupUsers`) and calls that chat server's ChatService, as
//! one chat server does for another (`chat/peers/router.rs`). Best effort,
//! like every push: the friendship or application is already stored, and a
//! user who misses the notice sees it in LOGIN_RSP next time.
//!
//! Runs on grpcio's threads (each notice is one spawned future with the
//! gate's RPC timeout on every call); never on a gate loop.

use crate::store::model::StoredMessage;
use grpcio::{CallOption, ChannelBuilder, Environment};
use parking_lot::Mutex;
use proto::rpc::chat::{AddFriendNotice, AuthFriendNotice, ChatServiceClient, TextMessage};
use proto::rpc::status::{LookupUsersRequest, StatusServiceClient};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What the gate tells a user.
#[derive(Debug, Clone)]
pub enum Notice {
    /// 1011: someone applied to befriend them.
    AddFriend(AddFriendNotice),
    /// 1015: their application was accepted (with the pair's first message).
    AuthFriend(AuthFriendNotice),
}

impl Notice {
    fn to_uid(&self) -> u64 {
        match self {
            Notice::AddFriend(n) => n.to_uid,
            Notice::AuthFriend(n) => n.to_uid,
        }
    }
}

/// Clients of the chat servers' ChatService, one per address.
#[derive(Clone)]
pub struct ChatPeers {
    env: Arc<Environment>,
    status: StatusServiceClient,
    clients: Arc<Mutex<HashMap<String, ChatServiceClient>>>,
    timeout: Duration,
}

impl ChatPeers {
    pub fn new(env: Arc<Environment>, status: StatusServiceClient, timeout: Duration) -> ChatPeers {
        ChatPeers { env, status, clients: Arc::default(), timeout }
    }

    /// Sends `notice` to every chat server where its user is connected.
    /// Returns at once; any thread.
    pub fn notify(&self, notice: Notice) {
        let peers = self.clone();
        self.status.spawn(async move {
            if let Err(e) = peers.deliver(notice).await {
                log::debug!("a notice from the gate was not delivered (seen at next login): {e}");
            }
        });
    }

    async fn deliver(&self, notice: Notice) -> grpcio::Result<()> {
        let lookup = LookupUsersRequest { uids: vec![notice.to_uid()] };
        let found = self.status.lookup_users_async_opt(&lookup, self.option())?.await?;
        // One call per server: it reaches every session of the user there.
        let mut servers: Vec<String> = found.online.into_iter().map(|l| l.rpc_addr).collect();
        servers.sort();
        servers.dedup();
        for addr in servers {
            let client = self.client(&addr);
            match &notice {
                Notice::AddFriend(n) => {
                    client.notify_add_friend_async_opt(n, self.option())?.await?;
                }
                Notice::AuthFriend(n) => {
                    client.notify_auth_friend_async_opt(n, self.option())?.await?;
                }
            }
        }
        Ok(())
    }

    fn client(&self, addr: &str) -> ChatServiceClient {
        let mut clients = self.clients.lock();
        // A cluster has a handful of chat servers; forget them all rather
        // than grow without bound if addresses keep changing.
        if clients.len() >= 256 && !clients.contains_key(addr) {
            clients.clear();
        }
        clients
            .entry(addr.to_string())
            .or_insert_with(|| {
                ChatServiceClient::new(ChannelBuilder::new(self.env.clone()).connect(addr))
            })
            .clone()
    }

    fn option(&self) -> CallOption {
        CallOption::default().timeout(self.timeout)
    }
}

/// A stored message as the ChatService carries it.
pub fn text_message(m: &StoredMessage) -> TextMessage {
    TextMessage {
        message_id: m.message_id,
        thread_id: m.thread_id,
        from_uid: m.sender,
        to_uid: m.receiver,
        unique_id: m.unique_id.clone(),
        content: m.content.clone(),
        chat_time: m.chat_time,
        seq: m.seq,
        push_to: 0,
        kind: u32::from(m.kind),
    }
}
