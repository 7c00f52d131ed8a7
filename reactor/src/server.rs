//! [`Server`]: a listener, an acceptor thread and a loop pool, glued together
//! for a user-supplied handler.

use crate::acceptor::Acceptor;
use crate::config::LoopConfig;
use crate::handler::Handler;
use crate::inbox::LoopHandle;
use crate::loop_pool::{LoopInit, LoopPool, PreparedPool};
use crate::socket::bind_listener;
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

/// A bound listener and a prepared pool, not yet serving: its loop handles
/// can be given to what the handlers need before they are built.
pub struct BoundServer<H: Handler> {
    listener: mio::net::TcpListener,
    name: String,
    pool: PreparedPool<H>,
}

impl<H: Handler> BoundServer<H> {
    /// The bound address (with the real port when bound to 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Handles to every loop, usable before the server starts. Any thread.
    pub fn handles(&self) -> &Arc<[LoopHandle<H>]> {
        self.pool.handles()
    }

    /// Starts the loops and the acceptor. `factory` builds one handler per
    /// loop, on that loop's thread. Any thread; returns once accepting.
    pub fn start<F>(self, factory: F) -> io::Result<Server<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        let pool = self.pool.start(factory)?;
        let handles = Arc::clone(pool.handles());
        let mut next = 0usize;
        let acceptor = Acceptor::start(self.listener, &self.name, move |stream, peer| {
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
}

impl<H: Handler> Server<H> {
    /// Binds `addr` (port 0 picks a free port) and prepares the loops,
    /// without starting them (see [`BoundServer`]). Any thread.
    pub fn bind(
        addr: SocketAddr,
        config: LoopConfig,
        codec: H::Codec,
    ) -> io::Result<BoundServer<H>> {
        let listener = bind_listener(addr, config.backlog)?;
        let name = config.name.clone();
        let pool = LoopPool::prepare(config, codec)?;
        Ok(BoundServer { listener, name, pool })
    }

    /// Binds `addr`, starts the loops and the acceptor in one step. Any
    /// thread; returns once the server is accepting.
    pub fn start<F>(
        addr: SocketAddr,
        config: LoopConfig,
        codec: H::Codec,
        factory: F,
    ) -> io::Result<Server<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        Server::bind(addr, config, codec)?.start(factory)
    }

    /// The bound address. Any thread.
    pub fn local_addr(&self) -> SocketAddr {
        self.acceptor.local_addr()
    }

    /// The loops, to post tasks or read their counters. Any thread.
    pub fn pool(&self) -> &LoopPool<H> {
        &self.pool
    }

    /// Graceful shutdown: stop accepting, let every loop flush and close its
    /// connections, join the threads. Connections still open after `grace`
    /// are closed forcibly. Any thread but the server's own loops and acceptor.
    pub fn shutdown(mut self, grace: Duration) {
        self.acceptor.stop();
        self.pool.shutdown(grace);
    }
}
