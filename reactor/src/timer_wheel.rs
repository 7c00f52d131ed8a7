//! A hashed timing wheel: O(1) insert and cancel, expiry in ticks.
//!
//! A chat server has a timer per connection (idle timeout, login deadline)
//! and tens of thousands of connections. A binary heap would cost O(log n) per
//! insert and keep every cancelled timer until it surfaces; the wheel instead
//! hashes each deadline into one of `SLOTS` buckets by its tick number:
//!
//! ```text
//!   tick = 10 ms, SLOTS = 1024 (one revolution = 10.24 s)
//!   deadline tick 5000  →  slot 5000 % 1024 = 904, due on the 5th revolution
//! ```
//!
//! Each time the loop wakes it visits the slots between the last tick and now
//! and fires entries whose tick has come; entries due in a later revolution
//! stay put. Precision is one tick, which is plenty for timeouts measured in
//! seconds. Cancelling removes the entry from the slab and leaves a dead key in
//! its bucket, which is dropped the next time that bucket is visited.
//!
//! Owned and used by one loop thread. The wheel never reads the clock: every
//! call is given `now`, so tests drive it on a clock of their own.

use crate::slab::{Key, Slab};
use std::time::{Duration, Instant};

/// Buckets in the wheel.
const SLOTS: usize = 1024;

/// Names a scheduled timer, for [`TimerWheel::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey(Key);

struct Entry<T> {
    /// The tick at or after which the entry fires.
    due_tick: u64,
    payload: T,
}

/// Timers carrying a payload of type `T`, fired in tick order.
pub struct TimerWheel<T> {
    /// Length of one tick.
    tick: Duration,
    /// Instant of tick 0.
    origin: Instant,
    /// The last tick whose bucket was processed.
    current_tick: u64,
    /// Keys of the entries hashed to each bucket (some may be dead).
    buckets: Vec<Vec<Key>>,
    /// The live entries.
    entries: Slab<Entry<T>>,
}

impl<T> TimerWheel<T> {
    /// An empty wheel with the given tick length, starting at `now`.
    pub fn new(tick: Duration, now: Instant) -> TimerWheel<T> {
        assert!(!tick.is_zero(), "a timer wheel needs a non-zero tick");
        TimerWheel {
            tick,
            origin: now,
            current_tick: 0,
            buckets: (0..SLOTS).map(|_| Vec::new()).collect(),
            entries: Slab::new(),
        }
    }

    /// True when no timer is scheduled.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Schedules `payload` to fire at `deadline` (rounded up to a tick, and
    /// never earlier than the next tick).
    pub fn insert(&mut self, deadline: Instant, payload: T) -> TimerKey {
        let due_tick = self.tick_at_or_after(deadline).max(self.current_tick + 1);
        let key = self.entries.insert(Entry { due_tick, payload });
        self.buckets[(due_tick % SLOTS as u64) as usize].push(key);
        TimerKey(key)
    }

