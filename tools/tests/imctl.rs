//! `imctl up` as a newcomer runs it, `imctl demo` against it, and a clean
//! stop: every daemon gone, exit status 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn imctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imctl"))
}

/// The pids of `pid`'s direct children.
fn children_of(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn up_runs_the_demo_and_stops_cleanly_on_sigterm() {
    let data = std::env::temp_dir().join(format!("imctl-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // Below the ephemeral range (32768 and up), clear of the imcli test's ports.
    let port_base = 20_000 + (std::process::id() % 200) as u16 * 30;
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf");
    let mut up = imctl()
        .args(["up", "--conf", conf, "--data"])
        .arg(&data)
        .args(["--port-base", &port_base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start imctl up");
    let (lines, received) = mpsc::channel();
    let stdout = BufReader::new(up.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.iter().any(|l: &String| l == "imctl: ready") {
        let line = received.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        log.push(
            line.unwrap_or_else(|_| panic!("imctl up never became ready:\n{}", log.join("\n"))),
        );
    }
    assert!(
        log.iter().any(|l| l.contains("status | ") && l.contains("status server listening")),
        "prefixed logs"
    );
    let daemons = children_of(up.id());
    assert_eq!(daemons.len(), 5, "status, verify, two chat servers, gate: {daemons:?}");

    let demo = imctl()
        .args(["demo", "--gate", &format!("127.0.0.1:{}", port_base + 2), "--spool"])
        .arg(data.join("mail"))
        .output()
        .expect("run imctl demo");
    let transcript = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{transcript}\n{}", String::from_utf8_lossy(&demo.stderr));
    assert!(transcript.contains("are friends now"), "{transcript}");
    assert!(transcript.contains("got it at login: This one waited for you"), "{transcript}");
    let servers: Vec<&str> =
        transcript.lines().filter(|l| l.contains(" is on the chat server at ")).collect();
    assert_eq!(servers.len(), 1);

    let killed = Command::new("kill").args(["-TERM", &up.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "imctl did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "a clean stop");
    for pid in daemons {
        assert!(!alive(pid), "daemon {pid} outlived imctl");
    }
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn up_with_restart_starts_a_killed_daemon_again() {
    let data = std::env::temp_dir().join(format!("imctl-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // Clear of the test above and below the ephemeral range.
    let port_base = 26_000 + (std::process::id() % 100) as u16 * 30;
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf");
    let mut up = imctl()
        .args(["up", "--restart", "--conf", conf, "--data"])
        .arg(&data)
        .args(["--port-base", &port_base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start imctl up --restart");
    let (lines, received) = mpsc::channel();
    let stdout = BufReader::new(up.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = received.recv_timeout(left).unwrap_or_else(|_| panic!("no {wanted:?}"));
            if line.contains(wanted) {
                return;
            }
        }
    };
    wait_for("imctl: ready");
    let status = children_of(up.id())
        .into_iter()
        .find(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("status-server"))
        })
        .expect("a status server among the daemons");
    let killed = Command::new("kill").args(["-KILL", &status.to_string()]).status().unwrap();
    assert!(killed.success());

    wait_for("imctl: status exited; starting it again in 2 s");
    wait_for("imctl: status started again");
    assert!(up.try_wait().unwrap().is_none(), "the cluster goes on");
    let daemons = children_of(up.id());
    assert_eq!(daemons.iter().filter(|&&pid| alive(pid)).count(), 5, "all five again");
    let listening = std::net::TcpStream::connect(("127.0.0.1", port_base));
    assert!(listening.is_ok(), "the new status server listens on the same port");

    let _ = Command::new("kill").args(["-TERM", &up.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while up.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "imctl up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&data);
}
