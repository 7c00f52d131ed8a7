//! Every call this chat server makes to the status server.
//!
//! All of them are asynchronous: a loop thread starts the call and returns;
//! the answer arrives on a grpcio completion thread, which only posts work
//! back (through the callback it is given). The router's lookup is the one
//! blocking call, made on the router's own thread, and the shutdown report
//! blocks the thread that stops the server. Any thread may call these.

use grpcio::CallOption;
use proto::rpc::status::{
    LoginRequest, LookupUsersRequest, ReportOfflineRequest, ReportOnlineRequest,
    Session as StatusSession, StatusServiceClient, UserLocation,
};
use std::collections::HashMap;
use std::time::Duration;

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

    /// Tells the status server `uid` is online here; `replaced` gets the
    /// sessions this login replaced on other servers (to kick them).
    pub fn report_online(
        &self,
        uid: u64,
        session_id: u64,
        replaced: impl FnOnce(Vec<UserLocation>) + Send + 'static,
    ) {
        let request = ReportOnlineRequest {
            server: self.server.clone(),
            sessions: vec![StatusSession { uid, session_id }],
        };
        match self.client.report_online_async_opt(&request, self.call()) {
            Ok(call) => self.client.spawn(async move {
                match call.await {
                    Ok(reply) => replaced(reply.kick),
                    // The reporter re-reports every session when the status server returns.
                    Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
                }
            }),
            Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
        }
    }

    /// Tells the status server a session ended (best effort: a stale
    /// session id removes nothing there).
    pub fn report_offline(&self, uid: u64, session_id: u64) {
        let request = ReportOfflineRequest {
            server: self.server.clone(),
            sessions: vec![StatusSession { uid, session_id }],
        };
        match self.client.report_offline_async_opt(&request, self.call()) {
            Ok(call) => self.client.spawn(async move {
                if let Err(e) = call.await {
                    log::debug!("cannot report uid {uid} offline: {e}");
                }
            }),
            Err(e) => log::debug!("cannot report uid {uid} offline: {e}"),
        }
    }

    /// Reports every session gone, one blocking call per batch: at shutdown,
    /// so routing stops at once. Never from a loop thread.
    pub fn report_all_offline(&self, sessions: Vec<(u64, u64)>) {
        let sessions: Vec<StatusSession> = sessions
            .into_iter()
            .map(|(uid, session_id)| StatusSession { uid, session_id })
            .collect();
        for batch in sessions.chunks(crate::status::registry::MAX_BATCH) {
            let request =
                ReportOfflineRequest { server: self.server.clone(), sessions: batch.to_vec() };
            if let Err(e) = self.client.report_offline_opt(&request, self.call()) {
                log::warn!("cannot report sessions offline at shutdown: {e}");
                return;
            }
        }
    }

    /// Where these users are online (blocking, with the timeout); empty if
    /// the status server cannot say. The router's thread only.
    pub fn locate(&self, uids: Vec<u64>) -> HashMap<u64, UserLocation> {
        if uids.is_empty() {
            return HashMap::new();
        }
        match self.client.lookup_users_opt(&LookupUsersRequest { uids }, self.call()) {
            Ok(reply) => reply.online.into_iter().map(|l| (l.uid, l)).collect(),
            Err(e) => {
                log::warn!("router: status lookup failed, pushes wait for the next login: {e}");
                HashMap::new()
            }
        }
    }
}
