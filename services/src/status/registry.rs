//! The status server's state and rules, without any gRPC: which chat servers
//! are alive and how loaded, which token each user holds, and where each
//! online user is connected. Kept behind one mutex by the service; every
//! operation is a few hash-map steps, so the lock is held for microseconds.
//!
//! All of it is soft state: it is rebuilt from the chat servers after a
//! restart (see `reporter.rs`).

use crate::device::DeviceKind;
use crate::token::{constant_time_eq, new_token};
use proto::rpc::status::{
    ChatServerInfo, ReportOfflineReply, ReportOnlineReply, Session, TokenStatus, UserLocation,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most sessions or uids accepted in one call.
pub const MAX_BATCH: usize = 10_000;
/// Most chat servers that may be registered at once.
pub const MAX_SERVERS: usize = 1024;
/// Longest accepted server name, host or address.
const MAX_NAME_LEN: usize = 255;
/// Longest token worth comparing (ours are 32 characters).
const MAX_TOKEN_LEN: usize = 128;
/// Tokens a user holds at once: a few devices may log in at the same time,
/// each with the token the gate gave it. Beyond it the oldest is forgotten.
const TOKENS_PER_USER: usize = 8;
/// Sessions a user may have at once: one per device kind, with room for a
/// replaced session whose offline report is late.
const SESSIONS_PER_USER: usize = 8;
/// How often expired tokens and long-dead servers are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// A server that heartbeated within this many periods is preferred when
/// assigning users (a heartbeat can be a period late without anything wrong).
const FRESH_INTERVALS: u32 = 2;
/// A server silent for this many heartbeat timeouts is forgotten entirely.
const FORGET_AFTER_TIMEOUTS: u32 = 10;

/// Timing rules of the status server.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How long a token stays valid.
    pub token_ttl: Duration,
    /// A chat server silent this long is no longer a candidate.
    pub heartbeat_timeout: Duration,
    /// The heartbeat period chat servers are told to use.
    pub heartbeat_interval: Duration,
}

/// A request the registry refuses; the service maps it to a gRPC status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Malformed input (empty name, oversized batch, ...).
    Invalid(String),
    /// The named chat server is not registered (register first).
    UnknownServer(String),
    /// No live chat server can take the user.
    NoServer,
    /// Too many chat servers registered.
    Full,
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Invalid(why) => write!(f, "invalid request: {why}"),
            RegistryError::UnknownServer(name) => {
                write!(f, "chat server `{name}` is not registered")
            }
            RegistryError::NoServer => f.write_str("no live chat server"),
            RegistryError::Full => write!(f, "more than {MAX_SERVERS} chat servers"),
        }
    }
}

struct ServerEntry {
    info: ChatServerInfo,
    /// Connections it reported in its last heartbeat.
    load: u32,
    /// Users sent to it since that heartbeat: counted so that a login burst
    /// spreads over servers instead of all landing on the one that was
    /// least loaded at the last heartbeat.
    assigned_since_heartbeat: u32,
    last_heartbeat: Instant,
}

struct TokenEntry {
    token: String,
    expires: Instant,
}

#[derive(Clone)]
struct SessionEntry {
    server: String,
    session_id: u64,
    kind: DeviceKind,
    device_id: String,
}

/// The whole state of a status server.
pub struct Registry {
    rules: Rules,
    servers: HashMap<String, ServerEntry>,
    /// A user's tokens, oldest first (at most [`TOKENS_PER_USER`]).
    tokens: HashMap<u64, Vec<TokenEntry>>,
    /// A user's online sessions, one per device kind (see `crate::device`).
    sessions: HashMap<u64, Vec<SessionEntry>>,
    /// Rotates the choice among equally loaded servers.
    tie_breaker: usize,
    last_sweep: Instant,
}

