//! A real SMTP server process for tests: aiosmtpd (Python), storing what it
//! receives in a maildir that tests read codes from.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free loopback port, or fails saying what to install.
    pub fn start(test: &str) -> SmtpServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = std::env::temp_dir().join(format!("im-smtp-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        // tools/test.sh names an interpreter that has aiosmtpd.
        let python = std::env::var("IM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} for the SMTP test server: {e}"));
        let mut server = SmtpServer { child, port, maildir };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the SMTP test server exited ({status}): aiosmtpd is missing. \
                     Run the tests with tools/test.sh, which installs it, or `pip install aiosmtpd`"
                );
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The verify server's mail settings for sending through this server.
    pub fn mail_config(&self) -> services::verify::mail::MailConfig {
        services::verify::mail::MailConfig {
            transport: "smtp".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.port,
            ..services::verify::mail::MailConfig::default()
        }
    }

    /// A verify server for `test` that mails through this server, codes kept
    /// in a temporary directory of the test's own, no wait between mails.
    pub fn verify_config(&self, test: &str) -> services::verify::VerifyConfig {
        services::verify::VerifyConfig {
            data_dir: std::env::temp_dir().join(format!("im-verify-{test}-{}", std::process::id())),
            resend_interval_ms: 0,
            mail: self.mail_config(),
            ..services::verify::VerifyConfig::default()
        }
    }

    /// Every mail received so far, as text.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        let mut mails: Vec<(std::time::SystemTime, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let modified = e.metadata().ok()?.modified().ok()?;
                Some((modified, std::fs::read_to_string(e.path()).ok()?))
            })
            .collect();
        mails.sort();
        mails.into_iter().map(|(_, text)| text).collect()
    }

    /// Mails to `email` so far.
    pub fn mails_to(&self, email: &str) -> Vec<String> {
        let to = format!("To: {email}");
        self.mails()
            .into_iter()
            .filter(|m| m.lines().any(|l| l.eq_ignore_ascii_case(&to)))
            .collect()
    }

    /// The code in the latest mail to `email`, waiting for it to arrive
    /// after `already` mails had been received for that address.
    pub fn code_for(&self, email: &str, already: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails_to(email);
            if mails.len() > already {
                let mail = mails.last().unwrap();
                let after = mail.split("verification code is ").nth(1).expect("a code in the mail");
                return after.chars().take_while(char::is_ascii_digit).collect();
            }
            assert!(Instant::now() < deadline, "no mail to {email}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
