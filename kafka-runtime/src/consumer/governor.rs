//! When the poll thread may handle records itself (`inline.rs`): a handler
//! whose first poll costs more than a hand-off to a worker belongs on the
//! workers, which run partitions in parallel. The governor measures what
//! the poll thread spends per inline record (a clock read every
//! [`CHECK_EVERY`] records, not per record) and sends records to the
//! workers for a while when it is too much.

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

/// Costly windows in a row that turn inline handling off: one is not
/// enough, as a thread preempted for a while (a busy machine) looks like a
/// costly handler.
const STRIKES: u8 = 2;

/// Inline records between two looks at the clock within a burst, so that a
/// burst of costly records is cut short (a burst may hold 256 records).
const CHECK_EVERY: u32 = 16;

/// Per service: whether records may be handled inline for now.
#[derive(Debug, Default)]
pub(super) struct Governor {
    /// Until when inline handling is off; `None` when it is on.
    off_until: Cell<Option<Instant>>,
    /// Inline records and their time in the current window.
    window_records: Cell<u32>,
    window_time: Cell<Duration>,
    /// Costly windows in a row.
    strikes: Cell<u8>,
}

/// One pass of the poll loop, as the governor measures it.
#[derive(Debug)]
pub(super) struct Burst {
    allowed: bool,
    /// When the inline records counted in `records` started.
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

    /// Whether inline handling is on now (outside a burst).
    pub(super) fn is_on(&self) -> bool {
        self.off_until
            .get()
            .is_none_or(|until| Instant::now() >= until)
    }

    /// Whether the next record may be handled inline; counts it if so.
    pub(super) fn admit(&self, burst: &mut Burst) -> bool {
        if !burst.allowed {
            return false;
        }
        match burst.started {
            None => burst.started = Some(Instant::now()),
            Some(started) if burst.records >= CHECK_EVERY => {
                let now = Instant::now();
                self.add(burst.records, now - started);
                burst.started = Some(now);
                burst.records = 0;
                if self.off_until.get().is_some() {
                    burst.allowed = false;
                    return false;
                }
            }
            Some(_) => {}
        }
        burst.records += 1;
        true
    }

    /// Ends a burst, adding what it measured.
    pub(super) fn end(&self, burst: Burst) {
        if let Some(started) = burst.started {
            self.add(burst.records, started.elapsed());
        }
    }

    /// Adds inline records and their time to the window; once a [`WINDOW`]
    /// of inline time is full, it is judged, and inline handling goes off
    /// for [`BACKOFF`] after [`STRIKES`] windows in a row whose records cost
    /// more than [`MAX_MEAN_COST`] each on average.
    fn add(&self, records: u32, time: Duration) {
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
                "handlers are not cheap: records go to the partition workers for a while"
            );
            self.off_until.set(Some(Instant::now() + BACKOFF));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds one window's worth of time spread over `records` records.
    fn window(governor: &Governor, records: u32) {
        governor.add(records, WINDOW);
    }

    #[test]
    fn cheap_records_keep_inline_handling_on() {
        let governor = Governor::default();
        let mut burst = governor.burst();
        for _ in 0..100 {
            assert!(governor.admit(&mut burst));
        }
        governor.end(burst);
        window(&governor, 10_000);
        assert!(governor.burst().allowed);
    }

    #[test]
    fn a_one_off_cost_within_a_cheap_window_keeps_it_on() {
        let governor = Governor::default();
        // The first record took half a window (a cold start)...
        governor.add(1, WINDOW / 2);
        assert!(governor.burst().allowed);
        // ...and the window's other records were cheap: still on.
        let cheap = (2 * WINDOW.as_micros() / MAX_MEAN_COST.as_micros()) as u32;
        governor.add(cheap, WINDOW / 2);
        assert_eq!(governor.window_records.get(), 0, "the window was judged");
        assert!(governor.burst().allowed);
    }

    #[test]
    fn two_costly_windows_in_a_row_turn_it_off_for_the_backoff() {
        let governor = Governor::default();
        window(&governor, 1);
        // One costly window may be a preempted thread: still on.
        assert!(governor.burst().allowed);
        window(&governor, 1);
        assert!(!governor.is_on());
        assert!(!governor.burst().allowed);
        // Once the backoff has passed, the next burst may try again.
        governor
            .off_until
            .set(Some(Instant::now() - Duration::from_millis(1)));
        assert!(governor.burst().allowed);
        assert_eq!(governor.off_until.get(), None);
    }

    #[test]
    fn a_cheap_window_between_costly_ones_clears_the_strike() {
        let governor = Governor::default();
        window(&governor, 1);
        window(&governor, 1_000_000);
        window(&governor, 1);
        assert!(governor.burst().allowed);
    }

    #[test]
    fn a_costly_burst_is_cut_short_within_itself() {
        let governor = Governor::default();
        let mut burst = governor.burst();
        let mut admitted = 0;
        // Records that each take a millisecond: the clock is read every
        // CHECK_EVERY records, two windows fill, and the burst stops
        // admitting long before its 256 records.
        for _ in 0..256 {
            if !governor.admit(&mut burst) {
                break;
            }
            admitted += 1;
            burst.started = burst.started.map(|s| s - Duration::from_millis(1));
        }
        // Two windows of 32 ms each: judged after 32 and 64 records.
        assert_eq!(admitted, 64);
        assert!(!governor.burst().allowed);
    }

    #[test]
    fn a_burst_without_inline_records_changes_nothing() {
        let governor = Governor::default();
        governor.end(governor.burst());
        assert!(governor.burst().allowed);
        assert_eq!(governor.window_records.get(), 0);
    }
}
