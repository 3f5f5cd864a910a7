//! The offset store stage: which handled offsets may be stored, and
//! storing them, for every path (sequential, batch, key-ordered, started
//! on the poll thread or on a partition's task).
//!
//! Only the contiguous prefix of handled records is ever stored, so a
//! crash or a rebalance never skips a record that was not handled. Offsets
//! of one partition increase but may skip (compaction, transaction
//! markers), so the prefix is "every received offset up to here is done",
//! not "offset + 1 is next". A `continue_without_commit` record completes
//! the prefix without being stored itself: the next stored offset covers
//! it, as with sarama's `MarkMessage`.
//!
//! Storing is per chunk, not per record: a [`Tracker`] remembers how far
//! the prefix got and [`Tracker::flush`] stores it once, at the end of the
//! chunk of records its owner handled in one go (a poll burst, a chunk a
//! partition task took from its queue), before the owner hands the
//! partition to another thread, and before any commit. librdkafka commits
//! what is stored every `auto.commit.interval.ms`, and synchronously on
//! revocation and shutdown. So after a crash the records handled since
//! the last commit are delivered again: those of the last commit interval
//! (plus the commit's round trip), and at most one unflushed chunk per
//! partition (see the crate docs, "How handlers run").

use std::collections::VecDeque;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;

/// Where offsets are stored: the service's consumer. A trait so that the
/// stages storing offsets need no knowledge of the consumer's context.
pub(crate) trait OffsetSink: Send + Sync {
    /// Stores `offset` as handled (librdkafka stores `offset + 1`, the next
    /// record to read). Fails once the partition is no longer assigned,
    /// which is what we want: a revoked partition's offsets belong to its
    /// new owner.
    fn store(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError>;
}

impl<C: ConsumerContext> OffsetSink for BaseConsumer<C> {
    fn store(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError> {
        self.store_offset(topic, partition, offset)
    }
}

/// One partition's handled offsets, as far as one owner knows them.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Offsets received and not yet part of the prefix, in order, with
    /// `None` while not done and `Some(store)` once done. Empty on the
    /// sequential paths, which complete records in order.
    open: VecDeque<(i64, Option<bool>)>,
    /// The highest offset of the prefix to store, not stored yet.
    unstored: Option<i64>,
    /// Records completed since the last flush.
    since_flush: usize,
}

/// The most records a [`Tracker`] lets complete before its owner stores
/// them ([`Tracker::flush_due`]): the bound, per partition, on records
/// handled and not yet stored.
pub(crate) const STORE_EVERY: usize = 64;

impl Tracker {
    /// Records `offset` received; it blocks the prefix until
    /// [`Tracker::complete`].
    pub(crate) fn receive(&mut self, offset: i64) {
        self.open.push_back((offset, None));
    }

    /// `offset` is done; `store` says whether its own offset is stored
    /// (`false` for `continue_without_commit`). An offset never received
    /// is done in order (the sequential paths).
    pub(crate) fn complete(&mut self, offset: i64, store: bool) {
        self.since_flush += 1;
        if self.open.is_empty() {
            if store {
                self.unstored = Some(offset);
            }
            return;
        }
        if let Ok(i) = self.open.binary_search_by_key(&offset, |(o, _)| *o) {
            self.open[i].1 = Some(store);
        }
        while let Some(&(offset, Some(store))) = self.open.front() {
            self.open.pop_front();
            if store {
                self.unstored = Some(offset);
            }
        }
    }

    /// Offsets received and not yet in the prefix.
    pub(crate) fn open(&self) -> usize {
        self.open.len()
    }

    /// Whether [`STORE_EVERY`] records completed since the last flush: the
    /// owner flushes now rather than at the end of its chunk.
    pub(crate) fn flush_due(&self) -> bool {
        self.since_flush >= STORE_EVERY
    }

