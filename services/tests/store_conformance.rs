//! The store's conformance suite: every operation and its rules. Written
//! once against `StoreConn`; both backends run it: the embedded SQLite
//! backend on a fresh file per test, and MySQL/MariaDB on a fresh database
//! per test (dropped afterwards) on the server named by IM_TEST_MYSQL_URL,
//! by default mysql://root@127.0.0.1:3306 (tools/test.sh provides one).

mod util;

use mysql::prelude::Queryable;
use services::store::model::*;
use services::store::watermarks::HeldAcks;
use services::store::{StoreConn, StoreError};
use util::{new_user, TempMysql, TempSqlite};

fn message(sender: u64, receiver: u64, unique_id: &str) -> NewMessage {
    NewMessage {
        group: 0,
        sender,
        receiver,
        unique_id: unique_id.into(),
        content: format!("text {unique_id}"),
    }
}

// ----- the suite, generic over the backend --------------------------------

fn users_are_unique_by_name_and_email(store: &mut impl StoreConn) {
    let uid = store.create_user(&new_user("alice")).unwrap();
    assert!(uid > 0);
    let same_name = NewUser { email: "other@example.com".into(), ..new_user("alice") };
    assert!(matches!(store.create_user(&same_name), Err(StoreError::Conflict(_))));
    let same_email = NewUser { name: "alice2".into(), ..new_user("alice") };
    assert!(matches!(store.create_user(&same_email), Err(StoreError::Conflict(_))));

    let by_uid = store.user_by_uid(uid).unwrap().unwrap();
    assert_eq!(by_uid.name, "alice");
    assert_eq!(store.user_by_name("alice").unwrap(), Some(by_uid.clone()));
    assert_eq!(store.user_by_email("alice@example.com").unwrap(), Some(by_uid));
    assert_eq!(store.user_by_name("nobody").unwrap(), None);
    assert_eq!(store.user_by_uid(9999).unwrap(), None);

    assert!(store.update_password_hash(uid, "$argon2id$new").unwrap());
    assert_eq!(store.user_by_uid(uid).unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(!store.update_password_hash(9999, "x").unwrap());
}

fn session_token(uid: u64, device: &str, tag: u8, created_ms: i64) -> SessionToken {
    SessionToken {
        token_hash: [tag; 32],
        uid,
        device: device.into(),
        created_ms,
        expires_ms: created_ms + 1_000,
    }
}

/// Session tokens (schema 6): found by hash until they expire, one per
/// (user, device), a bounded number per user, gone after a logout and after
/// a password reset.
fn session_tokens_resume_until_revoked(store: &mut impl StoreConn) {
    let ann = store.create_user(&new_user("ann")).unwrap();
    let bob = store.create_user(&new_user("bob")).unwrap();
    let phone = session_token(ann, "phone", 1, 10_000);
    store.store_session_token(&phone, 3).unwrap();
    assert_eq!(store.session_token(&[1; 32], 10_999).unwrap(), Some(phone.clone()));
    assert_eq!(store.session_token(&[1; 32], 11_000).unwrap(), None, "expired");
    assert_eq!(store.session_token(&[9; 32], 10_000).unwrap(), None, "unknown");

    // A new login of the same device replaces its token.
    store.store_session_token(&session_token(ann, "phone", 2, 10_100), 3).unwrap();
    assert_eq!(store.session_token(&[1; 32], 10_100).unwrap(), None);
    assert!(store.session_token(&[2; 32], 10_100).unwrap().is_some());

    // Beyond the cap, the oldest go; other users are untouched.
    store.store_session_token(&session_token(bob, "desk", 3, 10_200), 3).unwrap();
    for (tag, device, at) in [(4, "desk", 10_300), (5, "web", 10_400), (6, "tablet", 10_500)] {
        store.store_session_token(&session_token(ann, device, tag, at), 3).unwrap();
    }
    assert_eq!(store.session_token(&[2; 32], 10_500).unwrap(), None, "the oldest of four");
    for tag in [3, 4, 5, 6] {
        assert!(store.session_token(&[tag; 32], 10_500).unwrap().is_some(), "token {tag}");
    }

    // A logout revokes its token only.
    assert!(store.revoke_session_token(&[4; 32]).unwrap());
    assert!(!store.revoke_session_token(&[4; 32]).unwrap());
    assert_eq!(store.session_token(&[4; 32], 10_500).unwrap(), None);
    assert!(store.session_token(&[5; 32], 10_500).unwrap().is_some());

    // A new password revokes every token of its user, not another's.
    assert!(store.update_password_hash(ann, "$argon2id$reset").unwrap());
    for tag in [5, 6] {
        assert_eq!(store.session_token(&[tag; 32], 10_500).unwrap(), None, "token {tag}");
    }
    assert!(store.session_token(&[3; 32], 10_500).unwrap().is_some(), "bob's stays");

    // Expired tokens of a user are swept when it stores another.
    store.store_session_token(&session_token(bob, "web", 7, 20_000), 3).unwrap();
    assert_eq!(store.session_token(&[3; 32], 0).unwrap(), None, "swept, whatever the clock");
}

/// Names and addresses are one whatever the case of their ASCII letters
/// (schema 5): a second `EXIST` beside `exist` is refused, and either
/// spelling finds the account, which keeps the spelling it was given.
fn names_and_addresses_ignore_case(store: &mut impl StoreConn) {
    let uid = store
        .create_user(&NewUser { email: "Ann@Example.COM".into(), ..new_user("Exist") })
        .unwrap();
    let same_name = NewUser { email: "other@example.com".into(), ..new_user("eXIST") };
    assert!(matches!(store.create_user(&same_name), Err(StoreError::Conflict(_))));
    let same_email = NewUser { email: "ann@example.com".into(), ..new_user("someone") };
    assert!(matches!(store.create_user(&same_email), Err(StoreError::Conflict(_))));
    for name in ["Exist", "exist", "EXIST"] {
        let found = store.user_by_name(name).unwrap().expect(name);
        assert_eq!((found.uid, found.name.as_str()), (uid, "Exist"), "{name}");
    }
    assert_eq!(store.user_by_email("ann@example.com").unwrap().map(|u| u.uid), Some(uid));
    assert_eq!(store.user_by_email("ANN@EXAMPLE.COM").unwrap().unwrap().email, "Ann@Example.COM");
    // Only ASCII letters fold: other characters are compared as they are.
    store.create_user(&NewUser { email: "e1@example.com".into(), ..new_user("Émile") }).unwrap();
    store.create_user(&NewUser { email: "e2@example.com".into(), ..new_user("émile") }).unwrap();
    assert_eq!(store.user_by_name("éMILE").unwrap().unwrap().name, "émile");
}

/// Accounts registered before schema 5 whose names differ only in case
/// both keep working: each is found by its exact name, the oldest also by
/// any other spelling, and no third spelling can be registered.
fn colliding_names_of_an_older_store_both_keep_working(store: &mut impl StoreConn) {
    assert_eq!(store.user_by_name("Dup").unwrap().unwrap().uid, 1);
    assert_eq!(store.user_by_name("dup").unwrap().unwrap().uid, 2);
    assert_eq!(store.user_by_name("DUP").unwrap().unwrap().uid, 1, "the oldest takes the key");
    assert_eq!(store.user_by_email("dup2@example.com").unwrap().unwrap().uid, 2);
    assert_eq!(store.user_by_email("DUP1@example.com").unwrap().unwrap().uid, 1);
    let third = NewUser { email: "dup3@example.com".into(), ..new_user("dUp") };
    assert!(matches!(store.create_user(&third), Err(StoreError::Conflict(_))));
}

/// Two accounts that differ only in the case of their names, as a store
/// before version 5 allowed.
const COLLIDING_USERS: &str = "INSERT INTO users (uid, name, email, password_hash) VALUES \
     (1, 'Dup', 'Dup1@example.com', 'h'), (2, 'dup', 'dup2@example.com', 'h');\n";

fn friends_are_made_by_application_and_acceptance(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("ann")).unwrap();
    let b = store.create_user(&new_user("bob")).unwrap();
    let c = store.create_user(&new_user("cid")).unwrap();
    assert!(
        matches!(store.accept_friend(a, b, "x"), Err(StoreError::Conflict(_))),
        "nothing to accept"
    );

    store.apply_friend(a, b, "hi bob, it's ann", "Bobby").unwrap();
    store.apply_friend(c, b, "cid here", "B").unwrap();
    assert!(
        matches!(store.apply_friend(a, b, "hi again", "Bob"), Err(StoreError::Conflict(_))),
        "a pending application is not repeated"
    );
    let pending = store.login_data(b).unwrap().unwrap().applications;
    let applicants: Vec<(&str, &str)> =
        pending.iter().map(|p| (p.applicant.name.as_str(), p.apply_text.as_str())).collect();
    assert_eq!(applicants, vec![("ann", "hi bob, it's ann"), ("cid", "cid here")]);

    let thread_id = store.accept_friend(a, b, "Annie").unwrap();
    assert!(store.are_friends(a, b).unwrap() && store.are_friends(b, a).unwrap());
    assert!(!store.are_friends(a, c).unwrap());
    assert_eq!(
        store.private_thread(b, a).unwrap(),
        thread_id,
        "the thread was created with the friendship"
    );
    assert!(
        matches!(store.apply_friend(a, b, "again", "x"), Err(StoreError::Conflict(_))),
        "already friends"
    );

    let ann = store.login_data(a).unwrap().unwrap();
    assert_eq!(ann.friends.len(), 1);
    assert_eq!(
        (ann.friends[0].user.name.as_str(), ann.friends[0].remark.as_str()),
        ("bob", "Bobby")
    );
    let bob = store.login_data(b).unwrap().unwrap();
    assert_eq!(
        (bob.friends[0].user.name.as_str(), bob.friends[0].remark.as_str()),
        ("ann", "Annie")
    );
    assert_eq!(bob.applications.len(), 1, "only cid's application is still pending");
    assert_eq!(store.login_data(12345).unwrap(), None);
}

