//! imcli driven through tmux on a real 80x24 terminal: two users register
//! (codes read from the mail spool), become friends and chat through a
//! cluster started with `imctl up`; each screen shows the conversation,
//! read marks and presence; one user on a desktop and a mobile imcli sees
//! the same conversation on both; a client whose chat server dies comes
//! back on the other by its session token, and `/logout` ends the session.
//! A group made in imcli shows in both users' sidebars, with its events and
//! texts in its conversation.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of this test's own (its own socket), killed at the end.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (tools/test.sh installs it)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn start(&self, session: &str, command: &str) {
        self.run(&["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command]);
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", session, key]);
        }
    }

    fn type_text(&self, session: &str, text: &str) {
        self.run(&["send-keys", "-t", session, "-l", text]);
    }

    fn screen(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session])
    }

    /// Waits until the screen of `session` shows `text`.
    fn wait_for(&self, session: &str, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen(session);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared on {session}'s screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// The newest code mailed to `email`.
fn code_for(spool: &Path, email: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let code = tools::spool::wait_for_code(
            spool,
            email,
            std::time::UNIX_EPOCH,
            Duration::from_millis(100),
        );
        if let Ok(code) = code {
            return code;
        }
        assert!(Instant::now() < deadline, "no code mailed to {email}");
    }
}

