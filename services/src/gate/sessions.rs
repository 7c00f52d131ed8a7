//! Resumable sessions: a password login that names a device is also handed
//! a **session token**, and a client whose connection dropped presents it at
//! `/resume_session` instead of its password.
//!
//! Why: a password check is an argon2id hash, slow on purpose (~13 ms of a
//! core at the default cost, 77 logins/s on two cores). When a chat server
//! dies, every one of its users reconnects at once; if each were a password
//! login, 10,000 users would peg the gate for two minutes. A resume costs one
//! indexed lookup instead.
//!
//! The token is 128 random bits, bound to the user and the device it was
//! issued to, expires `ttl_ms` after the password login (it is not renewed
//! by resuming: a stolen token works for a bounded time at most), and is
//! revoked by `/logout` (that token) and by a password reset (all of the
//! user's). The store keeps only its SHA-256: a fast hash is enough for a
//! secret of 128 random bits (nobody can search that space), unlike a
//! password. Pure functions; any thread may call them.

use crate::store::model::SessionToken;
use crate::token::new_token;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `[sessions]` in `conf/gate.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// How long a session token resumes, from the password login.
    pub ttl_ms: u64,
    /// Tokens a user holds at once (one per device); the oldest beyond are
    /// deleted, so made-up device ids cannot grow the table without bound.
    pub per_user: usize,
}

impl Default for SessionsConfig {
    fn default() -> SessionsConfig {
        SessionsConfig { ttl_ms: 30 * 24 * 3600 * 1000, per_user: 10 }
    }
}

impl SessionsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.ttl_ms == 0 || self.ttl_ms > i64::MAX as u64 / 2 {
            return Err("sessions.ttl_ms: must be at least 1 (and below 2^62)".into());
        }
        if self.per_user == 0 {
            return Err("sessions.per_user: must be at least 1".into());
        }
        Ok(())
    }

    /// A new token for `device` of `uid`, issued at `now_ms`: the secret for
    /// the client, and the row for the store.
    pub fn issue(&self, uid: u64, device: &str, now_ms: i64) -> (String, SessionToken) {
        let token = new_token();
        let row = SessionToken {
            token_hash: token_hash(&token),
            uid,
            device: device.to_string(),
            created_ms: now_ms,
            expires_ms: now_ms + self.ttl_ms as i64,
        };
        (token, row)
    }
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` could be one of ours (32 lowercase hex digits): anything
/// else is refused before it reaches the store.
pub fn well_formed(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_is_well_formed_and_stored_only_as_its_hash() {
        let config = SessionsConfig { ttl_ms: 5_000, per_user: 3 };
        let (token, row) = config.issue(7, "phone", 1_000);
        assert!(well_formed(&token));
        assert_eq!(row.token_hash, token_hash(&token));
        assert_ne!(&row.token_hash[..16], token.as_bytes().get(..16).unwrap());
        assert_eq!((row.uid, row.device.as_str(), row.expires_ms), (7, "phone", 6_000));
        assert_ne!(config.issue(7, "phone", 1_000).0, token);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"a".repeat(33)] {
            assert!(!well_formed(bad), "{bad}");
        }
        assert!(well_formed(&"0f".repeat(16)));
    }

    #[test]
    fn configuration_limits() {
        assert!(SessionsConfig::default().validate().is_ok());
        assert!(SessionsConfig { ttl_ms: 0, per_user: 1 }.validate().is_err());
        assert!(SessionsConfig { ttl_ms: 1, per_user: 0 }.validate().is_err());
    }
}
