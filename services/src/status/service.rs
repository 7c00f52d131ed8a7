//! The StatusService over gRPC: decode, call the registry, reply. Runs on
//! grpcio's completion-queue threads; the registry lock is held only for
//! the duration of one registry call.

use super::registry::{Registry, RegistryError};
use crate::grpc::reply;
use grpcio::{RpcContext, RpcStatus, RpcStatusCode, UnarySink};
use parking_lot::Mutex;
use proto::rpc::status::{
    GetChatServerReply, GetChatServerRequest, HeartbeatReply, HeartbeatRequest, LoginReply,
    LoginRequest, LookupUsersReply, LookupUsersRequest, RegisterReply, RegisterRequest,
    ReportOfflineReply, ReportOfflineRequest, ReportOnlineReply, ReportOnlineRequest,
};
use std::sync::Arc;
use std::time::Instant;

/// The service handed to grpcio (cloned per call; the registry is shared).
#[derive(Clone)]
pub struct StatusService {
    registry: Arc<Mutex<Registry>>,
}

impl StatusService {
    pub fn new(registry: Arc<Mutex<Registry>>) -> StatusService {
        StatusService { registry }
    }
}

fn to_status(error: RegistryError) -> RpcStatus {
    let code = match error {
        RegistryError::Invalid(_) => RpcStatusCode::INVALID_ARGUMENT,
        RegistryError::UnknownServer(_) => RpcStatusCode::FAILED_PRECONDITION,
        RegistryError::NoServer => RpcStatusCode::UNAVAILABLE,
        RegistryError::Full => RpcStatusCode::RESOURCE_EXHAUSTED,
    };
    RpcStatus::with_message(code, error.to_string())
}

impl proto::rpc::status::StatusService for StatusService {
    fn register(&mut self, ctx: RpcContext, req: RegisterRequest, sink: UnarySink<RegisterReply>) {
        let result = match req.server {
            None => Err(RegistryError::Invalid("no server".into())),
            Some(info) => self.registry.lock().register(info, req.load, Instant::now()),
        };
        let interval = self.registry.lock().rules().heartbeat_interval;
        let result = result
            .map(|()| RegisterReply { heartbeat_interval_ms: interval.as_millis() as u64 })
            .map_err(to_status);
        reply(&ctx, sink, result);
    }

    fn heartbeat(
        &mut self,
        ctx: RpcContext,
        req: HeartbeatRequest,
        sink: UnarySink<HeartbeatReply>,
    ) {
        let registered = self.registry.lock().heartbeat(&req.name, req.load, Instant::now());
        reply(&ctx, sink, Ok(HeartbeatReply { registered }));
    }

    fn get_chat_server(
        &mut self,
        ctx: RpcContext,
        req: GetChatServerRequest,
        sink: UnarySink<GetChatServerReply>,
    ) {
        let mut registry = self.registry.lock();
        let ttl = registry.rules().token_ttl;
        let result = registry.assign(req.uid, Instant::now());
        drop(registry);
        let result = result
            .map(|(server, token)| GetChatServerReply {
                server: Some(server),
                token,
                expires_in_ms: ttl.as_millis() as u64,
            })
            .map_err(to_status);
        reply(&ctx, sink, result);
    }

    fn login(&mut self, ctx: RpcContext, req: LoginRequest, sink: UnarySink<LoginReply>) {
        let status = self.registry.lock().check_token(req.uid, &req.token, Instant::now());
        reply(&ctx, sink, Ok(LoginReply { status: status as i32 }));
    }

    fn report_online(
        &mut self,
        ctx: RpcContext,
        req: ReportOnlineRequest,
        sink: UnarySink<ReportOnlineReply>,
    ) {
        let result = self.registry.lock().report_online(&req.server, &req.sessions, Instant::now());
        reply(&ctx, sink, result.map_err(to_status));
    }

    fn report_offline(
        &mut self,
        ctx: RpcContext,
        req: ReportOfflineRequest,
        sink: UnarySink<ReportOfflineReply>,
    ) {
        let result = self.registry.lock().report_offline(&req.server, &req.sessions);
        reply(&ctx, sink, result.map_err(to_status));
    }

    fn lookup_users(
        &mut self,
        ctx: RpcContext,
        req: LookupUsersRequest,
        sink: UnarySink<LookupUsersReply>,
    ) {
        let result = self.registry.lock().lookup(&req.uids, Instant::now());
        reply(&ctx, sink, result.map(|online| LookupUsersReply { online }).map_err(to_status));
    }
}
