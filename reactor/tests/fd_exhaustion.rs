//! Running out of descriptors: the echo server runs as a child process under
//! a low `ulimit -n`; more clients connect than it can hold. It must not spin
//! (its CPU time stays low), it keeps serving the connections it has, and it
//! accepts the waiting ones once descriptors are free again.

mod util;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use util::Client;

const FD_LIMIT: u32 = 48;
const CLIENTS: usize = 80;

struct EchoProcess {
    child: Child,
    addr: SocketAddr,
}

impl EchoProcess {
    fn start_with_fd_limit(limit: u32) -> EchoProcess {
        let binary = env!("CARGO_BIN_EXE_reactor-echo");
        let script = format!("ulimit -n {limit} && exec \"$0\" --addr 127.0.0.1:0 --threads 1");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(binary)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn reactor-echo");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("listening on ").expect("address line").parse().unwrap();
        EchoProcess { child, addr }
    }

    /// User plus system CPU time so far, in clock ticks (1/100 s on Linux).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True if `client` gets its echo back within `timeout`.
fn echoes(client: &mut Client, timeout: Duration) -> bool {
    client.stream.set_read_timeout(Some(timeout)).unwrap();
    matches!(client.read_frame(), Ok((9, body)) if body == b"ping")
}

#[test]
fn out_of_descriptors_the_server_pauses_keeps_serving_and_recovers() {
    let server = EchoProcess::start_with_fd_limit(FD_LIMIT);
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::connect(server.addr)).collect();
    for client in &mut clients {
        client.send_frame(9, b"ping");
    }
    // Some got a descriptor and are served; the rest wait in the backlog.
    std::thread::sleep(Duration::from_millis(500));
    let served: Vec<bool> =
        clients.iter_mut().map(|c| echoes(c, Duration::from_millis(20))).collect();
    let served_count = served.iter().filter(|&&s| s).count();
    assert!(served_count > 0, "nobody was served");
    assert!(served_count < CLIENTS, "the limit was not reached ({served_count} served)");

    // Exhausted for two seconds: a spinning acceptor would burn ~200 ticks.
    let before = server.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let burnt = server.cpu_ticks() - before;
    assert!(burnt < 30, "the server used {burnt} ticks of CPU while out of descriptors");

    // The connections it has are still served.
    for (client, _) in clients.iter_mut().zip(&served).filter(|(_, &s)| s) {
        client.send_frame(9, b"ping");
        assert!(echoes(client, Duration::from_secs(5)), "an accepted client stopped being served");
    }

    // Free descriptors: close every served client. The waiting ones are then
    // accepted and their pings (sent long ago) answered.
    let mut waiting: Vec<Client> =
        clients.into_iter().zip(served).filter(|(_, s)| !s).map(|(c, _)| c).collect();
    let to_recover = waiting.len().min(served_count.saturating_sub(4));
    assert!(to_recover > 0);
    for client in waiting.iter_mut().take(to_recover) {
        assert!(echoes(client, Duration::from_secs(10)), "a waiting client was never accepted");
    }
}