fn threads_are_private_unique_and_paged(store: &mut impl StoreConn) {
    let me = store.create_user(&new_user("me")).unwrap();
    let others: Vec<u64> =
        (0..5).map(|i| store.create_user(&new_user(&format!("o{i}"))).unwrap()).collect();
    let ids: Vec<u64> = others.iter().map(|&o| store.private_thread(me, o).unwrap()).collect();
    assert_eq!(store.private_thread(others[0], me).unwrap(), ids[0], "one thread per pair");
    let record = store.thread(ids[2]).unwrap().unwrap();
    assert_eq!((record.user1_id, record.user2_id), (me.min(others[2]), me.max(others[2])));

    let first = store.threads_of(me, 0, 3).unwrap();
    assert_eq!(first.iter().map(|t| t.thread_id).collect::<Vec<_>>(), ids[..3]);
    let rest = store.threads_of(me, first.last().unwrap().thread_id, 3).unwrap();
    assert_eq!(rest.iter().map(|t| t.thread_id).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(store.threads_of(others[1], 0, 10).unwrap().len(), 1);
    assert_eq!(store.thread(999_999).unwrap(), None);
}

/// Everything the legacy device of `uid` has not received, by message id.
fn backlog_ids(store: &mut impl StoreConn, uid: u64) -> Vec<u64> {
    let page = store.backlog(uid, LEGACY_DEVICE, SeqCursor::default(), 1000).unwrap();
    page.messages.iter().map(|m| m.message_id).collect()
}

fn acknowledge_ids(store: &mut impl StoreConn, uid: u64, ids: &[u64]) -> u64 {
    store.acknowledge(&[DeliveryAck::of_messages(uid, ids.to_vec())]).unwrap()
}

fn messages_are_numbered_idempotent_paged_and_synced(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("sender")).unwrap();
    let b = store.create_user(&new_user("receiver")).unwrap();
    let batch: Vec<NewMessage> = (0..10).map(|i| message(a, b, &format!("u{i}"))).collect();
    let stored = store.append_messages(&batch).unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.windows(2).all(|w| w[0].message_id < w[1].message_id), "ids in batch order");
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    let thread_id = stored[0].thread_id;
    assert!(stored.iter().all(|m| m.thread_id == thread_id && !m.delivered && m.chat_time > 0));

    // A resend (same sender and unique_id) returns the stored message and
    // takes no seq; the new one beside it is numbered right after.
    // It says it was stored before (so it is not pushed again).
    let resent = store.append_messages(&[message(a, b, "u3"), message(a, b, "u10")]).unwrap();
    assert_eq!(resent[0], StoredMessage { resent: true, ..stored[3].clone() });
    assert_eq!((resent[1].seq, resent[1].resent), (11, false));
    assert!(stored.iter().all(|m| !m.resent));
    // The same unique_id twice in one batch is one message.
    let twice = store.append_messages(&[message(a, b, "u12"), message(a, b, "u12")]).unwrap();
    assert_eq!((twice[0].seq, twice[1].message_id), (12, twice[0].message_id));
    // The same unique_id from another sender is another message, in the same conversation.
    let other = store.append_messages(&[message(b, a, "u3")]).unwrap();
    assert_ne!(other[0].message_id, stored[3].message_id);
    assert_eq!((other[0].thread_id, other[0].seq), (thread_id, 13), "both directions share it");

    // Paging backwards through the conversation (13 messages).
    let page1 = store.thread_page(thread_id, 0, 5).unwrap();
    assert_eq!(page1.iter().map(|m| m.seq).collect::<Vec<_>>(), [13, 12, 11, 10, 9]);
    let page2 = store.thread_page(thread_id, page1[4].message_id, 5).unwrap();
    let page3 = store.thread_page(thread_id, page2[4].message_id, 5).unwrap();
    assert_eq!((page2.len(), page3.len()), (5, 3));
    assert!(store.thread_page(thread_id, page3[2].message_id, 5).unwrap().is_empty());

    // The legacy device of b is owed the 12 messages a sent (not its own),
    // oldest first, in pages that resume after a cursor.
    let owed = store.backlog(b, LEGACY_DEVICE, SeqCursor::default(), 100).unwrap();
    assert_eq!(owed.messages.len(), 12);
    assert!(!owed.more && owed.messages.iter().all(|m| m.sender == a));
    let first = store.backlog(b, LEGACY_DEVICE, SeqCursor::default(), 4).unwrap();
    assert!(first.more);
    assert_eq!(first.next, SeqCursor { thread_id, seq: 4 });
    let next = store.backlog(b, LEGACY_DEVICE, first.next, 4).unwrap();
    assert_eq!(next.messages[0].message_id, owed.messages[4].message_id);
    assert_eq!(backlog_ids(store, a), [other[0].message_id]);

    // Acknowledgements raise b's watermark; twice changes nothing; a
    // message to someone else is not the acknowledger's to acknowledge.
    let ids: Vec<u64> = owed.messages[..6].iter().map(|m| m.message_id).collect();
    assert_eq!(acknowledge_ids(store, b, &ids), 1);
    assert_eq!(acknowledge_ids(store, b, &ids), 0);
    assert_eq!(acknowledge_ids(store, a, &[owed.messages[7].message_id]), 0, "not a's message");
    let left: Vec<u64> = owed.messages[6..].iter().map(|m| m.message_id).collect();
    assert_eq!(backlog_ids(store, b), left);

    // History tells delivered from not; a resent delivered message says so.
    let history = store.thread_page(thread_id, 0, 100).unwrap();
    let delivered: Vec<u64> =
        history.iter().filter(|m| m.delivered).map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(delivered, [6, 5, 4, 3, 2, 1]);
    let again = store.append_messages(&[message(a, b, "u0"), message(a, b, "u13")]).unwrap();
    assert_eq!((again[0].message_id, again[0].delivered), (stored[0].message_id, true));
    assert!(!again[1].delivered);
    assert_eq!(backlog_ids(store, b), [left, vec![again[1].message_id]].concat());
}