impl Registry {
    pub fn new(rules: Rules, now: Instant) -> Registry {
        Registry {
            rules,
            servers: HashMap::new(),
            tokens: HashMap::new(),
            sessions: HashMap::new(),
            tie_breaker: 0,
            last_sweep: now,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Adds or refreshes a chat server.
    pub fn register(
        &mut self,
        info: ChatServerInfo,
        load: u32,
        now: Instant,
    ) -> Result<(), RegistryError> {
        check_text("server name", &info.name)?;
        check_text("host", &info.host)?;
        check_text("rpc_addr", &info.rpc_addr)?;
        if info.port == 0 || info.port > u32::from(u16::MAX) {
            return Err(RegistryError::Invalid(format!("port {} out of range", info.port)));
        }
        if !self.servers.contains_key(&info.name) && self.servers.len() >= MAX_SERVERS {
            return Err(RegistryError::Full);
        }
        let name = info.name.clone();
        let entry = ServerEntry { info, load, assigned_since_heartbeat: 0, last_heartbeat: now };
        if let Some(old) = self.servers.insert(name.clone(), entry) {
            if old.info.rpc_addr != self.servers[&name].info.rpc_addr {
                log::info!("chat server {name} moved from {}", old.info.rpc_addr);
            }
        } else {
            log::info!("chat server {name} registered ({} live)", self.live_count(now));
        }
        Ok(())
    }

    /// Records a heartbeat. False if the server is unknown (it must register).
    pub fn heartbeat(&mut self, name: &str, load: u32, now: Instant) -> bool {
        self.sweep(now);
        match self.servers.get_mut(name) {
            Some(server) => {
                server.load = load;
                server.assigned_since_heartbeat = 0;
                server.last_heartbeat = now;
                true
            }
            None => false,
        }
    }

    /// Picks the least-loaded live server for `uid` and issues a token (the
    /// uid's earlier ones stay valid: another device may be logging in). Servers whose last heartbeat
    /// is recent (within [`FRESH_INTERVALS`] periods) come first: one that
    /// missed its heartbeats is probably dead or starved, and a client sent
    /// there would fail to connect and come back through the gate.
    pub fn assign(
        &mut self,
        uid: u64,
        now: Instant,
    ) -> Result<(ChatServerInfo, String), RegistryError> {
        if uid == 0 {
            return Err(RegistryError::Invalid("uid 0".into()));
        }
        self.sweep(now);
        let silent_for = |s: &ServerEntry| now.duration_since(s.last_heartbeat);
        let fresh = self.rules.heartbeat_interval * FRESH_INTERVALS;
        let within = |limit: Duration| {
            let servers = self.servers.iter().filter(move |(_, s)| silent_for(s) <= limit);
            servers.map(|(name, _)| name).collect::<Vec<&String>>()
        };
        let mut live = within(fresh.min(self.rules.heartbeat_timeout));
        if live.is_empty() {
            live = within(self.rules.heartbeat_timeout);
        }
        let score = |s: &ServerEntry| u64::from(s.load) + u64::from(s.assigned_since_heartbeat);
        let best = live
            .iter()
            .map(|name| score(&self.servers[*name]))
            .min()
            .ok_or(RegistryError::NoServer)?;
        live.retain(|name| score(&self.servers[*name]) == best);
        live.sort(); // a stable order, so the rotation below is fair
        let chosen = live[self.tie_breaker % live.len()].clone();
        self.tie_breaker = self.tie_breaker.wrapping_add(1);
        let server = self.servers.get_mut(&chosen).expect("chosen from the map");
        server.assigned_since_heartbeat += 1;
        let token = new_token();
        let expires = now + self.rules.token_ttl;
        let tokens = self.tokens.entry(uid).or_default();
        if tokens.len() == TOKENS_PER_USER {
            tokens.remove(0);
        }
        tokens.push(TokenEntry { token: token.clone(), expires });
        Ok((server.info.clone(), token))
    }

    /// Checks a token presented by `uid`.
    pub fn check_token(&self, uid: u64, token: &str, now: Instant) -> TokenStatus {
        let Some(entries) = self.tokens.get(&uid) else { return TokenStatus::TokenInvalid };
        if token.len() > MAX_TOKEN_LEN {
            return TokenStatus::TokenInvalid;
        }
        let same = |e: &&TokenEntry| constant_time_eq(e.token.as_bytes(), token.as_bytes());
        match entries.iter().find(same) {
            None => TokenStatus::TokenInvalid,
            Some(entry) if now >= entry.expires => TokenStatus::TokenExpired,
            Some(_) => TokenStatus::TokenValid,
        }
    }

    /// Records sessions that came online on `server`. Returns the sessions
    /// they replace (same uid, a kind the new one replaces: see
    /// [`DeviceKind::replaces`]), which must be kicked, and the users who
    /// had no session before.
    pub fn report_online(
        &mut self,
        server: &str,
        sessions: &[Session],
        now: Instant,
    ) -> Result<ReportOnlineReply, RegistryError> {
        check_batch(sessions.len())?;
        if !self.servers.contains_key(server) {
            return Err(RegistryError::UnknownServer(server.to_string()));
        }
        if let Some(s) = sessions.iter().find(|s| s.device_id.len() > crate::device::MAX_DEVICE_ID)
        {
            return Err(RegistryError::Invalid(format!("device id of uid {} too long", s.uid)));
        }
        self.sweep(now);
        let mut kick = Vec::new();
        let mut first_online = Vec::new();
        for session in sessions {
            let new = SessionEntry {
                server: server.to_string(),
                session_id: session.session_id,
                kind: DeviceKind::from_wire(session.kind),
                device_id: session.device_id.clone(),
            };
            let entries = self.sessions.entry(session.uid).or_default();
            if entries.is_empty() {
                first_online.push(session.uid);
            }
            let same = |e: &SessionEntry| e.server == server && e.session_id == new.session_id;
            if entries.iter().any(same) {
                continue; // re-reported (after a status restart): nothing changes
            }
            let (replaced, kept): (Vec<_>, Vec<_>) =
                std::mem::take(entries).into_iter().partition(|e| new.kind.replaces(e.kind));
            *entries = kept;
            if entries.len() == SESSIONS_PER_USER {
                entries.remove(0);
            }
            entries.push(new);
            kick.extend(replaced.into_iter().map(|e| (session.uid, e)));
        }
        let kick = kick.iter().map(|(uid, entry)| self.location(*uid, entry)).collect();
        Ok(ReportOnlineReply { kick, first_online })
    }

    /// Removes sessions that ended; a session id that is no longer there (a
    /// newer login replaced it) removes nothing. Returns how many were
    /// removed, and the users left with no session.
    pub fn report_offline(
        &mut self,
        server: &str,
        sessions: &[Session],
    ) -> Result<ReportOfflineReply, RegistryError> {
        check_batch(sessions.len())?;
        let mut reply = ReportOfflineReply::default();
        for session in sessions {
            let Some(entries) = self.sessions.get_mut(&session.uid) else { continue };
            let before = entries.len();
            entries.retain(|e| !(e.server == server && e.session_id == session.session_id));
            reply.removed += (before - entries.len()) as u32;
            if entries.is_empty() {
                self.sessions.remove(&session.uid);
                if before > 0 {
                    reply.last_offline.push(session.uid);
                }
            }
        }
        Ok(reply)
    }

    /// Where these users are connected: one location per online session.
    /// Users who are offline, and sessions on a chat server that has stopped
    /// heartbeating, are left out.
    pub fn lookup(&self, uids: &[u64], now: Instant) -> Result<Vec<UserLocation>, RegistryError> {
        check_batch(uids.len())?;
        let alive = |session: &SessionEntry| {
            self.servers.get(&session.server).is_some_and(|server| {
                now.duration_since(server.last_heartbeat) <= self.rules.heartbeat_timeout
            })
        };
        let mut found = Vec::new();
        for uid in uids {
            let Some(entries) = self.sessions.get(uid) else { continue };
            for session in entries.iter().filter(|s| alive(s)) {
                found.push(self.location(*uid, session));
            }
        }
        Ok(found)
    }

    /// Chat servers that are live now.
    pub fn live_count(&self, now: Instant) -> usize {
        let timeout = self.rules.heartbeat_timeout;
        self.servers.values().filter(|s| now.duration_since(s.last_heartbeat) <= timeout).count()
    }

    fn location(&self, uid: u64, session: &SessionEntry) -> UserLocation {
        let rpc_addr = self.servers.get(&session.server).map(|s| s.info.rpc_addr.clone());
        UserLocation {
            uid,
            session_id: session.session_id,
            server: session.server.clone(),
            rpc_addr: rpc_addr.unwrap_or_default(),
            kind: session.kind.wire(),
            device_id: session.device_id.clone(),
        }
    }

    /// Drops expired tokens, and servers (with their sessions) silent for
    /// many heartbeat timeouts, at most once per `SWEEP_EVERY`. This is what
    /// keeps memory bounded by the number of active users.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < SWEEP_EVERY {
            return;
        }
        self.last_sweep = now;
        self.tokens.retain(|_, tokens| {
            tokens.retain(|t| t.expires > now);
            !tokens.is_empty()
        });
        let forget_after = self.rules.heartbeat_timeout * FORGET_AFTER_TIMEOUTS;
        let before = self.servers.len();
        self.servers.retain(|name, s| {
            let keep = now.duration_since(s.last_heartbeat) <= forget_after;
            if !keep {
                log::warn!("chat server {name} silent for {forget_after:?}: forgotten");
            }
            keep
        });
        if self.servers.len() != before {
            let servers = &self.servers;
            self.sessions.retain(|_, sessions| {
                sessions.retain(|s| servers.contains_key(&s.server));
                !sessions.is_empty()
            });
        }
    }
}

