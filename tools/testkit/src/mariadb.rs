//! A mariadbd of a test's own, for the faults a shared server must never
//! suffer: stopped, restarted, frozen with SIGSTOP. It runs on a temporary
//! data directory and a free port, and is killed and removed on drop.
//!
//! Needs `mariadb-install-db` and `mariadbd` (Debian: mariadb-server); a
//! test that uses it fails loudly, naming the package, when they are missing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ThrowawayMariadb {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// The account this process runs as (mariadbd wants `--user`).
fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl ThrowawayMariadb {
    /// A new data directory named after `test`, and the server started on it.
    pub fn start(test: &str) -> ThrowawayMariadb {
        let dir = std::env::temp_dir().join(format!("im-mariadb-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let installed = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--auth-root-authentication-method=normal"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--user={}", user_name()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db is needed for this test: apt-get install mariadb-server");
        assert!(installed.success(), "mariadb-install-db failed");
        let mut server = ThrowawayMariadb { dir, port, child: None };
        server.run();
        server
    }

    /// Starts mariadbd on the data directory and waits until it answers.
    pub fn run(&mut self) {
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.dir.join("mysqld.sock").display()))
            .arg(format!("--user={}", user_name()))
            .arg("--skip-grant-tables")
            .arg(format!("--log-error={}", self.dir.join("error.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd is needed for this test: apt-get install mariadb-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while mysql::Conn::new(mysql::Opts::from_url(&self.server_url()).unwrap()).is_err() {
            assert!(Instant::now() < deadline, "the throwaway mariadbd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A graceful stop (SIGTERM), waited for.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::send_signal(child.id(), "-TERM");
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): its sockets stay open and nothing
    /// answers, the way a stalled disk or a paused VM looks to a client.
    pub fn freeze(&self) {
        crate::process::send_signal(self.pid(), "-STOP");
    }

    /// Lets a frozen server run again (SIGCONT).
    pub fn thaw(&self) {
        crate::process::send_signal(self.pid(), "-CONT");
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("mariadbd is running").id()
    }

    /// `mysql://root@127.0.0.1:PORT`, no database.
    pub fn server_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    pub fn admin(&self) -> mysql::Conn {
        mysql::Conn::new(mysql::Opts::from_url(&self.server_url()).unwrap()).unwrap()
    }
}

impl Drop for ThrowawayMariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen server dies of SIGKILL too, but would not flush; wake it.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