/// The legacy device is not behind in a conversation where only its own
/// messages are above its watermark; a named device is (it is given them).
fn a_run_of_ones_own_messages_is_no_backlog_for_the_legacy_device(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("own-a")).unwrap();
    let b = store.create_user(&new_user("own-b")).unwrap();
    let thread = store.append_messages(&[message(a, b, "o1")]).unwrap()[0].thread_id;
    let up_to = |device: &str| DeliveryAck {
        uid: b,
        device: device.into(),
        acknowledged: Acknowledged::UpTo { conversation: thread, seq: 1 },
    };
    store.acknowledge(&[up_to(LEGACY_DEVICE)]).unwrap();
    store.register_device(b, "pc", 1, 10).unwrap(); // starts at seq 1
    let own: Vec<NewMessage> = (2..5).map(|i| message(b, a, &format!("o{i}"))).collect();
    store.append_messages(&own).unwrap();
    assert!(store.conversations_behind(b, LEGACY_DEVICE, 0, 10).unwrap().is_empty());
    let behind = |thread_id, watermark| Behind { thread_id, watermark, until: 4 };
    assert_eq!(store.conversations_behind(b, "pc", 0, 10).unwrap(), [behind(thread, 1)]);
    store.append_messages(&[message(a, b, "o5")]).unwrap();
    let behind = Behind { thread_id: thread, watermark: 1, until: 5 };
    assert_eq!(store.conversations_behind(b, LEGACY_DEVICE, 0, 10).unwrap(), [behind]);
    assert_eq!(backlog_ids(store, b).len(), 1, "only a's newest");
}

/// Everything `device` of `uid` has not received, by seq.
fn device_backlog(store: &mut impl StoreConn, uid: u64, device: &str) -> Vec<u64> {
    let page = store.backlog(uid, device, SeqCursor::default(), 1000).unwrap();
    page.messages.iter().map(|m| m.seq).collect()
}

/// A new device starts at its user's current place; each device keeps its
/// own watermark and is given its user's own messages too (they are shown
/// on every device); past the cap the device seen longest ago is forgotten.
fn devices_start_where_their_user_is_and_keep_their_own_place(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("dev-a")).unwrap();
    let b = store.create_user(&new_user("dev-b")).unwrap();
    let batch: Vec<NewMessage> = (0..3).map(|i| message(a, b, &format!("d{i}"))).collect();
    let thread_id = store.append_messages(&batch).unwrap()[0].thread_id;
    assert_eq!(device_backlog(store, b, LEGACY_DEVICE), [1, 2, 3]);

    assert!(store.register_device(b, "phone", 2, 3).unwrap(), "new");
    assert!(!store.register_device(b, "phone", 2, 3).unwrap(), "seen before");
    assert!(device_backlog(store, b, "phone").is_empty(), "the first three are history to it");
    store.append_messages(&[message(a, b, "d3"), message(b, a, "d4")]).unwrap();
    assert_eq!(device_backlog(store, b, "phone"), [4, 5], "b's own message too");
    assert_eq!(device_backlog(store, b, LEGACY_DEVICE), [1, 2, 3, 4], "not its own");

    // The phone's acknowledgement moves the phone only.
    let up_to = Acknowledged::UpTo { conversation: thread_id, seq: 5 };
    let ack = DeliveryAck { uid: b, device: "phone".into(), acknowledged: up_to };
    assert_eq!(store.acknowledge(&[ack]).unwrap(), 1);
    assert!(device_backlog(store, b, "phone").is_empty());
    assert_eq!(device_backlog(store, b, LEGACY_DEVICE), [1, 2, 3, 4]);

    // A conversation begun after the device was registered is all new to it.
    let c = store.create_user(&new_user("dev-c")).unwrap();
    store.append_messages(&[message(c, b, "d5")]).unwrap();
    assert_eq!(device_backlog(store, b, "phone"), [1]);

    // Cap 3: a fourth device makes the one seen longest ago go, with its
    // watermarks (it would start afresh if it came back).
    for device in ["pc", "tablet"] {
        std::thread::sleep(std::time::Duration::from_millis(3)); // distinct last_seen
        assert!(store.register_device(b, device, 1, 3).unwrap());
    }
    std::thread::sleep(std::time::Duration::from_millis(3));
    assert!(!store.register_device(b, "phone", 2, 3).unwrap(), "seen again: now the newest");
    std::thread::sleep(std::time::Duration::from_millis(3));
    assert!(store.register_device(b, "laptop", 1, 3).unwrap());
    assert!(store.register_device(b, "pc", 1, 3).unwrap(), "pc was forgotten");
    assert!(!store.register_device(b, "phone", 2, 3).unwrap(), "phone was kept");
    assert_eq!(device_backlog(store, b, "phone"), [1], "and kept its place");
}

