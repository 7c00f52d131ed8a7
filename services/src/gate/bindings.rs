//! Which address each user last logged in from, for routes whose client
//! sends no token.
//!
//! The project_show client calls the gate's friend routes with only a uid in
//! the body (`{"uid": 7}`): its server believed it. Here a uid is believed
//! only from the IP address that last logged in as that user through the
//! gate's project_show listener, for [`BINDING_TTL`] after that login. That
//! is the most an unmodified client allows, and it is weaker than a token:
//! anyone behind the same address (the same host, the same NAT) could act as
//! that user on those routes. PROTOCOL.md ("Dialects") says so; clients of
//! this protocol never use these routes.
//!
//! Bounded: at most [`MAX_BINDINGS`] users; when full, expired bindings are
//! dropped, then the one that expires first. Shared by every gate loop
//! (one short lock per request).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a login vouches for its address (a working day and a night: the
/// client stays logged in and never logs in again on its own).
pub const BINDING_TTL: Duration = Duration::from_secs(24 * 3600);

/// Most users remembered.
pub const MAX_BINDINGS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Binding {
    ip: IpAddr,
    until: Instant,
}

/// uid → the address of its latest login.
#[derive(Debug, Default)]
pub struct AddressBindings {
    bindings: Mutex<HashMap<u64, Binding>>,
}

impl AddressBindings {
    /// `uid` logged in from `ip` at `now` (replacing an older login's address).
    pub fn bind(&self, uid: u64, ip: IpAddr, now: Instant) {
        let mut bindings = self.bindings.lock();
        if bindings.len() >= MAX_BINDINGS && !bindings.contains_key(&uid) {
            bindings.retain(|_, b| b.until > now);
            if bindings.len() >= MAX_BINDINGS {
                let first = bindings.iter().min_by_key(|(_, b)| b.until).map(|(&uid, _)| uid);
                first.map(|uid| bindings.remove(&uid));
            }
        }
        bindings.insert(uid, Binding { ip, until: now + BINDING_TTL });
    }

    /// True if a request from `ip` at `now` may act as `uid`.
    pub fn allows(&self, uid: u64, ip: IpAddr, now: Instant) -> bool {
        self.bindings.lock().get(&uid).is_some_and(|b| b.ip == ip && b.until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn only_the_address_of_the_latest_login_and_only_for_a_while() {
        let bindings = AddressBindings::default();
        let now = Instant::now();
        assert!(!bindings.allows(7, HOME, now), "no login, no trust");
        bindings.bind(7, HOME, now);
        assert!(bindings.allows(7, HOME, now));
        assert!(!bindings.allows(7, ELSEWHERE, now));
        assert!(!bindings.allows(8, HOME, now), "another uid from the same address");
        assert!(!bindings.allows(7, HOME, now + BINDING_TTL), "expired");
        bindings.bind(7, ELSEWHERE, now);
        assert!(!bindings.allows(7, HOME, now), "a newer login moved it");
    }

    #[test]
    fn it_never_holds_more_than_its_bound() {
        let bindings = AddressBindings::default();
        let now = Instant::now();
        for uid in 0..MAX_BINDINGS as u64 + 10 {
            bindings.bind(uid, HOME, now + Duration::from_nanos(uid));
        }
        assert_eq!(bindings.bindings.lock().len(), MAX_BINDINGS);
        assert!(bindings.allows(MAX_BINDINGS as u64 + 9, HOME, now), "the newest stays");
        assert!(!bindings.allows(0, HOME, now), "the first to expire went");
    }
}
