//! The idle timeout and the first-frame deadline, driven by the timing wheel.

mod util;

use reactor::LoopConfig;
use std::time::{Duration, Instant};
use util::{start_echo, total, Client};

#[test]
fn a_silent_connection_is_closed_by_the_idle_timeout() {
    let config =
        LoopConfig { idle_timeout: Some(Duration::from_millis(300)), ..util::config("idle") };
    let server = start_echo(config);
    let mut silent = Client::connect(server.local_addr());
    assert!(silent.closed_within(Duration::from_secs(5)));
    assert_eq!(total(&server, |s| &s.timeouts), 1);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_connection_that_keeps_sending_stays_open_past_the_idle_timeout() {
    let config =
        LoopConfig { idle_timeout: Some(Duration::from_millis(300)), ..util::config("busy") };
    let server = start_echo(config);
    let mut busy = Client::connect(server.local_addr());
    // Heartbeat every 100 ms for 1.5 s: five times the idle timeout.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        busy.send_frame(1023, b"{}");
        assert_eq!(busy.read_frame().expect("still open"), (1023, b"{}".to_vec()));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(total(&server, |s| &s.timeouts), 0);
    // Once it falls silent, it goes too.
    assert!(busy.closed_within(Duration::from_secs(5)));
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_connection_without_a_first_frame_in_time_is_closed() {
    let config = LoopConfig {
        first_frame_timeout: Some(Duration::from_millis(300)),
        ..util::config("first")
    };
    let server = start_echo(config);
    let mut mute = Client::connect(server.local_addr());
    let mut prompt = Client::connect(server.local_addr());
    prompt.send_frame(1005, b"{}");
    assert_eq!(prompt.read_frame().unwrap(), (1005, b"{}".to_vec()));

    assert!(mute.closed_within(Duration::from_secs(5)));
    // The prompt one stays (no idle timeout is configured).
    std::thread::sleep(Duration::from_millis(400));
    prompt.send_frame(1023, b"");
    assert_eq!(prompt.read_frame().unwrap(), (1023, vec![]));
    assert_eq!(total(&server, |s| &s.timeouts), 1);
    server.shutdown(Duration::from_secs(1));
}
