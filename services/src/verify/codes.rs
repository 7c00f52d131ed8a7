//! Where codes live: a SQLite file of the verify server's own
//! (`data_dir/verify.sqlite3`), so that codes and rate limits survive a
//! restart on a machine with no database server. Codes are short-lived and
//! belong to this one daemon; the users' store is not involved.
//!
//! Connections are opened by the verify server's worker pool (the same
//! [`DbPool`](crate::store::DbPool) as the chat and gate servers use, so it
//! is bounded, fails fast when busy, and never blocks a gRPC thread). Each
//! worker's connection also carries the [`Mailer`] it sends with.

use super::mail::Mailer;
use super::rules::CodeRecord;
use crate::store::{Backend, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::PathBuf;
use std::time::Duration;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS codes (
    email         TEXT PRIMARY KEY NOT NULL,
    code          TEXT NOT NULL,
    expires_ms    INTEGER NOT NULL,
    attempts_left INTEGER NOT NULL,
    last_sent_ms  INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    sent_today    INTEGER NOT NULL
) STRICT";

/// Opens connections to the code file, each with a mailer.
pub struct VerifyBackend {
    pub path: PathBuf,
    pub mailer: Mailer,
}

/// One worker's connection and mailer.
pub struct VerifyConn {
    db: Connection,
    pub mailer: Mailer,
}

impl Backend for VerifyBackend {
    type Conn = VerifyConn;

    fn connect(&self) -> Result<VerifyConn, StoreError> {
        let db = Connection::open(&self.path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.path.display())))?;
        db.busy_timeout(Duration::from_secs(5)).map_err(db_error)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(db_error)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(db_error)?;
        db.execute_batch(SCHEMA).map_err(db_error)?;
        Ok(VerifyConn { db, mailer: self.mailer.clone() })
    }

    fn ping(&self, conn: &mut VerifyConn) -> bool {
        conn.db.query_row("SELECT 1", [], |_| Ok(())).is_ok()
    }
}

impl VerifyConn {
    /// Reads `email`'s record, lets `decide` look at it, and stores the
    /// record it returns (if any), all in one write transaction: two
    /// requests for one address cannot both pass a limit.
    pub fn update<T>(
        &mut self,
        email: &str,
        decide: impl FnOnce(&CodeRecord) -> (T, Option<CodeRecord>),
    ) -> Result<T, StoreError> {
        let tx =
            self.db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
        let record = tx
            .query_row(
                "SELECT code, expires_ms, attempts_left, last_sent_ms, day, sent_today FROM codes WHERE email = ?1",
                [email],
                |r| {
                    Ok(CodeRecord {
                        email: email.to_string(),
                        code: r.get(0)?,
                        expires_ms: r.get(1)?,
                        attempts_left: r.get(2)?,
                        last_sent_ms: r.get(3)?,
                        day: r.get(4)?,
                        sent_today: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db_error)?
            .unwrap_or_else(|| CodeRecord::new(email));
        let (answer, next) = decide(&record);
        if let Some(r) = next {
            tx.execute(
                "INSERT INTO codes (email, code, expires_ms, attempts_left, last_sent_ms, day, sent_today)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (email) DO UPDATE SET code = ?2, expires_ms = ?3, attempts_left = ?4,
                     last_sent_ms = ?5, day = ?6, sent_today = ?7",
                params![r.email, r.code, r.expires_ms, r.attempts_left, r.last_sent_ms, r.day, r.sent_today],
            )
            .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)?;
        Ok(answer)
    }
}

fn db_error(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
