//! `imctl up`: a whole local cluster in the foreground — status, verify,
//! two chat servers and the gate — from the files in `conf/`, with their
//! logs interleaved and prefixed. Ctrl-C or SIGTERM stops them all
//! gracefully (in reverse order of start); none outlives imctl.
//!
//! A daemon that dies on its own: a chat server is let go (its users log
//! in again elsewhere), anything else stops the cluster; with `--restart`
//! every one is started again after [`RESTART_DELAY`], as the systemd units
//! of `conf/systemd` do (`Restart=on-failure`, `RestartSec=2`), which is how
//! `perf/faults.sh` measures a kill -9 the way production would see it.

use crate::daemons::{sibling_binary, Daemon, Output};
use crossbeam_channel::{bounded, RecvTimeoutError};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `imctl up` was asked for.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The directory of the daemons' configuration files.
    pub conf: PathBuf,
    /// `conf/profiles/<profile>.toml` picks the store ("embedded", "mysql").
    pub profile: String,
    /// Where the embedded store, the codes and the mail spool live.
    pub data: PathBuf,
    /// Use ports from here up instead of the ones in the files.
    pub port_base: Option<u16>,
    /// Start a daemon that died again after [`RESTART_DELAY`].
    pub restart: bool,
    /// Daemons run in a network namespace of their own (with `port_base`):
    /// each listens on its namespace's address, and the others reach it there.
    pub netns: Vec<NetnsPlacement>,
}

/// `--netns NAME=NS:IP`: daemon NAME (`status`, `chat-1`, …) runs inside the
/// network namespace NS (`ip netns exec`) and listens on IP, an address of
/// NS that the other daemons' namespaces can reach (`perf/faults.sh` joins
/// them with a bridge, to cut links between them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsPlacement {
    pub daemon: String,
    pub namespace: String,
    pub ip: String,
}

impl NetnsPlacement {
    pub fn parse(text: &str) -> Result<NetnsPlacement, String> {
        let parsed = text.split_once('=').and_then(|(daemon, rest)| {
            let (namespace, ip) = rest.split_once(':')?;
            let valid = !daemon.is_empty() && !namespace.is_empty();
            (valid && ip.parse::<std::net::IpAddr>().is_ok()).then(|| NetnsPlacement {
                daemon: daemon.into(),
                namespace: namespace.into(),
                ip: ip.into(),
            })
        });
        parsed.ok_or_else(|| format!("--netns {text}: NAME=NAMESPACE:IP"))
    }
}

/// How long each daemon gets to stop gracefully.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// With `--restart`: how long after a daemon died it is started again (the
/// `RestartSec` of the systemd units).
pub const RESTART_DELAY: Duration = Duration::from_secs(2);

