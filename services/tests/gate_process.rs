//! The gate-server and verify-server binaries as an operator runs them:
//! configured from the environment, stopped with SIGTERM, and their logs
//! free of passwords, hashes and codes.

mod util;

use serde_json::json;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use testkit::process::{first_addr, send_signal, start_listening};
use util::cluster::{Cluster, StoreKind, WAIT};
use util::gate_stack::{error_of, post};
use util::smtp::SmtpServer;
use util::wait_with_timeout;

/// Starts a daemon binary and reads its `listening on ADDR` line.
fn spawn(binary: &str, envs: &[(&str, String)]) -> (Child, SocketAddr) {
    let mut command = Command::new(binary);
    command
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("IM_LOG", "debug")
        .stderr(Stdio::piped());
    let (child, listening) = start_listening(command);
    (child, first_addr(&listening))
}

/// SIGTERM, exit status 0, and everything it logged.
fn stop(mut child: Child) -> String {
    send_signal(child.id(), "-TERM");
    let status = wait_with_timeout(&mut child, WAIT);
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    logs
}

#[test]
fn the_daemons_serve_stop_on_sigterm_and_never_log_secrets() {
    let cluster = Cluster::start("gate_process", StoreKind::Sqlite, 1);
    let smtp = SmtpServer::start("gate_process");
    let verify_data =
        std::env::temp_dir().join(format!("im-verify-process-{}", std::process::id()));
    let (verify, verify_addr) = spawn(
        env!("CARGO_BIN_EXE_verify-server"),
        &[
            ("IM_VERIFY_LISTEN", "127.0.0.1:0".into()),
            ("IM_VERIFY_DATA_DIR", verify_data.display().to_string()),
            ("IM_VERIFY_RESEND_INTERVAL_MS", "0".into()),
            ("IM_VERIFY_MAIL__TRANSPORT", "smtp".into()),
            ("IM_VERIFY_MAIL__SMTP_PORT", smtp.port.to_string()),
        ],
    );
    let store = cluster.store_config();
    let (gate, gate_addr) = spawn(
        env!("CARGO_BIN_EXE_gate-server"),
        &[
            ("IM_GATE_LISTEN", "127.0.0.1:0".into()),
            ("IM_GATE_STATUS_ADDR", cluster.status.as_ref().unwrap().local_addr().to_string()),
            ("IM_GATE_VERIFY_ADDR", verify_addr.to_string()),
            ("IM_GATE_PASSWORD_HASH__MEMORY_KIB", "64".into()),
            ("IM_GATE_PASSWORD_HASH__ITERATIONS", "1".into()),
            ("IM_GATE_STORE__DATA_DIR", store.data_dir.display().to_string()),
        ],
    );

    // Register, log in, fail a login, reset the password, log in again.
    let mut codes = Vec::new();
    let mut request_code = |email: &str| {
        let before = smtp.mails_to(email).len();
        assert_eq!(error_of(gate_addr, "/get_varifycode", json!({ "email": email })), 0);
        let code = smtp.code_for(email, before);
        codes.push(code.clone());
        code
    };
    let code = request_code("zoe@example.com");
    let register = json!({"email": "zoe@example.com", "user": "zoe", "passwd": "Sekr1t-Pa55",
                          "confirm": "Sekr1t-Pa55", "varifycode": code});
    let (_, answer) = post(gate_addr, "/user_register", register);
    assert_eq!(answer["error"], 0, "{answer}");
    let (_, login) =
        post(gate_addr, "/user_login", json!({"email": "zoe", "passwd": "Sekr1t-Pa55"}));
    assert_eq!(login["error"], 0, "{login}");
    assert_eq!(
        error_of(gate_addr, "/user_login", json!({"email": "zoe", "passwd": "Wr0ng-Guess"})),
        1009
    );
    let code = request_code("zoe@example.com");
    let reset = json!({"email": "zoe@example.com", "user": "zoe", "passwd": "N3w-Pa55w0rd", "varifycode": code});
    assert_eq!(error_of(gate_addr, "/reset_pwd", reset), 0);
    let (status, login) =
        post(gate_addr, "/user_login", json!({"email": "zoe", "passwd": "N3w-Pa55w0rd"}));
    assert_eq!((status, login["error"].as_i64()), (200, Some(0)));
    let answers = [answer.to_string(), login.to_string()];

    let gate_logs = stop(gate);
    let verify_logs = stop(verify);
    assert!(gate_logs.contains("registered uid"), "the gate logs what it does: {gate_logs}");
    assert!(verify_logs.contains("verification code mailed"), "{verify_logs}");
    let secrets = ["Sekr1t-Pa55", "Wr0ng-Guess", "N3w-Pa55w0rd", "$argon2"];
    for secret in secrets.iter().map(|s| s.to_string()).chain(codes) {
        for (name, text) in [("gate log", &gate_logs), ("verify log", &verify_logs)] {
            assert!(!text.contains(&secret), "{name} contains `{secret}`:\n{text}");
        }
        for answer in &answers {
            assert!(!answer.contains(&secret), "an answer contains `{secret}`: {answer}");
        }
    }
    let _ = std::fs::remove_dir_all(&verify_data);
}
