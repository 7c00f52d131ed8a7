//! [`Server`]: listeners, an acceptor thread per listener and a loop pool,
//! glued together for a user-supplied handler.
//!
//! Most servers have one listener. A server that speaks several dialects
//! (the chat server's own protocol and an older client's) listens on one
//! port per dialect: every listener feeds the same loops, and each
//! connection remembers which listener accepted it ([`crate::Ctx::listener`]).

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
    acceptors: Vec<Acceptor>,
    pool: LoopPool<H>,
}

/// Bound listeners and a prepared pool, not yet serving: its loop handles
/// can be given to what the handlers need before they are built.
pub struct BoundServer<H: Handler> {
    listeners: Vec<mio::net::TcpListener>,
    name: String,
    backlog: i32,
    pool: PreparedPool<H>,
}

impl<H: Handler> BoundServer<H> {
    /// The first listener's address (with the real port when bound to 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners[0].local_addr()
    }

    /// Binds one more listener, feeding the same loops; its connections
    /// report its number (1, 2, … in the order of these calls) through
    /// [`crate::Ctx::listener`]. Returns the bound address. Any thread.
    pub fn listen_also(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let listener = bind_listener(addr, self.backlog)?;
        let bound = listener.local_addr()?;
        self.listeners.push(listener);
        Ok(bound)
    }

    /// Handles to every loop, usable before the server starts. Any thread.
    pub fn handles(&self) -> &Arc<[LoopHandle<H>]> {
        self.pool.handles()
    }

    /// Starts the loops and one acceptor per listener. `factory` builds one
    /// handler per loop, on that loop's thread. Any thread; returns once
    /// accepting.
    pub fn start<F>(self, factory: F) -> io::Result<Server<H>>
    where
        F: Fn(LoopInit<'_, H>) -> H + Send + Sync + 'static,
    {
        let pool = self.pool.start(factory)?;
        let mut acceptors = Vec::with_capacity(self.listeners.len());
        for (index, listener) in self.listeners.into_iter().enumerate() {
            let name = match index {
                0 => self.name.clone(),
                _ => format!("{}-{index}", self.name),
            };
            let handles = Arc::clone(pool.handles());
            let mut next = index; // listeners start their round-robin at different loops
            let acceptor = Acceptor::start(listener, &name, move |stream, peer| {
                let handle = &handles[next % handles.len()];
                next = next.wrapping_add(1);
                let posted = handle.post(move |_, ctx| {
                    if let Err(e) = ctx.adopt_from(stream, peer, index) {
                        log::warn!("cannot register connection from {peer}: {e}");
                    }
                });
                if let Err(e) = posted {
                    // The socket was moved into the task, which is dropped: closed.
                    log::warn!("dropping connection from {peer}: {e}");
                }
            })?;
            acceptors.push(acceptor);
        }
        Ok(Server { acceptors, pool })
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
        let (name, backlog) = (config.name.clone(), config.backlog);
        let pool = LoopPool::prepare(config, codec)?;
        Ok(BoundServer { listeners: vec![listener], name, backlog, pool })
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

    /// The first listener's address. Any thread.
    pub fn local_addr(&self) -> SocketAddr {
        self.acceptors[0].local_addr()
    }

    /// Every listener's address, in listener order. Any thread.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.acceptors.iter().map(Acceptor::local_addr).collect()
    }

    /// The loops, to post tasks or read their counters. Any thread.
    pub fn pool(&self) -> &LoopPool<H> {
        &self.pool
    }

    /// Graceful shutdown: stop accepting, let every loop flush and close its
    /// connections, join the threads. Connections still open after `grace`
    /// are closed forcibly. Any thread but the server's own loops and acceptors.
    pub fn shutdown(mut self, grace: Duration) {
        for acceptor in &mut self.acceptors {
            acceptor.stop();
        }
        self.pool.shutdown(grace);
    }
}