    /// Stores the prefix's end, if it moved since the last flush.
    pub(crate) fn flush(
        &mut self,
        sink: &dyn OffsetSink,
        service: &str,
        topic: &str,
        partition: i32,
    ) {
        self.since_flush = 0;
        if let Some(offset) = self.unstored.take() {
            if let Err(error) = sink.store(topic, partition, offset) {
                tracing::warn!(
                    service, topic, partition, offset, error = %error,
                    "could not store the offset of a handled message (partition revoked?)"
                );
            }
        }
    }

    #[cfg(test)]
    fn take(&mut self) -> Option<i64> {
        self.unstored.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_completion_stores_the_last_stored_offset() {
        let mut t = Tracker::default();
        t.complete(3, true);
        t.complete(4, false);
        assert_eq!(t.take(), Some(3), "4 is skipped without commit");
        t.complete(5, false);
        assert_eq!(t.take(), None, "only skipped: nothing to store");
        t.complete(6, true);
        assert_eq!(t.take(), Some(6), "6 covers 5");
    }

    #[test]
    fn the_prefix_stops_at_the_first_unfinished_offset() {
        let mut t = Tracker::default();
        for o in [3, 4, 7, 9, 10] {
            t.receive(o);
        }
        t.complete(4, true);
        t.complete(9, true);
        assert_eq!(t.take(), None, "3 is not done");
        t.complete(3, true);
        assert_eq!(t.take(), Some(4), "3 and 4 done, 7 is not");
        assert_eq!(t.open(), 3);
        t.complete(7, true);
        assert_eq!(t.take(), Some(9), "offsets may skip (8 never came)");
        t.complete(10, true);
        assert_eq!(t.take(), Some(10));
        assert_eq!(t.open(), 0);
        assert_eq!(t.take(), None);
    }

    #[test]
    fn a_skipped_offset_completes_the_prefix_without_being_stored() {
        let mut t = Tracker::default();
        for o in 0..4 {
            t.receive(o);
        }
        t.complete(0, true);
        t.complete(1, false);
        assert_eq!(t.take(), Some(0), "1 is skipped: 0 stays the stored one");
        t.complete(3, true);
        t.complete(2, false);
        assert_eq!(t.take(), Some(3), "the next stored offset covers 2");
        t.receive(4);
        t.complete(4, false);
        assert_eq!(t.take(), None, "only skipped: nothing to store");
        assert_eq!(t.open(), 0);
    }

    #[test]
    fn completing_an_unknown_offset_changes_nothing() {
        let mut t = Tracker::default();
        t.receive(5);
        t.complete(6, true);
        assert_eq!(t.take(), None);
        assert_eq!(t.open(), 1);
    }

    #[test]
    fn at_most_store_every_records_wait_to_be_stored() {
        // The redelivery bound of CONFIGURATION.md ("Redelivery after a
        // crash") rests on this: an owner flushes once this says so.
        let mut t = Tracker::default();
        for o in 0..STORE_EVERY as i64 - 1 {
            t.complete(o, true);
            assert!(!t.flush_due(), "due after {} records", o + 1);
        }
        t.complete(STORE_EVERY as i64 - 1, true);
        assert!(t.flush_due());
        struct Ignore;
        impl OffsetSink for Ignore {
            fn store(&self, _: &str, _: i32, _: i64) -> Result<(), KafkaError> {
                Ok(())
            }
        }
        t.flush(&Ignore, "s", "t", 0);
        assert!(!t.flush_due(), "a flush starts the count again");
        assert_eq!(
            STORE_EVERY, 64,
            "the bound the docs and the crash test state"
        );
    }

    #[test]
    fn a_flush_stores_once_per_chunk() {
        struct Count(std::sync::Mutex<Vec<i64>>);
        impl OffsetSink for Count {
            fn store(&self, _: &str, _: i32, offset: i64) -> Result<(), KafkaError> {
                self.0.lock().unwrap().push(offset);
                Ok(())
            }
        }
        let sink = Count(Default::default());
        let mut t = Tracker::default();
        for o in 0..100 {
            t.complete(o, true);
        }
        t.flush(&sink, "s", "t", 0);
        t.flush(&sink, "s", "t", 0);
        assert_eq!(*sink.0.lock().unwrap(), [99], "one store for the chunk");
    }
}
