//! Daemon binaries run as child processes: started and waited for until they
//! say they serve, signalled, reaped with a timeout; `imctl up` as a guard
//! that stops it even when a test fails halfway.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A binary of this workspace next to the running test or benchmark
/// (`target/<profile>/<name>`; test executables live in `…/deps`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let mut dir = me.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// Starts `command` with standard output piped and reads its first line,
/// which must be `listening on …` (every daemon of this project prints it
/// once it serves). Returns the child and what followed `listening on `.
pub fn start_listening(mut command: Command) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().expect("start the daemon");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("read the daemon's first line");
    match line.trim().strip_prefix("listening on ") {
        Some(listening) => (child, listening.to_string()),
        None => {
            let _ = child.kill();
            panic!("the daemon did not start: {line:?}");
        }
    }
}

/// The first address in a `listening on` line's rest.
pub fn first_addr(listening: &str) -> std::net::SocketAddr {
    let first = listening.split_whitespace().next().unwrap_or_default();
    first.parse().unwrap_or_else(|_| panic!("no address in {listening:?}"))
}

/// Sends `signal` (`-TERM`, `-KILL`, `-STOP`, …) to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Waits for `child` to exit; kills it and fails after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `imctl up` on a fresh data directory of its own, stopped (SIGTERM, then
/// waited for) and its directory removed when dropped, also when the test
/// fails.
pub struct ImctlCluster {
    process: Child,
    data: PathBuf,
}

impl ImctlCluster {
    /// `imctl` (the binary at `imctl`) up for the test `name`, with the
    /// configuration in `conf` and ports from `port_base`; returns once it
    /// says it is ready.
    pub fn up(imctl: &Path, conf: &Path, name: &str, port_base: u16) -> ImctlCluster {
        let data = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let mut process = Command::new(imctl)
            .args(["up", "--conf"])
            .arg(conf)
            .arg("--data")
            .arg(&data)
            .args(["--port-base", &port_base.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start imctl up");
        let stdout = process.stdout.take().unwrap();
        let (ready, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "imctl: ready" {
                    let _ = ready.send(());
                }
            }
        });
        let cluster = ImctlCluster { process, data };
        ready_rx.recv_timeout(Duration::from_secs(30)).expect("imctl up became ready");
        cluster
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The pid of `imctl up` (its daemons are its children).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn is_running(&mut self) -> bool {
        self.process.try_wait().unwrap().is_none()
    }

    /// The pid of the daemon started with the configuration file `config`
    /// (`chat2.toml`, …), one of imctl's children.
    pub fn daemon_pid(&self, config: &str) -> Option<u32> {
        let pid = self.process.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()).find(|child| {
            std::fs::read(format!("/proc/{child}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(config))
        })
    }
}

impl Drop for ImctlCluster {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Asserts that `binary` answers `--help` with a usage line and `--version`
/// with `name` and a version, on stdout, exits 0, and does nothing else: it
/// must not start (the run is bounded to 10 s; a benchmark would take longer).
pub fn assert_answers_help_and_version(name: &str, binary: &Path) {
    for (flag, expected) in [("--help", "usage: "), ("--version", name)] {
        let mut child = Command::new(binary)
            .arg(flag)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
        let status = wait_with_timeout(&mut child, Duration::from_secs(10));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        assert_eq!(status.code(), Some(0), "{name} {flag}: {out}");
        assert!(out.contains(expected), "{name} {flag}: {out}");
        assert!(out.lines().count() <= 4, "{name} {flag} printed more than its answer: {out}");
    }
}
