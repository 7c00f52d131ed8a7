//! The VerifyService over gRPC. Runs on grpcio's completion-queue threads,
//! which only validate and queue: the code update and the mail happen on
//! the worker pool, and the reply is sent when the worker is done.

use super::codes::{VerifyBackend, VerifyConn};
use super::rules::{new_code, Request, Rules};
use crate::grpc::reply;
use crate::store::columns::now_ms;
use crate::store::{DbPool, JobKind, StoreError};
use futures_channel::oneshot;
use grpcio::{RpcContext, UnarySink};
use proto::rpc::verify::{CheckVerifyCodeRequest, GetVerifyCodeRequest, VerifyReply};
use proto::ErrorCode;
use std::sync::Arc;

/// The service handed to grpcio (cloned per call).
#[derive(Clone)]
pub struct VerifyRpc {
    pool: Arc<DbPool<VerifyBackend>>,
    rules: Rules,
    code_digits: u32,
}

impl VerifyRpc {
    pub fn new(pool: Arc<DbPool<VerifyBackend>>, rules: Rules, code_digits: u32) -> VerifyRpc {
        VerifyRpc { pool, rules, code_digits }
    }

    /// Runs `job` on a worker and answers with the code it returns.
    fn answer(
        &self,
        ctx: &RpcContext,
        sink: UnarySink<VerifyReply>,
        job: impl FnMut(&mut VerifyConn) -> Result<ErrorCode, StoreError> + Send + 'static,
    ) {
        let (done, result) = oneshot::channel();
        let submitted = self.pool.submit(JobKind::Once, job, move |outcome| {
            let _ = done.send(outcome);
        });
        let immediate = submitted.err().map(|e| {
            log::warn!("verify request refused: {e}");
            ErrorCode::ServerBusy
        });
        ctx.spawn(async move {
            let error = match immediate {
                Some(code) => code,
                None => match result.await {
                    Ok(Ok(code)) => code,
                    Ok(Err(StoreError::Busy)) => ErrorCode::ServerBusy,
                    Ok(Err(e)) => {
                        log::warn!("verify request failed: {e}");
                        ErrorCode::RpcFailed
                    }
                    Err(_) => ErrorCode::RpcFailed, // the worker dropped the job (shutting down)
                },
            };
            if let Err(e) = sink.success(VerifyReply { error: error.code() }).await {
                log::debug!("verify reply not delivered: {e}");
            }
        });
    }
}

/// Lower-cased and trimmed, or `None` if it cannot be an e-mail address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_ascii_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

impl proto::rpc::verify::VerifyService for VerifyRpc {
    fn get_verify_code(
        &mut self,
        ctx: RpcContext,
        req: GetVerifyCodeRequest,
        sink: UnarySink<VerifyReply>,
    ) {
        let Some(email) = normalize_email(&req.email) else {
            return reply(&ctx, sink, Ok(VerifyReply { error: ErrorCode::Json.code() }));
        };
        let (rules, digits) = (self.rules.clone(), self.code_digits);
        self.answer(&ctx, sink, move |conn| request_and_mail(conn, &rules, &email, digits));
    }

    fn check_verify_code(
        &mut self,
        ctx: RpcContext,
        req: CheckVerifyCodeRequest,
        sink: UnarySink<VerifyReply>,
    ) {
        let Some(email) = normalize_email(&req.email) else {
            return reply(&ctx, sink, Ok(VerifyReply { error: ErrorCode::VerifyExpired.code() }));
        };
        let (rules, code) = (self.rules.clone(), req.code.trim().to_string());
        self.answer(&ctx, sink, move |conn| {
            let now = now_ms();
            conn.update(&email, |record| {
                let (answer, next) = rules.check(record, &code, now);
                (answer, Some(next))
            })
        });
    }
}

/// Decides (rate limits, live code or a fresh one), records the send, then
/// mails. A mail that fails burns the code it carried.
fn request_and_mail(
    conn: &mut VerifyConn,
    rules: &Rules,
    email: &str,
    digits: u32,
) -> Result<ErrorCode, StoreError> {
    let now = now_ms();
    let fresh = new_code(digits);
    let decision = conn.update(email, |record| match rules.request(record, now, fresh) {
        Request::Send { code, record } => (Some(code), Some(record)),
        Request::RateLimited => (None, None),
    })?;
    let Some(code) = decision else { return Ok(ErrorCode::RateLimited) };
    match conn.mailer.send_code(email, &code, rules.code_ttl_ms / 60_000) {
        Ok(()) => {
            log::info!("verification code mailed to {email}");
            Ok(ErrorCode::Success)
        }
        Err(e) => {
            log::warn!("cannot mail a verification code to {email}: {e}");
            conn.update(email, |current| {
                let burn = current.code == code;
                ((), burn.then(|| rules.send_failed(current)))
            })?;
            Ok(ErrorCode::RpcFailed)
        }
    }
}
