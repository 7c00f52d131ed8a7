//! Every daemon answers `--help` and `--version` and exits 0 without
//! starting (no configuration read, no port bound, nothing printed as
//! "listening").

use std::process::Command;

#[test]
fn every_daemon_answers_help_and_version_without_starting() {
    let daemons = [
        ("status-server", env!("CARGO_BIN_EXE_status-server")),
        ("verify-server", env!("CARGO_BIN_EXE_verify-server")),
        ("chat-server", env!("CARGO_BIN_EXE_chat-server")),
        ("gate-server", env!("CARGO_BIN_EXE_gate-server")),
    ];
    for (name, binary) in daemons {
        for (flag, expected) in [("--help", "usage: "), ("--version", name)] {
            // A config that does not exist: reading it would fail with 2.
            let output = Command::new(binary)
                .args([flag, "--config", "/nonexistent.toml"])
                .output()
                .expect("run the daemon");
            let out = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(0), "{name} {flag}: {out}");
            assert!(out.contains(expected), "{name} {flag}: {out}");
            assert!(!out.contains("listening on"), "{name} {flag} started: {out}");
        }
    }
}
