//! The status-server binary as an operator runs it: configuration from a
//! file and the environment, readable logs, graceful stop on SIGTERM.

mod util;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use testkit::process::{send_signal, start_listening};
use util::wait_with_timeout;

#[test]
fn the_daemon_starts_from_its_config_logs_and_stops_on_sigterm() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/status.toml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_status-server"));
    command
        .args(["--config", config])
        .env("IM_STATUS_LISTEN", "127.0.0.1:0") // the environment overrides the file
        .env("IM_LOG", "info")
        .stderr(Stdio::piped());
    let (mut child, addr) = start_listening(command);
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":7100"), "{addr}");

    send_signal(child.id(), "-TERM");
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    // `2026-11-27T01:02:03.456Z INFO  services::status::server: status server listening on ...`
    let first = logs.lines().next().expect("a log line");
    assert!(
        first.contains("Z INFO  services::status::server: status server listening on"),
        "{first}"
    );
    assert!(logs.contains("SIGTERM: shutting down"), "{logs}");
    assert!(logs.contains("status server stopped"), "{logs}");
}

#[test]
fn a_bad_config_stops_the_daemon_with_the_key_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_status-server"))
        .env("IM_STATUS_HEARTBEAT_TIMEOUT_MS", "never")
        .output()
        .expect("run status-server");
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("heartbeat_timeout_ms"), "{message}");
}

#[test]
fn a_second_daemon_on_a_taken_port_fails_at_once_and_says_why() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/status.toml");
    let mut first = Command::new(env!("CARGO_BIN_EXE_status-server"));
    first.args(["--config", config]).env("IM_STATUS_LISTEN", "127.0.0.1:0").env("IM_LOG", "warn");
    let (child, addr) = start_listening(first);
    let mut first = KillOnDrop(child); // also when an assertion below fails
    let mut second = Command::new(env!("CARGO_BIN_EXE_status-server"))
        .args(["--config", config])
        .env("IM_STATUS_LISTEN", &addr)
        .env("IM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run a second status-server");
    // It must exit by itself: one that serves waits for a signal, and this fails.
    let status = wait_with_timeout(&mut second, Duration::from_secs(5));
    let mut message = String::new();
    second.stderr.take().unwrap().read_to_string(&mut message).unwrap();
    let mut out = String::new();
    second.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(status.code(), Some(2), "{message}");
    assert!(message.contains("listen") && message.contains(&addr), "{message}");
    assert!(!out.contains("listening on"), "{out}");
    send_signal(first.0.id(), "-TERM");
    assert_eq!(wait_with_timeout(&mut first.0, Duration::from_secs(10)).code(), Some(0));
}

/// A child process killed when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
