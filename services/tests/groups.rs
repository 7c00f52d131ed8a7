//! Groups end to end (PROTOCOL.md "Groups", 1120-1141): membership as
//! events in the group's one order, messages stored once and fanned out
//! across two chat servers, removed members who read nothing after their
//! removal, new members who read from their joining, a member that stops
//! reading, the limits. A real status server, two chat servers over real
//! gRPC, real sockets, on both stores.

mod util;

use proto::body::*;
use proto::chat_client::ChatClient;
use proto::group_body::*;
use proto::{ErrorCode, MsgId};
use services::store::StoreConn;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use util::cluster::{Cluster, StoreKind, WAIT};
use util::texts::QUIET;

/// A member's client and what it has been pushed of the group, by seq.
struct Member {
    client: ChatClient,
    uid: u64,
    /// seq → (kind, content), de-duplicated by message id.
    seen: BTreeMap<u64, (u8, String)>,
    ids: HashSet<u64>,
}

impl Member {
    fn login(cluster: &Cluster, server: usize, uid: u64) -> Member {
        let (client, _) = cluster.login_device(server, uid, &format!("pc-{uid}"), "desktop");
        Member::of(client, uid)
    }

    fn of(client: ChatClient, uid: u64) -> Member {
        Member { client, uid, seen: BTreeMap::new(), ids: HashSet::new() }
    }

    /// Takes pushes of `group` until it has every seq up to `last`.
    fn receive_up_to(&mut self, group: u64, last: u64) {
        self.receive_between(group, 1, last);
    }

    /// Takes pushes of `group` until it has every seq from `first` to `last`.
    fn receive_between(&mut self, group: u64, first: u64, last: u64) {
        let deadline = Instant::now() + WAIT * 2;
        while self.seen.range(first..=last).count() < (last + 1 - first) as usize {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "uid {} has seqs {:?} of 1..={last}", self.uid, self.keys());
            let push: TextChatMsgRsp =
                self.client.recv_json(MsgId::NotifyTextChatMsgReq, left).unwrap_or_else(|e| {
                    let missing = (first..=last).find(|s| !self.seen.contains_key(s));
                    let had = self.seen.len();
                    panic!(
                        "uid {} waiting for seq {last} (has {had}, {missing:?} missing): {e}",
                        self.uid
                    )
                });
            self.take(group, push);
        }
    }

    fn take(&mut self, group: u64, push: TextChatMsgRsp) {
        if push.group_id != group {
            return;
        }
        for m in push.chat_datas {
            if self.ids.insert(m.message_id) {
                let earlier = self.seen.insert(m.seq, (m.kind, m.content));
                assert!(earlier.is_none(), "two messages with seq {} for {}", m.seq, self.uid);
            }
        }
    }

    /// Everything pushed within `QUIET`.
    fn drain(&mut self, group: u64) {
        while let Ok(push) = self.client.recv_json(MsgId::NotifyTextChatMsgReq, QUIET) {
            self.take(group, push);
        }
    }

    fn keys(&self) -> Vec<u64> {
        self.seen.keys().copied().collect()
    }

    fn event(&self, seq: u64) -> GroupEvent {
        let (kind, content) = &self.seen[&seq];
        assert_eq!(*kind, 1, "seq {seq} is an event");
        serde_json::from_str(content).unwrap()
    }

    fn ask<Rsp: serde::de::DeserializeOwned, Req: serde::Serialize>(
        &mut self,
        id: MsgId,
        body: &Req,
    ) -> Rsp {
        self.client.send(id, body).unwrap();
        self.client.recv_json(id.response().unwrap(), WAIT).unwrap()
    }

    fn create(&mut self, name: &str, members: &[u64]) -> GroupRsp {
        let req =
            GroupCreateReq { name: name.into(), members: members.to_vec(), ..Default::default() };
        self.ask(MsgId::GroupCreateReq, &req)
    }

    fn invite(&mut self, group_id: u64, uids: &[u64]) -> GroupChangeRsp {
        self.ask(MsgId::GroupInviteReq, &GroupInviteReq { group_id, uids: uids.to_vec() })
    }

    fn remove(&mut self, group_id: u64, uid: u64) -> GroupChangeRsp {
        self.ask(MsgId::GroupRemoveReq, &GroupRemoveReq { group_id, uid })
    }

    fn send(&mut self, group_id: u64, unique_id: &str, content: &str) -> TextChatMsgRsp {
        let req = TextChatMsgReq {
            touid: 0,
            group_id,
            thread_id: None,
            text_array: vec![TextItem { content: content.into(), unique_id: unique_id.into() }],
            fromuid: None,
        };
        let sent: TextChatMsgRsp = self.ask(MsgId::TextChatMsgReq, &req);
        self.record_own(&sent);
        sent
    }

    /// The sending device is answered (1018), not pushed its own messages.
    fn record_own(&mut self, sent: &TextChatMsgRsp) {
        for m in &sent.chat_datas {
            if self.ids.insert(m.message_id) {
                self.seen.insert(m.seq, (m.kind, m.content.clone()));
            }
        }
    }

    /// Sends `count` texts of `content` (unique ids from `first`), `window`
    /// requests in flight.
    fn send_many_from(
        &mut self,
        group_id: u64,
        first: u64,
        count: u64,
        window: u64,
        content: &str,
    ) {
        let (mut sent, count) = (first, first + count);
        while sent < count {
            let batch = window.min(count - sent);
            for n in sent..sent + batch {
                let req = TextChatMsgReq {
                    touid: 0,
                    group_id,
                    thread_id: None,
                    text_array: vec![TextItem {
                        content: content.into(),
                        unique_id: format!("m{n}"),
                    }],
                    fromuid: None,
                };
                self.client.send(MsgId::TextChatMsgReq, &req).unwrap();
            }
            for _ in 0..batch {
                let answer: TextChatMsgRsp =
                    self.client.recv_json(MsgId::TextChatMsgRsp, WAIT).unwrap();
                assert_eq!(answer.error, 0);
                self.record_own(&answer);
            }
            sent += batch;
        }
    }

    fn range(
        &mut self,
        group_id: u64,
        after_seq: u64,
        before_seq: u64,
    ) -> LoadConversationRangeRsp {
        let req =
            LoadConversationRangeReq { conversation_id: group_id, after_seq, before_seq, limit: 0 };
        self.ask(MsgId::LoadConversationRangeReq, &req)
    }
}

