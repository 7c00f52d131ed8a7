//! Drawing imcli with ratatui. Laid out for 80x24 and up: a title bar, the
//! chats on the left (friends ● online, ○ offline; groups #; unread counts), the
//! conversation on the right (my lines the friend has read end in ✓read),
//! notices, the input.

use super::app::{App, Form, Link, Screen, Session};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, app: &App) {
    match &app.screen {
        Screen::Form(form) => draw_form(frame, form),
        Screen::Chat(session) => draw_chat(frame, app, session),
    }
}

fn draw_form(frame: &mut Frame, form: &Form) {
    let area = frame.area();
    let title = if form.registering { " imcli — register " } else { " imcli — log in " };
    let rows = Layout::vertical([
        Constraint::Length(2 + 3 * form.fields.len() as u16),
        Constraint::Min(3),
    ])
    .split(centered(area, 60));
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(rows[0]);
    frame.render_widget(block, rows[0]);
    let fields = Layout::vertical(vec![Constraint::Length(3); form.fields.len()]).split(inner);
    for (i, (label, value, hidden)) in form.fields.iter().enumerate() {
        let shown = if *hidden { "•".repeat(value.chars().count()) } else { value.clone() };
        let style =
            if i == form.focus { Style::default().fg(Color::Yellow) } else { Style::default() };
        let cursor = if i == form.focus { "▏" } else { "" };
        let field = Paragraph::new(format!("{shown}{cursor}"))
            .block(Block::default().borders(Borders::ALL).title(*label).border_style(style));
        frame.render_widget(field, fields[i]);
    }
    let help = "Tab: next field   Enter: go   Ctrl-R: log in / register   Esc: quit";
    let text = vec![
        Line::from(form.message.clone()),
        Line::from(""),
        Line::from(Span::styled(help, dim())),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), rows[1]);
}

fn draw_chat(frame: &mut Frame, app: &App, s: &Session) {
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(3),
        Constraint::Length(3),
    ])
    .split(frame.area());
    let link = match &s.link {
        Link::Online => Span::styled("online", Style::default().fg(Color::Green)),
        Link::LoggingIn => Span::styled("logging in", Style::default().fg(Color::Yellow)),
        Link::Reconnecting(_) => Span::styled("reconnecting…", Style::default().fg(Color::Yellow)),
        Link::Kicked => Span::styled("logged in elsewhere", Style::default().fg(Color::Red)),
    };
    let server = s.conn.as_ref().map_or(String::new(), |c| format!(" @ {}", c.server));
    let title = Line::from(vec![
        Span::styled(
            format!(" imcli  {} (uid {}, {}){server}  ", s.name, s.uid, app.device.kind),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        link,
    ]);
    frame.render_widget(Paragraph::new(title).style(Style::default().bg(Color::DarkGray)), rows[0]);

    let columns = Layout::horizontal([Constraint::Length(22), Constraint::Min(20)]).split(rows[1]);
    let mut items: Vec<ListItem> = s
        .friends
        .iter()
        .map(|f| {
            let unread = if f.unread > 0 { format!(" ({})", f.unread) } else { String::new() };
            let (dot, color) = match (f.group, f.online) {
                (true, _) => ("#", Color::Yellow),
                (false, true) => ("●", Color::Green),
                (false, false) => ("○", Color::Gray),
            };
            ListItem::new(Line::from(vec![
                Span::styled(format!("{dot} "), Style::default().fg(color)),
                Span::raw(format!("{}{unread}", f.name)),
            ]))
        })
        .collect();
    items.extend(
        s.requests
            .iter()
            .map(|(_, name, _)| ListItem::new(Span::styled(format!("? {name}"), dim()))),
    );
    let mut state = ListState::default();
    if !s.friends.is_empty() {
        state.select(Some(s.selected));
    }
    let friends = List::new(items)
        .block(Block::default().borders(Borders::ALL).title(" chats "))
        .highlight_style(Style::default().fg(Color::Black).bg(Color::Cyan));
    frame.render_stateful_widget(friends, columns[0], &mut state);

    let friend = s.friends.get(s.selected);
    let title =
        friend.map_or(" no friend yet: /add NAME ".to_string(), |f| format!(" {} ", f.name));
    let lines: Vec<Line> = friend
        .and_then(|f| s.conversations.get(&f.peer()))
        .map(|conversation| {
            let height = columns[1].height.saturating_sub(2) as usize;
            let start = conversation.len().saturating_sub(height);
            conversation[start..]
                .iter()
                .map(|l| {
                    let (who, color) = if l.event {
                        ("*", Color::Yellow)
                    } else if l.from_me {
                        ("me", Color::Cyan)
                    } else if !l.from.is_empty() {
                        (l.from.as_str(), Color::Magenta)
                    } else {
                        (friend.map_or("", |f| f.name.as_str()), Color::Magenta)
                    };
                    let read =
                        friend.is_some_and(|f| l.from_me && l.seq > 0 && l.seq <= f.peer_read);
                    Line::from(vec![
                        Span::styled(format!("{} ", l.time), dim()),
                        Span::styled(
                            if l.event { format!("{who} ") } else { format!("{who}: ") },
                            Style::default().fg(color),
                        ),
                        Span::raw(l.text.clone()),
                        Span::styled(
                            if read { " ✓read" } else { "" },
                            Style::default().fg(Color::Green),
                        ),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let conversation = Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(title))
        .wrap(Wrap { trim: false });
    frame.render_widget(conversation, columns[1]);

    let notices: Vec<Line> =
        app.notices.iter().rev().take(2).rev().map(|n| Line::from(n.clone())).collect();
    frame.render_widget(Paragraph::new(notices).style(dim()).wrap(Wrap { trim: true }), rows[2]);
    let input = Paragraph::new(format!("{}▏", app.input)).block(
        Block::default()
            .borders(Borders::ALL)
            .title(" message (Enter) · /help · Up/Down: friend · Esc: quit "),
    );
    frame.render_widget(input, rows[3]);
}

fn dim() -> Style {
    Style::default().fg(Color::Gray)
}

/// A column of `width` in the middle of `area`.
fn centered(area: Rect, width: u16) -> Rect {
    let width = width.min(area.width);
    Rect { x: area.x + (area.width - width) / 2, width, ..area }
}
