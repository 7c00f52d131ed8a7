//! Running the daemon binaries as children: their output prefixed with the
//! service name, their first line ("listening on ...") read for addresses,
//! and a stop that is graceful first and forced only at a deadline.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary `name` next to the running executable (cargo puts every
/// binary of the workspace in the same directory).
pub fn sibling_binary(name: &str) -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find my own path: {e}"))?;
    let path = me.parent().unwrap_or(Path::new(".")).join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build every daemon first with `cargo build --release --workspace`",
            path.display()
        ))
    }
}

/// A running daemon.
pub struct Daemon {
    pub name: String,
    pub child: Child,
    /// What it printed on its first line after "listening on ".
    pub listening: String,
}

/// Serializes output lines of all daemons so they never interleave mid-line.
pub type Output = Arc<Mutex<()>>;

impl Daemon {
    /// Starts `binary --config config` with `envs` (after `wrapper`, a
    /// command that execs it, such as `ip netns exec NS`; empty: none),
    /// waits for its "listening on" line, and copies its log (stderr) and
    /// any further output, prefixed by `name`.
    pub fn start(
        name: &str,
        wrapper: &[String],
        binary: &Path,
        config: &Path,
        envs: &[(String, String)],
        output: &Output,
        color: Option<u8>,
    ) -> Result<Daemon, String> {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .arg("--config")
            .arg(config)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Dies with imctl even if imctl is killed with SIGKILL: no orphans.
        // And in a process group of its own: a terminal's signals (Ctrl-C)
        // reach imctl, which stops the daemons in order; and a daemon paused
        // with SIGSTOP (a fault test) is not sent SIGHUP when the group it
        // would otherwise share with imctl's caller becomes orphaned (POSIX
        // hangs up stopped members of an orphaned group).
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe calls are allowed: prctl, setpgid and reading
        // errno are, and it allocates nothing and takes no lock.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0
                    || libc::setpgid(0, 0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child =
            command.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let prefix = match color {
            Some(c) => format!("\x1b[{c}m{name:>7}\x1b[0m │ "),
            None => format!("{name:>7} | "),
        };
        copy_lines(child.stderr.take().expect("piped"), prefix.clone(), output.clone());
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let Some(listening) = first.trim().strip_prefix("listening on ").map(str::to_string) else {
            let status = child.wait().map_or("unknown".into(), |s| s.to_string());
            return Err(format!("{name} did not start ({status}); its log is above"));
        };
        copy_lines(stdout, prefix, output.clone());
        Ok(Daemon { name: name.to_string(), child, listening })
    }

    /// SIGTERM, then up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SAFETY: kill(2) takes two integers and touches no memory of ours;
        // the child has not been reaped (try_wait above), so its pid is still ours.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().ok();
        None // did not stop in time
    }
}

fn copy_lines(source: impl Read + Send + 'static, prefix: String, output: Output) {
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { return };
            let _guard = output.lock().unwrap_or_else(|e| e.into_inner());
            println!("{prefix}{line}");
        }
    });
}
