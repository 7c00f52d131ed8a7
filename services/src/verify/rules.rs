//! The life of a verification code, as pure decisions over one address's
//! record and the current time (no I/O), so every rule is unit-tested.
//!
//! Per e-mail address there is one record: the live code (if any), when it
//! expires, how many wrong attempts it has left, and the address's sending
//! history (last mail, mails sent today) for the rate limits.

use proto::ErrorCode;

/// One address's state, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeRecord {
    pub email: String,
    /// The live code; empty when none (never sent, used, burnt or expired).
    pub code: String,
    pub expires_ms: i64,
    pub attempts_left: u32,
    /// When the last mail went out (0: never).
    pub last_sent_ms: i64,
    /// The UTC day (`ms / 86,400,000`) that `sent_today` counts.
    pub day: i64,
    pub sent_today: u32,
}

/// The limits, from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    pub code_ttl_ms: i64,
    pub max_attempts: u32,
    /// At most one mail per address per this many milliseconds.
    pub resend_interval_ms: i64,
    /// At most this many mails per address per UTC day.
    pub daily_cap: u32,
}

const DAY_MS: i64 = 86_400_000;

impl CodeRecord {
    pub fn new(email: &str) -> CodeRecord {
        CodeRecord { email: email.to_string(), ..CodeRecord::default() }
    }

    fn has_live_code(&self, now_ms: i64) -> bool {
        !self.code.is_empty() && now_ms < self.expires_ms && self.attempts_left > 0
    }
}

/// What to do about a request for a code.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Mail this code; after a successful send, store the returned record.
    Send { code: String, record: CodeRecord },
    /// Too soon after the last mail, or the daily cap is reached (1104).
    RateLimited,
}

impl Rules {
    /// A request for a code at `now_ms`. A live code is mailed again (the
    /// user may have lost the first mail); otherwise `fresh_code` is used.
    pub fn request(&self, record: &CodeRecord, now_ms: i64, fresh_code: String) -> Request {
        let today = now_ms.div_euclid(DAY_MS);
        let sent_today = if record.day == today { record.sent_today } else { 0 };
        let too_soon =
            record.last_sent_ms > 0 && now_ms - record.last_sent_ms < self.resend_interval_ms;
        if too_soon || sent_today >= self.daily_cap {
            return Request::RateLimited;
        }
        let mut next = record.clone();
        if !record.has_live_code(now_ms) {
            next.code = fresh_code;
            next.expires_ms = now_ms + self.code_ttl_ms;
            next.attempts_left = self.max_attempts;
        }
        next.last_sent_ms = now_ms;
        next.day = today;
        next.sent_today = sent_today + 1;
        Request::Send { code: next.code.clone(), record: next }
    }

    /// A mail that could not be sent: its code must not be usable, but the
    /// attempt counts against the rate limits (so a failing address cannot
    /// be used to hammer the mail server).
    pub fn send_failed(&self, sent: &CodeRecord) -> CodeRecord {
        CodeRecord { code: String::new(), expires_ms: 0, attempts_left: 0, ..sent.clone() }
    }

    /// Checks `code` at `now_ms`: the answer, and the record to store.
    pub fn check(&self, record: &CodeRecord, code: &str, now_ms: i64) -> (ErrorCode, CodeRecord) {
        let mut next = record.clone();
        if !record.has_live_code(now_ms) {
            return (ErrorCode::VerifyExpired, next);
        }
        if crate::token::constant_time_eq(record.code.as_bytes(), code.as_bytes()) {
            next.code.clear(); // single use
            next.attempts_left = 0;
            return (ErrorCode::Success, next);
        }
        next.attempts_left -= 1;
        if next.attempts_left == 0 {
            next.code.clear(); // burnt
        }
        (ErrorCode::VerifyCodeErr, next)
    }
}

/// A code of `digits` decimal digits from the OS's CSPRNG, without modulo
/// bias (values at or above the largest multiple of 10 are drawn again).
pub fn new_code(digits: u32) -> String {
    let mut code = String::with_capacity(digits as usize);
    while code.len() < digits as usize {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).expect("the OS random source works");
        if byte[0] < 250 {
            code.push(char::from(b'0' + byte[0] % 10));
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn rules() -> Rules {
        Rules { code_ttl_ms: 5 * MIN, max_attempts: 3, resend_interval_ms: MIN, daily_cap: 3 }
    }

    fn sent(rules: &Rules, record: &CodeRecord, now: i64, code: &str) -> CodeRecord {
        match rules.request(record, now, code.into()) {
            Request::Send { record, .. } => record,
            Request::RateLimited => panic!("rate limited at {now}"),
        }
    }

    #[test]
    fn a_code_is_single_use_and_expires() {
        let r = rules();
        let now = 10 * DAY_MS;
        let record = sent(&r, &CodeRecord::new("a@x"), now, "123456");
        let (answer, used) = r.check(&record, "123456", now + 1000);
        assert_eq!(answer, ErrorCode::Success);
        assert_eq!(r.check(&used, "123456", now + 2000).0, ErrorCode::VerifyExpired, "reuse");
        let (answer, _) = r.check(&record, "123456", now + 5 * MIN);
        assert_eq!(answer, ErrorCode::VerifyExpired, "expired");
    }

    #[test]
    fn wrong_attempts_burn_the_code() {
        let r = rules();
        let now = 10 * DAY_MS;
        let mut record = sent(&r, &CodeRecord::new("a@x"), now, "123456");
        for _ in 0..3 {
            let (answer, next) = r.check(&record, "000000", now);
            assert_eq!(answer, ErrorCode::VerifyCodeErr);
            record = next;
        }
        assert_eq!(r.check(&record, "123456", now).0, ErrorCode::VerifyExpired, "burnt");
    }

    #[test]
    fn mails_are_rate_limited_per_address_and_per_day() {
        let r = rules();
        let day = 10 * DAY_MS;
        let first = sent(&r, &CodeRecord::new("a@x"), day, "111111");
        assert_eq!(r.request(&first, day + MIN - 1, "x".into()), Request::RateLimited);
        // Resent after the interval: the live code is mailed again.
        let second = sent(&r, &first, day + MIN, "222222");
        assert_eq!(second.code, "111111");
        let third = sent(&r, &second, day + 2 * MIN, "333333");
        assert_eq!(r.request(&third, day + 3 * MIN, "x".into()), Request::RateLimited, "cap");
        // A new day resets the cap; the old code has expired by then.
        let next_day = sent(&r, &third, day + DAY_MS, "444444");
        assert_eq!((next_day.code.as_str(), next_day.sent_today), ("444444", 1));
    }

    #[test]
    fn a_failed_mail_leaves_no_usable_code() {
        let r = rules();
        let now = 10 * DAY_MS;
        let record = r.send_failed(&sent(&r, &CodeRecord::new("a@x"), now, "123456"));
        assert_eq!(r.check(&record, "123456", now).0, ErrorCode::VerifyExpired);
        assert_eq!(record.sent_today, 1);
    }

    #[test]
    fn codes_are_digits_of_the_asked_length() {
        let codes: Vec<String> = (0..200).map(|_| new_code(6)).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        assert!(distinct.len() > 190, "codes repeat too often");
    }
}