/// The first screen: each conversation with its last message and seq, the
/// device's delivered seq, both read seqs and the unread count. Read marks
/// only rise, are clamped and are for members only; ranges by seq are for
/// members only, forwards (gap filling) and backwards (history).
fn conversations_read_marks_and_ranges(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("list-a")).unwrap();
    let b = store.create_user(&new_user("list-b")).unwrap();
    let c = store.create_user(&new_user("list-c")).unwrap();
    let to_b: Vec<NewMessage> = (0..4).map(|i| message(a, b, &format!("l{i}"))).collect();
    let ab = store.append_messages(&to_b).unwrap()[0].thread_id;
    store.append_messages(&[message(b, a, "l4")]).unwrap();
    let cb = store.append_messages(&[message(c, b, "l5")]).unwrap()[0].thread_id;
    let up_to = Acknowledged::UpTo { conversation: ab, seq: 3 };
    store.acknowledge(&[DeliveryAck { uid: b, device: "pc".into(), acknowledged: up_to }]).unwrap();

    let list = store.conversations(b, "pc", 0, 10).unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!((first.thread_id, first.peer, first.last_seq), (ab, a, 5));
    assert_eq!((first.delivered_seq, first.read_seq, first.peer_read_seq), (3, 0, 0));
    assert_eq!(first.unread, 4, "a's four, not b's own");
    assert_eq!(first.last_message.as_ref().unwrap().unique_id, "l4");
    assert_eq!((list[1].thread_id, list[1].unread, list[1].delivered_seq), (cb, 1, 0));
    assert_eq!(store.conversations(b, "pc", ab, 10).unwrap().len(), 1, "after a cursor");

    // Read marks: rise only, clamp to the last seq, members only.
    let mark = store.mark_read(b, ab, 2).unwrap().unwrap();
    assert_eq!((mark.thread_id, mark.reader, mark.peer, mark.seq), (ab, b, a, 2));
    assert_eq!(store.mark_read(b, ab, 2).unwrap(), None, "already there");
    assert_eq!(store.mark_read(b, ab, 1).unwrap(), None, "never down");
    assert_eq!(store.mark_read(c, ab, 5).unwrap(), None, "not a member");
    assert_eq!(store.mark_read(a, ab, 99).unwrap().unwrap().seq, 5, "clamped");
    let list = store.conversations(b, "phone", 0, 1).unwrap();
    assert_eq!((list[0].read_seq, list[0].peer_read_seq, list[0].unread), (2, 5, 2));
    assert_eq!(list[0].delivered_seq, 0, "the phone's own watermark");

    // Ranges by seq.
    let seqs =
        |page: Option<Vec<StoredMessage>>| page.unwrap().iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.member_range(b, ab, 1, 0, 2, false).unwrap()), [2, 3], "forwards");
    assert_eq!(seqs(store.member_range(b, ab, 0, 5, 2, true).unwrap()), [3, 4], "backwards");
    assert_eq!(seqs(store.member_range(a, ab, 2, 4, 10, false).unwrap()), [3], "between");
    assert_eq!(store.member_range(c, ab, 0, 0, 10, false).unwrap(), None, "not a member");
    assert_eq!(store.member_range(c, 9_999, 0, 0, 10, false).unwrap(), None, "no such one");
    let history = store.member_range(a, ab, 0, 0, 10, false).unwrap().unwrap();
    let delivered: Vec<bool> = history.iter().map(|m| m.delivered).collect();
    assert_eq!(delivered[..4], [true, true, true, false], "any device of b's: the pc has 1-3");
}

/// Out-of-order acknowledgements wait for the seqs below them; a user's own
/// messages do not stop its watermark; a cumulative acknowledgement is for
/// members only and stops at the conversation's end.
fn watermarks_rise_only_over_contiguous_seqs(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("wm-a")).unwrap();
    let b = store.create_user(&new_user("wm-b")).unwrap();
    let stranger = store.create_user(&new_user("wm-c")).unwrap();
    // Seqs 1-3 from a, 4 from b, 5-8 from a.
    let mut all = store
        .append_messages(&[message(a, b, "1"), message(a, b, "2"), message(a, b, "3")])
        .unwrap();
    all.extend(store.append_messages(&[message(b, a, "4")]).unwrap());
    all.extend(
        store
            .append_messages(&(5..=8).map(|i| message(a, b, &i.to_string())).collect::<Vec<_>>())
            .unwrap(),
    );
    let id = |seq: usize| all[seq - 1].message_id;
    let conversation = all[0].thread_id;
    let watermark = |store: &mut dyn StoreConn| store.receiver_watermark(b, conversation).unwrap();

    // Without memory between batches, 2 and 3 before 1 are forgotten.
    acknowledge_ids(store, b, &[id(2), id(3)]);
    assert_eq!(watermark(store), 0);
    acknowledge_ids(store, b, &[id(1)]);
    assert_eq!(watermark(store), 1);
    // With it, 6 and 7 wait for 5; 4 is b's own and does not stop it.
    let mut held = HeldAcks::new(100);
    let ack = |ids: Vec<u64>| [DeliveryAck::of_messages(b, ids)];
    store.acknowledge_holding(&ack(vec![id(6), id(7)]), &mut held).unwrap();
    assert_eq!((watermark(store), held.len()), (1, 2));
    store.acknowledge_holding(&ack(vec![id(2), id(3), id(5)]), &mut held).unwrap();
    assert_eq!((watermark(store), held.len()), (7, 0));
    assert_eq!(backlog_ids(store, b), [id(8)]);

    // Cumulative: clamped to the last seq, never lowered, members only.
    let up_to = |uid, seq| DeliveryAck {
        uid,
        device: LEGACY_DEVICE.into(),
        acknowledged: Acknowledged::UpTo { conversation, seq },
    };
    store.acknowledge(&[up_to(stranger, 8)]).unwrap();
    assert_eq!(store.receiver_watermark(stranger, conversation).unwrap(), 0, "not a member");
    store.acknowledge(&[up_to(b, 99)]).unwrap();
    assert_eq!(watermark(store), 8);
    store.acknowledge(&[up_to(b, 3)]).unwrap();
    assert_eq!(watermark(store), 8, "never lowered");
    assert!(backlog_ids(store, b).is_empty());

    // Devices keep their own places.
    let desktop = DeliveryAck { device: "desk".into(), ..up_to(a, 2) };
    store.acknowledge(&[desktop]).unwrap();
    let owed = store.backlog(a, "desk", SeqCursor::default(), 100).unwrap();
    assert_eq!(
        owed.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (3..=8).collect::<Vec<_>>()
    );
    assert_eq!(backlog_ids(store, a), [id(4)], "the legacy device is not given its own");
}

