//! What the gate's loops share, and the two ways a request leaves the loop
//! and comes back: a store job, and an async gRPC call.

use super::bindings::AddressBindings;
use super::handler::{GateHandler, Pending};
use super::login_limits::LoginLimits;
use super::metrics::GateMetrics;
use super::password::HashCost;
use super::peers::ChatPeers;
use super::sessions::SessionsConfig;
use crate::store::{AnyBackend, AnyConn, DbPool, JobKind, StoreError};
use proto::body::GateRsp;
use proto::rpc::status::StatusServiceClient;
use proto::rpc::verify::VerifyServiceClient;
use proto::ErrorCode;
use reactor::Ctx;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Shared by every loop of the gate; safe to use from any thread.
pub struct GateHub {
    pub store: DbPool<AnyBackend>,
    /// Who logged in from where, for the project_show friend routes.
    pub bindings: AddressBindings,
    /// Wrong-password backoff per address and per account (store workers
    /// use it too, hence the Arc).
    pub login_limits: Arc<LoginLimits>,
    /// Notices to users on chat servers (the project_show friend routes).
    pub peers: ChatPeers,
    pub status: StatusServiceClient,
    pub verify: VerifyServiceClient,
    pub metrics: GateMetrics,
    pub hash_cost: HashCost,
    pub sessions: SessionsConfig,
    pub rpc_timeout: Duration,
    pub request_timeout: Duration,
    pub max_pipelined: usize,
}

impl GateHandler {
    /// Runs `job` on a store worker; `then` runs on this loop with the
    /// result. A full store queue is answered with 1105 at once.
    pub(super) fn store_job<T, J, Then>(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        job: J,
        then: Then,
    ) where
        T: Send + 'static,
        J: FnMut(&mut AnyConn) -> Result<T, StoreError> + Send + 'static,
        Then:
            FnOnce(&mut GateHandler, &mut Ctx<GateHandler>, Result<T, StoreError>) + Send + 'static,
    {
        let handle = ctx.handle().clone();
        let submitted = self.hub.store.try_submit(JobKind::Once, job, move |result| {
            if handle.post(move |h, ctx| then(h, ctx, result)).is_err() {
                log::warn!("gate loop inbox full: an answer was dropped");
            }
        });
        if let Err(e) = submitted {
            self.fail(ctx, pending, e.error_code());
        }
    }

    /// Awaits `call` (an async gRPC call already started) on grpcio's
    /// threads; `then` runs on this loop with the outcome.
    pub(super) fn rpc<T, F, Then>(
        &mut self,
        ctx: &mut Ctx<Self>,
        call: grpcio::Result<F>,
        pending: Pending,
        then: Then,
    ) where
        T: Send + 'static,
        F: Future<Output = grpcio::Result<T>> + Send + 'static,
        Then: FnOnce(&mut GateHandler, &mut Ctx<GateHandler>, Result<T, String>) + Send + 'static,
    {
        let call = match call {
            Ok(call) => call,
            Err(e) => {
                log::warn!("cannot start an RPC for {}: {e}", pending.route);
                return self.fail(ctx, pending, ErrorCode::RpcFailed);
            }
        };
        let handle = ctx.handle().clone();
        self.hub.status.spawn(async move {
            let outcome = call.await.map_err(|e| e.to_string());
            if handle.post(move |h, ctx| then(h, ctx, outcome)).is_err() {
                log::warn!("gate loop inbox full: an answer was dropped");
            }
        });
    }

    /// Answers a route with only an error code.
    pub(super) fn fail(&mut self, ctx: &mut Ctx<Self>, pending: Pending, code: ErrorCode) {
        self.answer_json(ctx, pending, &GateRsp { error: code.code(), ..GateRsp::default() });
    }

    /// Internal calls wait (within the timeout) for a channel that is still
    /// connecting, instead of failing at once: the verify and status servers
    /// may have started a moment after the gate.
    pub(super) fn call_option(&self) -> grpcio::CallOption {
        grpcio::CallOption::default().timeout(self.hub.rpc_timeout).wait_for_ready(true)
    }
}
