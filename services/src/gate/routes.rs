//! The gate's routes (PROTOCOL.md): verify code, register, reset password,
//! login. Each validates on the loop, then hops through the store pool and
//! the verify and status services, and answers `200` with an `error` code
//! in the JSON body, as the clients expect.
//!
//! Passwords are hashed and checked on store workers (argon2 is slow on
//! purpose) and never logged; codes are only passed through to the verify
//! server. Wrong passwords back off per address and per account
//! (`login_limits`). A login that names a device also gets a session token,
//! with which the client resumes after a dropped connection without the
//! password (`sessions`); `/logout` revokes it.

use super::handler::{GateHandler, Pending};
use super::password;
use super::sessions;
use crate::device::valid_device_id;
use crate::dialect::Dialect;
use crate::store::columns::now_ms;
use crate::store::model::{NewUser, UserRecord};
use crate::store::{StoreConn, StoreError};
use crate::verify::service::normalize_email;
use proto::body::{
    GateRsp, GetVerifyCodeReq, LogoutReq, RegisterReq, ResetPwdReq, ResumeSessionReq, UserLoginReq,
};
use proto::rpc::status::GetChatServerRequest;
use proto::rpc::verify::{CheckVerifyCodeRequest, GetVerifyCodeRequest};
use proto::ErrorCode;
use reactor::Ctx;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Longest user name (characters) and password (bytes) accepted.
const MAX_NAME: usize = 64;
const MAX_PASSWORD: usize = 1024;

fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fn valid_name(name: &str) -> bool {
    let length = name.chars().count();
    (1..=MAX_NAME).contains(&length) && !name.contains('@') && !name.chars().any(char::is_control)
}

fn valid_password(password: &str) -> bool {
    !password.is_empty() && password.len() <= MAX_PASSWORD
}

impl GateHandler {
    /// `POST /get_varifycode {email}`: the verify server mails a code.
    pub(super) fn get_verify_code(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(email) = parse::<GetVerifyCodeReq>(body).and_then(|r| normalize_email(&r.email))
        else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        let call = self.hub.verify.get_verify_code_async_opt(
            &GetVerifyCodeRequest { email: email.clone() },
            self.call_option(),
        );
        self.rpc(ctx, call, pending, move |h, ctx, reply| {
            let error = reply.map_or(ErrorCode::RpcFailed.code(), |r| r.error);
            h.answer_json(ctx, pending, &GateRsp { error, email, ..GateRsp::default() });
        });
    }

