//! The batched message writer on both backends: messages from many
//! submitters are committed together, each submitter hears only after the
//! commit, one sender's messages keep their order, two writers (two chat
//! servers) number one conversation without a hole, and a full queue is busy.

mod util;

use services::store::message_writer::{MessageWriter, WriterConfig};
use services::store::model::{NewMessage, SeqCursor, StoredMessage, LEGACY_DEVICE};
use services::store::{Backend, StoreConn, StoreError};
use std::sync::mpsc;
use std::time::Duration;
use util::{new_user, TempMysql, TempSqlite};

fn user(store: &mut impl StoreConn, name: &str) -> u64 {
    store.create_user(&new_user(name)).unwrap()
}

fn message(sender: u64, receiver: u64, unique_id: String) -> NewMessage {
    NewMessage { sender, receiver, group: 0, content: format!("content of {unique_id}"), unique_id }
}

/// How many messages the legacy device of `uid` has not received (up to 1000).
fn owed_to(store: &mut impl StoreConn, uid: u64) -> usize {
    store.backlog(uid, LEGACY_DEVICE, SeqCursor::default(), 1000).unwrap().messages.len()
}

/// Submits and waits for the stored messages.
fn store_now(
    writer: &MessageWriter,
    messages: Vec<NewMessage>,
) -> Result<Vec<StoredMessage>, StoreError> {
    let (tx, rx) = mpsc::channel();
    writer.submit(messages, move |r| tx.send(r).unwrap())?;
    rx.recv_timeout(Duration::from_secs(10)).expect("a result")
}

fn many_submitters_are_committed_together<B: Backend + Clone>(backend: B)
where
    B::Conn: StoreConn,
{
    let mut store = backend.connect().unwrap();
    let (a, b) = (user(&mut store, "a"), user(&mut store, "b"));
    let config = WriterConfig { max_delay: Duration::from_millis(20), ..WriterConfig::default() };
    let writer = MessageWriter::start(backend.clone(), config).unwrap();
    let (tx, rx) = mpsc::channel();
    let submissions = 200;
    for i in 0..submissions {
        let messages = vec![message(a, b, format!("m{i}-0")), message(a, b, format!("m{i}-1"))];
        let expected: Vec<String> = messages.iter().map(|m| m.unique_id.clone()).collect();
        let tx = tx.clone();
        let verify = backend.connect().ok();
        writer
            .submit(messages, move |result| {
                let stored = result.unwrap();
                // The commit has happened: another connection already sees the rows.
                let mut other = verify.unwrap();
                let first = &stored[0];
                let visible = other
                    .conversation_after(first.thread_id, first.seq - 1, u64::MAX, 0, 1)
                    .unwrap();
                assert_eq!(visible[0].message_id, stored[0].message_id);
                let got: Vec<String> = stored.iter().map(|m| m.unique_id.clone()).collect();
                tx.send(got == expected).unwrap();
            })
            .unwrap();
    }
    for _ in 0..submissions {
        assert!(
            rx.recv_timeout(Duration::from_secs(20)).unwrap(),
            "each submitter gets its own messages"
        );
    }
    let metrics = writer.metrics();
    assert_eq!(metrics.messages.load(std::sync::atomic::Ordering::SeqCst), 400);
    let batches = metrics.batches.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        batches < submissions as u64 / 2,
        "{batches} transactions for {submissions} submissions"
    );
    assert_eq!(owed_to(&mut store, b), 400);
}

fn one_senders_messages_keep_their_order_and_resends_are_not_duplicated<B: Backend + Clone>(
    backend: B,
) where
    B::Conn: StoreConn,
{
    let mut store = backend.connect().unwrap();
    let (a, b) = (user(&mut store, "a"), user(&mut store, "b"));
    let writer = MessageWriter::start(backend, WriterConfig::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..500 {
        let tx = tx.clone();
        writer
            .submit(vec![message(a, b, format!("seq{i}"))], move |r| {
                tx.send((i, r.unwrap()[0].message_id)).unwrap()
            })
            .unwrap();
    }
    let mut ids: Vec<(i32, u64)> =
        (0..500).map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap()).collect();
    ids.sort();
    assert!(ids.windows(2).all(|w| w[0].1 < w[1].1), "message ids follow the submission order");
    let again = store_now(&writer, vec![message(a, b, "seq7".into())]).unwrap();
    assert_eq!(again[0].message_id, ids[7].1, "a resend gets the stored id back");
    assert_eq!(owed_to(&mut store, b), 500);
}

fn pairs_commit_in_parallel_each_in_order<B: Backend + Clone>(backend: B)
where
    B::Conn: StoreConn,
{
    let mut store = backend.connect().unwrap();
    let users: Vec<u64> = (0..8).map(|i| user(&mut store, &format!("p{i}"))).collect();
    let pairs: Vec<(u64, u64)> = (0..4).map(|i| (users[2 * i], users[2 * i + 1])).collect();
    let config = WriterConfig { shards: 3, ..WriterConfig::default() };
    let writer = MessageWriter::start(backend, config).unwrap();
    let (tx, rx) = mpsc::channel();
    for seq in 0..150 {
        for (p, &(a, b)) in pairs.iter().enumerate() {
            let tx = tx.clone();
            let done = move |r: Result<Vec<StoredMessage>, StoreError>| {
                tx.send((p, seq, r.unwrap()[0].message_id)).unwrap()
            };
            writer.submit(vec![message(a, b, format!("{p}-{seq}"))], done).unwrap();
        }
    }
    let mut seen: Vec<(usize, i32, u64)> =
        (0..600).map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap()).collect();
    seen.sort();
    for pair in seen.chunks(150) {
        assert!(
            pair.windows(2).all(|w| w[0].2 < w[1].2),
            "each pair keeps its order across shards"
        );
    }
}

