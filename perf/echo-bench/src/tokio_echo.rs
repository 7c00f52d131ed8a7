//! The peer: an echo server for the same frame format on tokio's
//! multi-thread runtime, written the way a tokio user would write a fast one
//! (one task per connection; decode every whole frame a read delivered and
//! answer them with a single write).

use reactor::codec::{decode_header, DEFAULT_MAX_BODY, HEADER_LEN};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Runs the server on `threads` workers until `until` returns.
pub fn serve(addr: SocketAddr, threads: usize, until: impl FnOnce() + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("bind");
        println!("listening on {}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                tokio::spawn(echo(stream));
            }
        });
        tokio::task::spawn_blocking(until).await.unwrap();
    });
}

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut kept: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        if kept.is_empty() {
            let used = echo_frames(&chunk[..n], &mut out)?;
            kept.extend_from_slice(&chunk[used..n]);
        } else {
            kept.extend_from_slice(&chunk[..n]);
            let used = echo_frames(&kept, &mut out)?;
            kept.drain(..used);
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

/// Appends an echo of every whole frame in `input` to `out`; returns bytes used.
fn echo_frames(input: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut used = 0;
    while input.len() - used >= HEADER_LEN {
        let (_, len) = decode_header(&input[used..]);
        if len > DEFAULT_MAX_BODY {
            return Err(std::io::Error::other("frame too long"));
        }
        let end = used + HEADER_LEN + len;
        if end > input.len() {
            break;
        }
        out.extend_from_slice(&input[used..end]);
        used = end;
    }
    Ok(used)
}
