//! Limits on wrong passwords at `/user_login`, per source address and per
//! account, with exponential backoff (1104 while it lasts).
//!
//! The trade-off: a limit per account stops a guesser spread over many
//! addresses, but an attacker can then keep a real user's account in
//! backoff for as long as the attack lasts. So the account limit does not
//! apply to the addresses that account last logged in from successfully
//! (its few *known* addresses): the owner at home or at work logs in while
//! a stranger is held back. The owner on a new address waits at most
//! `max_backoff_ms` after the attack stops, and a limit per address caps
//! what one address may try across all accounts (credential stuffing).
//! Refused attempts cost no password hash, so a flood of them is cheap.
//!
//! Failures are forgotten `forget_after_ms` after the last one, and only
//! then: a success does not clear them (the owner logging in must not give a
//! stranger a fresh set of guesses, and an attacker must not reset its
//! address's count by logging in to an account of its own). It makes the
//! address it came from a known one instead.
//!
//! Bounded: at most `max_tracked` addresses and as many accounts; when
//! full, forgotten entries are dropped, then the oldest. Shared by every
//! gate loop and store worker (one short lock per login); any thread.

use parking_lot::Mutex;
use serde::Deserialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// `[login_limits]` in `conf/gate.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginLimitsConfig {
    /// Wrong passwords for one account before its backoff starts (for
    /// addresses that are not among its known ones).
    pub account_failures: u32,
    /// Wrong passwords (or unknown users) from one address, across all
    /// accounts, before its backoff starts.
    pub address_failures: u32,
    /// The first backoff; it doubles with each further failure.
    pub base_backoff_ms: u64,
    /// The longest backoff.
    pub max_backoff_ms: u64,
    /// Failures are forgotten this long after the last one.
    pub forget_after_ms: u64,
    /// Addresses remembered per account as known (its latest successful logins).
    pub known_addresses: usize,
    /// Most addresses, and most accounts, tracked at once.
    pub max_tracked: usize,
}

impl Default for LoginLimitsConfig {
    fn default() -> LoginLimitsConfig {
        LoginLimitsConfig {
            account_failures: 5,
            address_failures: 20,
            base_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            forget_after_ms: 15 * 60_000,
            known_addresses: 4,
            max_tracked: 100_000,
        }
    }
}

impl LoginLimitsConfig {
    /// Checks what serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.account_failures == 0 || self.address_failures == 0 {
            return Err(
                "login_limits: account_failures and address_failures must be 1 or more".into()
            );
        }
        if self.base_backoff_ms == 0 || self.max_backoff_ms < self.base_backoff_ms {
            return Err("login_limits: base_backoff_ms must be more than 0 and at most \
                        max_backoff_ms"
                .into());
        }
        if self.max_tracked == 0 {
            return Err("login_limits: max_tracked must be 1 or more".into());
        }
        Ok(())
    }
}

/// Failures of one address or one account.
#[derive(Debug, Clone, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
    blocked_until: Option<Instant>,
}

impl Failures {
    /// Forgets failures older than `forget_after`.
    fn refresh(&mut self, now: Instant, forget_after: Duration) {
        if self.last.is_some_and(|last| now.duration_since(last) >= forget_after) {
            *self = Failures::default();
        }
    }

    fn blocked(&self, now: Instant) -> Option<Duration> {
        self.blocked_until.filter(|&until| until > now).map(|until| until - now)
    }