#[test]
fn two_imcli_users_register_befriend_and_chat() {
    // Below the ephemeral range (32768 and up), clear of the imctl test's ports.
    let port_base = 26_000 + (std::process::id() % 200) as u16 * 30;
    let cluster = util::up("imcli-test", port_base);
    let spool = cluster.data().join("mail");
    let imcli = format!("{} --gate 127.0.0.1:{}", env!("CARGO_BIN_EXE_imcli"), port_base + 2);
    let tmux = Tmux { socket: format!("imcli-test-{}", std::process::id()) };

    for name in ["alice", "bob"] {
        tmux.start(name, &imcli);
        tmux.wait_for(name, "imcli — log in");
        tmux.keys(name, &["C-r"]);
        tmux.wait_for(name, "imcli — register");
        let email = format!("{name}@example.com");
        tmux.type_text(name, &email);
        tmux.keys(name, &["Tab"]);
        tmux.type_text(name, name);
        tmux.keys(name, &["Tab"]);
        tmux.type_text(name, &format!("pw-{name}"));
        tmux.keys(name, &["Enter"]);
        tmux.wait_for(name, "A code was mailed");
        tmux.type_text(name, &code_for(&spool, &email));
        tmux.keys(name, &["Enter"]);
        tmux.wait_for(name, "Registered");
        tmux.keys(name, &["Enter"]); // log in with what was just registered
        tmux.wait_for(name, "online");
    }

    tmux.type_text("alice", "/add bob hello");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("bob", "alice wants to be your friend");
    tmux.type_text("bob", "/accept alice");
    tmux.keys("bob", &["Enter"]);
    tmux.wait_for("alice", "bob accepted");

    tmux.type_text("alice", "Hi Bob, this is imcli");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("bob", "alice: Hi Bob, this is imcli");
    tmux.type_text("bob", "Hello Alice, I read you");
    tmux.keys("bob", &["Enter"]);
    let screen = tmux.wait_for("alice", "bob: Hello Alice, I read you");
    assert!(screen.contains("me: Hi Bob, this is imcli"), "{screen}");
    // The friends list shows the friend on each side, online; bob has
    // alice's conversation open, so alice's line shows as read.
    assert!(screen.lines().any(|l| l.starts_with("│● bob")), "{screen}");
    tmux.wait_for("alice", "me: Hi Bob, this is imcli ✓read");

    // Alice on a second device (mobile): both of her screens show the
    // conversation live, whichever device she writes from.
    tmux.start("alice-phone", &format!("{imcli} --kind mobile"));
    tmux.wait_for("alice-phone", "as a mobile");
    tmux.type_text("alice-phone", "alice");
    tmux.keys("alice-phone", &["Tab"]);
    tmux.type_text("alice-phone", "pw-alice");
    tmux.keys("alice-phone", &["Enter"]);
    tmux.wait_for("alice-phone", "online");
    tmux.type_text("bob", "Both of you there?");
    tmux.keys("bob", &["Enter"]);
    tmux.wait_for("alice", "bob: Both of you there?");
    tmux.wait_for("alice-phone", "bob: Both of you there?");
    tmux.type_text("alice-phone", "Yes, from my phone");
    tmux.keys("alice-phone", &["Enter"]);
    tmux.wait_for("bob", "alice: Yes, from my phone");
    tmux.wait_for("alice", "me: Yes, from my phone ✓read");
    let desktop = tmux.screen("alice");
    assert!(desktop.contains("online"), "the desktop stayed on: {desktop}");

    // A group: alice makes one with bob; both sidebars list it, a text and
    // the events show in its conversation on both sides, on both of
    // alice's devices; bob lists the members, then leaves.
    tmux.type_text("alice", "/group create climbers bob");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "# climbers");
    tmux.wait_for("bob", "# climbers");
    tmux.wait_for("alice-phone", "# climbers");
    tmux.type_text("alice", "Hello group");
    tmux.keys("alice", &["Enter"]);
    let screen = tmux.wait_for("alice", "me: Hello group");
    assert!(screen.contains("* alice created climbers"), "{screen}");
    assert!(screen.contains("* alice added bob"), "{screen}");
    tmux.wait_for("bob", "# climbers (3)"); // unread: two events and the text
    tmux.keys("bob", &["Down"]);
    tmux.wait_for("bob", "alice: Hello group");
    tmux.type_text("bob", "/members");
    tmux.keys("bob", &["Enter"]);
    tmux.wait_for("bob", "Members: ");
    let members = tmux.screen("bob");
    assert!(members.contains("alice (owner)") && members.contains("bob"), "{members}");
    tmux.type_text("bob", "/leave");
    tmux.keys("bob", &["Enter"]);
    tmux.wait_for("alice", "* bob left");
    tmux.wait_for("bob", "# climbers (left)");
    tmux.keys("bob", &["Up"]); // back to alice for what follows

    // Bob leaves: after the debounce alice's screens show him offline.
    tmux.keys("bob", &["Escape"]);
    tmux.wait_for("alice", "bob is offline");
    tmux.wait_for("alice-phone", "│○ bob");

    // Alice's desktop loses its chat server (kill -9): it comes back on the
    // other one by itself, resuming with its session token (the password
    // is not kept, and the gate counts a resume).
    let screen = tmux.screen("alice");
    let at = screen.split(" @ 127.0.0.1:").nth(1).and_then(|rest| rest.get(..5));
    let port: u16 = at.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{screen}"));
    let (config, other) = if port == port_base + 10 {
        ("chat1.toml", port_base + 20)
    } else {
        ("chat2.toml", port_base + 10)
    };
    let pid = cluster.daemon_pid(config).expect("alice's chat server runs");
    testkit::process::send_signal(pid, "-KILL");
    tmux.wait_for("alice", &format!("@ 127.0.0.1:{other}"));
    tmux.wait_for("alice", "online");
    let gate = format!("127.0.0.1:{}", port_base + 2).parse().unwrap();
    let metrics = proto::http_client::request(gate, "GET", "/metrics", b"", Duration::from_secs(5));
    let metrics = String::from_utf8(metrics.unwrap().body).unwrap();
    let resumed = metrics.lines().find_map(|l| l.strip_prefix("im_gate_sessions_resumed_total "));
    assert!(resumed.and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n >= 1), "{metrics}");

    // /logout: the gate forgets the session, and the login form is back.
    tmux.type_text("alice", "/logout");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "Logged out");

    tmux.keys("alice", &["Escape"]);
    tmux.keys("alice-phone", &["Escape"]);
}