    /// `POST /user_register`: unique name and e-mail, a valid code, then the
    /// user is stored with a salted slow hash of the password.
    pub(super) fn register(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = parse::<RegisterReq>(body) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        let Some(email) = normalize_email(&req.email) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        if !valid_name(&req.user) || !valid_password(&req.passwd) || req.varifycode.is_empty() {
            return self.fail(ctx, pending, ErrorCode::Json);
        }
        if req.passwd != req.confirm {
            return self.fail(ctx, pending, ErrorCode::PasswdErr);
        }
        // 1. Name and e-mail free? (Checked first, so a taken name does not burn the code.)
        let (name, address) = (req.user.clone(), email.clone());
        self.store_job(
            ctx,
            pending,
            move |store| {
                Ok(store.user_by_name(&name)?.is_some() || store.user_by_email(&address)?.is_some())
            },
            move |h, ctx, taken| match taken {
                Ok(false) => h.register_check_code(ctx, pending, req, email),
                Ok(true) => h.fail(ctx, pending, ErrorCode::UserExist),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// 2. The code is consumed by the verify server.
    fn register_check_code(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        req: RegisterReq,
        email: String,
    ) {
        let request = CheckVerifyCodeRequest { email: email.clone(), code: req.varifycode.clone() };
        let call = self.hub.verify.check_verify_code_async_opt(&request, self.call_option());
        self.rpc(ctx, call, pending, move |h, ctx, reply| match reply.map(|r| r.error) {
            Ok(0) => h.register_store(ctx, pending, req, email),
            Ok(error) => h.answer_json(ctx, pending, &GateRsp { error, ..GateRsp::default() }),
            Err(e) => {
                log::warn!("verify server unreachable: {e}");
                h.fail(ctx, pending, ErrorCode::RpcFailed)
            }
        });
    }

    /// 3. Hash and store (a concurrent registration of the same name loses here).
    fn register_store(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        req: RegisterReq,
        email: String,
    ) {
        let cost = self.hub.hash_cost.clone();
        let mut user = NewUser {
            name: req.user,
            email,
            password_hash: String::new(),
            nick: req.nick,
            desc: String::new(),
            sex: req.sex,
            icon: req.icon,
        };
        let password = req.passwd;
        self.store_job(
            ctx,
            pending,
            move |store| {
                if user.password_hash.is_empty() {
                    user.password_hash =
                        password::hash(&cost, &password).map_err(StoreError::Database)?;
                }
                let uid = store.create_user(&user)?;
                Ok((uid, user.name.clone(), user.email.clone()))
            },
            move |h, ctx, created| match created {
                Ok((uid, user, email)) => {
                    log::info!("registered uid {uid}");
                    h.answer_json(
                        ctx,
                        pending,
                        &GateRsp { error: 0, uid, user, email, ..GateRsp::default() },
                    );
                }
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /reset_pwd {email, user, passwd, varifycode}`; without `user`
    /// (the project_show client) the e-mail alone names the account.
    pub(super) fn reset_password(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = parse::<ResetPwdReq>(body) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        let Some(email) = normalize_email(&req.email) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        let named = !req.user.is_empty();
        if (named && !valid_name(&req.user))
            || !valid_password(&req.passwd)
            || req.varifycode.is_empty()
        {
            return self.fail(ctx, pending, ErrorCode::Json);
        }
        let (name, address) = (req.user.clone(), email.clone());
        self.store_job(
            ctx,
            pending,
            move |store| match named {
                true => store.user_by_name(&name),
                false => store.user_by_email(&address),
            },
            move |h, ctx, found| match found {
                Ok(Some(user)) if user.email.eq_ignore_ascii_case(&email) => {
                    h.reset_check_code(ctx, pending, req, user)
                }
                Ok(Some(_)) => h.fail(ctx, pending, ErrorCode::EmailNotMatch),
                Ok(None) => h.fail(ctx, pending, ErrorCode::UidInvalid),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    fn reset_check_code(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        req: ResetPwdReq,
        user: UserRecord,
    ) {
        let request =
            CheckVerifyCodeRequest { email: user.email.clone(), code: req.varifycode.clone() };
        let call = self.hub.verify.check_verify_code_async_opt(&request, self.call_option());
        self.rpc(ctx, call, pending, move |h, ctx, reply| match reply.map(|r| r.error) {
            Ok(0) => h.reset_store(ctx, pending, req.passwd, user),
            Ok(error) => h.answer_json(ctx, pending, &GateRsp { error, ..GateRsp::default() }),
            Err(_) => h.fail(ctx, pending, ErrorCode::RpcFailed),
        });
    }

    fn reset_store(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        new_password: String,
        user: UserRecord,
    ) {
        let cost = self.hub.hash_cost.clone();
        let uid = user.uid;
        self.store_job(
            ctx,
            pending,
            move |store| {
                let hash = password::hash(&cost, &new_password).map_err(StoreError::Database)?;
                store.update_password_hash(uid, &hash)
            },
            move |h, ctx, updated| match updated {
                Ok(true) => {
                    log::info!("password of uid {uid} reset");
                    let answer = GateRsp {
                        error: 0,
                        email: user.email,
                        user: user.name,
                        ..GateRsp::default()
                    };
                    h.answer_json(ctx, pending, &answer);
                }
                Ok(false) | Err(_) => h.fail(ctx, pending, ErrorCode::PasswdUpFailed),
            },
        );
    }

    /// `POST /user_login {email, passwd, device_id?}` (a user name in
    /// `email` works too): one error, 1009, whether the user is unknown or
    /// the password wrong. Then the status server picks a chat server and
    /// issues a token. With a `device_id` (this protocol's listener), the
    /// device's session token is stored with the check and handed out too.
    pub(super) fn login(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = parse::<UserLoginReq>(body) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        if req.email.trim().is_empty() || !valid_password(&req.passwd) {
            return self.fail(ctx, pending, ErrorCode::PasswdInvalid);
        }
        let device = match req.device_id.as_str() {
            "" => None,
            id if valid_device_id(id) && pending.dialect == Dialect::Own => Some(id.to_string()),
            _ => return self.fail(ctx, pending, ErrorCode::Json),
        };
        let sessions = self.hub.sessions.clone();
        let Some(ip) = self.admitted_address(ctx, pending, ErrorCode::PasswdInvalid) else {
            return;
        };
        let cost = self.hub.hash_cost.clone();
        let limits = self.hub.login_limits.clone();
        self.store_job(
            ctx,
            pending,
            move |store| {
                let found = match normalize_email(&req.email) {
                    Some(email) => store.user_by_email(&email)?,
                    None => store.user_by_name(req.email.trim())?,
                };
                Ok(match found {
                    Some(user) => {
                        // Refused before the hash: a flood of them is cheap.
                        if limits.check_account(user.uid, ip, Instant::now()).is_err() {
                            return Ok(Login::Refused);
                        }
                        if password::verify(&user.password_hash, &req.passwd) {
                            limits.succeeded(user.uid, ip, Instant::now());
                            let Some(device) = &device else {
                                return Ok(Login::Right(user, None));
                            };
                            let (token, row) = sessions.issue(user.uid, device, now_ms());
                            store.store_session_token(&row, sessions.per_user)?;
                            Login::Right(user, Some(token))
                        } else {
                            limits.failed(Some(user.uid), ip, Instant::now());
                            Login::Wrong
                        }
                    }
                    None => {
                        password::verify_nothing(&cost, &req.passwd);
                        limits.failed(None, ip, Instant::now());
                        Login::Wrong
                    }
                })
            },
            move |h, ctx, checked| match checked {
                Ok(Login::Right(user, session)) => h.login_pick_server(ctx, pending, user, session),
                Ok(Login::Wrong) => h.fail(ctx, pending, ErrorCode::PasswdInvalid),
                Ok(Login::Refused) => {
                    h.hub.metrics.login_refused_account.fetch_add(1, Relaxed);
                    h.fail(ctx, pending, ErrorCode::RateLimited)
                }
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /resume_session {uid, device_id, session_token}`: logs the
    /// device in again without its password (this protocol's listener).
    /// 1010 for a token that is unknown, expired, revoked or another
    /// user's or device's; those count as failures from the address, like
    /// wrong passwords, and back off the same way.
    pub(super) fn resume_session(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = parse::<ResumeSessionReq>(body) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        if !valid_device_id(&req.device_id) {
            return self.fail(ctx, pending, ErrorCode::Json);
        }
        let Some(ip) = self.admitted_address(ctx, pending, ErrorCode::TokenInvalid) else {
            return;
        };
        let limits = self.hub.login_limits.clone();
        if !sessions::well_formed(&req.session_token) {
            limits.failed(None, ip, Instant::now()); // none of ours: no lookup
            return self.fail(ctx, pending, ErrorCode::TokenInvalid);
        }
        let hash = sessions::token_hash(&req.session_token);
        self.store_job(
            ctx,
            pending,
            move |store| {
                let user = match store.session_token(&hash, now_ms())? {
                    Some(t) if t.uid == req.uid && t.device == req.device_id => {
                        store.user_by_uid(t.uid)?
                    }
                    _ => None,
                };
                if user.is_none() {
                    limits.failed(None, ip, Instant::now());
                }
                Ok(user)
            },
            move |h, ctx, found| match found {
                Ok(Some(user)) => {
                    h.hub.metrics.sessions_resumed.fetch_add(1, Relaxed);
                    h.login_pick_server(ctx, pending, user, None)
                }
                Ok(None) => h.fail(ctx, pending, ErrorCode::TokenInvalid),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /logout {session_token}`: the token resumes no more (1010 if
    /// it did not exist). The chat connection is the client's to close.
    pub(super) fn logout(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = parse::<LogoutReq>(body) else {
            return self.fail(ctx, pending, ErrorCode::Json);
        };
        if !sessions::well_formed(&req.session_token) {
            return self.fail(ctx, pending, ErrorCode::TokenInvalid);
        }
        let hash = sessions::token_hash(&req.session_token);
        self.store_job(
            ctx,
            pending,
            move |store| store.revoke_session_token(&hash),
            move |h, ctx, revoked| match revoked {
                Ok(true) => h.answer_json(ctx, pending, &GateRsp::default()),
                Ok(false) => h.fail(ctx, pending, ErrorCode::TokenInvalid),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// The client's address, unless it is in the address backoff of the
    /// login limits (then 1104 is answered) or the connection is gone (then
    /// `gone` is, to nobody: every request is answered once, which keeps
    /// the in-flight count).
    fn admitted_address(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        gone: ErrorCode,
    ) -> Option<IpAddr> {
        let Some(ip) = ctx.peer_addr(pending.conn).map(|peer| peer.ip()) else {
            self.fail(ctx, pending, gone);
            return None;
        };
        if self.hub.login_limits.check_address(ip, Instant::now()).is_err() {
            self.hub.metrics.login_refused_address.fetch_add(1, Relaxed);
            self.fail(ctx, pending, ErrorCode::RateLimited);
            return None;
        }
        Some(ip)
    }

    /// The status server picks a chat server and issues its token; the
    /// answer in the client's dialect (with the session token, if one was
    /// issued).
    fn login_pick_server(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        user: UserRecord,
        session: Option<String>,
    ) {
        let session_expires_in_ms = if session.is_some() { self.hub.sessions.ttl_ms } else { 0 };
        let call = self
            .hub
            .status
            .get_chat_server_async_opt(&GetChatServerRequest { uid: user.uid }, self.call_option());
        self.rpc(ctx, call, pending, move |h, ctx, reply| match reply {
            Ok(reply) if pending.dialect != Dialect::Own => {
                // The Qt clients read `port` with toString() and want their
                // own dialect's listener.
                let server = reply.server.unwrap_or_default();
                let port = match pending.dialect {
                    Dialect::ProjectShow => server.project_show_port,
                    _ => server.llfcchat_port,
                };
                if port == 0 {
                    log::warn!(
                        "chat server {} serves no {} clients",
                        server.name,
                        pending.dialect.name()
                    );
                    return h.fail(ctx, pending, ErrorCode::RpcFailed);
                }
                if pending.dialect == Dialect::ProjectShow {
                    // Its friend routes carry no token: see `bindings`.
                    if let Some(peer) = ctx.peer_addr(pending.conn) {
                        h.hub.bindings.bind(user.uid, peer.ip(), std::time::Instant::now());
                    }
                }
                let answer = serde_json::json!({
                    "error": 0,
                    "email": user.email,
                    "user": user.name,
                    "name": user.name,
                    "uid": user.uid,
                    "token": reply.token,
                    "host": server.host,
                    "port": port.to_string(),
                });
                h.answer_json(ctx, pending, &answer);
            }
            Ok(reply) => {
                let server = reply.server.unwrap_or_default();
                let answer = GateRsp {
                    error: 0,
                    email: user.email,
                    uid: user.uid,
                    token: reply.token,
                    host: server.host,
                    port: u16::try_from(server.port).unwrap_or(0),
                    session_token: session.unwrap_or_default(),
                    session_expires_in_ms,
                    ..GateRsp::default()
                };
                h.answer_json(ctx, pending, &answer);
            }
            Err(e) => {
                log::warn!("no chat server for uid {}: {e}", user.uid);
                h.fail(ctx, pending, ErrorCode::RpcFailed)
            }
        });
    }
}

/// What a login attempt came to, on the store worker.
enum Login {
    /// With the device's new session token, if the login named a device.
    Right(UserRecord, Option<String>),
    /// Wrong password or unknown user: one answer, 1009, for both.
    Wrong,
    /// The account is in backoff for this address (`login_limits`): 1104.
    Refused,
}
