//! The load generator's clients: logged-in chat connections on the
//! project's reactor (a few loop threads, never a thread per connection).
//!
//! Senders send on a clock (open loop: a slow server does not slow the
//! offered rate, so latency is not hidden by coordinated omission), or keep
//! a fixed number of messages unanswered (closed loop: the rate the system
//! sustains, with the latency it costs);
//! receivers time each message from the send timestamp it carries,
//! de-duplicate by message id and acknowledge cumulatively (1110: each
//! connection tracks, per conversation, the seqs it holds, on a named
//! device its own from 1018 too, and acknowledges up to the top of the
//! contiguous run); idle
//! users only log in and heartbeat. Every connection's connect-to-LOGIN_RSP
//! time is recorded.
//!
//! The generator reports its own lateness: each open-loop send is due at an
//! instant on the run's clock, and the time from then to the moment it is
//! written to the socket goes into a histogram of its own. The loops wake
//! every [`TICK`] (250 us) on a timerfd (`LoopConfig::precise_timers`:
//! epoll's own timeout counts whole milliseconds), so on an idle machine a
//! send leaves within a quarter of a millisecond of when it is due; a
//! latency figure counts only when that lateness is small.
//!
//! With several devices per user (`--devices 2`), each user logs in once
//! per device; every receiving device counts its deliveries, and the
//! sender's other device counts the copies of its own messages.
//!
//! In fault mode ([`Shared::retrying`], `imbench p2p --retry`) the clients
//! behave as a real client must through a fault: a user whose connection
//! closes is handed back ([`Shared::dropped`]) to log in again, a sender
//! keeps what has no 1018 in an outbox and sends it again under the same
//! unique id after [`Shared::resend_after`] (and at once after a new login), and
//! each receiver keeps a ledger of what it got, by the sender's message
//! number, to count messages stored twice and stored out of send order.

use hdrhistogram::Histogram;
use proto::body::{ConversationAck, LoginReq, LoginRsp, TextChatMsgReq, TextChatMsgRsp, TextItem};
use proto::MsgId;
use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often each loop checks which sends are due: the loops' timer tick
/// (see `run.rs`), woken by a timerfd.
pub const TICK: Duration = Duration::from_micros(250);
/// The delay that fires at the wheel's next tick. `run_after(TICK)` would
/// round up to the tick after that (a deadline between two ticks waits for
/// the later), and the loop would check every 2 ms.
pub const NEXT_TICK: Duration = Duration::ZERO;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How often [`Shared::send_for`] samples the counters.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// In fault mode, a message with no 1018 this long after it was sent goes
/// again (same unique id: the server stores it once), unless
/// [`Shared::resend_after`] says otherwise; each further resend of it waits
/// twice as long, up to 16 times this, so that an overloaded server is not
/// answered with a resend storm.
pub const RESEND_AFTER: Duration = Duration::from_secs(1);
/// How often the outboxes are looked through for what to resend.
const RESEND_SCAN_EVERY: Duration = Duration::from_millis(100);