fn seqs(range: &LoadConversationRangeRsp) -> Vec<u64> {
    range.messages.iter().map(|m| m.seq).collect()
}

/// ann (server 1) creates a group with bob (server 2) and cat (server 1);
/// ann and bob send at once from both servers; dan joins, cat is removed
/// in the middle. Everyone sees one order without holes; cat nothing after
/// its removal; dan nothing before its joining; eve nothing at all.
fn one_order_for_everyone_across_servers(kind: StoreKind) {
    let cluster = Cluster::start(&format!("groups_order_{kind:?}"), kind, 2);
    let [ann, bob, cat, dan, eve] = ["ann", "bob", "cat", "dan", "eve"].map(|n| cluster.user(n));
    for friend in [bob, cat, dan] {
        cluster.befriend(ann, friend);
    }
    let mut a = Member::login(&cluster, 0, ann);
    let mut b = Member::login(&cluster, 1, bob);
    let mut c = Member::login(&cluster, 0, cat);
    let mut e = Member::login(&cluster, 1, eve);
    // bob's phone is known, then away while everything happens.
    drop(cluster.login_device(0, bob, "bob-phone", "mobile"));
    // dan's device is known before he joins (a device new to the store
    // starts at its user's place, as PROTOCOL.md "Devices" says).
    let mut d = Member::login(&cluster, 1, dan);

    let created = a.create("climbers", &[bob, cat]);
    assert_eq!(created.error, 0);
    let info = created.group.unwrap();
    let group = info.group_id;
    assert_eq!((info.owner, info.member_count, info.role.as_str()), (ann, 3, "owner"));
    for m in [&mut a, &mut b, &mut c] {
        m.receive_up_to(group, 2);
        assert_eq!(m.event(1), GroupEvent::Created { by: ann, name: "climbers".into() });
        assert_eq!(m.event(2), GroupEvent::Joined { by: ann, uids: vec![bob, cat] });
    }

    // Texts from two servers at once, an invitation and a removal between them.
    let sending = |member: Member, tag: &'static str| {
        std::thread::spawn(move || {
            let mut member = member;
            for n in 0..20 {
                let sent = member.send(group, &format!("{tag}{n}"), &format!("{tag} {n}"));
                assert_eq!(sent.error, 0, "{tag}{n}");
                assert_eq!((sent.group_id, sent.chat_datas.len()), (group, 1));
            }
            member
        })
    };
    let from_b = sending(b, "b");
    std::thread::sleep(Duration::from_millis(20));
    let invited = a.invite(group, &[dan]);
    assert_eq!(invited.error, 0);
    let joined_at = invited.seq;
    let removed = a.remove(group, cat);
    assert_eq!(removed.error, 0);
    let removed_at = removed.seq;
    let a = sending(a, "a").join().unwrap();
    let mut b = from_b.join().unwrap();
    let mut a = a;
    let last = 2 + 40 + 2;
    a.receive_up_to(group, last);
    b.receive_up_to(group, last);
    assert_eq!(a.seen, b.seen, "one order on both servers");
    // After the fact, by the sync of a login: the same order again.
    let (phone, _) = cluster.login_device(0, bob, "bob-phone", "mobile");
    let mut phone = Member::of(phone, bob);
    phone.receive_up_to(group, last);
    assert_eq!(phone.seen, a.seen, "the same order after a sync");
    assert_eq!(a.event(joined_at), GroupEvent::Joined { by: ann, uids: vec![dan] });
    assert_eq!(a.event(removed_at), GroupEvent::Removed { by: ann, uid: cat });

    // cat: everything up to its removal (the event included), nothing after.
    c.receive_up_to(group, removed_at);
    c.drain(group);
    assert_eq!(c.keys(), (1..=removed_at).collect::<Vec<_>>());
    let after_removal = c.range(group, removed_at, 0);
    assert_eq!((after_removal.error, seqs(&after_removal)), (0, vec![]), "nothing past it");
    assert_eq!(c.range(group, 0, 0).messages.len() as u64, removed_at, "up to it");
    assert_eq!(c.send(group, "c-late", "still here?").error, ErrorCode::NotMember.code());

    // dan: from its joining on (synced at login), nothing before it.
    d.receive_between(group, joined_at, last);
    d.drain(group);
    assert_eq!(*d.keys().first().unwrap(), joined_at, "from its joining");
    assert_eq!(d.keys(), (joined_at..=last).collect::<Vec<_>>());
    let history = d.range(group, 0, 0);
    assert_eq!(seqs(&history).first(), Some(&joined_at), "history starts at its joining");

    // eve: not a member of anything here.
    assert_eq!(e.send(group, "e1", "hi").error, ErrorCode::NotMember.code());
    assert_eq!(e.range(group, 0, 0).error, ErrorCode::UidInvalid.code());
    let info: GroupRsp = e.ask(MsgId::GroupInfoReq, &GroupReq { group_id: group });
    assert_eq!(info.error, ErrorCode::NotMember.code());
    assert_eq!(e.invite(group, &[ann]).error, ErrorCode::NotMember.code());
    let members: GroupMembersRsp =
        e.ask(MsgId::GroupMembersReq, &GroupMembersReq { group_id: group, ..Default::default() });
    assert_eq!(members.error, ErrorCode::NotMember.code());
    assert!(e.seen.is_empty());

    // The group's lists: members (paged), my groups, readers.
    let members: GroupMembersRsp =
        a.ask(MsgId::GroupMembersReq, &GroupMembersReq { group_id: group, after_uid: 0, limit: 2 });
    assert_eq!((members.error, members.members.len(), members.load_more), (0, 2, true));
    let rest: GroupMembersRsp = a.ask(
        MsgId::GroupMembersReq,
        &GroupMembersReq { group_id: group, after_uid: members.next_after, limit: 2 },
    );
    let mut all: Vec<u64> = members.members.iter().chain(&rest.members).map(|m| m.uid).collect();
    all.sort_unstable();
    assert_eq!(all, {
        let mut v = vec![ann, bob, dan];
        v.sort_unstable();
        v
    });
    let groups: LoadGroupsRsp = b.ask(MsgId::LoadGroupsReq, &LoadGroupsReq { after: 0 });
    assert_eq!(groups.groups.iter().map(|g| g.group_id).collect::<Vec<_>>(), [group]);
    let listed: LoadConversationsRsp =
        d.ask(MsgId::LoadConversationsReq, &LoadConversationsReq { after: 0 });
    let conversation = listed.conversations.iter().find(|c| c.conversation_id == group).unwrap();
    assert_eq!((conversation.kind.as_str(), conversation.name.as_str()), ("group", "climbers"));
    assert_eq!(conversation.unread, 40 - texts_before(&a, joined_at), "dan's unread texts");

    // Read receipts: bob and dan read up to the last seq; ann asks who.
    for m in [&mut b, &mut d] {
        let read = ConversationRead { conversation_id: group, seq: last };
        m.client.send(MsgId::ConversationRead, &read).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let req = GroupReadersReq { group_id: group, seq: last, after_uid: 0, limit: 0 };
        let readers: GroupReadersRsp = a.ask(MsgId::GroupReadersReq, &req);
        assert_eq!(readers.error, 0);
        assert_eq!(readers.member_count, 2, "bob and dan, not the asker");
        if readers.read_count == 2 {
            let mut expected = vec![bob, dan];
            expected.sort_unstable();
            assert_eq!(readers.readers, expected);
            break;
        }
        assert!(Instant::now() < deadline, "the read marks never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Texts among the first `seq` messages.
fn texts_before(member: &Member, seq: u64) -> u64 {
    member.seen.range(..seq).filter(|(_, (kind, _))| *kind == 0).count() as u64
}

#[test]
fn sqlite_one_order_for_everyone_across_servers() {
    one_order_for_everyone_across_servers(StoreKind::Sqlite);
}

#[test]
fn mysql_one_order_for_everyone_across_servers() {
    one_order_for_everyone_across_servers(StoreKind::Mysql);
}

/// Roles, settings and limits, each refused with its code; the group's
/// history opened to new members; a dissolved group takes nothing more.
fn roles_settings_and_limits(kind: StoreKind) {
    let adjust = |config: &mut services::chat::ChatConfig| {
        config.group_max_members = 3;
        config.groups_per_user = 2;
        config.group_invites_per_minute = 6;
    };
    let cluster = Cluster::start_with(&format!("groups_rules_{kind:?}"), kind, 2, adjust);
    let [ann, bob, cat, dan] = ["ann", "bob", "cat", "dan"].map(|n| cluster.user(n));
    cluster.befriend(ann, bob);
    cluster.befriend(ann, cat);
    cluster.befriend(bob, dan);
    let mut a = Member::login(&cluster, 0, ann);
    let mut b = Member::login(&cluster, 1, bob);

    assert_eq!(a.create("", &[bob]).error, ErrorCode::Json.code(), "a name is needed");
    assert_eq!(a.create("x", &[dan]).error, ErrorCode::NotFriends.code());
    assert_eq!(a.create("x", &[bob, cat, dan]).error, ErrorCode::GroupFull.code());
    let group = a.create("team", &[bob]).group.unwrap().group_id;

    // Members invite their friends, until the owner says admins only.
    assert_eq!(b.invite(group, &[cat]).error, ErrorCode::NotFriends.code(), "not bob's friend");
    let update =
        GroupUpdateReq { group_id: group, invite: Some("admins".into()), ..Default::default() };
    let only_admins: GroupChangeRsp = b.ask(MsgId::GroupUpdateReq, &update);
    assert_eq!(only_admins.error, ErrorCode::NotAllowed.code(), "bob is no admin");
    assert_eq!(a.ask::<GroupChangeRsp, _>(MsgId::GroupUpdateReq, &update).error, 0);
    assert_eq!(b.invite(group, &[dan]).error, ErrorCode::NotAllowed.code());
    let role = GroupSetRoleReq { group_id: group, uid: bob, role: "admin".into() };
    assert_eq!(
        b.ask::<GroupChangeRsp, _>(MsgId::GroupSetRoleReq, &role).error,
        ErrorCode::NotAllowed.code()
    );
    assert_eq!(a.ask::<GroupChangeRsp, _>(MsgId::GroupSetRoleReq, &role).error, 0);
    // History opened before dan joins: he reads from the start.
    let open =
        GroupUpdateReq { group_id: group, history_visible: Some(true), ..Default::default() };
    assert_eq!(b.ask::<GroupChangeRsp, _>(MsgId::GroupUpdateReq, &open).error, 0, "admins may");
    assert_eq!(b.send(group, "b1", "before dan").error, 0);
    let joined = b.invite(group, &[dan]);
    assert_eq!(joined.error, 0, "an admin invites");
    assert_eq!(a.invite(group, &[cat]).error, ErrorCode::GroupFull.code(), "3 members at most");
    let mut d = Member::login(&cluster, 1, dan);
    assert_eq!(d.range(group, 0, 0).messages.first().map(|m| m.seq), Some(1), "history is open");
    // An admin may not remove an admin or the owner; the owner may.
    assert_eq!(b.remove(group, ann).error, ErrorCode::NotAllowed.code());
    assert_eq!(d.remove(group, bob).error, ErrorCode::NotAllowed.code(), "dan is a member");
    assert_eq!(b.remove(group, dan).error, 0, "an admin removes a member");

    // Groups per user: ann is in one; a second is fine, a third is not.
    assert_eq!(a.create("two", &[]).error, 0);
    assert_eq!(a.create("three", &[]).error, ErrorCode::GroupFull.code());
    // Invitations per minute (6 here): ann has asked for 4 (refusals count).
    assert_eq!(a.invite(group, &[cat, cat, cat]).error, ErrorCode::RateLimited.code());

    // Ownership moves with a leaving owner; a dissolved group takes nothing.
    let left: GroupChangeRsp = a.ask(MsgId::GroupLeaveReq, &GroupReq { group_id: group });
    assert_eq!(left.error, 0);
    let info: GroupRsp = b.ask(MsgId::GroupInfoReq, &GroupReq { group_id: group });
    assert_eq!((info.group.as_ref().unwrap().owner, info.group.unwrap().member_count), (bob, 1));
    let dissolved: GroupChangeRsp = b.ask(MsgId::GroupDissolveReq, &GroupReq { group_id: group });
    assert_eq!(dissolved.error, 0);
    assert_eq!(b.send(group, "b2", "anyone?").error, ErrorCode::NotMember.code());
    b.receive_up_to(group, dissolved.seq);
    assert_eq!(b.event(dissolved.seq), GroupEvent::Dissolved { by: bob });
}

#[test]
fn sqlite_roles_settings_and_limits() {
    roles_settings_and_limits(StoreKind::Sqlite);
}

#[test]
fn mysql_roles_settings_and_limits() {
    roles_settings_and_limits(StoreKind::Mysql);
}

/// A member that stops reading does not slow the others: they get every
/// message while its socket is full; it catches up (a sync from its
/// watermark) once it reads again, without a hole.
fn a_member_that_stops_reading(kind: StoreKind) {
    let adjust = |config: &mut services::chat::ChatConfig| {
        config.high_water_bytes = 64 * 1024;
    };
    let cluster = Cluster::start_with(&format!("groups_slow_{kind:?}"), kind, 2, adjust);
    let [ann, bob, cat] = ["ann", "bob", "cat"].map(|n| cluster.user(n));
    cluster.befriend(ann, bob);
    cluster.befriend(ann, cat);
    let mut a = Member::login(&cluster, 0, ann);
    let mut b = Member::login(&cluster, 1, bob);
    let mut slow = Member::login(&cluster, 1, cat);
    let group = a.create("busy", &[bob, cat]).group.unwrap().group_id;
    b.receive_up_to(group, 2);

    // 12 MB of pushes: far more than the slow member's socket buffers hold.
    // bob reads all along (on a thread of his own); cat reads nothing.
    let content = "x".repeat(4000);
    let count: u64 = 3000;
    let started = Instant::now();
    let reading = std::thread::spawn(move || {
        b.receive_up_to(group, 2 + count);
        b
    });
    a.send_many_from(group, 0, count, 16, &content);
    let b = reading.join().unwrap();
    assert_eq!(b.keys(), (1..=2 + count).collect::<Vec<_>>());
    log::info!("bob had all {count} in {:?}", started.elapsed());
    let skipped = cluster.chat(1).metrics_text();
    assert!(
        metric(&skipped, "im_chat_group_pushes_skipped_total") > 0,
        "cat's pushes were skipped, not queued"
    );

    // cat reads again: everything, in order, by the catch-up.
    slow.receive_up_to(group, 2 + count);
    assert_eq!(slow.keys(), (1..=2 + count).collect::<Vec<_>>());
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sqlite_a_member_that_stops_reading() {
    a_member_that_stops_reading(StoreKind::Sqlite);
}

#[test]
fn mysql_a_member_that_stops_reading() {
    a_member_that_stops_reading(StoreKind::Mysql);
}

/// kill -9 of the chat server that holds the sender and one member while
/// the sender sends: every acknowledged message reaches every member
/// exactly once (after de-duplication by message id), without a hole, once
/// they are back on the surviving server.
fn a_killed_chat_server_loses_no_acknowledged_group_message(kind: StoreKind) {
    let cluster = Cluster::start(&format!("groups_kill_{kind:?}"), kind, 1);
    let process = cluster.spawn_chat_process("chat-doomed");
    let [ann, bob, cat] = ["ann", "bob", "cat"].map(|n| cluster.user(n));
    cluster.befriend(ann, bob);
    cluster.befriend(ann, cat);
    let mut a = Member::of(cluster.login_at(process.addr, ann), ann);
    let mut b = Member::login(&cluster, 0, bob);
    let c = cluster.login_at(process.addr, cat);
    let group = a.create("doomed", &[bob, cat]).group.unwrap().group_id;
    b.receive_up_to(group, 2);

    let sending = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for n in 0.. {
            let req = TextChatMsgReq {
                touid: 0,
                group_id: group,
                thread_id: None,
                text_array: vec![TextItem { content: format!("m{n}"), unique_id: format!("u{n}") }],
                fromuid: None,
            };
            if a.client.send(MsgId::TextChatMsgReq, &req).is_err() {
                break;
            }
            match a.client.recv_json::<TextChatMsgRsp>(MsgId::TextChatMsgRsp, WAIT) {
                Ok(answer) if answer.error == 0 => {
                    acknowledged.push(answer.chat_datas[0].message_id)
                }
                _ => break,
            }
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(500));
    testkit::process::send_signal(process.child.id(), "-KILL");
    let acknowledged = sending.join().unwrap();
    drop(c);
    assert!(acknowledged.len() > 10, "only {} messages were sent", acknowledged.len());

    // bob stayed on the survivor (live pushes), then logs in again (a sync
    // catches what died with the other server); cat comes over.
    b.drain(group);
    let (again, _) = cluster.login_device(0, bob, &format!("pc-{bob}"), "desktop");
    let mut b_again = Member { client: again, ..b };
    let mut c_again = Member::of(cluster.login(0, cat).0, cat);
    let last = 2 + acknowledged.len() as u64;
    for member in [&mut b_again, &mut c_again] {
        member.receive_up_to(group, last);
        member.drain(group);
        let missing = acknowledged.iter().filter(|id| !member.ids.contains(id)).count();
        assert_eq!(missing, 0, "uid {}: acknowledged messages missing", member.uid);
        let keys = member.keys();
        assert_eq!(keys, (1..=*keys.last().unwrap()).collect::<Vec<_>>(), "no hole");
    }
}

#[test]
fn sqlite_a_killed_chat_server_loses_no_acknowledged_group_message() {
    a_killed_chat_server_loses_no_acknowledged_group_message(StoreKind::Sqlite);
}

#[test]
fn mysql_a_killed_chat_server_loses_no_acknowledged_group_message() {
    a_killed_chat_server_loses_no_acknowledged_group_message(StoreKind::Mysql);
}

/// A group at 2,000 members (the limit set there): made from the owner's
/// friends, invited 400 at a time (a request body holds 8 KiB), refused one
/// more, its members listed in
/// pages, a message stored once and pushed to the members online on both
/// servers, and synced to one who logs in afterwards.
fn a_group_of_two_thousand(kind: StoreKind) {
    const MEMBERS: usize = 2000;
    let adjust = |config: &mut services::chat::ChatConfig| {
        config.group_max_members = MEMBERS;
        config.group_invites_per_minute = 10 * MEMBERS;
    };
    let cluster = Cluster::start_with(&format!("groups_2000_{kind:?}"), kind, 2, adjust);
    let mut store = cluster.store();
    let users: Vec<services::store::model::NewUser> = (0..=MEMBERS)
        .map(|i| services::store::model::NewUser {
            name: format!("m{i}"),
            email: format!("m{i}@example.com"),
            ..Default::default()
        })
        .collect();
    let uids = store.create_users(&users).unwrap();
    let (owner, others, extra) = (uids[0], &uids[1..MEMBERS], uids[MEMBERS]);
    let pairs: Vec<(u64, u64)> = uids[1..].iter().map(|&u| (owner, u)).collect();
    store.befriend_pairs(&pairs).unwrap();

    let mut a = Member::login(&cluster, 0, owner);
    let created = a.create("two thousand", &others[..400]);
    assert_eq!(created.error, 0);
    let group = created.group.unwrap().group_id;
    for chunk in others[400..].chunks(400) {
        assert_eq!(a.invite(group, chunk).error, 0);
    }
    let info: GroupRsp = a.ask(MsgId::GroupInfoReq, &GroupReq { group_id: group });
    assert_eq!(info.group.unwrap().member_count as usize, MEMBERS);
    assert_eq!(a.invite(group, &[extra]).error, ErrorCode::GroupFull.code(), "one too many");

    // Members in pages of at most 200, every one of them once.
    let mut listed = Vec::new();
    let mut after_uid = 0;
    loop {
        let page: GroupMembersRsp = a
            .ask(MsgId::GroupMembersReq, &GroupMembersReq { group_id: group, after_uid, limit: 0 });
        assert_eq!(page.error, 0);
        assert!(page.members.len() <= 200);
        listed.extend(page.members.iter().map(|m| m.uid));
        if !page.load_more {
            break;
        }
        after_uid = page.next_after;
    }
    listed.sort_unstable();
    let mut expected = uids[..MEMBERS].to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    // Some members online on each server get it live; one more, at its login.
    let mut online: Vec<Member> =
        others[..6].iter().enumerate().map(|(i, &u)| Member::login(&cluster, i % 2, u)).collect();
    let sent = a.send(group, "big-1", "hello, two thousand");
    let seq = sent.chat_datas[0].seq;
    assert_eq!((sent.error, seq), (0, 2 + 4 + 1), "after created, joined and four invitations");
    for m in &mut online {
        m.receive_between(group, seq, seq);
    }
    let (late, _) = cluster.login(1, others[1000]);
    let mut late = Member::of(late, others[1000]);
    late.receive_between(group, seq, seq);
    assert_eq!(late.seen[&seq].1, "hello, two thousand");
    // Stored once: one row, whatever the number of members.
    let stored = store.member_range(owner, group, seq - 1, 0, 10, false).unwrap().unwrap();
    assert_eq!(stored.len(), 1);
}

#[test]
fn sqlite_a_group_of_two_thousand() {
    a_group_of_two_thousand(StoreKind::Sqlite);
}

#[test]
fn mysql_a_group_of_two_thousand() {
    a_group_of_two_thousand(StoreKind::Mysql);
}
