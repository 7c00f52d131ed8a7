//! Friends' presence as it changes: a user's first session came online, or
//! its last went offline. Queued (bounded) for the presence notifier's
//! thread (`chat/presence_notifier.rs`), which debounces and tells friends.
//! A full queue drops the event: presence is best effort (the friend list
//! in the next LOGIN_RSP is right again).

use crossbeam_channel::{bounded, Receiver, Sender};

/// A change of one user's presence, with the friends to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceEvent {
    Online { uid: u64, friends: Vec<u64> },
    Offline { uid: u64, friends: Vec<u64> },
}

/// The sending side. Any thread; never blocks.
#[derive(Clone)]
pub struct PresenceQueue {
    sender: Sender<PresenceEvent>,
}

impl PresenceQueue {
    /// Queues `event`; false (and dropped) if the queue is full.
    pub fn send(&self, event: PresenceEvent) -> bool {
        let sent = self.sender.try_send(event).is_ok();
        if !sent {
            log::debug!("presence queue full: a presence change was not told");
        }
        sent
    }
}

/// The queue: the sending side for the sessions, the receiving side for
/// the notifier's thread (which starts later).
pub fn presence_queue(capacity: usize) -> (PresenceQueue, Receiver<PresenceEvent>) {
    let (sender, receiver) = bounded(capacity);
    (PresenceQueue { sender }, receiver)
}