/// Counters and switches shared by the main thread and the client loops.
pub struct Shared {
    /// When this run began (UNIX nanoseconds): messages sent before it are
    /// an earlier run's, still pending, and are counted apart.
    pub run_start_ns: u64,
    /// Messages each sender sends per second while `sending`.
    pub rate_per_sender: f64,
    /// When non-zero, each sender instead keeps this many messages
    /// unanswered (no 1018 yet), sending the next as each answer arrives.
    pub in_flight: AtomicU64,
    pub sending: AtomicBool,
    /// When sending started, in UNIX nanoseconds.
    pub send_start_ns: AtomicU64,
    pub logged_in: AtomicU64,
    pub login_failed: AtomicU64,
    pub sent: AtomicU64,
    pub acknowledged: AtomicU64,
    pub refused: AtomicU64,
    /// Deliveries to the receivers' devices (each device counts its own).
    pub delivered: AtomicU64,
    /// Deliveries per device number (0, 1).
    pub delivered_by_device: [AtomicU64; 2],
    /// Copies of their own messages on the senders' other devices.
    pub mirrored: AtomicU64,
    /// Devices each user is logged in on (1 or 2).
    pub devices: u64,
    /// Receivers of each message: 1 for a pair; in a group, its members
    /// that only receive (`imbench group`, `imbench mqtt --fanout`).
    pub fanout: AtomicU64,
    pub duplicates: AtomicU64,
    pub closed: AtomicU64,
    pub connect_failed: AtomicU64,
    /// Messages of an earlier run, pushed now because they were never acknowledged.
    pub stale: AtomicU64,
    /// Users whose connection closed, for the caller to log in again.
    pub lost_users: parking_lot::Mutex<Vec<u64>>,
    /// Fault mode: set before any user connects (see the module doc).
    pub retrying: AtomicBool,
    /// Fault mode: users whose connection closed, with everything they
    /// know, waiting to log in again.
    pub dropped: parking_lot::Mutex<Vec<User>>,
    /// Fault mode: copies sent again (the same unique id).
    pub resent: AtomicU64,
    /// Fault mode: how long a message waits for its 1018 on a live
    /// connection before it is sent again, in milliseconds (default
    /// [`RESEND_AFTER`]). A 1105 does not say which message it refuses, so
    /// the wait is what retries it; a soak at the edge of capacity wants it
    /// well above the latency, or every slow answer doubles the load.
    pub resend_after_ms: AtomicU64,
    /// Fault mode: logins after a lost connection.
    pub reconnected: AtomicU64,
    /// Fault mode: messages a receiver got under two message ids (one
    /// message stored twice).
    pub stored_twice: AtomicU64,
    /// Idle users logged out on purpose (the soak's churn); in fault mode
    /// each logs in again.
    pub churned: AtomicU64,
}

impl Shared {
    pub fn new(rate_per_sender: f64) -> Shared {
        Shared::with_devices(rate_per_sender, 1)
    }

    /// Each user on `devices` devices (1 or 2).
    pub fn with_devices(rate_per_sender: f64, devices: u64) -> Shared {
        Shared {
            run_start_ns: unix_ns(),
            rate_per_sender,
            in_flight: AtomicU64::new(0),
            sending: AtomicBool::new(false),
            send_start_ns: AtomicU64::new(0),
            logged_in: AtomicU64::new(0),
            login_failed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivered_by_device: [AtomicU64::new(0), AtomicU64::new(0)],
            mirrored: AtomicU64::new(0),
            devices: devices.clamp(1, 2),
            fanout: AtomicU64::new(1),
            duplicates: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            connect_failed: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            lost_users: parking_lot::Mutex::new(Vec::new()),
            retrying: AtomicBool::new(false),
            dropped: parking_lot::Mutex::new(Vec::new()),
            resent: AtomicU64::new(0),
            resend_after_ms: AtomicU64::new(RESEND_AFTER.as_millis() as u64),
            reconnected: AtomicU64::new(0),
            stored_twice: AtomicU64::new(0),
            churned: AtomicU64::new(0),
        }
    }

    /// Now, in UNIX nanoseconds: the clock of the timestamps that messages
    /// carry (one machine's clock, shared by every process of the run).
    pub fn now_ns(&self) -> u64 {
        unix_ns()
    }
}

fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Shared {
    /// How many messages each sender should have sent by now (the clock of
    /// the open loop); called by the client loops' ticks.
    pub fn due(&self) -> u64 {
        let started = self.send_start_ns.load(Relaxed);
        (self.now_ns().saturating_sub(started) as f64 / 1e9 * self.rate_per_sender) as u64
    }

    /// When a sender's `nth` message (counted from 1) was due on the open
    /// loop's clock, in UNIX nanoseconds: the time its latency counts from.
    /// A send that leaves late (a tick runs every 250 us, and a busy
    /// machine delays the loop) is timed from when it should have left, so the
    /// generator's own lateness is not hidden from the latency
    /// (coordinated omission).
    pub fn intended_ns(&self, nth: u64) -> u64 {
        let started = self.send_start_ns.load(Relaxed);
        started + (nth as f64 / self.rate_per_sender * 1e9) as u64
    }

    /// Waits until `count` users are logged in or failed, printing progress
    /// every second; true if all logged in.
    pub fn wait_logged_in(&self, count: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last_print = Instant::now();
        loop {
            let ok = self.logged_in.load(Relaxed);
            let failed = self.login_failed.load(Relaxed) + self.connect_failed.load(Relaxed);
            if ok + failed >= count {
                return failed == 0;
            }
            if Instant::now() > deadline {
                return false;
            }
            if last_print.elapsed() >= Duration::from_secs(1) {
                last_print = Instant::now();
                println!("  logged in {ok}/{count}, failed {failed}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets the senders send for `seconds`, calling `each_sample` with the
    /// time elapsed every [`SAMPLE_EVERY`] (and at the end), then waits (up
    /// to 5 s; 30 s in fault mode) for what is in flight: until every
    /// acknowledged message is delivered and every sent one answered (in
    /// fault mode: acknowledged). Sampling goes on through the drain.
    pub fn send_for(&self, seconds: f64, mut each_sample: impl FnMut(f64)) {
        self.send_start_ns.store(self.now_ns(), Relaxed);
        self.sending.store(true, Relaxed);
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < seconds {
            let left = (seconds - started.elapsed().as_secs_f64()).max(0.001);
            std::thread::sleep(SAMPLE_EVERY.min(Duration::from_secs_f64(left)));
            each_sample(started.elapsed().as_secs_f64());
        }
        self.sending.store(false, Relaxed);
        // Drain: everything sent is answered and everything acknowledged
        // arrived, and it stays so for a while: a client loop may still be
        // writing a send that was due just before `sending` went false, so
        // one moment where the counts agree is not the end.
        let retrying = self.retrying.load(Relaxed);
        let drain = Instant::now() + Duration::from_secs(if retrying { 30 } else { 5 });
        let mut settled_since: Option<(Instant, u64)> = None;
        let mut next_sample = Instant::now();
        while Instant::now() < drain {
            let sent = self.sent.load(Relaxed);
            let acknowledged = self.acknowledged.load(Relaxed);
            let answered =
                if retrying { acknowledged } else { acknowledged + self.refused.load(Relaxed) };
            let caught_up = self.delivered.load(Relaxed) >= self.expected_deliveries(acknowledged)
                && self.mirrored.load(Relaxed) >= acknowledged * (self.devices - 1)
                && answered >= sent;
            settled_since = match settled_since {
                Some((since, at)) if caught_up && at == sent => Some((since, at)),
                _ if caught_up => Some((Instant::now(), sent)),
                _ => None,
            };
            if settled_since.is_some_and(|(since, _)| since.elapsed() >= Duration::from_millis(200))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            if next_sample.elapsed() >= SAMPLE_EVERY {
                next_sample = Instant::now();
                each_sample(started.elapsed().as_secs_f64());
            }
        }
    }

    /// Records a message that arrived at a receiver's `device`: false if it
    /// is a duplicate or an earlier run's (then only counted), true if it
    /// counts as delivered.
    pub fn arrived(&self, sent_ns: u64, first_time: bool, device: usize) -> bool {
        if sent_ns < self.run_start_ns {
            self.stale.fetch_add(1, Relaxed);
            return false;
        }
        if !first_time {
            self.duplicates.fetch_add(1, Relaxed);
            return false;
        }
        self.delivered.fetch_add(1, Relaxed);
        self.delivered_by_device[device.min(1)].fetch_add(1, Relaxed);
        true
    }

    /// Deliveries owed for `acknowledged` messages: one per receiving device.
    pub fn expected_deliveries(&self, acknowledged: u64) -> u64 {
        acknowledged * self.devices * self.fanout.load(Relaxed)
    }

    /// Deliveries of acknowledged messages that never reached a receiving
    /// device (in a group: one per member that did not get it).
    pub fn lost(&self) -> u64 {
        let expected = self.expected_deliveries(self.acknowledged.load(Relaxed));
        expected.saturating_sub(self.delivered.load(Relaxed))
    }
}

/// One simulated user on one device.
pub struct User {
    pub uid: u64,
    pub token: String,
    pub role: Role,
    /// Which of the user's devices this connection is (0, 1); with one
    /// device per user, the login names none (the legacy device).
    pub device: usize,
    /// When its connection was started (for the login latency).
    pub started: Option<Instant>,
    /// Per conversation, the seqs this connection holds (for 1110).
    pub held: HashMap<u64, Contiguous>,
    /// Successful logins so far (more than one: it reconnected).
    pub logins: u64,
}

impl User {
    pub fn new(uid: u64, token: String, role: Role, device: usize) -> User {
        User { uid, token, role, device, started: None, held: HashMap::new(), logins: 0 }
    }

    /// Fault mode: messages its ledger shows stored out of send order.
    pub fn reordered(&self) -> u64 {
        match &self.role {
            Role::Receiver { ledger: Some(ledger), .. } => ledger.reordered(),
            _ => 0,
        }
    }
}

pub enum Role {
    /// Sends to `to` (a friend or a group) on the clock or in a closed
    /// loop; `answered` counts its 1018s; in fault mode `outbox` holds what
    /// has no 1018 yet.
    Sender { to: Target, sent: u64, answered: u64, outbox: BTreeMap<u64, Outgoing> },
    /// Receives, times and acknowledges; in fault mode `ledger` keeps what
    /// arrived.
    Receiver { seen: HashSet<u64>, ledger: Option<Box<Ledger>> },
    /// The sender's other device: receives copies of its own messages.
    Mirror { seen: HashSet<u64> },
    /// Logs in and heartbeats only (connection scaling).
    Idle,
}

impl Role {
    pub fn sender(to: u64) -> Role {
        let to = Target { to, group: 0 };
        Role::Sender { to, sent: 0, answered: 0, outbox: BTreeMap::new() }
    }

    /// A sender to group `group`.
    pub fn group_sender(group: u64) -> Role {
        let to = Target { to: 0, group };
        Role::Sender { to, sent: 0, answered: 0, outbox: BTreeMap::new() }
    }

    /// A receiver, keeping a ledger if `ledger` (fault mode).
    pub fn receiver(ledger: bool) -> Role {
        Role::Receiver { seen: HashSet::new(), ledger: ledger.then(Box::default) }
    }

    pub fn mirror() -> Role {
        Role::Mirror { seen: HashSet::new() }
    }
}

/// Where a sender's messages go: a friend (`to`), or a group (`group` not 0).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    to: u64,
    group: u64,
}

/// A message a sender has sent and not yet seen acknowledged (fault mode).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing {
    /// The send time it carries (its latency counts from there, resends too).
    pub stamp: u64,
    pub last_sent: Instant,
    /// Times it was sent again (its next resend waits 2^resends × RESEND_AFTER).
    pub resends: u32,
}

impl Outgoing {
    /// True if it is due to be sent again: `older_than` zero (a new login)
    /// or its backoff since the last send has passed.
    fn due_again(&self, older_than: Duration) -> bool {
        if older_than.is_zero() {
            return true;
        }
        let backoff = older_than * 2u32.pow(self.resends.min(4));
        self.last_sent.elapsed() >= backoff
    }
}

/// What one receiving device got, by the sender's message number (the last
/// part of the unique id): to find a message stored twice (one number, two
/// message ids) and messages stored out of send order (seq order against
/// number order).
#[derive(Debug, Default)]
pub struct Ledger {
    message_of: HashMap<u64, u64>,
    number_at_seq: BTreeMap<u64, u64>,
}

impl Ledger {
    /// Notes a delivery; false if this number came before under another
    /// message id.
    pub fn note(&mut self, number: u64, message_id: u64, seq: u64) -> bool {
        self.number_at_seq.insert(seq, number);
        *self.message_of.entry(number).or_insert(message_id) == message_id
    }

    /// Messages stored after one their sender sent later (in seq order, a
    /// number lower than the one before it).
    pub fn reordered(&self) -> u64 {
        let numbers: Vec<u64> = self.number_at_seq.values().copied().collect();
        numbers.windows(2).filter(|w| w[1] < w[0]).count() as u64
    }
}

/// The sender's message number in a unique id `<run>-<uid>-<n>`.
fn message_number(unique_id: &str) -> Option<u64> {
    unique_id.rsplit('-').next()?.parse().ok()
}

/// The seqs of one conversation a connection holds: everything up to `top`,
/// and some above a hole (at most `MAX_ABOVE`, beyond which the oldest
/// knowledge is dropped: the server pushes again what is not acknowledged).
#[derive(Debug, Default)]
pub struct Contiguous {
    pub top: u64,
    above: BTreeSet<u64>,
}

/// Seqs kept above a hole, per conversation.
const MAX_ABOVE: usize = 4096;

impl Contiguous {
    /// Adds `seq`; true if `top` rose.
    pub fn add(&mut self, seq: u64) -> bool {
        if seq <= self.top {
            return false;
        }
        if self.above.len() < MAX_ABOVE {
            self.above.insert(seq);
        }
        let before = self.top;
        while self.above.remove(&(self.top + 1)) {
            self.top += 1;
        }
        self.top > before
    }
}

/// The client handler of one loop.
pub struct LoadClient {
    shared: Arc<Shared>,
    users: HashMap<ConnId, User>,
    /// Logged-in senders of this loop.
    senders: Vec<ConnId>,
    /// Connections that logged in (a close of one of these counts as `closed`).
    online: HashSet<ConnId>,
    /// End-to-end latency in microseconds.
    pub latency: Histogram<u64>,
    /// The same since the last [`LoadClient::take_interval_latency`].
    interval_latency: Histogram<u64>,
    /// A group's messages this loop's receivers got: message id → (how
    /// many receivers, the latency to the latest of them, in us). Merged
    /// over the loops at the end: the latency to a message's last recipient.
    pub group_arrivals: HashMap<u64, (u32, u64)>,
    /// Logged-in idle users of this loop, oldest login first (the churn
    /// logs them out in turn).
    idle_online: std::collections::VecDeque<ConnId>,
    /// The generator's own lateness: from when a send was due to when it
    /// was written, in microseconds.
    pub lateness: Histogram<u64>,
    /// Connect + LOGIN → LOGIN_RSP, in microseconds.
    pub login_latency: Histogram<u64>,
    ticking: bool,
    last_heartbeat: Instant,
    last_resend_scan: Instant,
}

impl LoadClient {
    pub fn new(shared: Arc<Shared>) -> LoadClient {
        LoadClient {
            shared,
            users: HashMap::new(),
            senders: Vec::new(),
            online: HashSet::new(),
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            interval_latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("histogram bounds"),
            group_arrivals: HashMap::new(),
            idle_online: std::collections::VecDeque::new(),
            lateness: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            login_latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            ticking: false,
            last_heartbeat: Instant::now(),
            last_resend_scan: Instant::now(),
        }
    }

    /// Connects `user` to `addr`, from the source address `local` if given
    /// (call on this loop, through its inbox).
    pub fn add(
        &mut self,
        ctx: &mut Ctx<Self>,
        addr: std::net::SocketAddr,
        local: Option<std::net::IpAddr>,
        mut user: User,
    ) {
        user.started = Some(Instant::now());
        match ctx.connect(addr, local) {
            Ok(conn) => {
                self.users.insert(conn, user);
            }
            Err(_) => {
                self.shared.connect_failed.fetch_add(1, Relaxed);
            }
        }
        if !self.ticking {
            self.ticking = true;
            ctx.run_after(NEXT_TICK, |h, ctx| h.tick(ctx));
        }
    }

    /// The latency recorded since the last call, and a fresh start.
    pub fn take_interval_latency(&mut self) -> Histogram<u64> {
        let fresh = Histogram::new_from(&self.interval_latency);
        std::mem::replace(&mut self.interval_latency, fresh)
    }

    /// Logs out (closes) this loop's idle user that logged in longest ago;
    /// false if it has none online.
    pub fn log_out_one_idle(&mut self, ctx: &mut Ctx<Self>) -> bool {
        while let Some(conn) = self.idle_online.pop_front() {
            if self.online.contains(&conn) {
                ctx.force_close(conn);
                self.shared.churned.fetch_add(1, Relaxed);
                return true;
            }
        }
        false
    }

    /// Fault mode: messages stored out of send order, over this loop's
    /// receivers.
    pub fn reordered(&self) -> u64 {
        self.users.values().map(User::reordered).sum()
    }

    fn send_json<T: Serialize>(ctx: &mut Ctx<Self>, conn: ConnId, id: MsgId, body: &T) {
        let _ = ctx.send_frame_with(conn, id.code(), |out| {
            serde_json::to_writer(out, body).map_err(std::io::Error::other)
        });
    }

    /// Sends what is due on every sender of this loop.
    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        ctx.run_after(NEXT_TICK, |h, ctx| h.tick(ctx));
        if self.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
            self.last_heartbeat = Instant::now();
            for &conn in self.users.keys() {
                let _ = ctx.send_frame(conn, MsgId::HeartBeatReq.code(), b"{}");
            }
        }
        // One clock reading per tick for all of this loop's senders.
        let due = self.shared.due();
        let senders = std::mem::take(&mut self.senders);
        for &conn in &senders {
            self.send_due(ctx, conn, due);
        }
        if self.shared.retrying.load(Relaxed)
            && self.last_resend_scan.elapsed() >= RESEND_SCAN_EVERY
        {
            self.last_resend_scan = Instant::now();
            for &conn in &senders {
                let wait = Duration::from_millis(self.shared.resend_after_ms.load(Relaxed));
                self.resend(ctx, conn, wait);
            }
        }
        self.senders = senders;
    }

    /// Fault mode: sends again what `conn`'s sender has had no 1018 for
    /// since `older_than`, doubled per earlier resend of the message (zero:
    /// everything, after a new login).
    fn resend(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, older_than: Duration) {
        let Some(User { uid, role: Role::Sender { to, outbox, .. }, .. }) =
            self.users.get_mut(&conn)
        else {
            return;
        };
        let (uid, to) = (*uid, *to);
        let run = self.shared.run_start_ns;
        for (&number, outgoing) in outbox.iter_mut() {
            if outgoing.due_again(older_than) {
                outgoing.last_sent = Instant::now();
                outgoing.resends += 1;
                Self::send_text(ctx, conn, run, uid, to, number, outgoing.stamp);
                self.shared.resent.fetch_add(1, Relaxed);
            }
        }
    }

    /// Sends message `number` of sender `uid` to `to`, carrying `stamp`.
    fn send_text(
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        run: u64,
        uid: u64,
        to: Target,
        number: u64,
        stamp: u64,
    ) {
        // The send time rides in the content; padded to 64 bytes.
        let content = format!("{stamp:020}{:x<44}", "");
        let request = TextChatMsgReq {
            touid: to.to,
            group_id: to.group,
            thread_id: None,
            text_array: vec![TextItem {
                content,
                // Unique across runs too: a repeated id is a resend.
                unique_id: format!("{run}-{uid}-{number}"),
            }],
            fromuid: None,
        };
        Self::send_json(ctx, conn, MsgId::TextChatMsgReq, &request);
    }

    /// Sends what `conn`'s sender owes: on the clock, up to `due` messages
    /// (the open loop's count by now); in a closed loop, until `in_flight`
    /// are unanswered (`due` unused).
    fn send_due(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, due: u64) {
        if !self.shared.sending.load(Relaxed) {
            return;
        }
        let window = self.shared.in_flight.load(Relaxed);
        let retrying = self.shared.retrying.load(Relaxed);
        let Some(User { uid, role: Role::Sender { to, sent, answered, outbox }, .. }) =
            self.users.get_mut(&conn)
        else {
            return;
        };
        let target = *to;
        let now = self.shared.now_ns();
        let unanswered = |sent: u64, outbox: &BTreeMap<u64, Outgoing>| {
            if retrying {
                outbox.len() as u64
            } else {
                sent - *answered
            }
        };
        while if window == 0 { *sent < due } else { unanswered(*sent, outbox) < window } {
            *sent += 1;
            // In a closed loop a message is due when it leaves.
            let stamp =
                if window == 0 { self.shared.intended_ns(*sent) } else { self.shared.now_ns() };
            Self::send_text(ctx, conn, self.shared.run_start_ns, *uid, target, *sent, stamp);
            if retrying {
                outbox.insert(*sent, Outgoing { stamp, last_sent: Instant::now(), resends: 0 });
            }
            self.shared.sent.fetch_add(1, Relaxed);
            if window == 0 {
                let _ = self.lateness.record((now.saturating_sub(stamp) / 1000).max(1));
            }
        }
    }

    /// Notes seqs `conn` now holds in `conversation`, and acknowledges up
    /// to the top of the contiguous run if it rose.
    fn hold(ctx: &mut Ctx<Self>, user: &mut User, conn: ConnId, conversation: u64, seqs: &[u64]) {
        let held = user.held.entry(conversation).or_default();
        let mut rose = false;
        for &seq in seqs {
            rose |= held.add(seq);
        }
        if rose {
            let ack = ConversationAck { conversation_id: conversation, seq: held.top };
            Self::send_json(ctx, conn, MsgId::ConversationAck, &ack);
        }
    }

    fn on_push(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, push: TextChatMsgRsp) {
        let now = self.shared.now_ns();
        let Some(user) = self.users.get_mut(&conn) else { return };
        let device = user.device;
        match &mut user.role {
            Role::Receiver { seen, ledger } => {
                for data in &push.chat_datas {
                    let first_time = seen.insert(data.message_id);
                    if let (Some(ledger), Some(number)) =
                        (ledger.as_mut(), message_number(&data.unique_id))
                    {
                        if !ledger.note(number, data.message_id, data.seq) {
                            self.shared.stored_twice.fetch_add(1, Relaxed);
                        }
                    }
                    let sent_ns =
                        data.content.get(..20).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
                    if self.shared.arrived(sent_ns, first_time, device) {
                        let micros = (now.saturating_sub(sent_ns) / 1000).max(1);
                        let _ = self.latency.record(micros);
                        let _ = self.interval_latency.record(micros);
                        if push.group_id != 0 {
                            let arrival = self.group_arrivals.entry(data.message_id).or_default();
                            *arrival = (arrival.0 + 1, arrival.1.max(micros));
                        }
                    }
                }
            }
            Role::Mirror { seen } => {
                let new = push.chat_datas.iter().filter(|d| seen.insert(d.message_id)).count();
                self.shared.mirrored.fetch_add(new as u64, Relaxed);
            }
            _ => {} // a sender on one device is pushed nothing
        }
        let seqs: Vec<u64> = push.chat_datas.iter().map(|d| d.seq).collect();
        Self::hold(ctx, user, conn, push.conversation_id, &seqs);
    }
}

