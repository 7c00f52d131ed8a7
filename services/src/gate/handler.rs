//! HTTP connections of the gate, on the reactor: one `GateHandler` per loop.
//!
//! Requests on one connection may be pipelined, and their answers come back
//! from other threads in any order (a store job, a gRPC call), so each
//! request takes a sequence number and answers are written strictly in
//! that order; an answer that is early waits in the session.
//!
//! Each connection has one deadline at a time: a request must arrive whole
//! within `request_timeout` of the connection opening or of the previous
//! request. A client that has begun a request and misses it (slow-loris, a
//! body shorter than its Content-Length) gets 408 and is closed; an idle
//! keep-alive connection is just closed.

use super::http::{self, HttpCodec, HttpEvent, Request};
use super::hub::GateHub;
use crate::dialect::Dialect;
use reactor::{ConnId, Ctx, Handler};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// One connection's state.
#[derive(Default)]
pub struct GateSession {
    /// The sequence number the next request gets.
    next_seq: u64,
    /// The sequence number of the next answer to write.
    next_out: u64,
    /// Answers ready before an earlier one.
    early: BTreeMap<u64, Answer>,
    /// A `Connection: close` answer (or a refusal) went out: nothing follows.
    closing: bool,
    /// The request whose deadline already found it partly arrived once and
    /// gave it one more `request_timeout` (it may have started just now).
    extended: Option<u64>,
}

struct Answer {
    bytes: Vec<u8>,
    close: bool,
}

/// A request being worked on: everything needed to answer it later, on
/// its connection's loop.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    pub conn: ConnId,
    /// The client's dialect (fixed by the listener that accepted it).
    pub dialect: Dialect,
    pub seq: u64,
    pub route: &'static str,
    pub started: Instant,
    pub keep_alive: bool,
}

pub struct GateHandler {
    pub(super) hub: Arc<GateHub>,
    /// The dialect of each listener, by listener number.
    pub(super) dialects: Arc<[Dialect]>,
}

impl Handler for GateHandler {
    type Codec = HttpCodec;
    type Session = GateSession;

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        self.arm_deadline(ctx, conn, 0);
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, event: HttpEvent<'_>) {
        let Some(session) = ctx.session_mut(conn) else { return };
        if session.closing {
            return;
        }
        let seq = session.next_seq;
        session.next_seq += 1;
        let waiting = seq - session.next_out;
        let started = Instant::now();
        let listener = ctx.listener(conn).unwrap_or(0);
        let dialect = self.dialects.get(listener).copied().unwrap_or_default();
        self.hub.metrics.in_flight.fetch_add(1, Relaxed);
        let request = match event {
            HttpEvent::Refused(status) => {
                let pending =
                    Pending { conn, dialect, seq, route: "invalid", started, keep_alive: false };
                return self.answer_status(ctx, pending, status);
            }
            HttpEvent::Request(request) => request,
        };
        let route = route_name(request.path);
        let pending =
            Pending { conn, dialect, seq, route, started, keep_alive: request.keep_alive };
        if waiting >= self.hub.max_pipelined as u64 {
            return self.answer_status(ctx, Pending { keep_alive: false, ..pending }, 503);
        }
        self.arm_deadline(ctx, conn, seq + 1);
        self.dispatch(ctx, pending, &request);
    }
}

/// The project_show client's friend routes (served on its listener only).
const FRIEND_ROUTES: [&str; 5] = [
    "search_friends",
    "get_friend_requests",
    "get_my_friends",
    "send_friend_request",
    "reply_friend_request",
];

/// The metrics label of a path (a fixed set, so clients cannot invent labels).
fn route_name(path: &str) -> &'static str {
    match path {
        "/get_varifycode" | "/get_verifycode" => "get_verifycode",
        "/user_register" => "user_register",
        "/reset_pwd" | "/reset_password" => "reset_pwd",
        "/user_login" => "user_login",
        "/resume_session" => "resume_session",
        "/logout" => "logout",
        "/search_friends" => "search_friends",
        "/get_friend_requests" => "get_friend_requests",
        "/get_my_friends" => "get_my_friends",
        "/send_friend_request" => "send_friend_request",
        "/reply_friend_request" => "reply_friend_request",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        _ => "other",
    }
}

impl GateHandler {
    fn dispatch(&mut self, ctx: &mut Ctx<Self>, pending: Pending, request: &Request<'_>) {
        match (request.method, pending.route) {
            ("POST", "get_verifycode") => self.get_verify_code(ctx, pending, request.body),
            ("POST", "user_register") => self.register(ctx, pending, request.body),
            ("POST", "reset_pwd") => self.reset_password(ctx, pending, request.body),
            ("POST", "user_login") => self.login(ctx, pending, request.body),
            // Session tokens are this protocol's: the Qt clients have none.
            ("POST", "resume_session") if pending.dialect == Dialect::Own => {
                self.resume_session(ctx, pending, request.body)
            }
            ("POST", "logout") if pending.dialect == Dialect::Own => {
                self.logout(ctx, pending, request.body)
            }
            (_, "resume_session" | "logout") if pending.dialect != Dialect::Own => {
                self.answer_status(ctx, pending, 404)
            }
            // The project_show client's friend routes, on its listener only.
            (_, route) if FRIEND_ROUTES.contains(&route) => {
                self.friend_route(ctx, pending, request)
            }
            ("GET", "healthz") => self.answer(ctx, pending, 200, "text/plain", b"ok\n".to_vec()),
            ("GET", "metrics") => {
                let text = self.hub.metrics.render();
                self.answer(ctx, pending, 200, "text/plain; version=0.0.4", text.into_bytes());
            }
            (_, "other") => self.answer_status(ctx, pending, 404),
            _ => self.answer_status(ctx, pending, 405),
        }
    }

