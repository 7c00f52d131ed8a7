//! A tiny chat room: everyone connected hears everything anyone says.
//!
//! It shows the one idea that every multi-loop server needs: a connection
//! belongs to one loop, so to reach connections on *other* loops you post a
//! task to each loop's inbox, and that loop writes to its own connections.
//!
//! ```text
//! cargo run --release -p reactor --example chat_room -- server 127.0.0.1:7001
//! cargo run --release -p reactor --example chat_room -- client 127.0.0.1:7001 alice
//! cargo run --release -p reactor --example chat_room -- client 127.0.0.1:7001 bob
//! ```
//!
//! Frames: `1 JOIN <name>` and `2 SAY <text>` from clients; `3 LINE <text>`
//! from the server.

use reactor::codec::{decode_header, encode_frame, HEADER_LEN};
use reactor::{
    CloseReason, ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopHandle, Server,
};
use std::collections::HashSet;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

const JOIN: u16 = 1;
const SAY: u16 = 2;
const LINE: u16 = 3;

/// One per loop: the members whose connections this loop owns.
struct Room {
    /// Every loop of the server, to broadcast through their inboxes.
    loops: Arc<[LoopHandle<Room>]>,
    /// Connections on this loop that have joined.
    members: HashSet<ConnId>,
}

impl Room {
    /// Sends `line` to every member on every loop (including this one).
    fn broadcast(&self, line: String) {
        let line: Arc<[u8]> = line.into_bytes().into();
        for handle in self.loops.iter() {
            let line = line.clone();
            // Each loop writes to the connections it owns; no locks anywhere.
            let _ = handle.post(move |room, ctx| {
                for &member in &room.members {
                    let _ = ctx.send_frame(member, LINE, &line);
                }
            });
        }
    }
}

impl Handler for Room {
    type Codec = FrameCodec;
    /// The member's name, once joined.
    type Session = Option<String>;

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let text = String::from_utf8_lossy(frame.body).trim().to_string();
        match (frame.id, ctx.session(conn).cloned().flatten()) {
            (JOIN, None) if !text.is_empty() => {
                *ctx.session_mut(conn).unwrap() = Some(text.clone());
                self.members.insert(conn);
                self.broadcast(format!("* {text} joined"));
            }
            (SAY, Some(name)) => self.broadcast(format!("{name}: {text}")),
            _ => ctx.shutdown(conn), // anything else: hang up politely
        }
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, conn: ConnId, name: Option<String>, _: &CloseReason) {
        if self.members.remove(&conn) {
            self.broadcast(format!("* {} left", name.unwrap_or_default()));
        }
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let config = LoopConfig { name: "room".into(), ..LoopConfig::default() };
    let server =
        Server::start(addr.parse().expect("IP:PORT"), config, FrameCodec::default(), |init| {
            Room { loops: init.handles.clone(), members: HashSet::new() }
        })?;
    println!("chat room on {}; Ctrl-C to stop", server.local_addr());
    loop {
        std::thread::park();
    }
}

/// A blocking terminal client: stdin lines out, room lines in.
fn chat(addr: &str, name: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    let mut reader = stream.try_clone()?;
    std::thread::spawn(move || {
        let mut header = [0u8; HEADER_LEN];
        while reader.read_exact(&mut header).is_ok() {
            let (_, len) = decode_header(&header);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                break;
            }
            println!("{}", String::from_utf8_lossy(&body));
        }
        println!("(disconnected)");
        std::process::exit(0);
    });
    let mut out = Vec::new();
    encode_frame(JOIN, name.as_bytes(), &mut out).unwrap();
    stream.write_all(&out)?;
    for line in std::io::stdin().lock().lines() {
        out.clear();
        encode_frame(SAY, line?.as_bytes(), &mut out).expect("line too long");
        stream.write_all(&out)?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["server", addr] => serve(addr),
        ["client", addr, name] => chat(addr, name),
        _ => {
            eprintln!("usage: chat_room server IP:PORT | chat_room client IP:PORT NAME");
            std::process::exit(2)
        }
    }
}
