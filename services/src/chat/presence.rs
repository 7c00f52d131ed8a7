//! Every call this chat server makes to the status server.
//!
//! All of them are asynchronous: a loop thread starts the call and returns;
//! the answer arrives on a grpcio completion thread, which only posts work
//! back (through the callback it is given). The router's lookup is the one
//! blocking call, made on the router's own thread, and the shutdown report
//! blocks the thread that stops the server. Any thread may call these.

use crate::chat::delivery::directory::Online;
use grpcio::CallOption;
use proto::rpc::status::{
    LoginRequest, LookupUsersRequest, ReportOfflineRequest, ReportOnlineRequest,
    Session as StatusSession, StatusServiceClient, UserLocation,
};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// A session as the status server's messages carry it.
pub fn status_session(session: &Online) -> StatusSession {
    StatusSession {
        uid: session.uid,
        session_id: session.session_id,
        kind: session.device.kind.wire(),
        device_id: session.device.id.clone(),
    }
}

/// The status server, as this chat server talks to it.
pub struct Presence {
    /// This server's name in the cluster.
    server: String,
    client: StatusServiceClient,
    timeout: Duration,
}

impl Presence {
    pub fn new(server: String, client: StatusServiceClient, timeout: Duration) -> Presence {
        Presence { server, client, timeout }
    }

    fn call(&self) -> CallOption {
        CallOption::default().timeout(self.timeout)
    }

    /// Asks whether `token` is `uid`'s; `then` gets the token status (or
    /// why the call failed) on a completion thread.
    pub fn check_token(
        &self,
        uid: u64,
        token: String,
        then: impl FnOnce(Result<i32, String>) + Send + 'static,
    ) {
        let request = LoginRequest { uid, token };
        match self.client.login_async_opt(&request, self.call()) {
            Ok(call) => self.client.spawn(async move {
                then(call.await.map(|reply| reply.status).map_err(|e| e.to_string()));
            }),
            Err(e) => then(Err(e.to_string())),
        }
    }

    /// Tells the status server `session` is online here; `then` gets the
    /// sessions this login replaced (to kick those on other servers) and
    /// whether it is the user's first session (its friends are told).
    pub fn report_online(
        &self,
        session: &Online,
        then: impl FnOnce(Vec<UserLocation>, bool) + Send + 'static,
    ) {
        let uid = session.uid;
        let request = ReportOnlineRequest {
            server: self.server.clone(),
            sessions: vec![status_session(session)],
        };
        match self.client.report_online_async_opt(&request, self.call()) {
            Ok(call) => self.client.spawn(async move {
                match call.await {
                    Ok(reply) => then(reply.kick, reply.first_online.contains(&uid)),
                    // The reporter re-reports every session when the status server returns.
                    Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
                }
            }),
            Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
        }
    }

    /// Tells the status server a session ended (best effort: a stale
    /// session id removes nothing there); `last` runs (on a completion
    /// thread) if it was the user's last session anywhere.
    pub fn report_offline(&self, uid: u64, session_id: u64, last: impl FnOnce() + Send + 'static) {
        let request = ReportOfflineRequest {
            server: self.server.clone(),
            sessions: vec![StatusSession { uid, session_id, ..StatusSession::default() }],
        };
        match self.client.report_offline_async_opt(&request, self.call()) {
            Ok(call) => self.client.spawn(async move {
                match call.await {
                    Ok(reply) if reply.last_offline.contains(&uid) => last(),
                    Ok(_) => {}
                    Err(e) => log::debug!("cannot report uid {uid} offline: {e}"),
                }
            }),
            Err(e) => log::debug!("cannot report uid {uid} offline: {e}"),
        }
    }

    /// Which of `uids` have a session somewhere; `then` gets them on a
    /// completion thread (none if the status server cannot say: presence
    /// is best effort, a login never waits for it to fail twice).
    pub fn online_among(&self, uids: Vec<u64>, then: impl FnOnce(HashSet<u64>) + Send + 'static) {
        match self.client.lookup_users_async_opt(&LookupUsersRequest { uids }, self.call()) {
            Ok(call) => self.client.spawn(async move {
                match call.await {
                    Ok(reply) => then(reply.online.into_iter().map(|l| l.uid).collect()),
                    Err(e) => {
                        log::debug!("friends' presence not known: {e}");
                        then(HashSet::new());
                    }
                }
            }),
            Err(e) => {
                log::debug!("friends' presence not known: {e}");
                then(HashSet::new());
            }
        }
    }

    /// Reports every session gone, one blocking call per batch: at shutdown,
    /// so routing stops at once. Never from a loop thread.
    pub fn report_all_offline(&self, sessions: Vec<Online>) {
        let sessions: Vec<StatusSession> = sessions.iter().map(status_session).collect();
        for batch in sessions.chunks(crate::status::registry::MAX_BATCH) {
            let request =
                ReportOfflineRequest { server: self.server.clone(), sessions: batch.to_vec() };
            if let Err(e) = self.client.report_offline_opt(&request, self.call()) {
                log::warn!("cannot report sessions offline at shutdown: {e}");
                return;
            }
        }
    }

    /// Where these users' sessions are (blocking, with the timeout): the
    /// online ones by uid; `None` if the status server cannot say. Only
    /// threads of their own (the router, the presence notifier), never a loop.
    pub fn locate(&self, uids: Vec<u64>) -> Option<HashMap<u64, Vec<UserLocation>>> {
        if uids.is_empty() {
            return Some(HashMap::new());
        }
        match self.client.lookup_users_opt(&LookupUsersRequest { uids }, self.call()) {
            Ok(reply) => {
                let mut by_uid: HashMap<u64, Vec<UserLocation>> = HashMap::new();
                for location in reply.online {
                    by_uid.entry(location.uid).or_default().push(location);
                }
                Some(by_uid)
            }
            Err(e) => {
                log::warn!("status lookup failed: {e}");
                None
            }
        }
    }
}
