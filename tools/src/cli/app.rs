//! imcli's state and what it does with keys, frames and time. Drawing is in
//! `ui`; this module never touches the terminal.

use super::net::{Connection, NetEvent};
use crate::gate::{GateLogin, Refused};
use proto::body::*;
use proto::http_client::post_json;
use proto::{ErrorCode, MsgId};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
const RECONNECT_AFTER: Duration = Duration::from_secs(2);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The login screen: log in, or register (then log in).
#[derive(Debug)]
pub struct Form {
    pub registering: bool,
    /// (label, value, hidden)
    pub fields: Vec<(&'static str, String, bool)>,
    pub focus: usize,
    pub message: String,
    /// Registering: the code was mailed; the form now asks for it.
    pub code_sent: bool,
}

impl Form {
    fn login(message: String, name: &str) -> Form {
        Form {
            registering: false,
            fields: vec![
                ("E-mail or name", name.to_string(), false),
                ("Password", String::new(), true),
            ],
            focus: if name.is_empty() { 0 } else { 1 },
            message,
            code_sent: false,
        }
    }

    fn register() -> Form {
        Form {
            registering: true,
            fields: vec![
                ("E-mail", String::new(), false),
                ("Name", String::new(), false),
                ("Password", String::new(), true),
            ],
            focus: 0,
            message: "Register: fill in, Enter mails you a code".into(),
            code_sent: false,
        }
    }

    fn value(&self, label: &str) -> String {
        self.fields
            .iter()
            .find(|(l, _, _)| *l == label)
            .map(|(_, v, _)| v.clone())
            .unwrap_or_default()
    }
}

/// A line of a conversation.
#[derive(Debug, Clone)]
pub struct ChatLine {
    pub message_id: u64,
    /// Its place in the conversation (0 if not known).
    pub seq: u64,
    pub from_me: bool,
    /// Who wrote it, in a group (empty in a private conversation: the friend).
    pub from: String,
    /// A group's event (someone joined, left, ...), shown as `*`.
    pub event: bool,
    pub text: String,
    pub time: String,
}

/// Whose conversation: a friend's or a group's (their ids may be equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    User(u64),
    Group(u64),
}

/// An entry of the sidebar: a friend, or a group (`group`: then `uid` is
/// the group's id).
#[derive(Debug, Clone)]
pub struct Friend {
    pub uid: u64,
    pub group: bool,
    pub name: String,
    pub unread: usize,
    /// Has a session on some device (LOGIN_RSP, then 1117).
    pub online: bool,
    /// How far the friend has read our conversation: my lines up to it
    /// show as read (1114, then 1112).
    pub peer_read: u64,
    /// How far I have read it (on any of my devices).
    pub read: u64,
}

impl Friend {
    fn new(uid: u64, name: String) -> Friend {
        Friend { uid, group: false, name, unread: 0, online: false, peer_read: 0, read: 0 }
    }

    /// The sidebar entry of group `id`.
    pub fn group(id: u64, name: String) -> Friend {
        Friend { group: true, ..Friend::new(id, name) }
    }

    pub fn peer(&self) -> Peer {
        if self.group {
            Peer::Group(self.uid)
        } else {
            Peer::User(self.uid)
        }
    }
}

/// The device this imcli logs in as (`--device`, `--kind`).
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    pub id: String,
    pub kind: String,
}

/// The connection's state, shown in the title bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    LoggingIn,
    Online,
    /// Lost; trying again at the instant given.
    Reconnecting(Instant),
    /// Logged in elsewhere: not reconnecting.
    Kicked,
}

/// Everything after a successful login.
pub struct Session {
    pub uid: u64,
    pub name: String,
    pub login: String,
    /// From the password login: a lost connection resumes with it, so the
    /// password itself is not kept (`/logout` revokes it).
    session_token: String,
    pub conn: Option<Connection>,
    pub link: Link,
    pub friends: Vec<Friend>,
    /// Pending applications: (uid, name, apply text).
    pub requests: Vec<(u64, String, String)>,
    pub selected: usize,
    pub conversations: HashMap<Peer, Vec<ChatLine>>,
    /// Names of users who are not friends (group members), by uid.
    pub names: HashMap<u64, String>,
    pub(super) seen: HashSet<u64>,
    threads: HashMap<u64, u64>,
    /// `/add NAME` waits for the search answer.
    pending_add: Option<String>,
    last_heartbeat: Instant,
}

