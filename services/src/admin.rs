//! The admin endpoint of a daemon: `GET /metrics` (Prometheus text format)
//! and `GET /healthz`.
//!
//! It is for operators and scrapers, not for clients, so it is a plain
//! blocking server on one thread of its own: one request per connection,
//! each read and write bounded by a short timeout, requests bounded in size.
//! It never touches the daemon's loops; it only reads counters.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Produces the `/metrics` body; called on the admin thread.
pub type RenderMetrics = Box<dyn Fn() -> String + Send>;

const MAX_REQUEST: usize = 8 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A running admin endpoint. Dropping it stops the thread.
pub struct AdminServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Binds `addr` (port 0: any) and serves until dropped.
    pub fn start(addr: SocketAddr, name: &str, render: RenderMetrics) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread =
            std::thread::Builder::new().name(format!("{name}-admin")).spawn(move || {
                for stream in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &render);
                    }
                }
            })?;
        Ok(AdminServer { addr, stop, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT); // wakes `accept`
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, render: &RenderMetrics) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    let (status, body) = loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&request) {
            Ok(httparse::Status::Complete(_)) => break route(parsed.method, parsed.path, render),
            Ok(httparse::Status::Partial) if request.len() < MAX_REQUEST => continue,
            Ok(httparse::Status::Partial) => {
                break ("431 Request Header Fields Too Large", String::new())
            }
            Err(_) => break ("400 Bad Request", String::new()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
}

fn route(
    method: Option<&str>,
    path: Option<&str>,
    render: &RenderMetrics,
) -> (&'static str, String) {
    match (method, path) {
        (Some("GET"), Some("/metrics")) => ("200 OK", render()),
        (Some("GET"), Some("/healthz")) => ("200 OK", "ok\n".into()),
        (Some(_), Some("/metrics" | "/healthz")) => ("405 Method Not Allowed", String::new()),
        _ => ("404 Not Found", String::new()),
    }
}
