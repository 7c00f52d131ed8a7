//! Sending the code: SMTP, or a spool directory of `.eml` files (the
//! zero-set-up default: a developer reads the code from the file).
//!
//! Sending blocks (network or disk), so it runs on the verify server's
//! worker threads, never on a gRPC completion-queue thread.

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The `[mail]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// "spool" (write .eml files to `spool_dir`) or "smtp".
    pub transport: String,
    pub spool_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// Upgrade the SMTP connection with STARTTLS (required when credentials are set).
    pub starttls: bool,
    pub smtp_user: String,
    /// Kept out of files and logs: IM_VERIFY_MAIL__SMTP_PASSWORD.
    pub smtp_password: String,
    /// The sender, e.g. `IM <no-reply@example.com>`.
    pub from: String,
    pub timeout_ms: u64,
}

impl Default for MailConfig {
    fn default() -> MailConfig {
        MailConfig {
            transport: "spool".into(),
            spool_dir: PathBuf::from("data/mail"),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            starttls: false,
            smtp_user: String::new(),
            smtp_password: String::new(),
            from: "IM <no-reply@im.invalid>".into(),
            timeout_ms: 10_000,
        }
    }
}

/// Never prints the password.
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("transport", &self.transport)
            .field("spool_dir", &self.spool_dir)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("starttls", &self.starttls)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_password", &if self.smtp_password.is_empty() { "" } else { "<set>" })
            .finish_non_exhaustive()
    }
}

/// A configured way to send mail. Cheap to clone (one per worker).
#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: SmtpTransport, from: Mailbox },
    Spool { transport: FileTransport, from: Mailbox },
}

impl Mailer {
    /// Builds the transport `config` names; errors name the key.
    pub fn from_config(config: &MailConfig) -> Result<Mailer, String> {
        let from: Mailbox =
            config.from.parse().map_err(|e| format!("mail.from: `{}`: {e}", config.from))?;
        match config.transport.as_str() {
            "spool" => {
                std::fs::create_dir_all(&config.spool_dir).map_err(|e| {
                    format!("mail.spool_dir: cannot create {}: {e}", config.spool_dir.display())
                })?;
                Ok(Mailer::Spool { transport: FileTransport::new(&config.spool_dir), from })
            }
            "smtp" => {
                let builder = if config.starttls {
                    SmtpTransport::starttls_relay(&config.smtp_host)
                        .map_err(|e| format!("mail.smtp_host: {e}"))?
                } else {
                    if !config.smtp_user.is_empty() {
                        return Err("mail.starttls: credentials are only sent over STARTTLS".into());
                    }
                    SmtpTransport::builder_dangerous(&config.smtp_host)
                };
                let mut builder = builder
                    .port(config.smtp_port)
                    .timeout(Some(Duration::from_millis(config.timeout_ms)));
                if !config.smtp_user.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.smtp_user.clone(),
                        config.smtp_password.clone(),
                    ));
                }
                Ok(Mailer::Smtp { transport: builder.build(), from })
            }
            other => Err(format!("mail.transport: `{other}` is neither \"spool\" nor \"smtp\"")),
        }
    }

    /// Mails `code` to `email`. Blocks until the mail is handed over.
    pub fn send_code(&self, email: &str, code: &str, valid_minutes: i64) -> Result<(), String> {
        let to: Mailbox = email.parse().map_err(|e| format!("not an e-mail address: {e}"))?;
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Spool { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject("Your verification code")
            .header(ContentType::TEXT_PLAIN)
            .body(format!(
                "Your verification code is {code}\n\nIt is valid for {valid_minutes} minutes and can be used once.\n"
            ))
            .map_err(|e| format!("cannot build the mail: {e}"))?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(&message).map(drop).map_err(|e| e.to_string())
            }
            Mailer::Spool { transport, .. } => {
                transport.send(&message).map(drop).map_err(|e| e.to_string())
            }
        }
    }
}
