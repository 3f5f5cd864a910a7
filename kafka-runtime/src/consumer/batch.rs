//! The one batch collector of a batch service: a partition's records are
//! collected on the poll thread (no hand-off per record) until the batch
//! holds `batch=N` records or `batchFlush` has passed since its first
//! record, whichever comes first; only complete batches go on, to be
//! started on the poll thread or handed to the partition's task.

use std::time::{Duration, Instant};

use crate::Message;

/// One partition's batch being collected.
#[derive(Debug)]
pub(crate) struct Collector {
    records: Vec<Message>,
    /// When the batch is due: `flush` after its first record.
    due: Option<Instant>,
    size: usize,
    flush: Duration,
}

impl Collector {
    pub(crate) fn new(size: usize, flush: Duration) -> Self {
        Collector {
            records: Vec::new(),
            due: None,
            size: size.max(1),
            flush,
        }
    }

    /// Adds a record; the batch once it is full. `now` is read by the
    /// caller (the poll thread reads the clock once per burst).
    pub(crate) fn push(&mut self, msg: Message, now: Instant) -> Option<Vec<Message>> {
        if self.records.is_empty() {
            self.due = Some(now + self.flush);
            self.records.reserve(self.size);
        }
        self.records.push(msg);
        (self.records.len() >= self.size).then(|| self.take())
    }

    /// When the batch collected so far is due, if it holds anything.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The batch collected so far, when it is due at `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<Vec<Message>> {
        self.due.is_some_and(|due| due <= now).then(|| self.take())
    }

    fn take(&mut self) -> Vec<Message> {
        self.due = None;
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_at_the_size_due_at_the_flush_from_the_first_record() {
        let t0 = Instant::now();
        let mut c = Collector::new(3, Duration::from_millis(100));
        assert!(c.push(Message::new("t", 0, 0), t0).is_none());
        // A later record does not move the deadline.
        assert!(c
            .push(Message::new("t", 0, 1), t0 + Duration::from_millis(90))
            .is_none());
        assert_eq!(c.due(), Some(t0 + Duration::from_millis(100)));
        assert!(c.take_due(t0 + Duration::from_millis(99)).is_none());
        let due = c.take_due(t0 + Duration::from_millis(100)).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(c.due(), None);
        for o in 2..4 {
            assert!(c.push(Message::new("t", 0, o), t0).is_none());
        }
        let full = c.push(Message::new("t", 0, 4), t0).unwrap();
        assert_eq!(full.iter().map(|m| m.offset).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(c.due(), None, "nothing collected");
    }
}
