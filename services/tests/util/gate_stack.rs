//! Everything registration and login need, in one test process: a status
//! server and a chat server (the cluster), a verify server mailing through a
//! real SMTP server process, and the gate.

use super::cluster::{Cluster, StoreKind, WAIT};
use super::smtp::SmtpServer;
use proto::http_client::{post_json, HttpResponse};
use serde_json::{json, Value};
use services::gate::GateConfig;
use services::verify::VerifyConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

pub struct GateStack {
    pub gate_addr: SocketAddr,
    pub smtp: SmtpServer,
    pub cluster: Cluster,
    verify_data: PathBuf,
}

impl GateStack {
    pub fn start(test: &str, kind: StoreKind) -> GateStack {
        GateStack::start_with(test, kind, |_| {}, |_| {})
    }

    /// With `adjust_verify` and `adjust_gate` applied to the configurations.
    pub fn start_with(
        test: &str,
        kind: StoreKind,
        adjust_verify: impl Fn(&mut VerifyConfig),
        adjust_gate: impl Fn(&mut GateConfig),
    ) -> GateStack {
        let mut cluster = Cluster::start(test, kind, 1);
        let smtp = SmtpServer::start(test);
        let mut verify_config = VerifyConfig { daily_cap: 1000, ..smtp.verify_config(test) };
        let verify_data = verify_config.data_dir.clone();
        let _ = std::fs::remove_dir_all(&verify_data);
        adjust_verify(&mut verify_config);
        let gate_addr = cluster.start_gate(verify_config, |gate| adjust_gate(gate));
        GateStack { gate_addr, smtp, cluster, verify_data }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gate_addr
    }

    /// POSTs JSON; returns the status and the JSON answer.
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response: HttpResponse =
            post_json(self.addr(), path, &body, WAIT).expect("gate answers");
        let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, json)
    }

    /// The `error` field of a POST's answer.
    pub fn error_of(&self, path: &str, body: Value) -> i64 {
        error_of(self.addr(), path, body)
    }

    /// Requests a code for `email` and reads it from the mail.
    pub fn code(&self, email: &str) -> String {
        let before = self.smtp.mails_to(email).len();
        assert_eq!(self.error_of("/get_varifycode", json!({ "email": email })), 0);
        self.smtp.code_for(email, before)
    }

    /// Registers `name` (password `pw-<name>`), reading the code from the mail.
    pub fn register(&self, name: &str, email: &str) -> u64 {
        let code = self.code(email);
        let password = format!("pw-{name}");
        let (_, answer) = self.post(
            "/user_register",
            json!({"email": email, "user": name, "passwd": password, "confirm": password, "varifycode": code}),
        );
        assert_eq!(answer["error"], 0, "{answer}");
        answer["uid"].as_u64().unwrap()
    }

    /// Stops the verify server and starts it again on the same address and data.
    pub fn restart_verify(&mut self) {
        self.cluster.restart_verify();
    }
}

impl Drop for GateStack {
    fn drop(&mut self) {
        self.cluster.stop_gate(); // before its data goes
        let _ = std::fs::remove_dir_all(&self.verify_data);
    }
}

/// POSTs JSON to the gate at `addr`; returns the status and the JSON answer.
pub fn post(addr: SocketAddr, path: &str, body: Value) -> (u16, Value) {
    let response: HttpResponse = post_json(addr, path, &body, WAIT).expect("gate answers");
    let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

/// The `error` field of a POST's answer (which must be a 200).
pub fn error_of(addr: SocketAddr, path: &str, body: Value) -> i64 {
    let (status, answer) = post(addr, path, body);
    assert_eq!(status, 200, "{answer}");
    answer["error"].as_i64().expect("an error field")
}
