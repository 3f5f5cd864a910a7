//! The poll thread handling records itself instead of handing them to a
//! worker (`Poller::try_inline`), and when it may.
//!
//! Handing a record to a partition's worker costs more than a cheap handler
//! does: a channel send, a wake-up of another thread, and memory allocated on
//! one thread and freed on another (kafka-bench: about 2 us of CPU per record
//! against 0.9 us for a raw rdkafka poll loop). So a handler that finishes in
//! its first poll runs on the poll thread. A handler that does real work in
//! that poll would, on the poll thread, serialise every partition's handlers
//! on one thread, where workers run them in parallel; once that work
//! outweighs the hand-off it belongs on the workers, which the
//! [`Governor`](super::governor::Governor) decides.
//!
//! Batch services collect a batch on the poll thread the same way (no
//! channel send per record) and start the handler there when the batch is
//! full or `batchFlush` has passed since its first record.

use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Instant;

use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Message as _};

use super::attempt::Outcome;
use super::governor::Burst;
use super::handling::{self, Begun, Handling};
use super::rebalance::Slot;
use super::records::Records;
use super::worker::{self, Work};
use super::Poller;
use crate::Message;

impl Poller {
    /// Handles `record` on this thread when nothing else of its partition is
    /// queued or running and the service is not paused: a single-message
    /// handler's first poll runs here, a batch service's record joins the
    /// batch collected here. `false` when the record must be queued for the
    /// worker instead (a batch collected so far is queued first, in order).
    pub(super) fn try_inline(
        &self,
        slot: &mut Slot,
        record: &BorrowedMessage<'_>,
        burst: &mut Burst,
    ) -> bool {
        let Some(busy) = &slot.busy else {
            return false;
        };
        // Acquire: pairs with the worker's release after it stored its last offset.
        let idle = slot.pending.is_empty()
            && busy.load(Ordering::Acquire) == 0
            && !self.consumer.context().user_paused();
        if !idle || !self.inline.as_ref().is_some_and(|g| g.admit(burst)) {
            self.spill_open_batch(slot);
            return false;
        }
        let msg = Message::from_borrowed(record, &slot.claim.topic, &mut slot.arena);
        match self.service.batch {
            None => {
                let offset = record.offset();
                if self.run_here(slot, Records::One(msg), offset) == Some(Outcome::Commit) {
                    // The cheap way to store: the record knows its topic handle.
                    if let Err(e) = self.consumer.store_offset_from_message(record) {
                        worker::store_failed(&self.service, &slot.claim, offset, &e);
                    }
                }
            }
            Some((size, flush)) => {
                if slot.open_batch.is_empty() {
                    let due = Instant::now() + flush;
                    slot.batch_due = Some(due);
                    if self.next_flush.get().is_none_or(|next| due < next) {
                        self.next_flush.set(Some(due));
                    }
                    slot.open_batch.reserve(size);
                }
                slot.open_batch.push(msg);
                if slot.open_batch.len() >= size {
                    self.run_open_batch(slot);
                }
            }
        }
        true
    }

    /// Starts the handler on the batch collected in `slot`.
    fn run_open_batch(&self, slot: &mut Slot) {
        let msgs = std::mem::take(&mut slot.open_batch);
        slot.batch_due = None;
        let Some(last) = msgs.last().map(|m| m.offset) else {
            return;
        };
        if self.run_here(slot, Records::Batch(msgs), last) == Some(Outcome::Commit) {
            worker::store(&self.service, &self.consumer, &slot.claim, last);
        }
    }

    /// Starts handling `records` (whose last offset is `offset`) here: its
    /// outcome when it finished (the caller stores the offset), `None` when
    /// it waits and was handed to the worker, which finishes it before
    /// anything queued after it.
    fn run_here(&self, slot: &Slot, records: Records, offset: i64) -> Option<Outcome> {
        let count = records.as_slice().len();
        let (mut handling, running) =
            match handling::begin(&self.service, &slot.claim, records, &slot.stop) {
                Begun::Handled => return Some(Outcome::Commit),
                Begun::Continues { handling, running } => (handling, running),
            };
        if !running {
            // Failed: the policy's next step runs here (a retry waits, which
            // hands it over; giving up without a dead-letter topic may end here).
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(outcome) = handling.as_mut().poll(&mut cx) {
                return Some(outcome);
            }
        }
        self.hand_over(slot, handling, offset, count);
        None
    }

    /// Hands a handling started here, and waiting, to the partition's worker.
    fn hand_over(&self, slot: &Slot, handling: Handling, offset: i64, records: usize) {
        // The worker is idle and its channel empty (`busy` is zero), so this
        // cannot find it full; a closed channel means the worker stopped,
        // and the records stay uncommitted.
        if let Some(busy) = &slot.busy {
            busy.fetch_add(records, Ordering::Relaxed);
            let started = Work::Started {
                offset,
                records,
                handling,
            };
            if slot.tx.try_send(started).is_err() {
                busy.fetch_sub(records, Ordering::Relaxed);
            }
        }
    }

    /// Queues the batch collected in `slot` for the worker, which collects
    /// the rest of it: records after it must not overtake it.
    fn spill_open_batch(&self, slot: &mut Slot) {
        if slot.open_batch.is_empty() {
            return;
        }
        slot.batch_due = None;
        for msg in slot.open_batch.drain(..) {
            slot.pending_bytes += super::held_bytes(&msg);
            slot.pending.push_back(msg);
        }
        self.any_pending.set(true);
    }

    /// Hands over the batches whose `batchFlush` has passed: started here
    /// when the service is not paused and handlers are cheap, queued for the
    /// worker otherwise.
    pub(super) fn flush_due_batches(&self) {
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let now = Instant::now();
        let inline_on = self.inline.as_ref().is_some_and(|g| g.is_on());
        let to_worker = ctx.user_paused() || !inline_on;
        let mut next: Option<Instant> = None;
        for slot in table.slots.values_mut() {
            match slot.batch_due {
                Some(due) if due <= now => {
                    if to_worker {
                        self.spill_open_batch(slot);
                    } else {
                        self.run_open_batch(slot);
                    }
                }
                Some(due) => next = Some(next.map_or(due, |n| n.min(due))),
                None => {}
            }
        }
        self.next_flush.set(next);
    }
}
