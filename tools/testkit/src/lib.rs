//! What the tests and the benchmarks share, in one place: throwaway stores,
//! a whole cluster in one process, and daemons run as child processes.
//!
//! | module | what |
//! |---|---|
//! | [`store`] | a fresh SQLite file or MySQL database per test, removed afterwards; sample users |
//! | [`cluster`] | status + chat servers (+ verify + gate) on `127.0.0.1:0`, sharing one store |
//! | [`mariadb`] | a mariadbd of a test's own, to stop, restart and freeze |
//! | [`process`] | a daemon binary as a child: started, waited for, signalled, killed on drop |
//! | [`link`] | a TCP forwarder in front of a server, which a test cuts and heals |
//!
//! Used by services' tests, tools' tests and `perf/chat-bench`. Never by a daemon.

pub mod cluster;
pub mod link;
pub mod mariadb;
pub mod process;
pub mod store;
