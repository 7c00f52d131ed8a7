//! Shared by the tools' tests: a local cluster started with `imctl up`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `imctl up` on `data` with ports from `port_base`; returns once it
/// says it is ready. SIGTERM it (and wait) at the end of the test.
pub fn imctl_up(data: &Path, port_base: u16) -> Child {
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
