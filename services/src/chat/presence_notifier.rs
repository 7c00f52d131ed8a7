//! Telling friends when a user comes online (its first session) and goes
//! offline (its last one), on a thread of its own: `<name>-presence`.
//!
//! Going offline is debounced: a client whose connection drops and comes
//! back within `debounce` (a phone changing networks, a restart) should not
//! make every friend's screen flicker. So an offline event waits here, and
//! when it is due the status server is asked whether the user is still
//! gone (one lookup for every event due at once); only then are the
//! friends told. An online event that finds its user's offline still
//! waiting cancels it, and is not told either: the friends never saw the
//! user leave.
//!
//! Waiting events are bounded by the queue that feeds them and by
//! `MAX_WAITING`; the lookup is the status client's, with its timeout.

use crate::background::{Background, StopFlag};
use crate::chat::delivery::presence_queue::PresenceEvent;
use crate::chat::delivery::Push;
use crate::chat::services::Services;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use proto::body::NotifyPresence;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most offline events waiting for their debounce; beyond it, the oldest
/// due are told at once.
const MAX_WAITING: usize = 100_000;

/// The notifier's thread.
pub struct PresenceNotifier {
    thread: Background,
}

impl PresenceNotifier {
    /// Starts the thread, which drains `events` (the other end of
    /// `Services::presence_events`). Any thread.
    pub fn start(
        services: Arc<Services>,
        events: Receiver<PresenceEvent>,
        debounce: Duration,
    ) -> std::io::Result<PresenceNotifier> {
        let name = format!("{}-presence", services.name);
        let worker = Worker { services, debounce, waiting: HashMap::new() };
        let thread = Background::start(name, move |stop| worker.run(events, stop))?;
        Ok(PresenceNotifier { thread })
    }

    /// Stops the thread (waiting offline events are dropped). Any thread
    /// but the notifier's.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

struct Worker {
    services: Arc<Services>,
    debounce: Duration,
    /// uid → (when its offline is due, the friends to tell).
    waiting: HashMap<u64, (Instant, Vec<u64>)>,
}

impl Worker {
    fn run(mut self, events: Receiver<PresenceEvent>, stop: StopFlag) {
        while !stop.is_set() {
            let now = Instant::now();
            let next_due = self.waiting.values().map(|(due, _)| *due).min();
            let wait = next_due.map_or(Duration::from_millis(100), |due| due - now.min(due));
            match events.recv_timeout(wait.min(Duration::from_millis(100))) {
                Ok(event) => self.take(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.tell_due(Instant::now());
        }
    }

    fn take(&mut self, event: PresenceEvent) {
        match event {
            PresenceEvent::Online { uid, friends } => {
                if self.waiting.remove(&uid).is_none() {
                    self.tell(uid, true, &friends);
                } // else back within the debounce: nobody saw it leave
            }
            PresenceEvent::Offline { uid, friends } => {
                if self.waiting.len() >= MAX_WAITING {
                    self.tell_due(Instant::now() + self.debounce); // make room: the oldest now
                }
                self.waiting.insert(uid, (Instant::now() + self.debounce, friends));
            }
        }
    }

    /// Tells the friends of every user whose offline is due and who is
    /// still offline.
    fn tell_due(&mut self, now: Instant) {
        let due: Vec<u64> =
            self.waiting.iter().filter(|(_, (at, _))| *at <= now).map(|(&uid, _)| uid).collect();
        if due.is_empty() {
            return;
        }
        // If the status server cannot say, they are told offline (it has
        // most likely lost them too).
        let online = self.services.presence.locate(due.clone()).unwrap_or_default();
        for uid in due {
            let Some((_, friends)) = self.waiting.remove(&uid) else { continue };
            if !online.contains_key(&uid) {
                self.tell(uid, false, &friends);
            }
        }
    }

    fn tell(&self, uid: u64, online: bool, friends: &[u64]) {
        for &friend in friends {
            let notice = NotifyPresence { uid, online };
            self.services.delivery.push_everywhere(friend, Push::Presence(notice), None);
        }
    }
}
