//! Small pieces every gRPC server of this crate needs.

use grpcio::{
    ChannelBuilder, Environment, RpcContext, RpcStatus, Server, ServerBuilder, ServerCredentials,
    Service, UnarySink,
};
use parking_lot::{Condvar, Mutex};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Sends `result` through `sink` without blocking the completion queue.
/// Call from a service method (a grpcio completion-queue thread).
pub fn reply<T: Send + 'static>(
    ctx: &RpcContext,
    sink: UnarySink<T>,
    result: Result<T, RpcStatus>,
) {
    ctx.spawn(async move {
        let sent = match result {
            Ok(message) => sink.success(message).await,
            Err(status) => sink.fail(status).await,
        };
        if let Err(e) = sent {
            log::debug!("gRPC reply not delivered: {e}");
        }
    });
}

/// Stops accepting calls and waits at most `deadline` for running ones.
/// `what` names the server in the log.
pub fn shutdown_server(mut server: Server, deadline: Duration, what: &str) {
    let finished = Arc::new((Mutex::new(false), Condvar::new()));
    let signal = finished.clone();
    let shutdown = server.shutdown();
    std::thread::spawn(move || {
        let _ = futures_executor::block_on(shutdown);
        *signal.0.lock() = true;
        signal.1.notify_all();
    });
    let mut done = finished.0.lock();
    if !*done && finished.1.wait_for(&mut done, deadline).timed_out() {
        log::warn!("{what}: calls still running at the shutdown deadline");
    }
}

/// Builds a server for `service`, binds `listen` (an `IP:port`; port 0
/// picks one) and starts it. Errors name the configuration `key`.
pub fn serve(
    env: Arc<Environment>,
    service: Service,
    listen: &str,
    key: &str,
) -> Result<(Server, SocketAddr), String> {
    let ip: SocketAddr =
        listen.parse().map_err(|_| format!("{key}: `{listen}` is not an IP:port address"))?;
    // gRPC binds with SO_REUSEPORT by default: a second daemon on a taken port
    // would start, say "listening", and share (or steal) the first one's
    // connections. Without it the bind fails, and the daemon says so.
    let args = ChannelBuilder::new(env.clone()).reuse_port(false).build_args();
    let mut server = ServerBuilder::new(env)
        .channel_args(args)
        .register_service(service)
        .build()
        .map_err(|e| format!("cannot build the gRPC server: {e}"))?;
    let port = server
        .add_listening_port(listen.to_string(), ServerCredentials::insecure())
        .map_err(|e| format!("{key}: cannot bind {listen}: {e}"))?;
    server.start();
    Ok((server, SocketAddr::new(ip.ip(), port)))
}