pub enum Screen {
    Form(Form),
    Chat(Box<Session>),
}

pub struct App {
    pub gate: SocketAddr,
    pub device: DeviceChoice,
    pub screen: Screen,
    pub input: String,
    pub notices: VecDeque<String>,
    pub quit: bool,
}

pub(super) fn now_hm() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60)
}

impl App {
    pub fn new(gate: SocketAddr, device: DeviceChoice) -> App {
        let hello = format!(
            "Log in through the gate at {gate} as a {} device (Ctrl-R: register, Esc: quit)",
            device.kind
        );
        App {
            gate,
            device,
            screen: Screen::Form(Form::login(hello, "")),
            input: String::new(),
            notices: VecDeque::new(),
            quit: false,
        }
    }

    pub fn notice(&mut self, text: impl Into<String>) {
        self.notices.push_back(format!("{} {}", now_hm(), text.into()));
        while self.notices.len() > 50 {
            self.notices.pop_front();
        }
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let response =
            post_json(self.gate, path, &body, HTTP_TIMEOUT).map_err(|e| format!("gate: {e}"))?;
        serde_json::from_slice(&response.body)
            .map_err(|_| format!("gate answered HTTP {}", response.status))
    }

    // ----- keys ------------------------------------------------------------------

    /// A printable character typed.
    pub fn type_char(&mut self, c: char) {
        match &mut self.screen {
            Screen::Form(form) => form.fields[form.focus].1.push(c),
            Screen::Chat(_) => self.input.push(c),
        }
    }

    pub fn backspace(&mut self) {
        match &mut self.screen {
            Screen::Form(form) => {
                form.fields[form.focus].1.pop();
            }
            Screen::Chat(_) => {
                self.input.pop();
            }
        }
    }

    /// Tab / Down on the form: next field; in the chat: next friend.
    pub fn next(&mut self, step: isize) {
        match &mut self.screen {
            Screen::Form(form) => {
                let n = form.fields.len() as isize;
                form.focus = ((form.focus as isize + step).rem_euclid(n)) as usize;
            }
            Screen::Chat(s) if !s.friends.is_empty() => {
                let n = s.friends.len() as isize;
                s.selected = ((s.selected as isize + step).rem_euclid(n)) as usize;
                s.friends[s.selected].unread = 0;
                self.mark_selected_read();
            }
            Screen::Chat(_) => {}
        }
    }

    /// Ctrl-R on the form: switch between logging in and registering.
    pub fn toggle_register(&mut self) {
        if let Screen::Form(form) = &self.screen {
            self.screen = if form.registering {
                Screen::Form(Form::login("Log in".into(), ""))
            } else {
                Screen::Form(Form::register())
            };
        }
    }

    pub fn enter(&mut self) {
        match &self.screen {
            Screen::Form(form) if form.registering => self.submit_registration(),
            Screen::Form(_) => self.submit_login(),
            Screen::Chat(_) => {
                let line = std::mem::take(&mut self.input);
                let line = line.trim();
                if let Some(command) = line.strip_prefix('/') {
                    self.command(command);
                } else if !line.is_empty() {
                    self.send_text(line);
                }
            }
        }
    }

    fn set_form_message(&mut self, message: String) {
        if let Screen::Form(form) = &mut self.screen {
            form.message = message;
        }
    }

    fn submit_registration(&mut self) {
        let Screen::Form(form) = &self.screen else { return };
        let (email, name, password) =
            (form.value("E-mail"), form.value("Name"), form.value("Password"));
        if !form.code_sent {
            match self.post("/get_varifycode", json!({ "email": email })) {
                Ok(answer) if answer["error"] == 0 => {
                    if let Screen::Form(form) = &mut self.screen {
                        form.code_sent = true;
                        form.fields.push(("Code from the mail", String::new(), false));
                        form.focus = form.fields.len() - 1;
                        form.message = format!("A code was mailed to {email}: type it, then Enter");
                    }
                }
                Ok(answer) => {
                    self.set_form_message(format!("Cannot send a code: error {}", answer["error"]))
                }
                Err(e) => self.set_form_message(e),
            }
            return;
        }
        let code = form.value("Code from the mail");
        let body = json!({"email": email, "user": name, "passwd": password, "confirm": password, "varifycode": code});
        match self.post("/user_register", body) {
            Ok(answer) if answer["error"] == 0 => {
                let mut login = Form::login(
                    format!("Registered {name} (uid {}): log in", answer["uid"]),
                    &name,
                );
                login.fields[1].1 = password;
                self.screen = Screen::Form(login);
            }
            Ok(answer) => {
                self.set_form_message(format!("Registration refused: error {}", answer["error"]))
            }
            Err(e) => self.set_form_message(e),
        }
    }

