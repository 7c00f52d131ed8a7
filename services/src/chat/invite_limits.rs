//! How many users one user may invite into groups per minute (here: each
//! chat server counts the invitations made through it).
//!
//! A fixed window per user: simple, and enough to stop a script from
//! filling groups with a user's friends as fast as the store commits. The
//! map holds only users who invited within the last minute, so it is bounded
//! by the users online here.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Beyond this many users in the map, windows that ended are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// Invitations per user per minute. Any thread (one short lock per call).
pub struct InviteLimits {
    per_minute: usize,
    /// uid → (when its window began, invitations in it).
    windows: Mutex<HashMap<u64, (Instant, usize)>>,
}

impl InviteLimits {
    pub fn new(per_minute: usize) -> InviteLimits {
        InviteLimits { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// Takes `count` invitations for `uid` now; false (and nothing taken)
    /// if that would pass the limit.
    pub fn take(&self, uid: u64, count: usize) -> bool {
        let now = Instant::now();
        let mut windows = self.windows.lock();
        if windows.len() >= PRUNE_ABOVE {
            windows.retain(|_, (began, _)| now.duration_since(*began) < WINDOW);
        }
        let window = windows.entry(uid).or_insert((now, 0));
        if now.duration_since(window.0) >= WINDOW {
            *window = (now, 0);
        }
        if window.1 + count > self.per_minute {
            return false;
        }
        window.1 += count;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_its_count_per_window_and_others_theirs() {
        let limits = InviteLimits::new(5);
        assert!(limits.take(1, 3));
        assert!(!limits.take(1, 3), "3 + 3 is over 5");
        assert!(limits.take(1, 2));
        assert!(!limits.take(1, 1));
        assert!(limits.take(2, 5), "another user has its own window");
    }
}
