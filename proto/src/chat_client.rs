//! A small blocking client for the chat protocol (std::net), for tools and
//! tests. It speaks raw frames, so tests can also send what a well-behaved
//! client never would.

use crate::frame::{decode_header, json_frame, HEADER_LEN};
use crate::msg_id::MsgId;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A frame as received: the id and the raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub id: u16,
    pub body: Vec<u8>,
}

impl RawFrame {
    /// The body parsed as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> io::Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// One connection to a chat server.
pub struct ChatClient {
    stream: TcpStream,
    /// Frames read while waiting for another id (pushes between responses).
    backlog: VecDeque<RawFrame>,
}

impl ChatClient {
    /// Connects, with `timeout` for the connect and for every later read.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<ChatClient> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(ChatClient { stream, backlog: VecDeque::new() })
    }

    /// Changes the read timeout.
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))
    }

    /// Sends a frame with a JSON body.
    pub fn send<T: Serialize>(&mut self, id: MsgId, body: &T) -> io::Result<()> {
        let bytes =
            json_frame(id, body).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&bytes)
    }

    /// Sends bytes as they are (a raw frame, or garbage on purpose).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next frame: first any frame set aside earlier, then the socket.
    pub fn recv(&mut self) -> io::Result<RawFrame> {
        if let Some(frame) = self.backlog.pop_front() {
            return Ok(frame);
        }
        self.read_frame()
    }

    /// The next frame with id `id`, parsed; frames with other ids that arrive
    /// first are kept for later `recv` calls. Fails after `timeout`.
    pub fn recv_json<T: DeserializeOwned>(
        &mut self,
        id: MsgId,
        timeout: Duration,
    ) -> io::Result<T> {
        if let Some(at) = self.backlog.iter().position(|f| f.id == id.code()) {
            return self.backlog.remove(at).expect("position is valid").json();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no frame {id:?}")));
            }
            let previous = self.stream.read_timeout()?;
            self.stream.set_read_timeout(Some(left))?;
            let frame = self.read_frame();
            self.stream.set_read_timeout(previous)?;
            let frame = frame?;
            if frame.id == id.code() {
                return frame.json();
            }
            self.backlog.push_back(frame);
        }
    }

    /// True if the server closes the connection within `timeout` (frames
    /// still arriving before the close are kept).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let left =
                deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            if self.stream.set_read_timeout(Some(left)).is_err() {
                return true;
            }
            match self.read_frame() {
                Ok(frame) => self.backlog.push_back(frame),
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
        false
    }

    fn read_frame(&mut self) -> io::Result<RawFrame> {
        let mut header = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut header)?;
        let (id, len) = decode_header(&header);
        let mut body = vec![0; len]; // at most 65,535 bytes: the format's limit
        self.stream.read_exact(&mut body)?;
        Ok(RawFrame { id, body })
    }
}