    fn submit_login(&mut self) {
        let Screen::Form(form) = &self.screen else { return };
        let (login, password) = (form.fields[0].1.trim().to_string(), form.fields[1].1.clone());
        match self.connect(&login, &password) {
            Ok((granted, conn)) => {
                self.screen = Screen::Chat(Box::new(Session {
                    uid: granted.uid,
                    name: login.clone(),
                    login,
                    session_token: granted.session_token,
                    conn: Some(conn),
                    link: Link::LoggingIn,
                    friends: Vec::new(),
                    requests: Vec::new(),
                    selected: 0,
                    conversations: HashMap::new(),
                    names: HashMap::new(),
                    seen: HashSet::new(),
                    threads: HashMap::new(),
                    pending_add: None,
                    last_heartbeat: Instant::now(),
                }));
                self.notice("Logged in. Type a message and Enter; /help lists the commands");
            }
            Err(e) => self.set_form_message(e),
        }
    }

    /// Logs in through the gate with the password and opens the chat
    /// connection (LOGIN sent).
    fn connect(&self, login: &str, password: &str) -> Result<(GateLogin, Connection), String> {
        let granted =
            crate::gate::login(self.gate, login, password, &self.device.id, HTTP_TIMEOUT)?;
        let conn = self.open_chat(&granted)?;
        Ok((granted, conn))
    }

    /// Opens the chat connection the gate named and sends LOGIN.
    fn open_chat(&self, granted: &GateLogin) -> Result<Connection, String> {
        let server = granted.server;
        let mut conn =
            Connection::open(server).map_err(|e| format!("chat server {server}: {e}"))?;
        let request = LoginReq {
            uid: granted.uid,
            token: granted.token.clone(),
            device_id: self.device.id.clone(),
            kind: self.device.kind.clone(),
        };
        conn.send(MsgId::LoginReq, &request).map_err(|e| e.to_string())?;
        Ok(conn)
    }

    // ----- commands ----------------------------------------------------------------

    pub(super) fn session(&mut self) -> Option<&mut Session> {
        match &mut self.screen {
            Screen::Chat(s) => Some(s),
            Screen::Form(_) => None,
        }
    }

    pub(super) fn send<T: serde::Serialize>(&mut self, id: MsgId, body: &T) {
        let sent = self.session().and_then(|s| s.conn.as_mut()).map(|c| c.send(id, body));
        if !matches!(sent, Some(Ok(()))) {
            self.notice("Not connected: try again in a moment");
        }
    }

    fn send_text(&mut self, text: &str) {
        let Some(session) = self.session() else { return };
        let Some(friend) = session.friends.get(session.selected).cloned() else {
            return self.notice("No friend selected: /add NAME to find one");
        };
        let nanos =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let (touid, group_id) = if friend.group { (0, friend.uid) } else { (friend.uid, 0) };
        let request = TextChatMsgReq {
            touid,
            group_id,
            thread_id: None,
            text_array: vec![TextItem {
                content: text.to_string(),
                unique_id: format!("cli-{nanos}"),
            }],
            fromuid: None,
        };
        self.send(MsgId::TextChatMsgReq, &request);
    }

