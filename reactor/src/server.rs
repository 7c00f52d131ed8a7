//! [`Server`]: a listener, an acceptor thread and a loop pool, glued together
//! for a user-supplied handler.

use crate::acceptor::{bind_listener, Acceptor};
use crate::config::LoopConfig;
use crate::handler::Handler;
use crate::loop_pool::{LoopInit, LoopPool};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A TCP server: accepted connections are spread round-robin over the loops.
pub struct Server<H: Handler> {
    // Dropped in this order: stop accepting first, then stop the loops.
    acceptor: Acceptor,
    pool: LoopPool<H>,
}

impl<H: Handler> Server<H> {
    /// Binds `addr` (port 0 picks a free port), starts the loops and the
    /// acceptor. `factory` builds one handler per loop, on that loop's thread.
    ///
    /// Call from any thread; returns once the server is accepting.
    pub fn start<F>(
        addr: SocketAddr,
        config: LoopConfig,
        codec: H::Codec,
        factory: F,
    ) -> io::Result<Server<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        let name = config.name.clone();
        let backlog = config.backlog;
        let listener = bind_listener(addr, backlog)?;
        let pool = LoopPool::start(config, codec, factory)?;
        let handles = Arc::clone(pool.handles());
        let mut next = 0usize;
        let acceptor = Acceptor::start(listener, &name, move |stream, peer| {
            let handle = &handles[next % handles.len()];
            next = next.wrapping_add(1);
            let posted = handle.post(move |_, ctx| {
                if let Err(e) = ctx.adopt(stream, peer) {
                    log::warn!("cannot register connection from {peer}: {e}");
                }
            });
            if let Err(e) = posted {
                // The socket was moved into the task, which is dropped: closed.
                log::warn!("dropping connection from {peer}: {e}");
            }
        })?;
        Ok(Server { acceptor, pool })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.acceptor.local_addr()
    }

    /// The loops, to post tasks or read their counters.
    pub fn pool(&self) -> &LoopPool<H> {
        &self.pool
    }

    /// Graceful shutdown: stop accepting, let every loop flush and close its
    /// connections, join the threads. Connections still open after `grace`
    /// are closed forcibly. Call from outside the server's threads.
    pub fn shutdown(mut self, grace: Duration) {
        self.acceptor.stop();
        self.pool.shutdown(grace);
    }
}
