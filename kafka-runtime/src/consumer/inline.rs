//! When the poll thread may handle records itself instead of handing them to
//! a worker (`Poller::try_inline`).
//!
//! Handing a record to a partition's worker costs more than a cheap handler
//! does: a channel send, a wake-up of another thread, and memory allocated on
//! one thread and freed on another (kafka-bench: about 2 us of CPU per record
//! against 0.9 us for a raw rdkafka poll loop). So a handler that finishes in
//! its first poll runs on the poll thread. A handler that does real work in
//! that poll would, on the poll thread, serialise every partition's handlers
//! on one thread, where workers run them in parallel; once that work
//! outweighs the hand-off it belongs on the workers. The governor measures
//! what the poll thread spends per inline record, one clock read per burst,
//! and sends records to the workers for a while when it is too much.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The mean time per inline record (the handler's first poll plus its
/// share of polling) above which the handler is no longer cheap next to a
/// hand-off: about five times what a hand-off costs.
const MAX_MEAN_COST: Duration = Duration::from_micros(10);

/// How long records go to the workers after inline records cost too much,
/// before the poll thread tries again.
const BACKOFF: Duration = Duration::from_secs(1);

/// The inline time over which the mean is judged: long enough that a
/// one-off cost (the first record initialising what the handler uses) does
/// not count as the handler's price, short enough that a costly handler
/// leaves the poll thread soon.
const WINDOW: Duration = Duration::from_millis(20);

/// Per service: whether records may be handled inline for now.
#[derive(Debug, Default)]
pub(super) struct Governor {
    /// Until when inline handling is off; `None` when it is on.
    off_until: Cell<Option<Instant>>,
    /// Inline records and their time in the current window.
    window_records: Cell<u32>,
    window_time: Cell<Duration>,
}

/// One pass of the poll loop, as the governor measures it.
#[derive(Debug)]
pub(super) struct Burst {
    allowed: bool,
    /// When the first inline record of the burst started.
    started: Option<Instant>,
    records: u32,
}

impl Governor {
    /// Starts measuring a burst.
    pub(super) fn burst(&self) -> Burst {
        let allowed = match self.off_until.get() {
            None => true,
            Some(until) if Instant::now() >= until => {
                self.off_until.set(None);
                true
            }
            Some(_) => false,
        };
        Burst {
            allowed,
            started: None,
            records: 0,
        }
    }

    /// Ends a burst; once a [`WINDOW`] of inline time is full, inline
    /// handling goes off for [`BACKOFF`] when its records cost more than
    /// [`MAX_MEAN_COST`] each on average.
    pub(super) fn end(&self, burst: Burst) {
        let Some(started) = burst.started else {
            return;
        };
        let records = self.window_records.get().saturating_add(burst.records);
        let time = self.window_time.get() + started.elapsed();
        if time < WINDOW {
            self.window_records.set(records);
            self.window_time.set(time);
            return;
        }
        self.window_records.set(0);
        self.window_time.set(Duration::ZERO);
        if time > MAX_MEAN_COST * records {
            tracing::trace!(
                records,
                ?time,
                "handlers are not cheap: records go to the partition workers for a while"
            );
            self.off_until.set(Some(Instant::now() + BACKOFF));
        }
    }
}

impl Burst {
    /// Whether a record may be handled inline in this burst.
    pub(super) fn allowed(&self) -> bool {
        self.allowed
    }

    /// Counts one inline record (starting the clock at the first).
    pub(super) fn count(&mut self) {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        self.records += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_bursts_keep_inline_handling_on() {
        let governor = Governor::default();
        let mut burst = governor.burst();
        assert!(burst.allowed());
        for _ in 0..100 {
            burst.count();
        }
        governor.end(burst);
        assert!(governor.burst().allowed());
    }

    #[test]
    fn a_one_off_cost_within_a_cheap_window_keeps_it_on() {
        let governor = Governor::default();
        let mut burst = governor.burst();
        burst.count();
        // The first record took half a window (a cold start)...
        burst.started = Some(Instant::now() - WINDOW / 2);
        governor.end(burst);
        assert!(governor.burst().allowed());
        // ...and the window's other records were cheap: still on.
        let mut burst = governor.burst();
        for _ in 0..(WINDOW.as_micros() / MAX_MEAN_COST.as_micros()) {
            burst.count();
        }
        burst.started = Some(Instant::now() - WINDOW / 2);
        governor.end(burst);
        assert_eq!(governor.window_records.get(), 0, "the window was judged");
        assert!(governor.burst().allowed());
    }

    #[test]
    fn a_costly_window_turns_it_off_for_the_backoff() {
        let governor = Governor::default();
        let mut burst = governor.burst();
        burst.count();
        // A handler that took a whole window in its first poll.
        burst.started = Some(Instant::now() - WINDOW);
        governor.end(burst);
        assert!(!governor.burst().allowed());
        // Once the backoff has passed, the next burst may try again.
        governor
            .off_until
            .set(Some(Instant::now() - Duration::from_millis(1)));
        assert!(governor.burst().allowed());
        assert_eq!(governor.off_until.get(), None);
    }

    #[test]
    fn a_burst_without_inline_records_changes_nothing() {
        let governor = Governor::default();
        governor.end(governor.burst());
        assert!(governor.burst().allowed());
    }
}
