//! Logging in through the gate, as every tool does it: `POST /user_login`
//! (the password), or `POST /resume_session` (a session token from an
//! earlier password login of the same device), then the chat server and
//! the token the gate names.

use proto::http_client::post_json;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// What a successful gate login hands out.
#[derive(Debug, Clone)]
pub struct GateLogin {
    pub uid: u64,
    /// The chat server to connect to.
    pub server: SocketAddr,
    pub token: String,
    /// For `/resume_session` later: issued by a password login that named a
    /// device; empty otherwise (and after a resume, which keeps the old one).
    pub session_token: String,
}

/// Why the gate did not log a user in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It answered with this error code (1010 on a resume: log in with the
    /// password again; 1104 or 1105: later).
    Error(i64),
    /// It could not be reached, or its answer was not one.
    Unreachable(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Error(code) => write!(f, "login refused: error {code}"),
            Refused::Unreachable(why) => f.write_str(why),
        }
    }
}

/// Logs `login` (an e-mail or a user name) in with `password`; with a
/// `device` (not empty), the answer carries its session token.
pub fn login(
    gate: SocketAddr,
    login: &str,
    password: &str,
    device: &str,
    timeout: Duration,
) -> Result<GateLogin, String> {
    let mut body = json!({"email": login, "passwd": password});
    if !device.is_empty() {
        body["device_id"] = json!(device);
    }
    ask(gate, "/user_login", &body, timeout).map_err(|e| e.to_string())
}

/// Logs `uid` in again on `device` with its session token (no password).
pub fn resume(
    gate: SocketAddr,
    uid: u64,
    device: &str,
    session_token: &str,
    timeout: Duration,
) -> Result<GateLogin, Refused> {
    let body = json!({"uid": uid, "device_id": device, "session_token": session_token});
    ask(gate, "/resume_session", &body, timeout)
}

fn ask(
    gate: SocketAddr,
    path: &str,
    body: &Value,
    timeout: Duration,
) -> Result<GateLogin, Refused> {
    let response = post_json(gate, path, body, timeout)
        .map_err(|e| Refused::Unreachable(format!("gate at {gate}: {e}")))?;
    let answer: Value = response
        .json()
        .map_err(|_| Refused::Unreachable(format!("gate answered HTTP {}", response.status)))?;
    if answer["error"] != 0 {
        return Err(Refused::Error(answer["error"].as_i64().unwrap_or(-1)));
    }
    let server = format!("{}:{}", answer["host"].as_str().unwrap_or(""), answer["port"])
        .parse()
        .map_err(|_| Refused::Unreachable(format!("the gate named no chat server: {answer}")))?;
    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_string();
    Ok(GateLogin {
        uid: answer["uid"].as_u64().unwrap_or(0),
        server,
        token: text("token"),
        session_token: text("session_token"),
    })
}
