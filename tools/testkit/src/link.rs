//! A TCP link a test can cut: a forwarder on `127.0.0.1:0` in front of a
//! server, for faults that are a network's (a cable pulled between two
//! daemons) rather than a process's. While cut, the connections it carried
//! are broken and new ones are accepted and then ignored (what a dead link
//! looks like to a client with a timeout); once healed, it forwards again.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The forwarder; its thread runs until the value is dropped.
pub struct CutLink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: Mutex<Option<SocketAddr>>,
    cut: AtomicBool,
    stop: AtomicBool,
    /// Both ends of every carried connection, and the ones held while cut.
    open: Mutex<Vec<TcpStream>>,
}

impl CutLink {
    /// Listens on `127.0.0.1:0`; forwards to the target once it is set.
    pub fn start() -> CutLink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the link");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target: Mutex::new(None),
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let for_thread = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if for_thread.stop.load(SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let target = *for_thread.target.lock().unwrap();
                match target {
                    Some(target) if !for_thread.cut.load(SeqCst) => {
                        let _ = forward(&for_thread, client, target);
                    }
                    // Cut (or no target yet): held, never answered.
                    _ => for_thread.open.lock().unwrap().push(client),
                }
            }
        });
        CutLink { addr, shared }
    }

    /// Where clients connect (advertise this instead of the server's address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap() = Some(target);
    }

    /// Breaks every carried connection and ignores new ones.
    pub fn cut(&self) {
        self.shared.cut.store(true, SeqCst);
        self.drop_open();
    }

    /// Forwards new connections again (the ones held while cut are closed:
    /// their clients connect again).
    pub fn heal(&self) {
        self.shared.cut.store(false, SeqCst);
        self.drop_open();
    }

    fn drop_open(&self) {
        for stream in self.shared.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for CutLink {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        self.drop_open();
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)); // wakes accept
    }
}

/// Copies both ways between `client` and a new connection to `target`.
fn forward(shared: &Arc<Shared>, client: TcpStream, target: SocketAddr) -> io::Result<()> {
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    for stream in [&client, &server] {
        stream.set_nodelay(true)?;
        shared.open.lock().unwrap().push(stream.try_clone()?);
    }
    for (mut from, mut to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        std::thread::spawn(move || {
            let mut buffer = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) if to.write_all(&buffer[..n]).is_ok() => {}
                    Ok(_) => break,
                }
            }
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
    Ok(())
}