    fn command(&mut self, command: &str) {
        let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim().to_string();
        match verb {
            "quit" | "q" => self.quit = true,
            "logout" => self.logout(),
            "add" if !rest.is_empty() => {
                let (who, text) = rest.split_once(' ').unwrap_or((rest.as_str(), "Hi!"));
                if let Some(s) = self.session() {
                    s.pending_add = Some(text.to_string());
                }
                self.send(MsgId::SearchUserReq, &SearchUserReq { uid: who.to_string() });
            }
            "search" if !rest.is_empty() => {
                self.send(MsgId::SearchUserReq, &SearchUserReq { uid: rest })
            }
            "accept" if !rest.is_empty() => {
                let Some(s) = self.session() else { return };
                let found = s
                    .requests
                    .iter()
                    .find(|(uid, name, _)| *name == rest || uid.to_string() == rest);
                match found.map(|(uid, _, _)| *uid) {
                    Some(uid) => self.send(
                        MsgId::AuthFriendReq,
                        &AuthFriendReq { touid: uid, back: String::new(), fromuid: None },
                    ),
                    None => self.notice(format!("No friend request from {rest}")),
                }
            }
            "group" | "invite" | "leave" | "members" => self.group_command(verb, &rest),
            "history" => {
                let Some(s) = self.session() else { return };
                let Some(friend) = s.friends.get(s.selected).cloned() else { return };
                if friend.group {
                    return self.notice("A group's history: scroll back is for friends for now");
                }
                match s.threads.get(&friend.uid).copied() {
                    Some(thread_id) => self.load_history(thread_id),
                    None => self.send(
                        MsgId::CreatePrivateChatReq,
                        &CreatePrivateChatReq { other_id: friend.uid, uid: None },
                    ),
                }
            }
            _ => self.notice(
                "Commands: /add NAME [text], /accept NAME, /search NAME, /history, \
                 /group create NAME FRIEND..., /invite FRIEND..., /leave, /members, /logout, /quit; \
                 Up/Down picks a chat; Enter sends",
            ),
        }
    }

    fn load_history(&mut self, thread_id: u64) {
        let before = self.session().and_then(|s| {
            let friend = s.friends.get(s.selected)?;
            s.conversations
                .get(&friend.peer())?
                .iter()
                .map(|l| l.message_id)
                .filter(|&id| id > 0)
                .min()
        });
        self.send(
            MsgId::LoadChatMsgReq,
            &LoadChatMsgReq { thread_id, message_id: before.unwrap_or(0), uid: None },
        );
    }

    // ----- frames and time -------------------------------------------------------------