/// Acknowledgements of many receivers and conversations in one batch
/// (more keys than one MySQL statement takes) move exactly their own.
fn large_acknowledgements_move_exactly_their_own_watermarks(store: &mut impl StoreConn) {
    let sender = store.create_user(&new_user("bulk-sender")).unwrap();
    let b = store.create_user(&new_user("bulk-b")).unwrap();
    let c = store.create_user(&new_user("bulk-c")).unwrap();
    let receivers: Vec<u64> = store
        .create_users(&(0..1100).map(|i| new_user(&format!("bulk-r{i}"))).collect::<Vec<_>>())
        .unwrap();
    let batch: Vec<NewMessage> = (0..1500)
        .flat_map(|i| [message(sender, b, &format!("b{i}")), message(sender, c, &format!("c{i}"))])
        .collect();
    store.append_messages(&batch).unwrap();
    let (for_b, for_c) = (backlog_ids(store, b), backlog_ids(store, c));
    assert_eq!((for_b.len(), for_c.len()), (1000, 1000), "a page at most");
    // b acknowledges all of its first 1000 but the 10 last; c its first 60
    // and claims 40 of b's.
    let claimed_by_c: Vec<u64> = for_c[..60].iter().chain(&for_b[..40]).copied().collect();
    let acks = [
        DeliveryAck::of_messages(b, for_b[..990].to_vec()),
        DeliveryAck::of_messages(c, claimed_by_c),
    ];
    assert_eq!(store.acknowledge(&acks).unwrap(), 2);
    assert_eq!(backlog_ids(store, b)[0], for_b[990]);
    assert_eq!(backlog_ids(store, c)[0], for_c[60]);
    // 1100 conversations acknowledged in one batch.
    let one_each: Vec<NewMessage> =
        receivers.iter().map(|&r| message(sender, r, &format!("to{r}"))).collect();
    let stored = store.append_messages(&one_each).unwrap();
    let acks: Vec<DeliveryAck> =
        stored.iter().map(|m| DeliveryAck::of_messages(m.receiver, vec![m.message_id])).collect();
    assert_eq!(store.acknowledge(&acks).unwrap(), 1100);
    assert!(receivers.iter().all(|&r| backlog_ids(store, r).is_empty()));
}

/// A store written by schema version 1 or 2 keeps what was undelivered
/// after the upgrade: each receiver's watermark sits below its oldest
/// pending message, so that one and everything after it come again (12, acknowledged
/// after the pending 11, is pushed once more: at-least-once).
fn an_upgraded_store_keeps_undelivered_messages(store: &mut impl StoreConn) {
    // The old rows: thread 1 between users 1 and 2; 11 and 13 wait, and 14 (to user 1) was delivered.
    assert_eq!(backlog_ids(store, 2), [11, 12, 13]);
    assert!(backlog_ids(store, 1).is_empty());
    let history = store.thread_page(1, 0, 10).unwrap();
    let state: Vec<(u64, u64, bool)> =
        history.iter().map(|m| (m.message_id, m.seq, m.delivered)).collect();
    assert_eq!(
        state,
        [(14, 5, true), (13, 4, false), (12, 3, false), (11, 2, false), (10, 1, true)]
    );
    assert_eq!(acknowledge_ids(store, 2, &[11, 12, 13]), 1);
    assert!(backlog_ids(store, 2).is_empty());
    // New messages continue the conversation's numbering.
    let next = store.append_messages(&[message(1, 2, "after")]).unwrap();
    assert_eq!((next[0].thread_id, next[0].seq), (1, 6));
}

/// The version-1 rows `an_upgraded_store_keeps_undelivered_messages` expects.
const VERSION_1_MESSAGES: &str = "INSERT INTO threads (thread_id, user1_id, user2_id) VALUES (1, 1, 2);\n\
     INSERT INTO messages (message_id, thread_id, sender, receiver, unique_id, content, chat_time, delivered) \
     VALUES (10, 1, 1, 2, 'a', 'x', 1, 1), (11, 1, 1, 2, 'b', 'x', 1, 0), \
     (12, 1, 1, 2, 'c', 'x', 1, 1), (13, 1, 1, 2, 'd', 'x', 1, 0), (14, 1, 2, 1, 'e', 'x', 1, 1);\n";

/// The same rows as version 2 stored them (`pending` instead of `delivered`).
const VERSION_2_MESSAGES: &str =
    "INSERT INTO threads (thread_id, user1_id, user2_id) VALUES (1, 1, 2);\n\
     INSERT INTO messages (message_id, thread_id, sender, receiver, unique_id, content, chat_time) \
     VALUES (10, 1, 1, 2, 'a', 'x', 1), (11, 1, 1, 2, 'b', 'x', 1), \
     (12, 1, 1, 2, 'c', 'x', 1), (13, 1, 1, 2, 'd', 'x', 1), (14, 1, 2, 1, 'e', 'x', 1);\n\
     INSERT INTO pending (receiver, message_id) VALUES (2, 11), (2, 13);\n";

fn group_text(sender: u64, group: u64, unique_id: &str) -> NewMessage {
    NewMessage { group, receiver: 0, ..message(sender, 0, unique_id) }
}

/// The seqs of `group` that `uid`'s legacy device has not received.
fn group_backlog(store: &mut impl StoreConn, uid: u64, group: u64) -> Vec<u64> {
    let page = store.backlog(uid, LEGACY_DEVICE, SeqCursor::default(), 50).unwrap();
    page.messages.iter().filter(|m| m.thread_id == group).map(|m| m.seq).collect()
}

