//! `imcli`: a terminal chat client for the cluster.
//!
//! ```text
//! imcli [--gate 127.0.0.1:8080]
//! ```
//!
//! Register (the code comes by mail; with `imctl up` it is in data/mail/),
//! log in, add friends (`/add NAME`), accept requests (`/accept NAME`), and
//! chat; incoming messages show up while you type. If the connection drops,
//! imcli logs in again through the gate.

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use std::time::Duration;
use tools::cli::app::App;

fn main() -> std::io::Result<()> {
    services::daemon::answer_help_or_version(
        "imcli",
        "usage: imcli [--gate HOST:PORT]\n  a full-screen terminal chat client (see README.md)",
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gate = match args.as_slice() {
        [] => "127.0.0.1:8080".to_string(),
        [flag, gate] if flag == "--gate" => gate.clone(),
        _ => {
            eprintln!("usage: imcli [--gate HOST:PORT]");
            std::process::exit(2);
        }
    };
    let Ok(gate) = gate.parse() else {
        eprintln!("imcli: --gate wants IP:PORT, got {gate}");
        std::process::exit(2);
    };
    let mut terminal = ratatui::init();
    let mut app = App::new(gate);
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