    /// Handles what arrived, sends heartbeats, reconnects. Call often.
    pub fn tick(&mut self) {
        let mut events = Vec::new();
        if let Some(conn) = self.session().and_then(|s| s.conn.as_ref()) {
            events.extend(conn.events.try_iter());
        }
        for event in events {
            match event {
                NetEvent::Frame(id, body) => self.on_frame(id, &body),
                NetEvent::Closed(why) => self.on_closed(why),
            }
        }
        let Some(s) = self.session() else { return };
        if s.link == Link::Online && s.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
            s.last_heartbeat = Instant::now();
            self.send(MsgId::HeartBeatReq, &HeartbeatReq::default());
        }
        let due = matches!(self.session().map(|s| s.link.clone()), Some(Link::Reconnecting(at)) if Instant::now() >= at);
        if due {
            self.reconnect();
        }
    }

    fn on_closed(&mut self, why: String) {
        let Some(s) = self.session() else { return };
        s.conn = None;
        if s.link == Link::Kicked {
            return;
        }
        s.link = Link::Reconnecting(Instant::now() + RECONNECT_AFTER);
        self.notice(format!("Connection lost ({why}); reconnecting through the gate"));
    }

    /// Resumes the session with its token (no password, no slow hash at
    /// the gate); if the gate no longer knows the token (expired, logged
    /// out, password reset), back to the login form.
    fn reconnect(&mut self) {
        let Some(s) = self.session() else { return };
        let (uid, login, session_token) = (s.uid, s.login.clone(), s.session_token.clone());
        let resumed =
            crate::gate::resume(self.gate, uid, &self.device.id, &session_token, HTTP_TIMEOUT);
        let opened = match resumed {
            Ok(granted) => self.open_chat(&granted),
            Err(Refused::Error(code)) if code == ErrorCode::TokenInvalid.code() as i64 => {
                let why = format!("Your session has ended (error {code}): log in again");
                self.screen = Screen::Form(Form::login(why, &login));
                return;
            }
            Err(e) => Err(e.to_string()),
        };
        match opened {
            Ok(conn) => {
                if let Some(s) = self.session() {
                    s.conn = Some(conn);
                    s.link = Link::LoggingIn;
                }
            }
            Err(e) => {
                if let Some(s) = self.session() {
                    s.link = Link::Reconnecting(Instant::now() + RECONNECT_AFTER * 2);
                }
                self.notice(format!("Reconnect failed: {e}"));
            }
        }
    }

    /// `/logout`: the gate revokes the session token, the connection
    /// closes, and the login form comes back.
    fn logout(&mut self) {
        let Some(s) = self.session() else { return };
        let (login, session_token) = (s.login.clone(), s.session_token.clone());
        let message = match self.post("/logout", json!({ "session_token": session_token })) {
            Ok(answer) if answer["error"] == 0 => "Logged out".to_string(),
            Ok(answer) => format!("Logged out (the gate answered error {})", answer["error"]),
            Err(e) => format!("Logged out here; the gate did not answer ({e})"),
        };
        self.screen = Screen::Form(Form::login(message, &login));
    }

    fn on_frame(&mut self, id: u16, body: &[u8]) {
        let json = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null);
        match MsgId::from_u16(id) {
            Some(MsgId::LoginRsp) => match serde_json::from_slice::<LoginRsp>(body) {
                Ok(rsp) if rsp.error == 0 => self.on_login(rsp),
                _ => {
                    let error = json(body)["error"].clone();
                    self.screen =
                        Screen::Form(Form::login(format!("Chat login refused: error {error}"), ""));
                }
            },
            Some(MsgId::NotifyTextChatMsgReq) | Some(MsgId::TextChatMsgRsp) => {
                let Ok(rsp) = serde_json::from_slice::<TextChatMsgRsp>(body) else { return };
                if rsp.error != 0 {
                    return self.notice(format!("Message not sent: error {}", rsp.error));
                }
                let pushed = id == MsgId::NotifyTextChatMsgReq.code();
                if rsp.group_id != 0 {
                    return self.on_group_messages(rsp, pushed);
                }
                self.on_messages(rsp, pushed);
            }
            Some(group_id) if self.on_group_frame(group_id, body) => {}
            Some(MsgId::SearchUserRsp) => self.on_search(json(body)),
            Some(MsgId::AddFriendRsp) => match json(body)["error"].as_i64() {
                Some(0) => self.notice("Friend request sent"),
                other => {
                    self.notice(format!("Friend request refused: error {}", other.unwrap_or(-1)))
                }
            },
            Some(MsgId::NotifyAddFriendReq) => {
                let Ok(n) = serde_json::from_slice::<NotifyAddFriend>(body) else { return };
                self.notice(format!("{} wants to be your friend: /accept {}", n.name, n.name));
                if let Some(s) = self.session() {
                    s.requests.push((n.applyuid, n.name, String::new()));
                }
            }
            Some(MsgId::AuthFriendRsp) => {
                let Ok(r) = serde_json::from_slice::<AuthFriendRsp>(body) else { return };
                if r.error != 0 {
                    return self.notice(format!("Cannot accept: error {}", r.error));
                }
                self.add_friend(r.uid, r.name.clone());
                self.notice(format!("You and {} are friends", r.name));
            }
            Some(MsgId::NotifyAuthFriendReq) => {
                let Ok(n) = serde_json::from_slice::<NotifyAuthFriend>(body) else { return };
                self.add_friend(n.fromuid, n.name.clone());
                self.notice(format!("{} accepted: you are friends", n.name));
            }
            Some(MsgId::NotifyOffLineReq) => {
                if let Some(s) = self.session() {
                    s.link = Link::Kicked;
                }
                self.notice("You logged in somewhere else: this session is closed");
            }
            Some(MsgId::CreatePrivateChatRsp) => {
                let Ok(r) = serde_json::from_slice::<CreatePrivateChatRsp>(body) else { return };
                if r.error == 0 {
                    if let Some(s) = self.session() {
                        s.threads.insert(r.other_id, r.thread_id);
                    }
                    self.load_history(r.thread_id);
                }
            }
            Some(MsgId::LoadChatMsgRsp) => {
                let Ok(r) = serde_json::from_slice::<LoadChatMsgRsp>(body) else { return };
                self.on_history(r);
            }
            Some(MsgId::LoadConversationsRsp) => {
                let Ok(r) = serde_json::from_slice::<LoadConversationsRsp>(body) else { return };
                self.on_conversations(r);
            }
            Some(MsgId::NotifyConversationRead) => {
                let Ok(n) = serde_json::from_slice::<NotifyConversationRead>(body) else { return };
                self.on_read(n);
            }
            Some(MsgId::NotifyPresence) => {
                let Ok(n) = serde_json::from_slice::<NotifyPresence>(body) else { return };
                let Some(s) = self.session() else { return };
                let Some(friend) = s.friends.iter_mut().find(|f| f.uid == n.uid) else { return };
                friend.online = n.online;
                let (name, state) =
                    (friend.name.clone(), if n.online { "online" } else { "offline" });
                self.notice(format!("{name} is {state}"));
            }
            Some(MsgId::ErrorNotify) => self.notice(format!("Server: {}", json(body)["reason"])),
            _ => {}
        }
    }

    fn on_login(&mut self, rsp: LoginRsp) {
        let Some(s) = self.session() else { return };
        s.link = Link::Online;
        s.uid = rsp.uid;
        s.name = rsp.name.clone();
        let (groups, friends): (Vec<Friend>, Vec<Friend>) =
            s.friends.drain(..).partition(|f| f.group);
        let known: HashMap<u64, Friend> = friends.into_iter().map(|f| (f.uid, f)).collect();
        s.friends = rsp
            .friend_list
            .iter()
            .map(|f| Friend {
                online: f.online,
                ..known.get(&f.uid).cloned().unwrap_or_else(|| Friend::new(f.uid, f.name.clone()))
            })
            .collect();
        s.friends.extend(groups); // listed again below (1134)
        s.requests = rsp
            .apply_list
            .iter()
            .filter(|a| a.status == 0)
            .map(|a| (a.uid, a.name.clone(), a.desc.clone()))
            .collect();
        s.selected = s.selected.min(s.friends.len().saturating_sub(1));
        let requests: Vec<String> = s.requests.iter().map(|(_, n, _)| n.clone()).collect();
        for name in requests {
            self.notice(format!("{name} wants to be your friend: /accept {name}"));
        }
        // The first screen: unread counts and read marks of every conversation.
        self.send(MsgId::LoadConversationsReq, &LoadConversationsReq { after: 0 });
        self.load_groups(0);
    }

    fn on_conversations(&mut self, r: LoadConversationsRsp) {
        let Some(s) = self.session() else { return };
        for c in &r.conversations {
            if c.kind == "group" {
                let entry = s.friends.iter_mut().find(|f| f.group && f.uid == c.conversation_id);
                if let Some(group) = entry {
                    group.unread = c.unread as usize;
                    group.read = c.read_seq;
                }
                continue;
            }
            s.threads.insert(c.peer_uid, c.conversation_id);
            if let Some(friend) = s.friends.iter_mut().find(|f| !f.group && f.uid == c.peer_uid) {
                friend.unread = c.unread as usize;
                friend.peer_read = c.peer_read_seq;
                friend.read = c.read_seq;
            }
        }
        if r.load_more {
            self.send(MsgId::LoadConversationsReq, &LoadConversationsReq { after: r.next_after });
        }
    }

    /// 1112: the friend read my lines up to a seq, or I did on another device.
    fn on_read(&mut self, n: NotifyConversationRead) {
        let Some(s) = self.session() else { return };
        if let Some(group) = s.friends.iter_mut().find(|f| f.group && f.uid == n.conversation_id) {
            group.read = group.read.max(n.seq); // read on another of my devices
            return;
        }
        let Some(peer) =
            s.threads.iter().find(|(_, &t)| t == n.conversation_id).map(|(&peer, _)| peer)
        else {
            return;
        };
        let me = s.uid;
        let unread_above = |s: &Session, seq: u64| {
            let lines = s.conversations.get(&Peer::User(peer)).map_or(&[][..], |l| l.as_slice());
            lines.iter().filter(|l| !l.from_me && l.seq > seq).count()
        };
        let still_unread = unread_above(s, n.seq);
        let Some(friend) = s.friends.iter_mut().find(|f| !f.group && f.uid == peer) else {
            return;
        };
        if n.uid == me {
            friend.read = friend.read.max(n.seq);
            friend.unread = friend.unread.min(still_unread);
        } else {
            friend.peer_read = friend.peer_read.max(n.seq);
        }
    }

    /// Tells the server (and so the friend, and my other devices) that I
    /// have read the selected conversation as far as this screen shows it.
    pub(super) fn mark_selected_read(&mut self) {
        let Some(s) = self.session() else { return };
        let Some(friend) = s.friends.get(s.selected) else { return };
        let conversation_id = if friend.group {
            friend.uid
        } else {
            let Some(&thread) = s.threads.get(&friend.uid) else { return };
            thread
        };
        let lines = s.conversations.get(&friend.peer()).map_or(&[][..], |l| l.as_slice());
        let seen = lines.iter().map(|l| l.seq).max().unwrap_or(0);
        if seen <= friend.read || s.link != Link::Online {
            return;
        }
        let index = s.selected;
        s.friends[index].read = seen;
        self.send(MsgId::ConversationRead, &ConversationRead { conversation_id, seq: seen });
    }

    fn add_friend(&mut self, uid: u64, name: String) {
        let Some(s) = self.session() else { return };
        s.requests.retain(|(u, _, _)| *u != uid);
        if !s.friends.iter().any(|f| !f.group && f.uid == uid) {
            s.friends.push(Friend { online: true, ..Friend::new(uid, name) });
        }
    }

    fn on_search(&mut self, answer: Value) {
        let pending = self.session().and_then(|s| s.pending_add.take());
        if answer["error"] != 0 {
            return self.notice("No such user");
        }
        let (uid, name) = (
            answer["uid"].as_u64().unwrap_or(0),
            answer["name"].as_str().unwrap_or("").to_string(),
        );
        match pending {
            Some(text) => {
                let request =
                    AddFriendReq { applyname: text, bakname: String::new(), touid: uid, uid: None };
                self.send(MsgId::AddFriendReq, &request);
            }
            None => self.notice(format!("Found {name} (uid {uid}): /add {name}")),
        }
    }

    fn on_messages(&mut self, rsp: TextChatMsgRsp, pushed: bool) {
        let Some(s) = self.session() else { return };
        let from_me = rsp.fromuid == s.uid;
        let peer = if from_me { rsp.touid } else { rsp.fromuid };
        if rsp.thread_id > 0 {
            s.threads.insert(peer, rsp.thread_id);
        }
        let mut ids = Vec::new();
        for data in &rsp.chat_datas {
            ids.push(data.message_id);
            if !s.seen.insert(data.message_id) {
                continue; // pushed twice: shown once
            }
            let line = ChatLine {
                message_id: data.message_id,
                seq: data.seq,
                from_me,
                from: String::new(),
                event: false,
                text: data.content.clone(),
                time: now_hm(),
            };
            s.conversations.entry(Peer::User(peer)).or_default().push(line);
            let selected = s.friends.get(s.selected).map(|f| f.peer());
            if let Some(friend) = s.friends.iter_mut().find(|f| !f.group && f.uid == peer) {
                if selected != Some(Peer::User(peer)) && !from_me {
                    friend.unread += 1;
                }
            }
        }
        if pushed {
            self.send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids: ids, uid: None });
            self.mark_selected_read(); // on the screen: read
        }
    }

    fn on_history(&mut self, r: LoadChatMsgRsp) {
        let Some(s) = self.session() else { return };
        let Some(peer) = s.threads.iter().find(|(_, &t)| t == r.thread_id).map(|(&p, _)| p) else {
            return;
        };
        let me = s.uid;
        let mut older: Vec<ChatLine> = r
            .chat_datas
            .iter()
            .filter(|m| s.seen.insert(m.msg_id))
            .map(|m| ChatLine {
                message_id: m.msg_id,
                seq: m.seq,
                from_me: m.sender == me,
                from: String::new(),
                event: false,
                text: m.msg_content.clone(),
                time: "history".into(),
            })
            .collect();
        older.reverse(); // the page is newest first
        let count = older.len();
        let conversation = s.conversations.entry(Peer::User(peer)).or_default();
        older.append(conversation);
        *conversation = older;
        self.notice(format!("{count} older messages loaded"));
    }
}