/// Groups: membership as events under the conversation's lock, texts from
/// members only (each with the members of its commit), former members who
/// read up to their leaving, new members from their joining.
fn groups_keep_one_order_and_their_members(store: &mut impl StoreConn) {
    use services::store::groups::GroupLimits;
    let [ann, bob, cat, dan] =
        ["ann", "bob", "cat", "dan"].map(|n| store.create_user(&new_user(n)).unwrap());
    for friend in [bob, cat, dan] {
        store.apply_friend(ann, friend, "", "").unwrap();
        store.accept_friend(ann, friend, "").unwrap();
    }
    let limits = GroupLimits { max_members: 3, max_groups_per_user: 5 };
    let made = store.create_group(&limits, ann, "g", "", &[bob]).unwrap();
    let group = made.group.thread_id;
    assert_eq!(made.events.iter().map(|e| (e.seq, e.kind)).collect::<Vec<_>>(), [(1, 1), (2, 1)]);
    assert_eq!(&*made.recipients, &[ann, bob]);
    // The group is nobody's private thread, whatever its id.
    assert!(store.threads_of(ann, 0, 10).unwrap().iter().all(|t| t.thread_id != group));
    assert!(store.threads_of(group, 0, 10).unwrap().iter().all(|t| t.thread_id != group));

    // Texts: members only; each comes back with the members of its commit.
    let stored = store
        .append_batch(&[
            group_text(bob, group, "b1"),
            group_text(cat, group, "c1"),
            message(ann, cat, "p1"),
        ])
        .unwrap();
    match &stored[0] {
        Appended::Stored { message, members } => {
            assert_eq!((message.seq, message.receiver, message.kind), (3, 0, TEXT));
            assert_eq!(members.as_deref(), Some(&[ann, bob][..]));
        }
        other => panic!("bob is a member: {other:?}"),
    }
    assert_eq!(stored[1], Appended::NotMember, "cat is not (yet)");
    assert!(matches!(&stored[2], Appended::Stored { members: None, .. }), "a private one");
    assert_eq!(
        store.append_batch(&[group_text(bob, cat, "x")]).unwrap(),
        [Appended::NotMember],
        "no such group"
    );

    // Invited: in the next batch's members (the cached list is renewed).
    let joined = store.invite_to_group(&limits, ann, group, &[cat]).unwrap();
    let cat_joined = joined.events[0].seq;
    assert_eq!(cat_joined, 4);
    let Appended::Stored { members, .. } =
        &store.append_batch(&[group_text(cat, group, "c2")]).unwrap()[0]
    else {
        panic!("cat is a member now")
    };
    assert_eq!(members.as_deref(), Some(&[ann, bob, cat][..]));
    assert!(matches!(
        store.invite_to_group(&limits, ann, group, &[dan]),
        Err(StoreError::Refused(proto::ErrorCode::GroupFull))
    ));
    // cat starts at its joining: seq 4 (the event) and 5 (its text, its own).
    let from_joining = group_backlog(store, cat, group);
    assert_eq!(from_joining, [4], "its own text is not pushed to its legacy device");

    // Removed: reads up to its removal, is refused after it.
    let removed = store.remove_from_group(ann, group, cat).unwrap();
    let removed_at = removed.events[0].seq;
    assert!(removed.recipients.contains(&cat), "it sees its removal");
    store.append_messages(&[group_text(ann, group, "a1")]).unwrap();
    assert_eq!(store.append_batch(&[group_text(cat, group, "c3")]).unwrap(), [Appended::NotMember]);
    let cat_reads = store.member_range(cat, group, 0, 0, 50, false).unwrap().unwrap();
    assert_eq!(
        cat_reads.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (cat_joined..=removed_at).collect::<Vec<_>>()
    );
    let behind = group_backlog(store, cat, group);
    assert_eq!(behind, [cat_joined, removed_at], "nothing after its removal");
    assert!(store.member_range(dan, group, 0, 0, 50, false).unwrap().is_none(), "never a member");

    // Read marks: a member's, counted for the asker; a non-member's ignored.
    let last = removed_at + 1;
    assert!(store.mark_read(bob, group, last).unwrap().is_some_and(|m| m.peer == 0));
    assert!(store.mark_read(dan, group, last).unwrap().is_none());
    let readers = store.group_readers(ann, group, last, 0, 10).unwrap();
    assert_eq!((readers.read_count, readers.member_count, readers.page), (1, 1, vec![bob]));
    // The conversation list names the group; unread counts texts of others from the joining.
    let listed = store.conversations(bob, LEGACY_DEVICE, 0, 10).unwrap();
    let summary = listed.iter().find(|c| c.thread_id == group).unwrap();
    assert_eq!((summary.group_name.as_deref(), summary.peer, summary.unread), (Some("g"), 0, 0));
    let cat_list = store.conversations(cat, LEGACY_DEVICE, 0, 10).unwrap();
    assert!(cat_list.iter().all(|c| c.thread_id != group), "a group left leaves the list");

    // Acknowledgements of a group's messages move the member's watermark.
    let up_to = DeliveryAck {
        uid: bob,
        device: LEGACY_DEVICE.into(),
        acknowledged: Acknowledged::UpTo { conversation: group, seq: last },
    };
    assert_eq!(store.acknowledge(&[up_to]).unwrap(), 1);
    let pending = group_backlog(store, bob, group);
    assert!(pending.is_empty());

    // Dissolved: nobody sends, everyone who was in sees the end.
    let ended = store.dissolve_group(ann, group).unwrap();
    assert_eq!(&*ended.recipients, &[ann, bob]);
    assert_eq!(store.append_batch(&[group_text(ann, group, "a2")]).unwrap(), [Appended::NotMember]);
    assert!(matches!(
        store.leave_group(bob, group),
        Err(StoreError::Refused(proto::ErrorCode::NotMember))
    ));
}

fn users_and_friendships_are_provisioned_in_bulk(store: &mut impl StoreConn) {
    let users: Vec<NewUser> = (0..50).map(|i| new_user(&format!("bulk{i}"))).collect();
    let uids = store.create_users(&users).unwrap();
    assert_eq!(uids.len(), 50);
    assert_eq!(store.user_by_uid(uids[49]).unwrap().unwrap().name, "bulk49");
    let pairs: Vec<(u64, u64)> = uids.chunks(2).map(|p| (p[0], p[1])).collect();
    store.befriend_pairs(&pairs).unwrap();
    store.befriend_pairs(&pairs[..3]).unwrap(); // again: nothing changes
    assert!(
        store.are_friends(uids[0], uids[1]).unwrap()
            && store.are_friends(uids[1], uids[0]).unwrap()
    );
    assert!(!store.are_friends(uids[1], uids[2]).unwrap());
    let data = store.login_data(uids[1]).unwrap().unwrap();
    assert_eq!(data.friends.len(), 1);
    assert!(data.applications.is_empty(), "the applications are accepted");
    assert_eq!(store.threads_of(uids[0], 0, 10).unwrap().len(), 1);
    // A taken name in a bulk insert stores nothing.
    let clash = vec![new_user("fresh"), new_user("bulk3")];
    assert!(matches!(store.create_users(&clash), Err(StoreError::Conflict(_))));
    assert!(store.user_by_name("fresh").unwrap().is_none());
}

#[test]
fn sqlite_users_and_friendships_are_provisioned_in_bulk() {
    let temp = TempSqlite::new("bulk");
    users_and_friendships_are_provisioned_in_bulk(&mut temp.connect());
}

#[test]
fn mysql_users_and_friendships_are_provisioned_in_bulk() {
    let temp = TempMysql::new("bulk");
    users_and_friendships_are_provisioned_in_bulk(&mut temp.connect());
}

