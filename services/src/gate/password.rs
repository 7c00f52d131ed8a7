//! Password hashing: argon2id with a random salt, stored in PHC string form
//! (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), so the cost a hash was
//! made with travels with it and can be raised later.
//!
//! Hashing is deliberately slow (tens of milliseconds at the default cost):
//! it runs on the store pool's worker threads, never on a loop thread.
//! The submitted password is treated as an opaque string (the original
//! clients send it already obfuscated) and is never logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;
use std::sync::OnceLock;

/// The cost of new hashes (the `[password_hash]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashCost {
    /// Memory per hash in KiB (OWASP's argon2id minimum: 19,456).
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> HashCost {
        HashCost { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

impl HashCost {
    /// The cheapest cost argon2 accepts, for benchmarks that register
    /// thousands of users. Never for production.
    pub fn benchmark() -> HashCost {
        HashCost { memory_kib: 8, iterations: 1, parallelism: 1 }
    }

    fn hasher(&self) -> Result<Argon2<'static>, String> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| format!("password_hash: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Checks the cost is one argon2 accepts; errors name the table.
    pub fn validate(&self) -> Result<(), String> {
        self.hasher().map(drop)
    }
}

/// A new salted hash of `password`.
pub fn hash(cost: &HashCost, password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let hashed =
        cost.hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| e.to_string())?;
    Ok(hashed.to_string())
}

/// True if `password` matches `stored`. A malformed stored hash matches nothing.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Burns about as much time as checking a real password, so that "no such
/// user" and "wrong password" cannot be told apart by timing.
pub fn verify_nothing(cost: &HashCost, password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash(cost, "no such user").unwrap_or_default());
    let _ = verify(dummy, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_salted_and_checks_only_its_password() {
        let cost = HashCost::benchmark();
        let a = hash(&cost, "secret").unwrap();
        let b = hash(&cost, "secret").unwrap();
        assert!(a.starts_with("$argon2id$") && a != b, "salted: {a} vs {b}");
        assert!(!a.contains("secret"));
        assert!(verify(&a, "secret") && verify(&b, "secret"));
        assert!(!verify(&a, "Secret") && !verify("not a hash", "secret"));
    }

    #[test]
    fn the_cost_is_checked() {
        assert!(HashCost { memory_kib: 1, ..HashCost::default() }.validate().is_err());
        HashCost::default().validate().unwrap();
    }
}
