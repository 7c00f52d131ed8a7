//! Shared by the tools' tests: a local cluster started with `imctl up`.
#![allow(dead_code)] // each test binary uses a part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `imctl up` on a fresh data directory of its own, stopped (SIGTERM, then
/// waited for) and its directory removed when dropped, also when the test
/// fails.
pub struct TestCluster {
    process: Child,
    data: PathBuf,
}

impl TestCluster {
    /// A cluster for the test `name`, with ports from `port_base`; returns
    /// once it says it is ready.
    pub fn up(name: &str, port_base: u16) -> TestCluster {
        let data = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let process = imctl_up(&data, port_base);
        TestCluster { process, data }
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
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Starts `imctl up` on `data` with ports from `port_base`; returns once it
/// says it is ready.
fn imctl_up(data: &Path, port_base: u16) -> Child {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imctl"))
        .args(["up", "--conf", conf, "--data"])
        .arg(data)
        .args(["--port-base", &port_base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start imctl up");
    let stdout = child.stdout.take().unwrap();
    let (ready, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "imctl: ready" {
                let _ = ready.send(());
            }
        }
    });
    ready_rx.recv_timeout(Duration::from_secs(30)).expect("imctl up became ready");
    child
}