fn concurrent_registrations_of_one_name_have_one_winner<C: StoreConn>(
    connect: impl Fn() -> C + Sync,
) {
    drop(connect()); // create the schema once
    let outcomes: Vec<Result<u64, StoreError>> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let connect = &connect;
                scope.spawn(move || {
                    let racer =
                        NewUser { email: format!("racer{i}@example.com"), ..new_user("racer") };
                    connect().create_user(&racer)
                })
            })
            .collect();
        racers.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .filter(|o| o.is_err())
        .all(|o| matches!(o, Err(StoreError::Conflict(_)))));
}

/// `fail_thread_inserts(true)` makes the database refuse new threads (the
/// last write of an acceptance); `false` lifts it.
fn a_failed_acceptance_changes_nothing(
    store: &mut impl StoreConn,
    fail_thread_inserts: impl Fn(bool),
) {
    let a = store.create_user(&new_user("ann")).unwrap();
    let b = store.create_user(&new_user("bob")).unwrap();
    store.apply_friend(a, b, "hello", "Bob").unwrap();
    fail_thread_inserts(true);
    assert!(store.accept_friend(a, b, "Ann").is_err());
    assert!(!store.are_friends(a, b).unwrap() && !store.are_friends(b, a).unwrap());
    assert_eq!(store.login_data(b).unwrap().unwrap().applications.len(), 1, "still pending");
    fail_thread_inserts(false);
    store.accept_friend(a, b, "Ann").unwrap();
    assert!(store.are_friends(a, b).unwrap());
}

// ----- the embedded backend runs the suite --------------------------------

#[test]
fn sqlite_groups_keep_one_order_and_their_members() {
    let db = TempSqlite::new("groups");
    groups_keep_one_order_and_their_members(&mut db.connect());
}

#[test]
fn mysql_groups_keep_one_order_and_their_members() {
    let db = TempMysql::new("groups");
    groups_keep_one_order_and_their_members(&mut db.connect());
}

#[test]
fn sqlite_users_are_unique_by_name_and_email() {
    let db = TempSqlite::new("users");
    users_are_unique_by_name_and_email(&mut db.connect());
}

#[test]
fn sqlite_session_tokens_resume_until_revoked() {
    let db = TempSqlite::new("sessions");
    session_tokens_resume_until_revoked(&mut db.connect());
}

#[test]
fn sqlite_names_and_addresses_ignore_case() {
    let db = TempSqlite::new("case");
    names_and_addresses_ignore_case(&mut db.connect());
}

#[test]
fn sqlite_colliding_names_of_an_older_store_both_keep_working() {
    let db = TempSqlite::new("collide");
    sqlite_store_at_version(&db, 2, COLLIDING_USERS);
    colliding_names_of_an_older_store_both_keep_working(&mut db.connect());
}

#[test]
fn sqlite_friends_are_made_by_application_and_acceptance() {
    let db = TempSqlite::new("friends");
    friends_are_made_by_application_and_acceptance(&mut db.connect());
}

#[test]
fn sqlite_threads_are_private_unique_and_paged() {
    let db = TempSqlite::new("threads");
    threads_are_private_unique_and_paged(&mut db.connect());
}

#[test]
fn sqlite_messages_are_numbered_idempotent_paged_and_synced() {
    let db = TempSqlite::new("messages");
    messages_are_numbered_idempotent_paged_and_synced(&mut db.connect());
}

#[test]
fn sqlite_devices_start_where_their_user_is_and_keep_their_own_place() {
    let db = TempSqlite::new("devices");
    devices_start_where_their_user_is_and_keep_their_own_place(&mut db.connect());
}

#[test]
fn mysql_devices_start_where_their_user_is_and_keep_their_own_place() {
    let db = TempMysql::new("devices");
    devices_start_where_their_user_is_and_keep_their_own_place(&mut db.connect());
}

#[test]
fn sqlite_conversations_read_marks_and_ranges() {
    let db = TempSqlite::new("conversations");
    conversations_read_marks_and_ranges(&mut db.connect());
}

#[test]
fn mysql_conversations_read_marks_and_ranges() {
    let db = TempMysql::new("conversations");
    conversations_read_marks_and_ranges(&mut db.connect());
}

#[test]
fn sqlite_a_run_of_ones_own_messages_is_no_backlog_for_the_legacy_device() {
    let db = TempSqlite::new("own_run");
    a_run_of_ones_own_messages_is_no_backlog_for_the_legacy_device(&mut db.connect());
}

#[test]
fn mysql_a_run_of_ones_own_messages_is_no_backlog_for_the_legacy_device() {
    let db = TempMysql::new("own_run");
    a_run_of_ones_own_messages_is_no_backlog_for_the_legacy_device(&mut db.connect());
}

#[test]
fn sqlite_large_acknowledgements_move_exactly_their_own_watermarks() {
    let db = TempSqlite::new("bulk_acks");
    large_acknowledgements_move_exactly_their_own_watermarks(&mut db.connect());
}

#[test]
fn sqlite_concurrent_registrations_of_one_name_have_one_winner() {
    let db = TempSqlite::new("race");
    concurrent_registrations_of_one_name_have_one_winner(|| db.connect());
}

#[test]
fn sqlite_a_failed_acceptance_changes_nothing() {
    let db = TempSqlite::new("atomic");
    let raw = rusqlite::Connection::open(db.file()).unwrap();
    a_failed_acceptance_changes_nothing(&mut db.connect(), |fail| {
        let sql = if fail {
            "CREATE TRIGGER no_threads BEFORE INSERT ON threads BEGIN SELECT RAISE(ABORT, 'injected'); END;"
        } else {
            "DROP TRIGGER no_threads;"
        };
        raw.execute_batch(sql).unwrap();
    });
}

/// A SQLite store at schema `version` (its migrations applied by hand) with `rows`.
fn sqlite_store_at_version(db: &TempSqlite, version: usize, rows: &str) {
    let raw = rusqlite::Connection::open(db.file()).unwrap();
    let migrations = [
        include_str!("../src/store/migrations/sqlite/0001_init.sql"),
        include_str!("../src/store/migrations/sqlite/0002_pending.sql"),
    ];
    raw.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);",
    )
    .unwrap();
    for (n, sql) in migrations[..version].iter().enumerate() {
        raw.execute_batch(sql).unwrap();
        raw.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [n as i64 + 1]).unwrap();
    }
    raw.execute_batch(rows).unwrap();
}

#[test]
fn sqlite_a_store_of_version_1_keeps_undelivered_messages() {
    let db = TempSqlite::new("upgrade1");
    sqlite_store_at_version(&db, 1, VERSION_1_MESSAGES);
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
}

#[test]
fn sqlite_a_store_of_version_2_keeps_undelivered_messages() {
    let db = TempSqlite::new("upgrade2");
    sqlite_store_at_version(&db, 2, VERSION_2_MESSAGES);
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
}

