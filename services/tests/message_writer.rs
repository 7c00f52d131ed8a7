//! The batched message writer on both backends: messages from many
//! submitters are committed together, each submitter hears only after the
//! commit, one sender's messages keep their order, and a full queue is busy.

mod util;

use services::store::message_writer::{MessageWriter, WriterConfig};
use services::store::model::{NewMessage, StoredMessage};
use services::store::{Backend, StoreConn, StoreError};
use std::sync::mpsc;
use std::time::Duration;
use util::{new_user, TempMysql, TempSqlite};

fn user(store: &mut impl StoreConn, name: &str) -> u64 {
    store.create_user(&new_user(name)).unwrap()
}

fn message(sender: u64, receiver: u64, unique_id: String) -> NewMessage {
    NewMessage { sender, receiver, content: format!("content of {unique_id}"), unique_id }
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
                let visible = other.pending_for(b, stored[0].message_id - 1, 1).unwrap();
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
    assert_eq!(store.pending_for(b, 0, 1000).unwrap().len(), 400);
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
    assert_eq!(store.pending_for(b, 0, 1000).unwrap().len(), 500);
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
