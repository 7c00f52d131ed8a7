//! Every tool answers `--help` and `--version` without side effects: no
//! cluster started, no file written, no port bound.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `binary args` in `dir`; fails (after killing it) if it has not
/// exited within 5 s, as a program that started instead of answering would.
fn run_in(dir: &std::path::Path, binary: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("pkill").args(["-TERM", "-P", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} {args:?} did not answer and exit: it started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    (status.code(), out)
}

#[test]
fn every_tool_answers_help_and_version_without_side_effects() {
    let dir = std::env::temp_dir().join(format!("tools-help-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tools = [
        ("imctl", env!("CARGO_BIN_EXE_imctl")),
        ("imcli", env!("CARGO_BIN_EXE_imcli")),
        ("imbench", env!("CARGO_BIN_EXE_imbench")),
    ];
    for (name, binary) in tools {
        let (code, out) = run_in(&dir, binary, &["--help"]);
        assert_eq!(code, Some(0), "{name} --help");
        assert!(out.contains("usage"), "{name} --help: {out}");
        let (code, out) = run_in(&dir, binary, &["--version"]);
        assert_eq!(code, Some(0), "{name} --version");
        assert!(out.starts_with(&format!("{name} ")), "{name} --version: {out}");
    }
    // The reported defect: `imctl up --help` started a cluster on the default ports.
    let (code, out) = run_in(&dir, env!("CARGO_BIN_EXE_imctl"), &["up", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("imctl up"), "{out}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
