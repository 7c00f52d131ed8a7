//! Precise timers (`LoopConfig::precise_timers`): a timerfd wakes the loop
//! for its timers, so a timer wheel with a sub-millisecond tick keeps its
//! promise where poll's whole-millisecond timeout could not.

use reactor::{ConnId, Ctx, Frame, FrameCodec, Handler, LoopConfig, LoopPool};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A loop with precise timers (a timerfd instead of poll's millisecond
/// timeout) and a sub-millisecond tick runs a chain of 200 us timers: every
/// one fires, none before its deadline. (How close to it is measured by
/// imbench's lateness histogram, not asserted here.)
#[test]
fn precise_timers_fire_a_sub_millisecond_chain_and_never_early() {
    struct Idle;
    impl Handler for Idle {
        type Codec = FrameCodec;
        type Session = ();
        fn on_frame(&mut self, _: &mut Ctx<Self>, _: ConnId, _: Frame<'_>) {}
    }
    fn chain(ctx: &mut Ctx<Idle>, left: u32, due: Instant, done: mpsc::Sender<Result<(), String>>) {
        let now = Instant::now();
        if now < due {
            let _ = done.send(Err(format!("fired {:?} early", due - now)));
            return;
        }
        if left == 0 {
            let _ = done.send(Ok(()));
            return;
        }
        let delay = Duration::from_micros(200);
        let next = Instant::now() + delay;
        ctx.run_after(delay, move |_, ctx| chain(ctx, left - 1, next, done));
    }
    let config = LoopConfig {
        name: "precise".into(),
        threads: 1,
        timer_tick: Duration::from_micros(100),
        precise_timers: true,
        ..LoopConfig::default()
    };
    let mut pool = LoopPool::start(config, FrameCodec::default(), |_| Idle).unwrap();
    let (done, finished) = mpsc::channel();
    pool.handles()[0].post(move |_, ctx| chain(ctx, 200, Instant::now(), done)).unwrap();
    let outcome = finished.recv_timeout(Duration::from_secs(10)).expect("the chain ends");
    assert_eq!(outcome, Ok(()));
    pool.shutdown(Duration::from_secs(1));
}
