//! imcli's connection to a chat server: a reader thread turns frames into
//! events for the UI thread, which writes with its own handle.

use crossbeam_channel::{unbounded, Receiver};
use proto::frame::{decode_header, json_frame, HEADER_LEN};
use proto::MsgId;
use serde::Serialize;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What the reader thread reports.
pub enum NetEvent {
    Frame(u16, Vec<u8>),
    Closed(String),
}

/// One chat-server connection.
pub struct Connection {
    writer: TcpStream,
    pub events: Receiver<NetEvent>,
    pub server: SocketAddr,
}

impl Connection {
    pub fn open(server: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&server, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        // The UI drains this channel every few milliseconds; frames are small.
        let (sender, events) = unbounded();
        std::thread::spawn(move || loop {
            let mut header = [0u8; HEADER_LEN];
            if let Err(e) = reader.read_exact(&mut header) {
                let _ = sender.send(NetEvent::Closed(e.to_string()));
                return;
            }
            let (id, len) = decode_header(&header);
            let mut body = vec![0; len];
            if let Err(e) = reader.read_exact(&mut body) {
                let _ = sender.send(NetEvent::Closed(e.to_string()));
                return;
            }
            if sender.send(NetEvent::Frame(id, body)).is_err() {
                return;
            }
        });
        Ok(Connection { writer: stream, events, server })
    }

    pub fn send<T: Serialize>(&mut self, id: MsgId, body: &T) -> io::Result<()> {
        let bytes =
            json_frame(id, body).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.writer.write_all(&bytes)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}
