//! The verify server's spool transport writes each mail as an `.eml` file;
//! a developer (or the demo) reads the code from there.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// The code in the newest mail to `email` written after `since`, waiting up
/// to `timeout` for it.
pub fn wait_for_code(
    spool: &Path,
    email: &str,
    since: SystemTime,
    timeout: Duration,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(code) = newest_code(spool, email, since) {
            return Ok(code);
        }
        if Instant::now() > deadline {
            return Err(format!("no mail to {email} in {} after {timeout:?}", spool.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn newest_code(spool: &Path, email: &str, since: SystemTime) -> Option<String> {
    let to = format!("To: {email}");
    let mut best: Option<(SystemTime, String)> = None;
    for entry in std::fs::read_dir(spool).ok()?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let Some(modified) = entry.metadata().ok().and_then(|m| m.modified().ok()) else {
            continue;
        };
        if modified < since || best.as_ref().is_some_and(|(t, _)| *t >= modified) {
            continue;
        }
        let Ok(mail) = std::fs::read_to_string(&path) else { continue };
        if !mail.lines().any(|l| l.eq_ignore_ascii_case(&to)) {
            continue;
        }
        let code: String = mail
            .split("verification code is ")
            .nth(1)?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if code.len() >= 6 {
            best = Some((modified, code));
        }
    }
    best.map(|(_, code)| code)
}
