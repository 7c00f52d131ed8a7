//! Pushes for users connected to other chat servers.
//!
//! One thread per chat server. It takes everything queued (up to a batch),
//! asks the status server once where those users are, and sends each peer
//! one call per kind of push, all peers at once, waiting (with a timeout)
//! for all of them before the next batch. One batch at a time keeps the
//! order of the messages between two users, and a slow peer costs at most
//! one RPC timeout.
//!
//! Everything routed here is already stored: a push for a user who is
//! offline is dropped (the messages come at the next login's sync). A push
//! of messages that *failed* (the status server could not say where the
//! user is, or the call to the peer failed: a restart, a network cut) is a
//! **debt**: the user is remembered, and once a lookup and a call work
//! again the peer holding the user's sessions is asked to catch them up
//! from their devices' watermarks (a `CatchUpNotice`), so a receiver who
//! stayed online gets what it missed without logging in again. Debts are
//! settled at most every [`SETTLE_EVERY`]; at most [`MAX_DEBTS`] users are
//! remembered (beyond, a user's messages wait for its next login, counted).

use crate::background::{Background, StopFlag};
use crate::chat::delivery::outbound::Outbound;
use crate::chat::delivery::{GroupPush as GroupPushHere, Push};
use crate::chat::metrics::ChatMetrics;
use crate::chat::services::Services;
use crate::store::model::StoredMessage;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use grpcio::{CallOption, ChannelBuilder, ClientUnaryReceiver, Environment};
use proto::body::{NotifyAddFriend, NotifyAuthFriend};
use proto::rpc::chat::user_notice::Notice;
use proto::rpc::chat::{
    AddFriendNotice, AuthFriendNotice, CatchUpNotice, ChatServiceClient, GroupPush, GroupPushBatch,
    KickRequest, PresenceNotice, PushReply, ReadNotice, TextMessage, TextMessageBatch, UserBrief,
    UserNotice, UserNoticeBatch,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most items the router takes for one round.
const MAX_ROUND: usize = 4096;

/// Users whose pushes failed, remembered to be caught up later (a set of
/// uids: 100,000 are a few MiB at most).
const MAX_DEBTS: usize = 100_000;

/// How often the router tries to settle its debts while it has any.
pub const SETTLE_EVERY: Duration = Duration::from_millis(500);

/// The router thread.
pub struct Router {
    thread: Background,
}

impl Router {
    /// Starts the thread `<name>-router`, which drains `queue` (the other
    /// end of delivery's `RouterQueue`). Calls to peers time out after
    /// `rpc_timeout`. Any thread.
    pub fn start(
        services: Arc<Services>,
        queue: Receiver<Outbound>,
        rpc_timeout: Duration,
    ) -> std::io::Result<Router> {
        let worker = Worker {
            call: CallOption::default().timeout(rpc_timeout),
            env: Arc::new(Environment::new(1)),
            peers: HashMap::new(),
            services,
            owed: BTreeSet::new(),
            last_settled: Instant::now(),
        };
        let name = format!("{}-router", worker.services.name);
        let thread = Background::start(name, move |stop| worker.run(queue, stop))?;
        Ok(Router { thread })
    }

    /// Finishes the current round and stops. Any thread but the router's.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

/// What one peer gets in one round.
#[derive(Default)]
struct PeerRound {
    texts: Vec<TextMessage>,
    adds: Vec<AddFriendNotice>,
    auths: Vec<AuthFriendNotice>,
    notices: Vec<UserNotice>,
    kicks: Vec<KickRequest>,
    /// A group's messages, once, with its members on this peer.
    groups: Vec<GroupPush>,
}

impl PeerRound {
    /// `push` for the sessions of `to` on this peer.
    fn add(&mut self, to: u64, push: Push) {
        match push {
            Push::Text(messages) => {
                self.texts.extend(messages.into_iter().map(|m| to_proto(m, to)));
            }
            Push::AddFriend(notice) => self.adds.push(AddFriendNotice {
                to_uid: to,
                from: Some(brief_of_applicant(&notice)),
                apply_text: notice.desc.clone(),
            }),
            Push::AuthFriend(notice, messages) => self.auths.push(AuthFriendNotice {
                to_uid: to,
                from: Some(brief_of_acceptor(&notice)),
                messages: messages.into_iter().map(|m| to_proto(m, to)).collect(),
            }),
            Push::Read(n) => self.notices.push(UserNotice {
                to_uid: to,
                notice: Some(Notice::Read(ReadNotice {
                    conversation_id: n.conversation_id,
                    reader: n.uid,
                    seq: n.seq,
                })),
            }),
            Push::Presence(n) => self.notices.push(UserNotice {
                to_uid: to,
                notice: Some(Notice::Presence(PresenceNotice { uid: n.uid, online: n.online })),
            }),
            Push::Kick => {}     // kicks name a session: `Outbound::Kick`
            Push::Group(_) => {} // groups go as `Outbound::Group` (`Worker::route_group`)
            Push::CatchUp => self
                .notices
                .push(UserNotice { to_uid: to, notice: Some(Notice::CatchUp(CatchUpNotice {})) }),
        }
    }
}

struct Worker {
    services: Arc<Services>,
    env: Arc<Environment>,
    /// Clients of peer chat servers by their rpc address (this thread only).
    peers: HashMap<String, ChatServiceClient>,
    call: CallOption,
    /// Users whose message pushes failed: to be caught up where they are.
    owed: BTreeSet<u64>,
    last_settled: Instant,
}

impl Worker {
    fn run(mut self, queue: Receiver<Outbound>, stop: StopFlag) {
        loop {
            if !self.owed.is_empty() && self.last_settled.elapsed() >= SETTLE_EVERY {
                self.settle_debts();
            }
            let first = match queue.recv_timeout(Duration::from_millis(100)) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) if !stop.is_set() => continue,
                Err(_) => return,
            };
            let mut round = vec![first];
            round.extend(queue.try_iter().take(MAX_ROUND - 1));
            let started = std::time::Instant::now();
            self.route(round);
            self.services.metrics.router_rounds.record(started.elapsed());
        }
    }

    /// Looks up the receivers, then sends every peer its share: each item
    /// goes once to every server where its user has a session (that
    /// server's `push_local` reaches all of them there).
    fn route(&mut self, round: Vec<Outbound>) {
        let mut uids: Vec<u64> =
            round.iter().flat_map(|item| item.receivers().iter().copied()).collect();
        uids.sort_unstable();
        uids.dedup();
        let located = self.locate(uids);
        if located.is_none() {
            // Nobody can be found: whoever was sent messages is owed them
            // (kicks name their session's server, and still go out).
            for item in &round {
                match item {
                    Outbound::Push { to, push, .. } if carries_messages(push) => self.owe(*to),
                    Outbound::Group { members, .. } => members.iter().for_each(|&m| self.owe(m)),
                    _ => {}
                }
            }
        }
        let locations = located.unwrap_or_default();
        let mut by_peer: HashMap<String, PeerRound> = HashMap::new();
        for item in round {
            let (to, push, reached) = match item {
                Outbound::Kick(location) => {
                    let peer = by_peer.entry(location.rpc_addr).or_default();
                    let kick = KickRequest { uid: location.uid, session_id: location.session_id };
                    peer.kicks.push(kick);
                    continue;
                }
                Outbound::Push { to, push, reached } => (to, push, reached),
                Outbound::Group { members, push, reached } => {
                    self.route_group(&members, &push, &reached, &locations, &mut by_peer);
                    continue;
                }
            };
            let Some(sessions) = locations.get(&to) else { continue }; // offline: it waits in the store
            let mut peers: Vec<&str> = Vec::new();
            for location in sessions {
                if location.server == self.services.name {
                    // A session here that was not reached logged in meanwhile.
                    if !reached.contains(&location.session_id) {
                        self.deliver_here(to, location.session_id, push.clone());
                    }
                } else if !peers.contains(&location.rpc_addr.as_str()) {
                    peers.push(&location.rpc_addr);
                }
            }
            for addr in peers {
                by_peer.entry(addr.to_string()).or_default().add(to, push.clone());
            }
        }
        self.send_all(by_peer);
    }

    /// A group's push: once to each peer that holds a session of a member,
    /// with the members there; to sessions here that logged in after the
    /// writer pushed it.
    fn route_group(
        &self,
        members: &[u64],
        push: &Arc<GroupPushHere>,
        reached: &[u64],
        locations: &HashMap<u64, Vec<proto::rpc::status::UserLocation>>,
        by_peer: &mut HashMap<String, PeerRound>,
    ) {
        let reached: std::collections::HashSet<u64> = reached.iter().copied().collect();
        let mut per_peer: HashMap<&str, Vec<u64>> = HashMap::new();
        for &uid in members {
            for location in locations.get(&uid).into_iter().flatten() {
                if location.server == self.services.name {
                    if !reached.contains(&location.session_id) {
                        self.deliver_here(uid, location.session_id, Push::Group(push.clone()));
                    }
                } else {
                    per_peer.entry(location.rpc_addr.as_str()).or_default().push(uid);
                }
            }
        }
        if per_peer.is_empty() {
            return;
        }
        let messages: Vec<TextMessage> =
            push.messages.iter().map(|m| to_proto(m.clone(), 0)).collect();
        for (addr, mut recipients) in per_peer {
            recipients.dedup(); // a member's sessions on one peer are adjacent
            let peer = by_peer.entry(addr.to_string()).or_default();
            peer.groups.push(GroupPush { messages: messages.clone(), recipients });
        }
    }

    /// Where the users' sessions are, from the status server; `None` if it
    /// cannot say.
    fn locate(
        &self,
        uids: Vec<u64>,
    ) -> Option<HashMap<u64, Vec<proto::rpc::status::UserLocation>>> {
        self.services.presence.locate(uids)
    }

    /// Remembers that `uid` missed pushed messages.
    fn owe(&mut self, uid: u64) {
        if self.owed.len() < MAX_DEBTS || self.owed.contains(&uid) {
            self.owed.insert(uid);
        } else {
            ChatMetrics::add(&self.services.metrics.debts_forgotten, 1);
        }
    }

    /// Asks the peers that hold the owed users' sessions now to catch them
    /// up; a user who is offline owes nothing (its login syncs it), one
    /// whose peer cannot be reached stays owed.
    fn settle_debts(&mut self) {
        self.last_settled = Instant::now();
        let owed: Vec<u64> = std::mem::take(&mut self.owed).into_iter().collect();
        let Some(locations) = self.locate(owed.clone()) else {
            self.owed.extend(owed);
            return;
        };
        let mut by_peer: HashMap<String, PeerRound> = HashMap::new();
        for (uid, sessions) in locations {
            for location in sessions {
                if location.server != self.services.name {
                    by_peer.entry(location.rpc_addr).or_default().add(uid, Push::CatchUp);
                }
                // Sessions here were pushed to directly, never through a peer.
            }
        }
        self.send_all(by_peer);
        ChatMetrics::add(
            &self.services.metrics.debts_settled,
            (owed.len() - self.owed.len()) as u64,
        );
    }

    fn deliver_here(&self, uid: u64, session_id: u64, push: Push) {
        if let Some(route) = self.services.delivery.directory().route(uid, session_id) {
            self.services.delivery.push_to(route, push);
        }
    }

    /// Starts every call to every peer, then waits for all of them. The
    /// receivers of a call that carried messages (texts, a friendship's
    /// first message, a catch-up) and failed are owed.
    fn send_all(&mut self, by_peer: HashMap<String, PeerRound>) {
        let mut calls: Vec<(String, Sent, ClientUnaryReceiver<PushReply>)> = Vec::new();
        for (addr, round) in by_peer {
            let client = self.client(&addr);
            let call = &self.call;
            let mut started = Vec::new();
            if !round.texts.is_empty() {
                let sent = Sent::messages(&round.texts, round.texts.iter().map(|t| t.push_to));
                let batch = TextMessageBatch { messages: round.texts };
                started.push((sent, client.deliver_text_messages_async_opt(&batch, call.clone())));
            }
            for notice in &round.adds {
                started.push((
                    Sent::default(),
                    client.notify_add_friend_async_opt(notice, call.clone()),
                ));
            }
            for notice in &round.auths {
                let sent = Sent::messages(&notice.messages, [notice.to_uid]);
                started.push((sent, client.notify_auth_friend_async_opt(notice, call.clone())));
            }
            if !round.notices.is_empty() {
                let catching_up = round.notices.iter().filter(|n| is_catch_up(n)).map(|n| n.to_uid);
                let sent = Sent { messages: 0, owed: catching_up.collect() };
                let batch = UserNoticeBatch { notices: round.notices };
                started.push((sent, client.notify_users_async_opt(&batch, call.clone())));
            }
            if !round.groups.is_empty() {
                let count: usize = round.groups.iter().map(|g| g.messages.len()).sum();
                let owed = round.groups.iter().flat_map(|g| g.recipients.iter().copied());
                let sent = Sent::of(count, owed);
                let batch = GroupPushBatch { pushes: round.groups };
                started.push((sent, client.deliver_group_messages_async_opt(&batch, call.clone())));
            }
            for kick in &round.kicks {
                started.push((Sent::default(), client.kick_user_async_opt(kick, call.clone())));
            }
            for (sent, call) in started {
                match call {
                    Ok(receiver) => calls.push((addr.clone(), sent, receiver)),
                    Err(e) => self.failed(&addr, sent, &e),
                }
            }
        }
        for (addr, sent, receiver) in calls {
            match futures_executor::block_on(receiver) {
                Ok(_) => ChatMetrics::add(
                    &self.services.metrics.messages_forwarded,
                    sent.messages as u64,
                ),
                Err(e) => self.failed(&addr, sent, &e),
            }
        }
    }

    fn failed(&mut self, addr: &str, sent: Sent, error: &grpcio::Error) {
        log::warn!(
            "push to peer {addr} failed ({} messages for {} users, who are caught up once it answers): {error}",
            sent.messages,
            sent.owed.len()
        );
        ChatMetrics::add(&self.services.metrics.pushes_dropped, 1);
        for uid in sent.owed {
            self.owe(uid);
        }
        self.peers.remove(addr); // reconnect next time, in case the peer moved
    }

    fn client(&mut self, addr: &str) -> ChatServiceClient {
        self.peers
            .entry(addr.to_string())
            .or_insert_with(|| {
                ChatServiceClient::new(ChannelBuilder::new(self.env.clone()).connect(addr))
            })
            .clone()
    }
}

