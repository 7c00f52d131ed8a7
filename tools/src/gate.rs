//! Logging in through the gate, as every tool does it: `POST /user_login`,
//! then the chat server and the token it names.

use proto::http_client::post_json;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// What a successful gate login hands out.
#[derive(Debug, Clone)]
pub struct GateLogin {
    pub uid: u64,
    /// The chat server to connect to.
    pub server: SocketAddr,
    pub token: String,
}

/// Logs `login` (an e-mail or a user name) in with `password`.
pub fn login(
    gate: SocketAddr,
    login: &str,
    password: &str,
    timeout: Duration,
) -> Result<GateLogin, String> {
    let body = json!({"email": login, "passwd": password});
    let response = post_json(gate, "/user_login", &body, timeout)
        .map_err(|e| format!("gate at {gate}: {e}"))?;
    let answer: serde_json::Value =
        response.json().map_err(|_| format!("gate answered HTTP {}", response.status))?;
    if answer["error"] != 0 {
        return Err(format!("login refused: error {}", answer["error"]));
    }
    let server = format!("{}:{}", answer["host"].as_str().unwrap_or(""), answer["port"])
        .parse()
        .map_err(|_| format!("the gate named no chat server: {answer}"))?;
    let uid = answer["uid"].as_u64().unwrap_or(0);
    Ok(GateLogin { uid, server, token: answer["token"].as_str().unwrap_or_default().to_string() })
}
