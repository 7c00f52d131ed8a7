//! A timerfd: the loop's alarm clock when millisecond wake-ups are too
//! coarse (`LoopConfig::precise_timers`).
//!
//! `poll`'s timeout is epoll's, in whole milliseconds (mio rounds a shorter
//! one up, so as not to spin), which puts a floor of about a millisecond
//! under every timer. A load generator that must send at its due instant,
//! to the tenth of a millisecond, cannot live with that. So the loop arms
//! this timerfd for the next timer's deadline (nanoseconds, CLOCK_MONOTONIC),
//! registers it with the poll like a socket, and polls without a timeout:
//! the timerfd becoming readable is what wakes it. The cost is two system
//! calls per wake-up (arm, and a read to clear it), which is why it is off
//! by default: a server's timeouts are fine at 10 ms.
//!
//! Loop thread only. Linux only (timerfd_create(2)).

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

pub(crate) struct PreciseTimer {
    fd: OwnedFd,
}

impl PreciseTimer {
    /// A disarmed timerfd, registered with `registry` under `token`.
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<PreciseTimer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is
        // a new descriptor that nothing else owns.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(PreciseTimer { fd })
    }

    /// Rings once, `after` from now (a zero `after` disarms it: the loop
    /// then polls without waiting anyway).
    pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
        let value = libc::timespec {
            tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec on the stack; the old value
        // is not asked for (null).
        let done =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if done < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry, so that the next one is a new edge for epoll.
    pub(crate) fn clear(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a buffer of 8; a would-block
        // (no expiry pending) is fine and ignored.
        let _ = unsafe {
            libc::read(self.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), expirations.len())
        };
    }
}
