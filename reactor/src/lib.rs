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
//! | `connection` | one connection: state enum, buffers, flags |
//! | `context` | [`Ctx`]: what a handler can do (send, close, timers) |
//! | `handler` | [`Handler`]: the callbacks a user implements |
//! | `inbox` | [`LoopHandle`]: posting tasks to a loop from any thread |
//! | `event_loop` | the pass: poll, read, dispatch, tasks, timers, flush |
//! | `loop_pool` | [`LoopPool`]: N loops on N threads |
//! | `acceptor` | [`Acceptor`]: accept thread, pause on `EMFILE` |
//! | `server` | [`Server`]: listener + acceptor + pool |
//! | `echo` | [`Echo`]: the reference handler (echo every frame) |
//! | `config`, `stats` | tunables, and counters readable from any thread |
//!
//! Start with `reactor/README.md` for a guided tour, then `event_loop.rs`.
//!
//! # Threads
//!
//! Every public function says which thread may call it. In short: [`Ctx`] and
//! everything reached through it belong to the loop's thread (it is only ever
//! handed to callbacks); [`LoopHandle`], [`LoopPool`] and [`Server`] may be used
//! from any thread.
//!
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
pub mod buffer;
pub mod codec;
mod config;
mod connection;
mod context;
mod echo;
mod event_loop;
mod handler;
mod inbox;
mod loop_pool;
mod server;
mod slab;
mod stats;
mod timer_wheel;

pub use acceptor::{bind_listener, Acceptor};
pub use buffer::Buffer;
pub use codec::{Codec, Decoded, Frame, FrameCodec, FrameError};
pub use config::LoopConfig;
pub use connection::{CloseReason, ConnId, ConnState};
pub use context::{Ctx, SendError, TimerId};
pub use echo::Echo;
pub use handler::{FrameOf, Handler};
pub use inbox::{LoopHandle, PostError, Task};
pub use loop_pool::{LoopInit, LoopPool};
pub use server::Server;
pub use stats::LoopStats;
