//! Small pieces every gRPC server of this crate needs.

use grpcio::{RpcContext, RpcStatus, Server, UnarySink};
use parking_lot::{Condvar, Mutex};
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
