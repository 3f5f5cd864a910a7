//! When the poll thread may handle records itself (`poll.rs`): a handler
//! whose first poll costs more than a hand-off to a partition's task
//! belongs on the tasks, which run partitions in parallel. The poll thread
//! reads the clock around each handling it starts anyway (for the handler
//! duration histogram); the governor adds those times up and sends
//! records to the tasks for a while when they are too much.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The mean time per record handled on the poll thread above which the
/// handler is no longer cheap next to a hand-off: about five times what a
/// hand-off costs.
const MAX_MEAN_COST: Duration = Duration::from_micros(10);

/// How long records go to the tasks after they cost too much on the poll
/// thread, before the poll thread tries again.
const BACKOFF: Duration = Duration::from_secs(1);

/// The time over which the mean is judged: long enough that a one-off
/// cost (the first record initialising what the handler uses) does not
/// count as the handler's price, short enough that a costly handler leaves
/// the poll thread soon.
const WINDOW: Duration = Duration::from_millis(20);

/// Costly windows in a row that turn handling on the poll thread off: one
/// is not enough, as a thread preempted for a while (a busy machine) looks
/// like a costly handler.
const STRIKES: u8 = 2;

/// Per service: whether records may be handled on the poll thread for now.
#[derive(Debug, Default)]
pub(super) struct Governor {
    /// Until when it is off; `None` when it is on.
    off_until: Cell<Option<Instant>>,
    /// Records and their time in the current window.
    window_records: Cell<u32>,
    window_time: Cell<Duration>,
    /// Costly windows in a row.
    strikes: Cell<u8>,
}

impl Governor {
    /// Whether the poll thread may handle records now (`now` is the
    /// caller's last clock read).
    pub(super) fn allows(&self, now: Instant) -> bool {
        match self.off_until.get() {
            None => true,
            Some(until) if now >= until => {
                self.off_until.set(None);
                true
            }
            Some(_) => false,
        }
    }

    /// Adds records handled on the poll thread and their time to the
    /// window; once a [`WINDOW`] is full, it is judged, and handling on
    /// the poll thread goes off for [`BACKOFF`] after [`STRIKES`] windows
    /// in a row whose records cost more than [`MAX_MEAN_COST`] each on
    /// average.
    pub(super) fn add(&self, records: u32, time: Duration, now: Instant) {
        let records = self.window_records.get().saturating_add(records);
        let time = self.window_time.get() + time;
        if time < WINDOW {
            self.window_records.set(records);
            self.window_time.set(time);
            return;
        }
        self.window_records.set(0);
        self.window_time.set(Duration::ZERO);
        if time <= MAX_MEAN_COST * records {
            self.strikes.set(0);
            return;
        }
        self.strikes.set(self.strikes.get() + 1);
        if self.strikes.get() >= STRIKES {
            self.strikes.set(0);
            tracing::trace!(
                records,
                ?time,
                "handlers are not cheap: records go to the partition tasks for a while"
            );
            self.off_until.set(Some(now + BACKOFF));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds one window's worth of time spread over `records` records.
    fn window(governor: &Governor, records: u32) {
        governor.add(records, WINDOW, Instant::now());
    }

    #[test]
    fn cheap_records_keep_it_on() {
        let governor = Governor::default();
        for _ in 0..100 {
            governor.add(1, Duration::from_micros(1), Instant::now());
        }
        window(&governor, 10_000);
        assert!(governor.allows(Instant::now()));
    }

    #[test]
    fn a_one_off_cost_within_a_cheap_window_keeps_it_on() {
        let governor = Governor::default();
        // The first record took half a window (a cold start)...
        governor.add(1, WINDOW / 2, Instant::now());
        assert!(governor.allows(Instant::now()));
        // ...and the window's other records were cheap: still on.
        let cheap = (2 * WINDOW.as_micros() / MAX_MEAN_COST.as_micros()) as u32;
        governor.add(cheap, WINDOW / 2, Instant::now());
        assert_eq!(governor.window_records.get(), 0, "the window was judged");
        assert!(governor.allows(Instant::now()));
    }

    #[test]
    fn two_costly_windows_in_a_row_turn_it_off_for_the_backoff() {
        let governor = Governor::default();
        window(&governor, 1);
        // One costly window may be a preempted thread: still on.
        assert!(governor.allows(Instant::now()));
        window(&governor, 1);
        assert!(!governor.allows(Instant::now()));
        // Once the backoff has passed, it may try again.
        assert!(governor.allows(Instant::now() + BACKOFF));
        assert_eq!(governor.off_until.get(), None);
    }

    #[test]
    fn a_cheap_window_between_costly_ones_clears_the_strike() {
        let governor = Governor::default();
        window(&governor, 1);
        window(&governor, 1_000_000);
        window(&governor, 1);
        assert!(governor.allows(Instant::now()));
    }

    #[test]
    fn costly_records_turn_it_off_within_two_windows() {
        let governor = Governor::default();
        let mut admitted = 0;
        // Records that each take a millisecond: two windows fill after 40
        // records, and the poll thread stops taking them.
        for _ in 0..256 {
            if !governor.allows(Instant::now()) {
                break;
            }
            admitted += 1;
            governor.add(1, Duration::from_millis(1), Instant::now());
        }
        assert_eq!(admitted, 40);
    }
}