fn check_text(what: &str, value: &str) -> Result<(), RegistryError> {
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return Err(RegistryError::Invalid(format!("{what} must be 1 to {MAX_NAME_LEN} bytes")));
    }
    Ok(())
}

fn check_batch(len: usize) -> Result<(), RegistryError> {
    if len > MAX_BATCH {
        return Err(RegistryError::Invalid(format!(
            "{len} entries in one call; the limit is {MAX_BATCH}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            token_ttl: Duration::from_secs(60),
            heartbeat_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(1),
        }
    }

    fn info(name: &str) -> ChatServerInfo {
        ChatServerInfo {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 9000,
            rpc_addr: format!("{name}:1"),
            llfcchat_port: 0,
            project_show_port: 0,
        }
    }

    fn session(uid: u64, session_id: u64, kind: DeviceKind) -> Session {
        let device_id = if kind == DeviceKind::Legacy { String::new() } else { kind.name().into() };
        Session { uid, session_id, kind: kind.wire(), device_id }
    }

    #[test]
    fn one_session_per_device_kind_and_a_legacy_login_replaces_all() {
        use DeviceKind::*;
        let now = Instant::now();
        let mut registry = Registry::new(rules(), now);
        registry.register(info("a"), 0, now).unwrap();
        registry.register(info("b"), 0, now).unwrap();
        let kicked = |r: ReportOnlineReply| r.kick.iter().map(|l| l.session_id).collect::<Vec<_>>();
        let first = registry.report_online("a", &[session(7, 1, Desktop)], now).unwrap();
        assert!(first.kick.is_empty());
        assert_eq!(first.first_online, [7], "the user's first session");
        let second = registry.report_online("b", &[session(7, 2, Mobile)], now).unwrap();
        assert!(second.kick.is_empty() && second.first_online.is_empty());
        let online = registry.lookup(&[7], now).unwrap();
        let mut places: Vec<_> = online.iter().map(|l| (l.server.as_str(), l.kind)).collect();
        places.sort();
        assert_eq!(places, [("a", Desktop.wire()), ("b", Mobile.wire())]);
        // A second desktop replaces the first only.
        let kick = registry.report_online("b", &[session(7, 3, Desktop)], now).unwrap();
        assert_eq!(kicked(kick), [1]);
        assert_eq!(registry.lookup(&[7], now).unwrap().len(), 2);
        // A legacy login replaces both; any device login then replaces it.
        let mut kick = kicked(registry.report_online("a", &[session(7, 4, Legacy)], now).unwrap());
        kick.sort();
        assert_eq!(kick, [2, 3]);
        assert_eq!(kicked(registry.report_online("a", &[session(7, 5, Web)], now).unwrap()), [4]);
        let gone = registry.report_offline("a", &[session(7, 5, Web)]).unwrap();
        assert_eq!((gone.removed, gone.last_offline), (1, vec![7]));
        assert!(registry.lookup(&[7], now).unwrap().is_empty());
    }

    #[test]
    fn each_device_logs_in_with_its_own_token() {
        let now = Instant::now();
        let mut registry = Registry::new(rules(), now);
        registry.register(info("a"), 0, now).unwrap();
        let tokens: Vec<String> =
            (0..TOKENS_PER_USER + 1).map(|_| registry.assign(7, now).unwrap().1).collect();
        assert_eq!(registry.check_token(7, &tokens[0], now), TokenStatus::TokenInvalid);
        for token in &tokens[1..] {
            assert_eq!(registry.check_token(7, token, now), TokenStatus::TokenValid);
        }
        let later = now + Duration::from_secs(61);
        assert_eq!(registry.check_token(7, &tokens[1], later), TokenStatus::TokenExpired);
    }

    #[test]
    fn a_burst_spreads_over_equally_loaded_servers() {
        let now = Instant::now();
        let mut registry = Registry::new(rules(), now);
        for name in ["a", "b", "c"] {
            registry.register(info(name), 0, now).unwrap();
        }
        let mut counts = HashMap::new();
        for uid in 1..=300 {
            let (server, _) = registry.assign(uid, now).unwrap();
            *counts.entry(server.name).or_insert(0) += 1;
        }
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![100, 100, 100]);
    }

    #[test]
    fn a_server_that_missed_heartbeats_is_chosen_only_when_no_other_is_live() {
        let start = Instant::now();
        let mut registry = Registry::new(rules(), start);
        registry.register(info("quiet"), 0, start).unwrap();
        registry.register(info("busy"), 500, start).unwrap();
        // 2.5 s later both missed two periods (but are live: timeout 5 s):
        // the least loaded is chosen.
        let late = start + Duration::from_millis(2500);
        assert_eq!(registry.assign(1, late).unwrap().0.name, "quiet");
        // Once "busy" heartbeats, "quiet" is passed over despite its load.
        let now = start + Duration::from_secs(3);
        assert!(registry.heartbeat("busy", 500, now));
        for uid in 2..=10 {
            assert_eq!(registry.assign(uid, now).unwrap().0.name, "busy");
        }
        // Past the timeout, none is.
        let gone = start + Duration::from_secs(9);
        assert!(matches!(registry.assign(12, gone), Err(RegistryError::NoServer)));
    }

    #[test]
    fn a_stale_offline_report_leaves_the_newer_session() {
        let now = Instant::now();
        let mut registry = Registry::new(rules(), now);
        registry.register(info("a"), 0, now).unwrap();
        registry.register(info("b"), 0, now).unwrap();
        let old = session(7, 1, DeviceKind::Legacy);
        let new = session(7, 2, DeviceKind::Legacy);
        assert!(registry
            .report_online("a", std::slice::from_ref(&old), now)
            .unwrap()
            .kick
            .is_empty());
        let kick = registry.report_online("b", &[new], now).unwrap().kick;
        assert_eq!(kick.len(), 1);
        assert_eq!((kick[0].server.as_str(), kick[0].session_id), ("a", 1));
        let stale = registry.report_offline("a", &[old]).unwrap();
        assert_eq!(stale.removed, 0);
        assert!(stale.last_offline.is_empty(), "the newer session is still there");
        assert_eq!(registry.lookup(&[7], now).unwrap()[0].server, "b");
    }

    #[test]
    fn re_reporting_the_same_session_kicks_nothing() {
        let now = Instant::now();
        let mut registry = Registry::new(rules(), now);
        registry.register(info("a"), 0, now).unwrap();
        let s = session(7, 1, DeviceKind::Desktop);
        registry.report_online("a", std::slice::from_ref(&s), now).unwrap();
        let again = registry.report_online("a", &[s], now).unwrap();
        assert!(again.kick.is_empty() && again.first_online.is_empty());
    }
}