    fn friend_route(&mut self, ctx: &mut Ctx<Self>, pending: Pending, request: &Request<'_>) {
        if pending.dialect != Dialect::ProjectShow {
            return self.answer_status(ctx, pending, 404);
        }
        if request.method != "POST" {
            return self.answer_status(ctx, pending, 405);
        }
        let body = request.body;
        match pending.route {
            "search_friends" => self.search_friends(ctx, pending, body),
            "get_friend_requests" => self.friend_requests(ctx, pending, body),
            "get_my_friends" => self.my_friends(ctx, pending, body),
            "send_friend_request" => self.send_friend_request(ctx, pending, body),
            _ => self.reply_friend_request(ctx, pending, body),
        }
    }

    /// Starts the deadline for request number `expected`: if it has not
    /// arrived when the timer fires, and nothing is being answered, 408.
    fn arm_deadline(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, expected: u64) {
        ctx.run_after(self.hub.request_timeout, move |handler, ctx| {
            let Some(session) = ctx.session(conn) else { return };
            if session.closing || session.next_seq != expected {
                return; // it came (a newer timer watches the next one)
            }
            if session.next_out < session.next_seq {
                return handler.arm_deadline(ctx, conn, expected); // we are the slow one
            }
            if ctx.partial_input(conn) == Some(0) {
                // An idle keep-alive, not a late request: close it without an
                // answer nobody asked for. A client that reuses idle
                // connections (Qt does) would read a 408 as the answer to
                // its next request; a plain close it retries (RFC 9112 §9.3.1).
                return ctx.shutdown(conn);
            }
            // The deadline counts from the previous answer, so a request on
            // a kept-alive connection may have begun to arrive a moment ago
            // (Qt writes the head and the body separately, and reuses a
            // connection after up to ~10 s): give it one full timeout of
            // its own before the 408. A trickle still ends within two.
            if session.extended != Some(expected) {
                if let Some(session) = ctx.session_mut(conn) {
                    session.extended = Some(expected);
                }
                return handler.arm_deadline(ctx, conn, expected);
            }
            let pending = Pending {
                conn,
                dialect: Dialect::Own,
                seq: expected,
                route: "timeout",
                started: Instant::now(),
                keep_alive: false,
            };
            if let Some(session) = ctx.session_mut(conn) {
                session.next_seq += 1; // the 408 takes the missing request's place
            }
            handler.hub.metrics.in_flight.fetch_add(1, Relaxed);
            handler.answer_status(ctx, pending, 408);
        });
    }

    /// Answers with a status and its reason phrase. After a well-formed
    /// request (404, 405) the connection may stay; after bad input, a
    /// timeout or overload it is closed.
    pub(super) fn answer_status(&mut self, ctx: &mut Ctx<Self>, pending: Pending, status: u16) {
        let body = format!("{}\n", http::reason(status)).into_bytes();
        self.answer(
            ctx,
            Pending {
                keep_alive: pending.keep_alive && matches!(status, 200 | 404 | 405),
                ..pending
            },
            status,
            "text/plain",
            body,
        );
    }

    /// Answers with JSON (the routes' answers: 200 with an error code inside).
    pub(super) fn answer_json<T: serde::Serialize>(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        body: &T,
    ) {
        let json = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"error\":1002}".to_vec());
        self.answer(ctx, pending, 200, "application/json", json);
    }

    /// Queues the answer for `pending` and writes every answer now in order.
    fn answer(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        status: u16,
        content_type: &str,
        body: Vec<u8>,
    ) {
        self.hub.metrics.in_flight.fetch_sub(1, Relaxed);
        self.hub.metrics.answered(pending.route, status, pending.started.elapsed());
        let bytes = http::response(status, content_type, &body, pending.keep_alive);
        let Some(session) = ctx.session_mut(pending.conn) else { return }; // closed meanwhile
        if session.closing {
            return;
        }
        session.early.insert(pending.seq, Answer { bytes, close: !pending.keep_alive });
        let mut ready = Vec::new();
        while let Some(answer) = session.early.remove(&session.next_out) {
            session.next_out += 1;
            let close = answer.close;
            ready.push(answer);
            if close {
                session.closing = true;
                session.early.clear();
                break;
            }
        }
        for answer in ready {
            let _ = ctx.send(pending.conn, &answer.bytes);
            if answer.close {
                ctx.shutdown(pending.conn);
            }
        }
    }
}
