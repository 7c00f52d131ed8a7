//! Backpressure: what a loop does about a peer that does not read.
//!
//! A handler may queue output faster than the peer takes it. Three rules,
//! all decided here, bound what such a peer costs:
//!
//! ```text
//!  queued output
//!   output_limit ─────────────  close at once (SlowConsumer): the memory bound
//!   high_water   ─────────────  crossed upwards: pause reading, tell the handler
//!                               (on_high_water), start the slow-consumer clock
//!   low_water    ─────────────  crossed downwards: resume reading
//!                               (high_water / 2, so a peer hovering at the
//!                               mark does not flip the state on every write)
//! ```
//!
//! Reading is paused because the peer's requests would only make more
//! output; TCP flow control then slows the peer down. A peer that stays
//! above the high-water mark for `slow_consumer_timeout` is closed.
//!
//! The state is one field: since when output has been above the mark. Reading
//! is paused exactly while it is set. Owned by one connection, so by one loop.

use crate::config::LoopConfig;
use std::time::Instant;

/// One connection's output-side flow control.
#[derive(Debug, Default)]
pub(crate) struct Backpressure {
    /// Since when output has been above the high-water mark, if it is.
    above_since: Option<Instant>,
}

/// What queuing output led to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Grew {
    /// Nothing to do.
    Within,
    /// Just crossed the high-water mark: reading is now paused; tell the
    /// handler and check again at `deadline`.
    CrossedHighWater { deadline: Instant },
    /// At or over the output limit: close now.
    OverLimit,
}

/// What the slow-consumer timer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SlowCheck {
    /// Output went back below the low-water mark meanwhile.
    Recovered,
    /// Above the mark for the whole timeout: close.
    Expired,
    /// It drained and filled up again since the timer was armed: check then.
    RecheckAt(Instant),
}

impl Backpressure {
    /// True while the connection's input must not be read.
    pub(crate) fn reading_paused(&self) -> bool {
        self.above_since.is_some()
    }

    /// Output grew to `queued` bytes at `now`.
    pub(crate) fn output_grew(&mut self, queued: usize, config: &LoopConfig, now: Instant) -> Grew {
        if queued >= config.output_limit {
            return Grew::OverLimit;
        }
        if queued > config.high_water && self.above_since.is_none() {
            self.above_since = Some(now);
            return Grew::CrossedHighWater { deadline: now + config.slow_consumer_timeout };
        }
        Grew::Within
    }

    /// Output shrank to `queued` bytes. True if reading resumes now.
    pub(crate) fn output_shrank(&mut self, queued: usize, config: &LoopConfig) -> bool {
        if self.above_since.is_some() && queued <= config.low_water() {
            self.above_since = None;
            return true;
        }
        false
    }

    /// The slow-consumer timer fired at `now`.
    pub(crate) fn check(&self, config: &LoopConfig, now: Instant) -> SlowCheck {
        let Some(since) = self.above_since else { return SlowCheck::Recovered };
        let deadline = since + config.slow_consumer_timeout;
        if now >= deadline {
            SlowCheck::Expired
        } else {
            SlowCheck::RecheckAt(deadline)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> LoopConfig {
        LoopConfig {
            high_water: 100,
            output_limit: 1000,
            slow_consumer_timeout: Duration::from_secs(10),
            ..LoopConfig::default()
        }
    }

    #[test]
    fn pauses_above_high_water_and_resumes_at_low_water() {
        let (config, now) = (config(), Instant::now());
        let mut bp = Backpressure::default();
        assert_eq!(bp.output_grew(100, &config, now), Grew::Within);
        assert!(!bp.reading_paused());
        let deadline = now + config.slow_consumer_timeout;
        assert_eq!(bp.output_grew(101, &config, now), Grew::CrossedHighWater { deadline });
        assert!(bp.reading_paused());
        assert_eq!(bp.output_grew(500, &config, now), Grew::Within, "crossed once");
        assert!(!bp.output_shrank(51, &config), "above low water: still paused");
        assert!(bp.output_shrank(50, &config));
        assert!(!bp.reading_paused());
    }

    #[test]
    fn over_the_limit_closes_and_a_stuck_peer_expires() {
        let (config, now) = (config(), Instant::now());
        let mut bp = Backpressure::default();
        assert_eq!(bp.output_grew(1000, &config, now), Grew::OverLimit);
        assert_eq!(bp.check(&config, now), SlowCheck::Recovered);
        bp.output_grew(200, &config, now);
        let later = now + Duration::from_secs(4);
        assert_eq!(bp.check(&config, later), SlowCheck::RecheckAt(now + Duration::from_secs(10)));
        assert_eq!(bp.check(&config, now + Duration::from_secs(10)), SlowCheck::Expired);
    }
}
