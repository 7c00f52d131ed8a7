//! The store's conformance suite: every operation and its rules. Written
//! once against `StoreConn`; both backends run it: the embedded SQLite
//! backend on a fresh file per test, and MySQL/MariaDB on a fresh database
//! per test (dropped afterwards) on the server named by IM_TEST_MYSQL_URL,
//! by default mysql://root@127.0.0.1:3306 (tools/test.sh provides one).

mod util;

use mysql::prelude::Queryable;
use services::store::model::*;
use services::store::{StoreConn, StoreError};
use util::{new_user, TempMysql, TempSqlite};

fn message(sender: u64, receiver: u64, unique_id: &str) -> NewMessage {
    NewMessage {
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

fn messages_are_idempotent_paged_and_delivered_in_order(store: &mut impl StoreConn) {
    let a = store.create_user(&new_user("sender")).unwrap();
    let b = store.create_user(&new_user("receiver")).unwrap();
    let batch: Vec<NewMessage> = (0..10).map(|i| message(a, b, &format!("u{i}"))).collect();
    let stored = store.append_messages(&batch).unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.windows(2).all(|w| w[0].message_id < w[1].message_id), "ids in batch order");
    let thread_id = stored[0].thread_id;
    assert!(stored.iter().all(|m| m.thread_id == thread_id && !m.delivered && m.chat_time > 0));

    // A resend (same sender and unique_id) returns the stored message, no new row.
    let resent = store.append_messages(&[message(a, b, "u3"), message(a, b, "u10")]).unwrap();
    assert_eq!(resent[0], stored[3]);
    assert!(resent[1].message_id > stored[9].message_id);
    // The same unique_id from another sender is another message.
    let other = store.append_messages(&[message(b, a, "u3")]).unwrap();
    assert_ne!(other[0].message_id, stored[3].message_id);
    assert_eq!(other[0].thread_id, thread_id, "both directions share the thread");

    // Paging backwards through the thread (12 messages).
    let page1 = store.thread_page(thread_id, 0, 5).unwrap();
    assert_eq!(page1.len(), 5);
    assert!(page1.windows(2).all(|w| w[0].message_id > w[1].message_id), "newest first");
    let page2 = store.thread_page(thread_id, page1[4].message_id, 5).unwrap();
    let page3 = store.thread_page(thread_id, page2[4].message_id, 5).unwrap();
    assert_eq!((page2.len(), page3.len()), (5, 2));
    assert!(store.thread_page(thread_id, page3[1].message_id, 5).unwrap().is_empty());

    // Pending for b: the 11 messages a sent, oldest first, in pages.
    let pending = store.pending_for(b, 0, 100).unwrap();
    assert_eq!(pending.len(), 11);
    assert!(pending.windows(2).all(|w| w[0].message_id < w[1].message_id));
    let first_four = store.pending_for(b, 0, 4).unwrap();
    let next = store.pending_for(b, first_four[3].message_id, 4).unwrap();
    assert_eq!(next[0].message_id, pending[4].message_id);

    // Acks: only b's own messages change; acking twice changes nothing.
    let ids: Vec<u64> = pending[..6].iter().map(|m| m.message_id).collect();
    assert_eq!(store.mark_delivered(b, &ids).unwrap(), 6);
    assert_eq!(store.mark_delivered(b, &ids).unwrap(), 0);
    assert_eq!(store.mark_delivered(a, &[pending[7].message_id]).unwrap(), 0, "not a's message");
    let left = store.pending_for(b, 0, 100).unwrap();
    assert_eq!(
        left.iter().map(|m| m.message_id).collect::<Vec<_>>(),
        pending[6..].iter().map(|m| m.message_id).collect::<Vec<_>>()
    );
    assert_eq!(store.pending_for(a, 0, 100).unwrap().len(), 1);

    // Several receivers' acks in one transaction, each only for its own.
    let acks = [
        Delivery { receiver: b, message_ids: vec![left[0].message_id, left[1].message_id] },
        Delivery { receiver: a, message_ids: vec![other[0].message_id, left[2].message_id] },
    ];
    assert_eq!(store.mark_delivered_many(&acks).unwrap(), 3);
    assert_eq!(store.pending_for(b, 0, 100).unwrap().len(), left.len() - 2);
    assert!(store.pending_for(a, 0, 100).unwrap().is_empty());

    // History tells delivered from waiting; a resent delivered message stays delivered.
    let history = store.thread_page(thread_id, 0, 100).unwrap();
    let waiting: Vec<u64> =
        store.pending_for(b, 0, 100).unwrap().iter().map(|m| m.message_id).collect();
    assert!(history.iter().all(|m| m.delivered != waiting.contains(&m.message_id)));
    assert_eq!(history.iter().filter(|m| m.delivered).count(), 12 - waiting.len());
    let again = store.append_messages(&[message(a, b, "u0"), message(a, b, "u11")]).unwrap();
    assert_eq!((again[0].message_id, again[0].delivered), (stored[0].message_id, true));
    assert!(!again[1].delivered);
    let waiting_now: Vec<u64> =
        store.pending_for(b, 0, 100).unwrap().iter().map(|m| m.message_id).collect();
    assert_eq!(
        waiting_now,
        [waiting, vec![again[1].message_id]].concat(),
        "only the new one waits"
    );
}

/// Acknowledgements larger than one statement's worth of keys (the MySQL
/// store deletes 100 keys per statement), interleaved over receivers, remove
/// exactly the acknowledged messages of each receiver and nothing else.
fn large_acknowledgements_remove_exactly_the_acknowledged(store: &mut impl StoreConn) {
    let sender = store.create_user(&new_user("bulk-sender")).unwrap();
    let b = store.create_user(&new_user("bulk-b")).unwrap();
    let c = store.create_user(&new_user("bulk-c")).unwrap();
    let batch: Vec<NewMessage> = (0..150)
        .flat_map(|i| [message(sender, b, &format!("b{i}")), message(sender, c, &format!("c{i}"))])
        .collect();
    store.append_messages(&batch).unwrap();
    let ids_of = |store: &mut _, uid| -> Vec<u64> {
        let pending = StoreConn::pending_for(store, uid, 0, 1000).unwrap();
        pending.iter().map(|m: &StoredMessage| m.message_id).collect()
    };
    let (for_b, for_c) = (ids_of(store, b), ids_of(store, c));
    assert_eq!((for_b.len(), for_c.len()), (150, 150));
    // b acknowledges 130 of its messages (every one but each 7th), in one
    // list; c acknowledges its first 60 and claims 40 of b's (not its own).
    let acked_by_b: Vec<u64> =
        for_b.iter().enumerate().filter(|(i, _)| i % 7 != 0).map(|(_, &id)| id).collect();
    let claimed_by_c: Vec<u64> = for_c[..60].iter().chain(&for_b[..40]).copied().collect();
    let acks = [
        Delivery { receiver: b, message_ids: acked_by_b.clone() },
        Delivery { receiver: c, message_ids: claimed_by_c },
    ];
    assert_eq!(store.mark_delivered_many(&acks).unwrap(), acked_by_b.len() as u64 + 60);
    let left_for_b: Vec<u64> = for_b.iter().step_by(7).copied().collect();
    assert_eq!(ids_of(store, b), left_for_b);
    assert_eq!(ids_of(store, c), for_c[60..].to_vec());
}

/// A store written by schema version 1 (where `messages.delivered` said what
/// was acknowledged) keeps what was undelivered after the upgrade to 2.
fn an_upgraded_store_keeps_undelivered_messages(store: &mut impl StoreConn) {
    // The version-1 rows: thread 1 between users 1 and 2; 11 and 13 wait.
    let waiting: Vec<u64> =
        store.pending_for(2, 0, 10).unwrap().iter().map(|m| m.message_id).collect();
    assert_eq!(waiting, [11, 13]);
    let history = store.thread_page(1, 0, 10).unwrap();
    let state: Vec<(u64, bool)> = history.iter().map(|m| (m.message_id, m.delivered)).collect();
    assert_eq!(state, [(13, false), (12, true), (11, false), (10, true)]);
    assert_eq!(store.mark_delivered(2, &[11]).unwrap(), 1);
    assert_eq!(store.pending_for(2, 0, 10).unwrap().len(), 1);
}

/// The version-1 rows `an_upgraded_store_keeps_undelivered_messages` expects.
const VERSION_1_MESSAGES: &str = "INSERT INTO threads (thread_id, user1_id, user2_id) VALUES (1, 1, 2);\n\
     INSERT INTO messages (message_id, thread_id, sender, receiver, unique_id, content, chat_time, delivered) \
     VALUES (10, 1, 1, 2, 'a', 'x', 1, 1), (11, 1, 1, 2, 'b', 'x', 1, 0), \
     (12, 1, 1, 2, 'c', 'x', 1, 1), (13, 1, 1, 2, 'd', 'x', 1, 0);\n";

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
fn sqlite_users_are_unique_by_name_and_email() {
    let db = TempSqlite::new("users");
    users_are_unique_by_name_and_email(&mut db.connect());
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
fn sqlite_messages_are_idempotent_paged_and_delivered_in_order() {
    let db = TempSqlite::new("messages");
    messages_are_idempotent_paged_and_delivered_in_order(&mut db.connect());
}

#[test]
fn sqlite_large_acknowledgements_remove_exactly_the_acknowledged() {
    let db = TempSqlite::new("bulk_acks");
    large_acknowledgements_remove_exactly_the_acknowledged(&mut db.connect());
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

#[test]
fn sqlite_an_upgraded_store_keeps_undelivered_messages() {
    let db = TempSqlite::new("upgrade");
    let raw = rusqlite::Connection::open(db.file()).unwrap();
    raw.execute_batch(include_str!("../src/store/migrations/sqlite/0001_init.sql")).unwrap();
    raw.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);
         INSERT INTO schema_migrations VALUES (1, 0);",
    )
    .unwrap();
    raw.execute_batch(VERSION_1_MESSAGES).unwrap();
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
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
    assert_eq!(versions, 2);
}

// ----- MySQL / MariaDB runs the same suite ---------------------------------

#[test]
fn mysql_users_are_unique_by_name_and_email() {
    let db = TempMysql::new("users");
    users_are_unique_by_name_and_email(&mut db.connect());
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
fn mysql_messages_are_idempotent_paged_and_delivered_in_order() {
    let db = TempMysql::new("messages");
    messages_are_idempotent_paged_and_delivered_in_order(&mut db.connect());
}

#[test]
fn mysql_large_acknowledgements_remove_exactly_the_acknowledged() {
    let db = TempMysql::new("bulk_acks");
    large_acknowledgements_remove_exactly_the_acknowledged(&mut db.connect());
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
    assert_eq!(versions, Some(2));
}

#[test]
fn mysql_an_upgraded_store_keeps_undelivered_messages() {
    let db = TempMysql::new("upgrade");
    let mut raw = db.raw();
    let version_1 = include_str!("../src/store/migrations/mysql/0001_init.sql");
    let statements = version_1.split(";\n").chain(VERSION_1_MESSAGES.split(";\n"));
    for statement in statements.map(str::trim).filter(|s| !s.is_empty()) {
        raw.query_drop(statement).unwrap();
    }
    raw.query_drop(
        "CREATE TABLE schema_migrations (version INT UNSIGNED NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .unwrap();
    raw.query_drop("INSERT INTO schema_migrations VALUES (1, 0)").unwrap();
    an_upgraded_store_keeps_undelivered_messages(&mut db.connect());
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
