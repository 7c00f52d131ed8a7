//! Socket set-up: listening sockets and non-blocking outgoing connects.
//!
//! Everything here runs once per socket, before the socket belongs to a
//! loop; none of it touches a loop's state, so any thread may call it.

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Binds a listening socket with `SO_REUSEADDR` and the given backlog.
///
/// The backlog matters for connection storms: it is where clients wait while
/// the acceptor catches up (or while it is paused for lack of descriptors).
/// The kernel caps it at `net.core.somaxconn`. Call from any thread.
pub fn bind_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Starts a non-blocking connect, optionally bound to a local address first.
/// The connect completes later: the socket reports WRITABLE (or an error),
/// and `Connection::finish_connect` looks at the outcome. Call from any thread.
pub(crate) fn start_connect(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    if let Some(ip) = local {
        // Let connect() pick the port for the whole 4-tuple instead of bind():
        // the same source port can then serve several destinations, and ports
        // in TIME_WAIT can be reused, so a source address is not used up at
        // ~28k connections per process run.
        #[cfg(target_os = "linux")]
        bind_address_no_port(&socket);
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// IP_BIND_ADDRESS_NO_PORT (Linux 4.2+); a kernel without it only loses
/// the port sharing, so a failure is ignored.
#[cfg(target_os = "linux")]
fn bind_address_no_port(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: `socket` owns an open descriptor for the whole call, and the
    // option value is a live c_int whose exact size is passed as its length;
    // setsockopt only reads it. The return value is ignored on purpose (see above).
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(target_os = "linux")]
const EINPROGRESS: i32 = 115;
#[cfg(not(target_os = "linux"))]
const EINPROGRESS: i32 = 36;

/// Turns on TCP keep-alive: after `idle` without traffic the kernel probes
/// the peer every `idle / 3`, and gives up (the socket reports an error, and
/// the loop closes it) after 3 unanswered probes. For peers that send no
/// heartbeat of their own, so that a vanished one is still noticed (about
/// `2 × idle` later) without an idle timeout closing a quiet live one.
pub(crate) fn set_keepalive(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    let idle = idle.max(Duration::from_secs(1));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}