/// Two writers (what two chat servers run) on one database, both members of
/// a pair sending at once through each, and the same unique_id sent through
/// both at once: the conversation's seqs are 1..N without a hole or a
/// duplicate, commit order is seq order, and a message sent twice is one row.
fn two_writers_number_one_conversation_without_holes<B: Backend + Clone>(backend: B)
where
    B::Conn: StoreConn,
{
    let mut store = backend.connect().unwrap();
    let (a, b) = (user(&mut store, "a"), user(&mut store, "b"));
    let writers: Vec<MessageWriter> = (0..2)
        .map(|_| MessageWriter::start(backend.clone(), WriterConfig::default()).unwrap())
        .collect();
    let (tx, rx) = mpsc::channel();
    let per_sender = 200;
    for i in 0..per_sender {
        for (w, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
            for (k, writer) in writers.iter().enumerate() {
                // Each sender writes through both writers; every 10th unique_id through both.
                let unique_id =
                    if i % 10 == 0 { format!("{from}-{i}") } else { format!("{from}-{i}-{w}-{k}") };
                let tx = tx.clone();
                let done =
                    move |r: Result<Vec<StoredMessage>, StoreError>| tx.send(r.unwrap()).unwrap();
                writer.submit(vec![message(from, to, unique_id)], done).unwrap();
            }
        }
    }
    let sent = per_sender * 4;
    let stored: Vec<StoredMessage> =
        (0..sent).flat_map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap()).collect();
    let mut by_id: Vec<&StoredMessage> = stored.iter().collect();
    by_id.sort_by_key(|m| m.message_id);
    by_id.dedup_by_key(|m| m.message_id);
    let expected_rows = sent - 2 * per_sender / 10;
    assert_eq!(by_id.len(), expected_rows, "a unique_id sent through both writers is one row");
    let mut seqs: Vec<u64> = by_id.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=expected_rows as u64).collect::<Vec<_>>(), "1..N, no hole, no duplicate");
    assert!(by_id.windows(2).all(|w| w[0].seq < w[1].seq), "commit order is seq order");
    let history = store.thread_page(by_id[0].thread_id, 0, 2 * sent).unwrap();
    assert_eq!(history.len(), expected_rows);
}

#[test]
fn sqlite_two_writers_number_one_conversation_without_holes() {
    let db = TempSqlite::new("writer-two");
    two_writers_number_one_conversation_without_holes(db.backend());
}

#[test]
fn mysql_two_writers_number_one_conversation_without_holes() {
    let db = TempMysql::new("writer_two");
    two_writers_number_one_conversation_without_holes(db.backend());
}

#[test]
fn sqlite_many_submitters_are_committed_together() {
    let db = TempSqlite::new("writer-many");
    many_submitters_are_committed_together(db.backend());
}

#[test]
fn sqlite_order_and_resends() {
    let db = TempSqlite::new("writer-order");
    one_senders_messages_keep_their_order_and_resends_are_not_duplicated(db.backend());
}

#[test]
fn mysql_many_submitters_are_committed_together() {
    let db = TempMysql::new("writer_many");
    many_submitters_are_committed_together(db.backend());
}

#[test]
fn mysql_order_and_resends() {
    let db = TempMysql::new("writer_order");
    one_senders_messages_keep_their_order_and_resends_are_not_duplicated(db.backend());
}

#[test]
fn sqlite_pairs_commit_in_parallel_each_in_order() {
    let db = TempSqlite::new("writer-pairs");
    pairs_commit_in_parallel_each_in_order(db.backend());
}

#[test]
fn mysql_pairs_commit_in_parallel_each_in_order() {
    let db = TempMysql::new("writer_pairs");
    pairs_commit_in_parallel_each_in_order(db.backend());
}

#[test]
fn a_full_writer_queue_is_busy_at_once() {
    let db = TempSqlite::new("writer-busy");
    let backend = db.backend();
    let mut store = backend.connect().unwrap();
    let (a, b) = (user(&mut store, "a"), user(&mut store, "b"));
    // Hold the database's write lock so the writer's commit waits.
    let blocker = rusqlite::Connection::open(db.file()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let config = WriterConfig { shards: 1, queue_capacity: 2, ..WriterConfig::default() };
    let writer = MessageWriter::start(backend, config).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut outcomes = Vec::new();
    for i in 0..10 {
        let tx = tx.clone();
        outcomes
            .push(writer.submit(vec![message(a, b, format!("x{i}"))], move |r| {
                tx.send(r.is_ok()).unwrap()
            }));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(outcomes.contains(&Err(StoreError::Busy)), "{outcomes:?}");
    blocker.execute_batch("COMMIT").unwrap();
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    for _ in 0..accepted {
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "accepted messages are stored once the lock is gone"
        );
    }
}