/// What one call to a peer carried: messages (counted once forwarded), and
/// the users owed if it fails.
#[derive(Default)]
struct Sent {
    messages: usize,
    owed: Vec<u64>,
}

impl Sent {
    fn messages<T>(messages: &[T], to: impl IntoIterator<Item = u64>) -> Sent {
        Sent::of(messages.len(), to)
    }

    fn of(messages: usize, to: impl IntoIterator<Item = u64>) -> Sent {
        let mut owed: Vec<u64> = to.into_iter().collect();
        owed.sort_unstable();
        owed.dedup();
        Sent { messages, owed }
    }
}

/// Pushes whose loss a receiver that stays online would not make up for:
/// stored messages (a friendship's first message too).
fn carries_messages(push: &Push) -> bool {
    matches!(push, Push::Text(_) | Push::AuthFriend(..) | Push::CatchUp | Push::Group(_))
}

fn is_catch_up(notice: &UserNotice) -> bool {
    matches!(notice.notice, Some(Notice::CatchUp(_)))
}

/// A stored message as the peer's RPC carries it, for the sessions of
/// `push_to` (moved: the router owns it).
fn to_proto(m: StoredMessage, push_to: u64) -> TextMessage {
    TextMessage {
        push_to,
        message_id: m.message_id,
        thread_id: m.thread_id,
        from_uid: m.sender,
        to_uid: m.receiver,
        unique_id: m.unique_id,
        content: m.content,
        chat_time: m.chat_time,
        seq: m.seq,
        kind: u32::from(m.kind),
    }
}

fn brief_of_applicant(n: &NotifyAddFriend) -> UserBrief {
    UserBrief {
        uid: n.applyuid,
        name: n.name.clone(),
        nick: n.nick.clone(),
        desc: String::new(), // the notice's desc is the application text
        icon: n.icon.clone(),
        sex: n.sex,
    }
}

fn brief_of_acceptor(n: &NotifyAuthFriend) -> UserBrief {
    UserBrief {
        uid: n.fromuid,
        name: n.name.clone(),
        nick: n.nick.clone(),
        desc: String::new(),
        icon: n.icon.clone(),
        sex: n.sex,
    }
}