#[test]
fn sqlite_watermarks_rise_only_over_contiguous_seqs() {
    let db = TempSqlite::new("watermarks");
    watermarks_rise_only_over_contiguous_seqs(&mut db.connect());
}

#[test]
fn sqlite_migrations_are_idempotent_and_data_survives_reopening() {
    let db = TempSqlite::new("reopen");
    let uid = db.connect().create_user(&new_user("kept")).unwrap();
    let mut again = db.connect(); // runs the migrations again: nothing to do
    assert_eq!(again.user_by_uid(uid).unwrap().unwrap().name, "kept");
    let raw = rusqlite::Connection::open(db.file()).unwrap();
    let versions: i64 =
        raw.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 7);
}

// ----- MySQL / MariaDB runs the same suite ---------------------------------

#[test]
fn mysql_users_are_unique_by_name_and_email() {
    let db = TempMysql::new("users");
    users_are_unique_by_name_and_email(&mut db.connect());
}

#[test]
fn mysql_session_tokens_resume_until_revoked() {
    let db = TempMysql::new("sessions");
    session_tokens_resume_until_revoked(&mut db.connect());
}

#[test]
fn mysql_names_and_addresses_ignore_case() {
    let db = TempMysql::new("case");
    names_and_addresses_ignore_case(&mut db.connect());
}

#[test]
fn mysql_colliding_names_of_an_older_store_both_keep_working() {
    let db = TempMysql::new("collide");
    mysql_store_at_version(&db, 2, COLLIDING_USERS);
    colliding_names_of_an_older_store_both_keep_working(&mut db.connect());
}

#[test]
fn mysql_friends_are_made_by_application_and_acceptance() {
    let db = TempMysql::new("friends");
    friends_are_made_by_application_and_acceptance(&mut db.connect());
}

#[test]
fn mysql_threads_are_private_unique_and_paged() {
    let db = TempMysql::new("threads");
    threads_are_private_unique_and_paged(&mut db.connect());
}

#[test]
fn mysql_messages_are_numbered_idempotent_paged_and_synced() {
    let db = TempMysql::new("messages");
    messages_are_numbered_idempotent_paged_and_synced(&mut db.connect());
}

#[test]
fn mysql_large_acknowledgements_move_exactly_their_own_watermarks() {
    let db = TempMysql::new("bulk_acks");
    large_acknowledgements_move_exactly_their_own_watermarks(&mut db.connect());
}

#[test]
fn mysql_a_thread_created_by_a_failed_batch_is_not_remembered() {
    // The connection remembers committed threads; a batch that fails after
    // creating its thread must leave nothing behind, or the next batch of
    // that pair would be stored under a thread that does not exist.
    let db = TempMysql::new("thread_cache");
    let mut store = db.connect();
    let a = store.create_user(&new_user("cache-a")).unwrap();
    let b = store.create_user(&new_user("cache-b")).unwrap();
    let mut raw = db.raw();
    raw.query_drop(
        "CREATE TRIGGER no_messages BEFORE INSERT ON messages FOR EACH ROW \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'",
    )
    .unwrap();
    assert!(store.append_messages(&[message(a, b, "first")]).is_err());
    raw.query_drop("DROP TRIGGER no_messages").unwrap();
    let stored = store.append_messages(&[message(a, b, "second")]).unwrap();
    let thread = store.thread(stored[0].thread_id).unwrap().expect("the thread exists");
    assert_eq!((thread.user1_id, thread.user2_id), (a.min(b), a.max(b)));
    // And a remembered thread is reused: the same id without a lookup.
    let again = store.append_messages(&[message(b, a, "third")]).unwrap();
    assert_eq!(again[0].thread_id, stored[0].thread_id);
}

#[test]
fn mysql_concurrent_registrations_of_one_name_have_one_winner() {
    let db = TempMysql::new("race");
    concurrent_registrations_of_one_name_have_one_winner(|| db.connect());
}

#[test]
fn mysql_a_failed_acceptance_changes_nothing() {
    let db = TempMysql::new("atomic");
    let raw = std::cell::RefCell::new(db.raw());
    a_failed_acceptance_changes_nothing(&mut db.connect(), |fail| {
        let sql = if fail {
            "CREATE TRIGGER no_threads BEFORE INSERT ON threads FOR EACH ROW \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'"
        } else {
            "DROP TRIGGER no_threads"
        };
        raw.borrow_mut().query_drop(sql).unwrap();
    });
}

#[test]
fn mysql_migrations_are_idempotent_and_data_survives_reconnecting() {
    let db = TempMysql::new("reopen");
    let uid = db.connect().create_user(&new_user("kept")).unwrap();
    let mut again = db.connect();
    assert_eq!(again.user_by_uid(uid).unwrap().unwrap().name, "kept");
    let mut raw = db.raw();
    let versions: Option<u64> = raw.query_first("SELECT COUNT(*) FROM schema_migrations").unwrap();
    assert_eq!(versions, Some(7));
}

/// A MySQL store at schema `version` (its migrations applied by hand) with `rows`.
fn mysql_store_at_version(db: &TempMysql, version: usize, rows: &str) {
    let mut raw = db.raw();
    let migrations = [
        include_str!("../src/store/migrations/mysql/0001_init.sql"),
        include_str!("../src/store/migrations/mysql/0002_pending.sql"),
    ];
    raw.query_drop(
        "CREATE TABLE schema_migrations (version INT UNSIGNED NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .unwrap();
    for (n, sql) in migrations[..version].iter().enumerate() {
        for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            raw.query_drop(statement).unwrap();
        }
        raw.exec_drop("INSERT INTO schema_migrations VALUES (?, 0)", (n as u64 + 1,)).unwrap();
    }
    for statement in rows.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        raw.query_drop(statement).unwrap();
    }
}

#[test]
fn mysql_a_store_of_version_1_keeps_undelivered_messages() {
    let db = TempMysql::new("upgrade1");
    mysql_store_at_version(&db, 1, VERSION_1_MESSAGES);
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
}

#[test]
fn mysql_a_store_of_version_2_keeps_undelivered_messages() {
    let db = TempMysql::new("upgrade2");
    mysql_store_at_version(&db, 2, VERSION_2_MESSAGES);
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
}

#[test]
fn mysql_watermarks_rise_only_over_contiguous_seqs() {
    let db = TempMysql::new("watermarks");
    watermarks_rise_only_over_contiguous_seqs(&mut db.connect());
}

#[test]
fn mysql_a_missing_database_is_created_at_first_connect() {
    let temp = TempMysql::new("create_db");
    temp.raw()
        .query_drop(format!("DROP DATABASE {}", temp.url().rsplit('/').next().unwrap()))
        .unwrap_or(());
    let mut store = temp.connect();
    let uid = store.create_user(&new_user("first")).unwrap();
    assert_eq!(store.user_by_uid(uid).unwrap().unwrap().name, "first");
}