/// Runs the cluster until a signal; returns the process exit code.
pub fn run(options: &UpOptions) -> Result<i32, String> {
    // Before anything starts, so a signal during start-up is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&options.data)
        .map_err(|e| format!("cannot create {}: {e}", options.data.display()))?;
    let data = options.data.canonicalize().map_err(|e| e.to_string())?;
    let common = environment(options, &data)?;
    let output: Output = Arc::new(Mutex::new(()));
    // SAFETY: isatty only inspects a descriptor number; any value is allowed
    // (a closed one just returns 0), and no memory is passed.
    let color = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;

    let plan: [(&str, &str, &str, u8); 5] = [
        ("status", "status-server", "status.toml", 36),
        ("verify", "verify-server", "verify.toml", 35),
        ("chat-1", "chat-server", "chat1.toml", 32),
        ("chat-2", "chat-server", "chat2.toml", 33),
        ("gate", "gate-server", "gate.toml", 34),
    ];
    if !options.netns.is_empty() && options.port_base.is_none() {
        return Err("--netns needs --port-base".into());
    }
    let start = |(name, binary, file, ansi): (&str, &str, &str, u8)| {
        sibling_binary(binary).and_then(|binary| {
            let mut envs = common.clone();
            envs.extend(ports(options.port_base, name, &options.netns));
            let config = options.conf.join(file);
            let wrapper: Vec<String> = match options.netns.iter().find(|p| p.daemon == name) {
                Some(p) => ["ip", "netns", "exec", &p.namespace].map(String::from).to_vec(),
                None => Vec::new(),
            };
            let color = color.then_some(ansi);
            Daemon::start(name, &wrapper, &binary, &config, &envs, &output, color)
        })
    };
    let mut running: Vec<Daemon> = Vec::new();
    for entry in plan {
        match start(entry) {
            Ok(daemon) => running.push(daemon),
            Err(e) => {
                stop_all(&mut running);
                return Err(e);
            }
        }
    }
    print_summary(&running, options, &data, &output);

    // Wait for a signal, or for a daemon to die on its own.
    let (signalled, wake) = bounded(1);
    let handle = signals.handle();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = signalled.send(signal);
        }
    });
    let mut exit_code = 0;
    // With --restart: daemons that died, and when to start each again.
    let mut restarts: Vec<(Instant, usize)> = Vec::new();
    loop {
        match wake.recv_timeout(Duration::from_millis(200)) {
            Ok(signal) => {
                let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                say(&output, &format!("imctl: {name}: stopping the cluster"));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = restarts.drain(..).partition(|(at, _)| *at <= now);
        restarts = later;
        for (_, entry) in due {
            match start(plan[entry]) {
                Ok(daemon) => {
                    say(&output, &format!("imctl: {} started again", daemon.name));
                    running.push(daemon);
                }
                Err(e) => {
                    say(&output, &format!("imctl: {} did not start again: {e}", plan[entry].0));
                    restarts.push((now + RESTART_DELAY, entry));
                }
            }
        }
        let dead = running
            .iter_mut()
            .enumerate()
            .find_map(|(i, d)| d.child.try_wait().ok().flatten().map(|status| (i, status)));
        if let Some((dead, status)) = dead {
            let daemon = running.remove(dead);
            say(&output, &format!("imctl: {} ended: {status}", daemon.name));
            if options.restart {
                let entry = plan.iter().position(|p| p.0 == daemon.name).expect("a planned daemon");
                let line = format!(
                    "imctl: {} exited; starting it again in {} s",
                    daemon.name,
                    RESTART_DELAY.as_secs()
                );
                say(&output, &line);
                restarts.push((Instant::now() + RESTART_DELAY, entry));
                continue;
            }
            exit_code = 1;
            // A cluster outlives a chat server (its users log in again through
            // the gate, elsewhere); not its status server, verify server or gate.
            if daemon.name.starts_with("chat-") {
                let line = format!("imctl: {} exited; the cluster goes on without it", daemon.name);
                say(&output, &line);
                continue;
            }
            say(
                &output,
                &format!("imctl: {} exited on its own: stopping the cluster", daemon.name),
            );
            break;
        }
    }
    handle.close();
    if !stop_all(&mut running) {
        exit_code = 1;
    }
    say(&output, "imctl: stopped");
    Ok(exit_code)
}

/// Stops every daemon, newest first; true if all exited cleanly.
fn stop_all(running: &mut Vec<Daemon>) -> bool {
    let mut clean = true;
    while let Some(mut daemon) = running.pop() {
        match daemon.stop(STOP_GRACE) {
            Some(status) if status.success() => {}
            Some(status) => {
                eprintln!("imctl: {} exited with {status}", daemon.name);
                clean = false;
            }
            None => {
                eprintln!("imctl: {} did not stop within {STOP_GRACE:?}; killed", daemon.name);
                clean = false;
            }
        }
    }
    clean
}

/// Environment shared by every daemon: the data directory and the profile.
fn environment(
    options: &UpOptions,
    data: &std::path::Path,
) -> Result<Vec<(String, String)>, String> {
    let data_dir = data.display().to_string();
    let mut envs: Vec<(String, String)> = vec![
        ("IM_VERIFY_DATA_DIR".into(), data_dir.clone()),
        ("IM_VERIFY_MAIL__TRANSPORT".into(), "spool".into()),
        ("IM_VERIFY_MAIL__SPOOL_DIR".into(), data.join("mail").display().to_string()),
        ("IM_GATE_STORE__DATA_DIR".into(), data_dir.clone()),
        ("IM_CHAT_STORE__DATA_DIR".into(), data_dir),
    ];
    let profile_path = options.conf.join("profiles").join(format!("{}.toml", options.profile));
    let text = std::fs::read_to_string(&profile_path)
        .map_err(|e| format!("profile {}: {e}", profile_path.display()))?;
    let profile: toml::Table =
        text.parse().map_err(|e| format!("profile {}: {e}", profile_path.display()))?;
    if let Some(store) = profile.get("store").and_then(toml::Value::as_table) {
        for (key, value) in store {
            let value = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for daemon in ["GATE", "CHAT"] {
                let name = format!("IM_{daemon}_STORE__{}", key.to_ascii_uppercase());
                // What the user set in the environment wins over the profile.
                if std::env::var_os(&name).is_none() {
                    envs.push((name, value.clone()));
                }
            }
        }
    }
    Ok(envs)
}

/// Address overrides when `--port-base` is given: status P, verify P+1,
/// gate P+2 (P+3 for the llfcchat client, P+4 for project_show's), chat-n
/// at P+10n (clients), P+10n+1 (peers), P+10n+2 (metrics), P+10n+3
/// (llfcchat clients), P+10n+4 (project_show clients). On 127.0.0.1, or on
/// the address a daemon's `--netns` placement gives it.
fn ports(base: Option<u16>, name: &str, netns: &[NetnsPlacement]) -> Vec<(String, String)> {
    let Some(p) = base else { return Vec::new() };
    let host = |daemon: &str| {
        netns.iter().find(|n| n.daemon == daemon).map_or("127.0.0.1", |n| n.ip.as_str())
    };
    let of = |daemon: &str, offset: u16| format!("{}:{}", host(daemon), p + offset);
    let at = |offset: u16| of(name, offset);
    match name {
        "status" => vec![("IM_STATUS_LISTEN".into(), at(0))],
        "verify" => vec![("IM_VERIFY_LISTEN".into(), at(1))],
        "gate" => vec![
            ("IM_GATE_LISTEN".into(), at(2)),
            ("IM_GATE_LLFCCHAT_LISTEN".into(), at(3)),
            ("IM_GATE_PROJECT_SHOW_LISTEN".into(), at(4)),
            ("IM_GATE_STATUS_ADDR".into(), of("status", 0)),
            ("IM_GATE_VERIFY_ADDR".into(), of("verify", 1)),
        ],
        chat => {
            let n: u16 = chat.trim_start_matches("chat-").parse().unwrap_or(1);
            vec![
                ("IM_CHAT_LISTEN".into(), at(10 * n)),
                ("IM_CHAT_RPC_LISTEN".into(), at(10 * n + 1)),
                ("IM_CHAT_ADMIN_LISTEN".into(), at(10 * n + 2)),
                ("IM_CHAT_LLFCCHAT_LISTEN".into(), at(10 * n + 3)),
                ("IM_CHAT_PROJECT_SHOW_LISTEN".into(), at(10 * n + 4)),
                ("IM_CHAT_STATUS_ADDR".into(), of("status", 0)),
            ]
        }
    }
}

fn say(output: &Output, line: &str) {
    let _guard = output.lock().unwrap_or_else(|e| e.into_inner());
    println!("{line}");
}

fn print_summary(running: &[Daemon], options: &UpOptions, data: &std::path::Path, output: &Output) {
    let find = |name: &str| {
        running.iter().find(|d| d.name == name).map_or(String::new(), |d| d.listening.clone())
    };
    let gate_line = find("gate");
    let gate = gate_line.split_whitespace().next().unwrap_or_default().to_string();
    // `ADDR [DIALECT ADDR]...` (gate) and `ADDR rpc ADDR [DIALECT ADDR]...` (chat).
    let listener_of = |line: &str, dialect: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == dialect);
        at.and_then(|i| words.get(i + 1)).map_or("off".to_string(), |a| a.to_string())
    };
    let chat = |n: &str| {
        let line = find(n);
        let addr = line.split_whitespace().next().unwrap_or_default().to_string();
        format!(
            "{addr}   (llfcchat clients: {}, project_show clients: {})",
            listener_of(&line, "llfcchat"),
            listener_of(&line, "project_show")
        )
    };
    let mail = data.join("mail");
    let text = format!(
        "\nimctl: the cluster is up ({} store, data in {})\n\
         \x20 gate    HTTP  http://{gate}   (POST /get_varifycode /user_register /reset_pwd /user_login, GET /healthz /metrics)\n\
         \x20         llfcchat Qt client: http://{}   project_show Qt client: http://{}   (their config.ini: [GateServer] host, port)\n\
         \x20 chat-1  TCP   {}\n\
         \x20 chat-2  TCP   {}\n\
         \x20 status  gRPC  {}\n\
         \x20 verify  gRPC  {}   (mail spooled to {}: read your code there)\n\
         \x20 try:  imctl demo --gate {gate} --spool {}\n\
         \x20 stop: Ctrl-C\n\
         imctl: ready",
        options.profile,
        data.display(),
        listener_of(&gate_line, "llfcchat"),
        listener_of(&gate_line, "project_show"),
        chat("chat-1"),
        chat("chat-2"),
        find("status"),
        find("verify"),
        mail.display(),
        mail.display(),
    );
    say(output, &text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_netns_placement_names_a_daemon_a_namespace_and_an_address() {
        let placed = NetnsPlacement::parse("chat-1=imf-chat-1:10.79.0.11").unwrap();
        assert_eq!((placed.daemon.as_str(), placed.namespace.as_str()), ("chat-1", "imf-chat-1"));
        assert_eq!(placed.ip, "10.79.0.11");
        for bad in ["chat-1", "chat-1=ns", "=ns:10.0.0.1", "chat-1=:10.0.0.1", "chat-1=ns:host"] {
            assert!(NetnsPlacement::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placed_daemons_listen_on_their_address_and_are_reached_there() {
        let netns = [
            NetnsPlacement::parse("status=a:10.0.0.13").unwrap(),
            NetnsPlacement::parse("chat-2=b:10.0.0.12").unwrap(),
        ];
        let env = |name: &str| -> std::collections::HashMap<String, String> {
            ports(Some(17000), name, &netns).into_iter().collect()
        };
        assert_eq!(env("status")["IM_STATUS_LISTEN"], "10.0.0.13:17000");
        assert_eq!(env("chat-2")["IM_CHAT_LISTEN"], "10.0.0.12:17020");
        assert_eq!(env("chat-2")["IM_CHAT_STATUS_ADDR"], "10.0.0.13:17000");
        assert_eq!(env("chat-1")["IM_CHAT_RPC_LISTEN"], "127.0.0.1:17011");
        assert_eq!(env("gate")["IM_GATE_STATUS_ADDR"], "10.0.0.13:17000");
        assert_eq!(env("gate")["IM_GATE_VERIFY_ADDR"], "127.0.0.1:17001");
    }
}
