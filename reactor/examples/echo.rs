//! The smallest useful server on the reactor: echo every frame back.
//!
//! ```text
//! cargo run --release -p reactor --example echo            # listens on 127.0.0.1:7000
//! printf '\x03\xed\x00\x02{}' | nc -q1 127.0.0.1 7000 | xxd  # frame 1005, body "{}"
//! ```

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, Server};

/// One instance per loop thread; it has no state of its own.
struct Echo;

impl Handler for Echo {
    /// The project's frame: u16 id, u16 length, body.
    type Codec = FrameCodec;
    /// Nothing to remember per connection.
    type Session = ();

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        // Queued now, written with everything else for this peer before the
        // loop sleeps again.
        let _ = ctx.send_frame(conn, frame.id, frame.body);
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
    let addr = addr.parse().expect("usage: echo [IP:PORT]");
    let server = Server::start(addr, LoopConfig::default(), FrameCodec::default(), |_| Echo)?;
    println!(
        "echo server on {} ({} loops); Ctrl-C to stop",
        server.local_addr(),
        server.pool().len()
    );
    loop {
        std::thread::park();
    }
}