    /// Unschedules a timer; returns its payload if it had not fired yet.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.entries.remove(key.0).map(|entry| entry.payload)
    }

    /// Moves the wheel to `now` and appends every timer that is due to `fired`,
    /// earliest tick first.
    pub fn expire(&mut self, now: Instant, fired: &mut Vec<T>) {
        let target = self.tick_before(now);
        if target <= self.current_tick {
            return;
        }
        if self.entries.is_empty() {
            self.current_tick = target;
            return;
        }
        // Visit each bucket at most once, even after a long sleep.
        let steps = (target - self.current_tick).min(SLOTS as u64);
        for step in 1..=steps {
            let bucket = ((self.current_tick + step) % SLOTS as u64) as usize;
            let keys = std::mem::take(&mut self.buckets[bucket]);
            let mut still_waiting = Vec::new();
            for key in keys {
                match self.entries.get(key) {
                    Some(entry) if entry.due_tick <= target => {
                        if let Some(entry) = self.entries.remove(key) {
                            fired.push(entry.payload);
                        }
                    }
                    Some(_) => still_waiting.push(key),
                    None => {} // cancelled: drop the dead key
                }
            }
            // Put back what is due in a later revolution, reusing the allocation.
            self.buckets[bucket] = still_waiting;
        }
        self.current_tick = target;
    }

    /// How long the loop may sleep before the next bucket with entries is due;
    /// `None` when nothing is scheduled. May be early (an entry a revolution
    /// away, or a cancelled one) but never late.
    pub fn time_to_next(&self, now: Instant) -> Option<Duration> {
        if self.entries.is_empty() {
            return None;
        }
        let next_tick = (1..=SLOTS as u64)
            .map(|step| self.current_tick + step)
            .find(|tick| !self.buckets[(tick % SLOTS as u64) as usize].is_empty())
            .unwrap_or(self.current_tick + SLOTS as u64);
        Some(self.start_of(next_tick).saturating_duration_since(now))
    }

    /// The instant tick `tick` begins. Computed in 128-bit nanoseconds: a
    /// tick count does not fit the `u32` that `Duration * u32` takes once the
    /// wheel has run for 2^32 ticks (497 days at 10 ms), and a truncated one
    /// would put every deadline in the past: a zero poll timeout, a loop
    /// spinning at full CPU.
    fn start_of(&self, tick: u64) -> Instant {
        let nanos = self.tick.as_nanos().saturating_mul(u128::from(tick));
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let offset = Duration::new(secs, (nanos % 1_000_000_000) as u32);
        self.origin
            .checked_add(offset)
            .unwrap_or(self.origin + Duration::from_secs(u32::MAX.into()))
    }

    /// The last whole tick that has begun at `instant`.
    fn tick_before(&self, instant: Instant) -> u64 {
        let elapsed = instant.saturating_duration_since(self.origin);
        (elapsed.as_nanos() / self.tick.as_nanos()) as u64
    }

    /// The first tick that begins at or after `instant`.
    fn tick_at_or_after(&self, instant: Instant) -> u64 {
        let elapsed = instant.saturating_duration_since(self.origin).as_nanos();
        elapsed.div_ceil(self.tick.as_nanos()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(10);

    #[test]
    fn fires_in_order_and_not_before_the_deadline() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        wheel.insert(start + Duration::from_millis(50), "b");
        wheel.insert(start + Duration::from_millis(20), "a");
        let mut fired = Vec::new();
        wheel.expire(start + Duration::from_millis(15), &mut fired);
        assert!(fired.is_empty());
        wheel.expire(start + Duration::from_millis(60), &mut fired);
        assert_eq!(fired, vec!["a", "b"]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn entries_more_than_one_revolution_away_wait_their_turn() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        let revolution = TICK * SLOTS as u32;
        wheel.insert(start + revolution + TICK * 3, "later");
        let mut fired = Vec::new();
        wheel.expire(start + TICK * 5, &mut fired);
        assert!(fired.is_empty(), "same bucket, next revolution");
        wheel.expire(start + revolution + TICK * 4, &mut fired);
        assert_eq!(fired, vec!["later"]);
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        let key = wheel.insert(start + TICK * 2, 1);
        assert_eq!(wheel.cancel(key), Some(1));
        assert_eq!(wheel.cancel(key), None);
        let mut fired = Vec::new();
        wheel.expire(start + TICK * 10, &mut fired);
        assert!(fired.is_empty());
    }

    #[test]
    fn a_long_sleep_fires_everything_due() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        for i in 0..3000u32 {
            wheel.insert(start + TICK * i, i);
        }
        let mut fired = Vec::new();
        wheel.expire(start + Duration::from_secs(3600), &mut fired);
        assert_eq!(fired.len(), 3000);
    }

    #[test]
    fn time_to_next_after_two_to_the_32_ticks_is_not_zero() {
        // The loop's clock, driven by the test: the wheel has been running
        // for 2^32 + 5 ticks (about 497 days at 10 ms).
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        let now = start + TICK * u32::MAX + TICK * 6;
        wheel.expire(now, &mut Vec::<()>::new());
        wheel.insert(now + Duration::from_millis(50), ());
        let wait = wheel.time_to_next(now).expect("a timer is pending");
        assert!(wait >= Duration::from_millis(40), "poll timeout collapsed to {wait:?}");
        assert!(wait <= Duration::from_millis(60), "{wait:?}");
        let mut fired = Vec::new();
        wheel.expire(now + Duration::from_millis(30), &mut fired);
        assert!(fired.is_empty());
        wheel.expire(now + Duration::from_millis(60), &mut fired);
        assert_eq!(fired.len(), 1);
    }

    #[test]
    fn time_to_next_is_never_late() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(TICK, start);
        assert_eq!(wheel.time_to_next(start), None);
        wheel.insert(start + Duration::from_millis(95), ());
        let wait = wheel.time_to_next(start).unwrap();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(wait >= Duration::from_millis(90), "{wait:?}");
    }
}
