//! `imctl`: a local cluster in one command, and a demo against it.
//!
//! ```text
//! imctl up   [--conf conf] [--profile embedded|mysql] [--data data] [--port-base N] [--restart]
//!            [--netns NAME=NAMESPACE:IP]...
//! imctl demo [--gate 127.0.0.1:8080] [--spool data/mail]
//! ```

use std::path::PathBuf;
use tools::up::UpOptions;

const USAGE: &str = "usage:
  imctl up   [--conf DIR] [--profile embedded|mysql] [--data DIR] [--port-base N] [--restart]
             [--netns NAME=NAMESPACE:IP]...
      starts status, verify, two chat servers and the gate in the foreground;
      Ctrl-C stops them all; with --restart, a daemon that dies is started
      again after 2 s (as the systemd units in conf/systemd do); with
      --netns (and --port-base), daemon NAME (status, chat-1, ...) runs in
      that network namespace and listens on IP there
  imctl demo [--gate HOST:PORT] [--spool DIR]
      registers two users, makes them friends on two chat servers and has
      them talk (against a cluster started with `imctl up`)";

fn main() {
    services::daemon::answer_help_or_version("imctl", USAGE);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let outcome = match args.first().map(String::as_str) {
        Some("up") => {
            let options = UpOptions {
                conf: option("--conf").unwrap_or_else(|| "conf".into()).into(),
                profile: option("--profile").unwrap_or_else(|| "embedded".into()),
                data: option("--data").unwrap_or_else(|| "data".into()).into(),
                port_base: option("--port-base")
                    .map(|p| p.parse().unwrap_or_else(|_| fail("--port-base: a port"))),
                restart: args.iter().any(|a| a == "--restart"),
                netns: args
                    .windows(2)
                    .filter(|w| w[0] == "--netns")
                    .map(|w| tools::up::NetnsPlacement::parse(&w[1]).unwrap_or_else(|e| fail(&e)))
                    .collect(),
            };
            tools::up::run(&options)
        }
        Some("demo") => {
            let gate = option("--gate").unwrap_or_else(|| "127.0.0.1:8080".into());
            let gate =
                gate.parse().unwrap_or_else(|_| fail("--gate: HOST:PORT with an IP address"));
            let spool = PathBuf::from(option("--spool").unwrap_or_else(|| "data/mail".into()));
            tools::demo::run(gate, &spool).map(|()| 0)
        }
        _ => fail(USAGE),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("imctl: {message}");
    std::process::exit(2)
}
