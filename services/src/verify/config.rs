//! `conf/verify.toml`; every key can be overridden with `IM_VERIFY_<KEY>`
//! (`IM_VERIFY_MAIL__SMTP_PASSWORD` for the SMTP password).

use super::mail::MailConfig;
use super::rules::Rules;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// gRPC listen address (the gate calls it).
    pub listen: String,
    /// Holds `verify.sqlite3`: codes and rate limits, kept across restarts.
    pub data_dir: PathBuf,
    /// Digits per code (at least 6).
    pub code_digits: u32,
    pub code_ttl_ms: i64,
    /// Wrong attempts before a code is burnt.
    pub max_attempts: u32,
    /// At most one mail per address per this long.
    pub resend_interval_ms: i64,
    /// At most this many mails per address per UTC day.
    pub daily_cap: u32,
    /// Threads that update codes and send mail (each with its own SQLite connection).
    pub workers: usize,
    /// Requests that may wait for a worker; beyond, callers get 1105 at once.
    pub queue_capacity: usize,
    pub grpc_threads: usize,
    pub log_level: String,
    pub mail: MailConfig,
}

impl Default for VerifyConfig {
    fn default() -> VerifyConfig {
        VerifyConfig {
            listen: "127.0.0.1:7200".into(),
            data_dir: PathBuf::from("data"),
            code_digits: 6,
            code_ttl_ms: 5 * 60 * 1000,
            max_attempts: 5,
            resend_interval_ms: 60 * 1000,
            daily_cap: 10,
            workers: 2,
            queue_capacity: 256,
            grpc_threads: 1,
            log_level: "info".into(),
            mail: MailConfig::default(),
        }
    }
}

impl VerifyConfig {
    /// Checks what serde cannot; errors name the key.
    pub fn validate(&self) -> Result<SocketAddr, String> {
        let listen = self
            .listen
            .parse()
            .map_err(|_| format!("listen: `{}` is not an IP:port address", self.listen))?;
        if !(6..=12).contains(&self.code_digits) {
            return Err("code_digits: must be between 6 and 12".into());
        }
        if self.code_ttl_ms <= 0 || self.resend_interval_ms < 0 {
            return Err(
                "code_ttl_ms: must be more than 0 (and resend_interval_ms not negative)".into()
            );
        }
        for (key, value) in [
            ("max_attempts", self.max_attempts as usize),
            ("daily_cap", self.daily_cap as usize),
            ("workers", self.workers),
            ("queue_capacity", self.queue_capacity),
            ("grpc_threads", self.grpc_threads),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        Ok(listen)
    }

    pub fn rules(&self) -> Rules {
        Rules {
            code_ttl_ms: self.code_ttl_ms,
            max_attempts: self.max_attempts,
            resend_interval_ms: self.resend_interval_ms,
            daily_cap: self.daily_cap,
        }
    }
}

impl crate::daemon::DaemonConfig for VerifyConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }
}
