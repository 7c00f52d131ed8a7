//! A one-loop-per-thread reactor on `mio`, small enough to read in one sitting.
//!
//! Each I/O thread runs one event loop that owns its connections outright: no
//! connection is ever touched by two threads, so none is locked. Other threads
//! reach a loop only by posting a task to its inbox. Blocking work (databases,
//! RPCs) never runs on a loop; its result is posted back.
//!
//! # Layout
//!
//! | module | concept |
//! |---|---|
//! | [`buffer`] | byte buffer with a cheap prepend area (muduo's `Buffer`) |
//! | [`codec`] | turning bytes into frames; the project's two-stage frame codec |
//! | `slab` | generational slab: connection ids that cannot go stale |
//! | `timer_wheel` | hashed timing wheel: O(1) timers for idle timeouts |
//! | `precise_timer` | a timerfd that wakes a loop for sub-millisecond timers (opt-in) |
//! | `socket` | [`bind_listener`] and non-blocking connects |
//! | `backpressure` | high-water mark, paused reading, slow-consumer deadline |
//! | `connection` | one connection: reads, writes, closes, connects; returns outcomes |
//! | `connections` | the loop's connection table: acts on those outcomes (notices, timers, flush) |
//! | `context` | [`Ctx`]: what a handler can do (send, close, open, timers) |
//! | `handler` | [`Handler`]: the callbacks a user implements |
//! | `inbox` | [`LoopHandle`]: posting tasks to a loop from any thread |
//! | `event_loop` | the pass: poll, read, dispatch, tasks, timers, flush |
//! | `loop_pool` | [`LoopPool`]: N loops on N threads |
//! | `acceptor` | [`Acceptor`]: accept thread, pause on `EMFILE` |
//! | `server` | [`Server`]: listener + acceptor + pool |
//! | `echo` | [`Echo`]: the reference handler (echo every frame) |
//! | `config`, `stats` | tunables, and counters readable from any thread |
//!
//! Dependencies point one way, down this list read from the bottom: the
//! server uses the pool, the pool runs event loops, a loop drives its
//! connection table through a `Ctx`, the table drives connections.
//! Start with `reactor/README.md` for a guided tour, then `event_loop.rs`.
//!
//! # Threads
//!
//! Each public function's doc says which thread may call it; the rule is:
//!
//! * **loop thread only**: [`Ctx`] and everything reached through it. A
//!   `Ctx` is only ever lent to a handler's callbacks and to tasks running on
//!   its loop, and debug builds assert the thread in the methods that act.
//!   A [`Handler`] is built on, and called on, its loop's thread.
//! * **any thread**: [`LoopHandle`] (`post` never blocks), the counters in
//!   [`LoopStats`], and building or inspecting a [`LoopPool`] or [`Server`].
//! * **any thread but the pool's own**: `LoopPool::shutdown` and
//!   `Server::shutdown` join the loop threads, and a loop cannot join itself.

//! # Example
//!
//! ```no_run
//! use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, Server};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Codec = FrameCodec;
//!     type Session = ();
//!     fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
//!         let _ = ctx.send_frame(conn, frame.id, frame.body);
//!     }
//! }
//!
//! let addr = "127.0.0.1:7000".parse().unwrap();
//! let server = Server::start(addr, LoopConfig::default(), FrameCodec::default(), |_| Echo)?;
//! # server.shutdown(std::time::Duration::from_secs(1));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod acceptor;
mod backpressure;
pub mod buffer;
pub mod codec;
mod config;
mod connection;
mod connections;
mod context;
mod echo;
mod event_loop;
mod handler;
mod inbox;
mod loop_pool;
mod precise_timer;
mod server;
mod slab;
mod socket;
mod stats;
mod timer_wheel;

pub use acceptor::Acceptor;
pub use buffer::Buffer;
pub use codec::{Codec, Decoded, Frame, FrameCodec, FrameError};
pub use config::LoopConfig;
pub use connection::{CloseReason, ConnId, ConnState};
pub use context::{Ctx, SendError, TimerId};
pub use echo::Echo;
pub use handler::{FrameOf, Handler};
pub use inbox::{LoopHandle, PostError, Task};
pub use loop_pool::{LoopInit, LoopPool, PreparedPool};
pub use server::{BoundServer, Server};
pub use socket::bind_listener;
pub use stats::LoopStats;