    /// One more failure; past `free` of them, a backoff that doubles each time.
    fn fail(&mut self, now: Instant, free: u32, config: &LoginLimitsConfig) {
        self.count = self.count.saturating_add(1);
        self.last = Some(now);
        if self.count >= free {
            let doublings = (self.count - free).min(20);
            let ms =
                config.base_backoff_ms.saturating_mul(1 << doublings).min(config.max_backoff_ms);
            self.blocked_until = Some(now + Duration::from_millis(ms));
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Account {
    failures: Failures,
    /// Latest successful login addresses, newest last.
    known: Vec<IpAddr>,
}

/// Why a login attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures from this address; retry after the duration.
    Address(Duration),
    /// Too many failures for this account from unknown addresses.
    Account(Duration),
}

#[derive(Debug, Default)]
struct Tables {
    addresses: HashMap<IpAddr, Failures>,
    accounts: HashMap<u64, Account>,
}

/// The limits of one gate.
#[derive(Debug)]
pub struct LoginLimits {
    config: LoginLimitsConfig,
    tables: Mutex<Tables>,
}

impl LoginLimits {
    pub fn new(config: LoginLimitsConfig) -> LoginLimits {
        LoginLimits { config, tables: Mutex::new(Tables::default()) }
    }

    fn forget_after(&self) -> Duration {
        Duration::from_millis(self.config.forget_after_ms)
    }

    /// Before anything else: is `ip` in backoff?
    pub fn check_address(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let mut tables = self.tables.lock();
        let Some(failures) = tables.addresses.get_mut(&ip) else { return Ok(()) };
        failures.refresh(now, self.forget_after());
        failures.blocked(now).map_or(Ok(()), |left| Err(Refusal::Address(left)))
    }

    /// Once the account is known, before its password hash is checked: is
    /// it in backoff for `ip`? Never for one of its known addresses.
    pub fn check_account(&self, uid: u64, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let mut tables = self.tables.lock();
        let Some(account) = tables.accounts.get_mut(&uid) else { return Ok(()) };
        if account.known.contains(&ip) {
            return Ok(());
        }
        account.failures.refresh(now, self.forget_after());
        account.failures.blocked(now).map_or(Ok(()), |left| Err(Refusal::Account(left)))
    }

    /// A wrong password (`uid` known) or an unknown user (`uid` None) from `ip`.
    pub fn failed(&self, uid: Option<u64>, ip: IpAddr, now: Instant) {
        let forget_after = self.forget_after();
        let mut tables = self.tables.lock();
        let limit = self.config.max_tracked;
        make_room(&mut tables.addresses, &ip, limit, now, forget_after, |f| f.last);
        let address = tables.addresses.entry(ip).or_default();
        address.refresh(now, forget_after);
        address.fail(now, self.config.address_failures, &self.config);
        if let Some(uid) = uid {
            make_room(&mut tables.accounts, &uid, limit, now, forget_after, |a| a.failures.last);
            let account = tables.accounts.entry(uid).or_default();
            if !account.known.contains(&ip) {
                account.failures.refresh(now, forget_after);
                account.failures.fail(now, self.config.account_failures, &self.config);
            }
        }
    }

    /// The right password for `uid` from `ip`: `ip` becomes one of its known
    /// addresses (its failures stay, for the others).
    pub fn succeeded(&self, uid: u64, ip: IpAddr, now: Instant) {
        let mut tables = self.tables.lock();
        let limit = self.config.max_tracked;
        make_room(&mut tables.accounts, &uid, limit, now, self.forget_after(), |a| a.failures.last);
        let account = tables.accounts.entry(uid).or_default();
        account.known.retain(|&known| known != ip);
        account.known.push(ip);
        if account.known.len() > self.config.known_addresses {
            account.known.remove(0);
        }
    }
}

/// Before inserting `key` into a table at its `limit`: drops forgotten
/// entries, then the one whose last failure is oldest.
fn make_room<K: Eq + Hash + Clone, V>(
    table: &mut HashMap<K, V>,
    key: &K,
    limit: usize,
    now: Instant,
    forget_after: Duration,
    last: impl Fn(&V) -> Option<Instant>,
) {
    if table.len() < limit || table.contains_key(key) {
        return;
    }
    table.retain(|_, v| last(v).is_some_and(|t| now.duration_since(t) < forget_after));
    if table.len() >= limit {
        let oldest = table.iter().min_by_key(|(_, v)| last(v)).map(|(k, _)| k.clone());
        oldest.map(|k| table.remove(&k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn limits() -> LoginLimits {
        LoginLimits::new(LoginLimitsConfig {
            account_failures: 3,
            address_failures: 5,
            base_backoff_ms: 1_000,
            max_backoff_ms: 8_000,
            forget_after_ms: 60_000,
            known_addresses: 2,
            max_tracked: 100,
        })
    }

    #[test]
    fn an_account_backs_off_after_its_free_failures_and_doubles() {
        let (l, t0) = (limits(), Instant::now());
        for _ in 0..2 {
            l.failed(Some(7), A, t0);
        }
        assert_eq!(l.check_account(7, A, t0), Ok(()));
        l.failed(Some(7), A, t0);
        assert_eq!(l.check_account(7, A, t0), Err(Refusal::Account(Duration::from_secs(1))));
        l.failed(Some(7), A, t0);
        assert_eq!(l.check_account(7, A, t0), Err(Refusal::Account(Duration::from_secs(2))));
        for _ in 0..10 {
            l.failed(Some(7), B, t0);
        }
        let capped = l.check_account(7, B, t0);
        assert_eq!(capped, Err(Refusal::Account(Duration::from_secs(8))), "max_backoff_ms");
        assert_eq!(l.check_account(7, B, t0 + Duration::from_secs(8)), Ok(()), "it ends");
    }

    #[test]
    fn the_owner_on_a_known_address_is_not_locked_out_by_strangers() {
        let (l, t0) = (limits(), Instant::now());
        l.succeeded(7, A, t0);
        for _ in 0..4 {
            l.failed(Some(7), B, t0);
        }
        assert!(l.check_account(7, B, t0).is_err(), "the stranger waits");
        assert_eq!(l.check_account(7, A, t0), Ok(()), "the owner's address does not");
        // Wrong passwords from a known address do not count for the
        // account (the address limit still holds them).
        for _ in 0..4 {
            l.failed(Some(8), A, t0);
        }
        l.succeeded(8, A, t0);
        for _ in 0..4 {
            l.failed(Some(8), A, t0);
        }
        assert_eq!(l.check_account(8, A, t0), Ok(()));
        assert!(l.check_address(A, t0).is_err(), "8 failures from A: over its 5");
    }

    #[test]
    fn an_address_backs_off_across_accounts_and_a_success_does_not_reset_it() {
        let (l, t0) = (limits(), Instant::now());
        for uid in 0..4 {
            l.failed(Some(uid), A, t0);
        }
        l.failed(None, A, t0);
        assert_eq!(l.check_address(A, t0), Err(Refusal::Address(Duration::from_secs(1))));
        l.succeeded(99, A, t0);
        assert!(l.check_address(A, t0).is_err());
        assert_eq!(l.check_address(B, t0), Ok(()));
    }

    #[test]
    fn failures_are_forgotten_and_a_success_keeps_them_for_other_addresses() {
        let (l, t0) = (limits(), Instant::now());
        for _ in 0..3 {
            l.failed(Some(7), A, t0);
        }
        let later = t0 + Duration::from_secs(60);
        assert_eq!(l.check_account(7, A, later), Ok(()), "forgotten");
        l.failed(Some(7), A, later);
        assert_eq!(l.check_account(7, A, later), Ok(()), "counting from zero again");
        for _ in 0..3 {
            l.failed(Some(9), B, t0);
        }
        l.succeeded(9, A, t0);
        assert!(l.check_account(9, B, t0).is_err(), "the owner's login is no reset for B");
        assert_eq!(l.check_account(9, A, t0), Ok(()));
    }

    #[test]
    fn the_tables_stay_bounded() {
        let l = limits();
        let t0 = Instant::now();
        for i in 0..1_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            l.failed(Some(u64::from(i)), ip, t0 + Duration::from_millis(u64::from(i)));
        }
        let tables = l.tables.lock();
        assert!(tables.addresses.len() <= 100 && tables.accounts.len() <= 100);
    }

    #[test]
    fn known_addresses_are_the_latest_few() {
        let (l, t0) = (limits(), Instant::now());
        let c = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
        for ip in [A, B, c] {
            l.succeeded(7, ip, t0);
        }
        for _ in 0..3 {
            l.failed(Some(7), A, t0);
        }
        assert!(l.check_account(7, A, t0).is_err(), "A fell out of the 2 known addresses");
        assert_eq!(l.check_account(7, c, t0), Ok(()));
    }

    #[test]
    fn bad_settings_are_named() {
        let zero = LoginLimitsConfig { account_failures: 0, ..LoginLimitsConfig::default() };
        assert!(zero.validate().unwrap_err().contains("account_failures"));
        let inverted = LoginLimitsConfig { max_backoff_ms: 1, ..LoginLimitsConfig::default() };
        assert!(inverted.validate().unwrap_err().contains("max_backoff_ms"));
        assert_eq!(LoginLimitsConfig::default().validate(), Ok(()));
    }
}
