//! The pool against a real MariaDB that misbehaves: connections killed
//! server-side while jobs run, and the server stopped and started again.
//! The test starts its own throwaway mariadbd (never a shared server) on a
//! temporary data directory and a free port, and stops it at the end.

use mysql::prelude::Queryable;
use services::store::model::NewUser;
use services::store::mysql::{MysqlBackend, MysqlConn};
use services::store::{DbPool, JobKind, PoolConfig, StoreConn, StoreError};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use testkit::mariadb::ThrowawayMariadb;

fn call<T: Send + 'static>(
    pool: &DbPool<MysqlBackend>,
    kind: JobKind,
    job: impl FnMut(&mut MysqlConn) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::channel();
    pool.submit(kind, job, move |r| {
        let _ = tx.send(r);
    })?;
    rx.recv_timeout(Duration::from_secs(30)).expect("every job gets an answer, never a hang")
}

#[test]
fn killed_connections_and_a_restarted_server_are_survived_without_restarting_the_process() {
    let mut db = ThrowawayMariadb::start("pool-faults");
    db.admin().query_drop("CREATE DATABASE im").unwrap();
    let backend = MysqlBackend::new(&format!("{}/im", db.server_url())).unwrap();
    let config = PoolConfig {
        workers: 3,
        ping_after_idle: Duration::from_millis(200),
        ..PoolConfig::default()
    };
    let pool = DbPool::start(backend, config).unwrap();
    let new_user = |name: &str| NewUser {
        name: name.into(),
        email: format!("{name}@x"),
        password_hash: "h".into(),
        ..NewUser::default()
    };
    let uid = call(&pool, JobKind::Once, move |c| c.create_user(&new_user("victim"))).unwrap();

    // 1. A job blocked on a row lock has its connection killed server-side.
    let mut locker = db.admin();
    locker.query_drop("USE im").unwrap();
    locker.query_drop("BEGIN").unwrap();
    locker.exec_drop("SELECT uid FROM users WHERE uid = ? FOR UPDATE", (uid,)).unwrap();
    let (tx, rx) = mpsc::channel();
    pool.submit(
        JobKind::Once,
        move |c| c.update_password_hash(uid, "new"),
        move |r| tx.send(r).unwrap(),
    )
    .unwrap();
    let mut admin = db.admin();
    let deadline = Instant::now() + Duration::from_secs(10);
    let victim: u64 = loop {
        let waiting: Option<u64> = admin
            .query_first(
                "SELECT id FROM information_schema.processlist WHERE info LIKE 'UPDATE users%'",
            )
            .unwrap();
        if let Some(id) = waiting {
            break id;
        }
        assert!(Instant::now() < deadline, "the job never reached the server");
        std::thread::sleep(Duration::from_millis(20));
    };
    admin.query_drop(format!("KILL CONNECTION {victim}")).unwrap();
    let outcome = rx.recv_timeout(Duration::from_secs(30)).expect("the killed job is answered");
    assert!(matches!(outcome, Err(StoreError::ConnectionLost(_))), "{outcome:?}");
    locker.query_drop("ROLLBACK").unwrap();

    // 2. Every idle connection is killed: the next jobs still work (ping after
    //    idle, or a retry of an idempotent job), and all three workers serve.
    std::thread::sleep(Duration::from_millis(300));
    let ids: Vec<u64> = admin
        .query(
            "SELECT id FROM information_schema.processlist WHERE db = 'im' AND command = 'Sleep'",
        )
        .unwrap();
    for id in ids {
        let _ = admin.query_drop(format!("KILL CONNECTION {id}"));
    }
    for _ in 0..6 {
        let found = call(&pool, JobKind::Idempotent, move |c| c.user_by_uid(uid)).unwrap();
        assert_eq!(found.unwrap().name, "victim");
    }

    // 3. The server stops: jobs fail within the timeout instead of hanging.
    db.stop();
    let started = Instant::now();
    for _ in 0..5 {
        let outcome = call(&pool, JobKind::Idempotent, move |c| c.user_by_uid(uid));
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_) | StoreError::ConnectionLost(_))),
            "{outcome:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());

    // 4. The server is back: the same pool works again, on every worker.
    db.run();
    let (tx, rx) = mpsc::channel();
    for i in 0..9 {
        let tx = tx.clone();
        pool.submit(
            JobKind::Idempotent,
            move |c| c.user_by_uid(uid),
            move |r| tx.send((i, r.is_ok())).unwrap(),
        )
        .unwrap();
    }
    let ok = (0..9).filter(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap().1).count();
    assert_eq!(ok, 9, "everything works again without restarting the process");
    let m = pool.metrics();
    assert!(m.connections_lost.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(m.connects.load(std::sync::atomic::Ordering::SeqCst) >= 4, "connections were replaced");
}
