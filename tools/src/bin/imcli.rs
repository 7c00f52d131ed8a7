//! `imcli`: a terminal chat client for the cluster.
//!
//! ```text
//! imcli [--gate 127.0.0.1:8080] [--kind desktop|mobile|web] [--device ID]
//! ```
//!
//! One session per device kind: a desktop and a mobile imcli of one user
//! show the same conversations live, with unread counts, read marks on
//! sent messages and friends' presence.
//!
//! Register (the code comes by mail; with `imctl up` it is in data/mail/),
//! log in, add friends (`/add NAME`), accept requests (`/accept NAME`), and
//! chat; incoming messages show up while you type. If the connection drops,
//! imcli logs in again through the gate.

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use std::time::Duration;
use tools::cli::app::{App, DeviceChoice};

fn main() -> std::io::Result<()> {
    const USAGE: &str = "usage: imcli [--gate HOST:PORT] [--kind desktop|mobile|web] [--device ID]";
    services::daemon::answer_help_or_version(
        "imcli",
        &format!(
            "{USAGE}\n  a full-screen terminal chat client (see README.md)\n  \
             --kind: the device kind (default desktop); one session per kind, so a\n  \
             desktop and a mobile imcli of one user chat side by side\n  \
             --device: the device's stable id (default imcli-KIND)"
        ),
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut gate, mut kind, mut device) =
        ("127.0.0.1:8080".to_string(), "desktop".to_string(), None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().cloned();
        match (flag.as_str(), value) {
            ("--gate", Some(v)) => gate = v,
            ("--kind", Some(v)) => kind = v,
            ("--device", Some(v)) => device = Some(v),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let Ok(gate) = gate.parse() else {
        eprintln!("imcli: --gate wants IP:PORT, got {gate}");
        std::process::exit(2);
    };
    let id = device.unwrap_or_else(|| format!("imcli-{kind}"));
    if services::device::Device::from_login(&id, &kind).is_none() {
        eprintln!("imcli: --kind is desktop, mobile or web; --device 1-64 of [A-Za-z0-9._:-]");
        std::process::exit(2);
    }
    let mut terminal = ratatui::init();
    let mut app = App::new(gate, DeviceChoice { id, kind });
    let outcome = run(&mut terminal, &mut app);
    ratatui::restore();
    outcome
}

fn run(terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> std::io::Result<()> {
    while !app.quit {
        terminal.draw(|frame| tools::cli::ui::draw(frame, app))?;
        if event::poll(Duration::from_millis(50))? {
            if let Event::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
                match key.code {
                    KeyCode::Esc => app.quit = true,
                    KeyCode::Char('c') if ctrl => app.quit = true,
                    KeyCode::Char('r') if ctrl => app.toggle_register(),
                    KeyCode::Char(c) if !ctrl => app.type_char(c),
                    KeyCode::Backspace => app.backspace(),
                    KeyCode::Enter => app.enter(),
                    KeyCode::Tab | KeyCode::Down => app.next(1),
                    KeyCode::BackTab | KeyCode::Up => app.next(-1),
                    _ => {}
                }
            }
        }
        app.tick();
    }
    Ok(())
}
