//! One pool, several listeners: every listener's connections are served by
//! the same loops, and each connection knows which listener accepted it.

mod util;

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, Server};
use util::{localhost, Client};

/// Answers every frame with the number of the listener that accepted it.
struct WhichListener;

impl Handler for WhichListener {
    type Codec = FrameCodec;
    type Session = ();
    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let listener = ctx.listener(conn).expect("open") as u8;
        let _ = ctx.send_frame(conn, frame.id, &[listener]);
    }
}

#[test]
fn connections_report_the_listener_that_accepted_them() {
    let mut bound = Server::<WhichListener>::bind(
        localhost(),
        util::config("listeners"),
        FrameCodec::default(),
    )
    .unwrap();
    let second = bound.listen_also(localhost()).unwrap();
    let third = bound.listen_also(localhost()).unwrap();
    let first = bound.local_addr().unwrap();
    let server = bound.start(|_| WhichListener).unwrap();
    assert_eq!(server.local_addrs(), vec![first, second, third]);
    for (expected, addr) in [(0u8, first), (1, second), (2, third), (1, second), (0, first)] {
        let mut client = Client::connect(addr);
        client.send_frame(7, b"?");
        assert_eq!(client.read_frame().unwrap(), (7, vec![expected]), "via {addr}");
    }
    server.shutdown(std::time::Duration::from_secs(1));
}