impl Handler for LoadClient {
    type Codec = FrameCodec;
    type Session = ();

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        if let Some(user) = self.users.get(&conn) {
            let (device_id, kind) = match (self.shared.devices, user.device) {
                (1, _) => (String::new(), String::new()), // the legacy device
                (_, 0) => ("bench-desktop".to_string(), "desktop".to_string()),
                _ => ("bench-mobile".to_string(), "mobile".to_string()),
            };
            let login = LoginReq { uid: user.uid, token: user.token.clone(), device_id, kind };
            Self::send_json(ctx, conn, MsgId::LoginReq, &login);
        }
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        match MsgId::from_u16(frame.id) {
            Some(MsgId::LoginRsp) => {
                let ok = serde_json::from_slice::<LoginRsp>(frame.body).is_ok_and(|r| r.error == 0);
                if !ok {
                    self.shared.login_failed.fetch_add(1, Relaxed);
                    return;
                }
                self.shared.logged_in.fetch_add(1, Relaxed);
                self.online.insert(conn);
                let Some(user) = self.users.get(&conn) else { return };
                if let Some(started) = user.started {
                    let _ =
                        self.login_latency.record((started.elapsed().as_micros() as u64).max(1));
                }
                let reconnecting = user.logins > 0;
                match user.role {
                    Role::Sender { .. } => self.senders.push(conn),
                    Role::Idle => self.idle_online.push_back(conn),
                    _ => {}
                }
                if let Some(user) = self.users.get_mut(&conn) {
                    user.logins += 1;
                }
                if reconnecting {
                    self.shared.reconnected.fetch_add(1, Relaxed);
                    self.resend(ctx, conn, Duration::ZERO); // what the old connection left unanswered
                }
            }
            Some(MsgId::TextChatMsgRsp) => {
                let retrying = self.shared.retrying.load(Relaxed);
                match serde_json::from_slice::<TextChatMsgRsp>(frame.body) {
                    Ok(answer) if answer.error == 0 && retrying => {
                        // Only the first 1018 of a message counts (copies are answered too).
                        let Some(User { role: Role::Sender { outbox, .. }, .. }) =
                            self.users.get_mut(&conn)
                        else {
                            return;
                        };
                        let first = answer.chat_datas.iter().filter(|d| {
                            message_number(&d.unique_id)
                                .is_some_and(|n| outbox.remove(&n).is_some())
                        });
                        self.shared.acknowledged.fetch_add(first.count() as u64, Relaxed);
                    }
                    Ok(answer) if answer.error == 0 => {
                        self.shared.acknowledged.fetch_add(answer.chat_datas.len() as u64, Relaxed);
                        // A named device holds its own messages too (they are
                        // pushed to it at its next login until acknowledged);
                        // the legacy device is never owed them: nothing to say.
                        let named = self.shared.devices > 1;
                        if let Some(user) = self.users.get_mut(&conn).filter(|_| named) {
                            let seqs: Vec<u64> = answer.chat_datas.iter().map(|d| d.seq).collect();
                            Self::hold(ctx, user, conn, answer.conversation_id, &seqs);
                        }
                    }
                    _ => {
                        self.shared.refused.fetch_add(1, Relaxed);
                    }
                }
                if let Some(User { role: Role::Sender { answered, .. }, .. }) =
                    self.users.get_mut(&conn)
                {
                    *answered += 1;
                }
                if self.shared.in_flight.load(Relaxed) > 0 {
                    self.send_due(ctx, conn, 0); // the next one at once, not at the tick
                }
            }
            Some(MsgId::NotifyTextChatMsgReq) => {
                if let Ok(push) = serde_json::from_slice::<TextChatMsgRsp>(frame.body) {
                    self.on_push(ctx, conn, push);
                }
            }
            _ => {}
        }
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, conn: ConnId, _: (), reason: &reactor::CloseReason) {
        if matches!(
            reason,
            reactor::CloseReason::ConnectFailed(_) | reactor::CloseReason::ConnectTimeout
        ) {
            self.shared.connect_failed.fetch_add(1, Relaxed);
        }
        if let Some(user) = self.users.remove(&conn) {
            self.senders.retain(|&c| c != conn);
            if self.online.remove(&conn) {
                self.shared.closed.fetch_add(1, Relaxed);
            }
            if self.shared.retrying.load(Relaxed) {
                self.shared.dropped.lock().push(user);
            } else {
                self.shared.lost_users.lock().push(user.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_contiguous_run_is_acknowledged() {
        let mut held = Contiguous::default();
        assert!(held.add(1));
        assert!(!held.add(3), "a hole at 2");
        assert!(!held.add(1), "again");
        assert!(held.add(2));
        assert_eq!(held.top, 3, "2 closed the hole up to 3");
    }

    #[test]
    fn open_loop_messages_are_timed_from_when_they_were_due() {
        let shared = Shared::new(500.0); // one message every 2 ms per sender
        shared.send_start_ns.store(1_000_000_000, Relaxed);
        assert_eq!(shared.intended_ns(1), 1_002_000_000);
        assert_eq!(shared.intended_ns(500), 2_000_000_000);
        // Whenever the tick runs, the n-th message's stamp is the same.
        let due_now = shared.due();
        assert!(shared.intended_ns(due_now) <= shared.now_ns());
    }
}
