//! The per-partition stage: a partition's task, a tokio task fed by the
//! poll thread, handles what the poll thread did not handle itself, in
//! offset order: records one at a time, complete batches, handlings the
//! poll thread started and whose handler waits, or (with
//! `keyOrderedConcurrency=N`) records by key (`ordered.rs`).
//!
//! One task per assigned partition gives concurrency across partitions and
//! order within one, as sarama's `ConsumeClaim` did in the seed. The task
//! stores the offsets of what it handled once per chunk of work it took
//! (offsets stage), then tells the poll thread it finished them
//! ([`Queued::finish`]): a partition is handled by one thread at a time,
//! and each stores its offsets before the other takes over.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::attempt;
use super::offsets::{OffsetSink, Tracker};
use super::shared::{held_bytes, Claim, Outcome, Records, Service, Work};
use super::table::Queued;

/// What a partition's task runs with.
pub(crate) struct Partition {
    pub(crate) service: Arc<Service>,
    pub(crate) sink: Arc<dyn OffsetSink>,
    pub(crate) claim: Arc<Claim>,
    pub(crate) queued: Arc<Queued>,
    pub(crate) stop: Arc<CancellationToken>,
}

impl Partition {
    /// Runs until the channel closes or `stop` fires; a handling in flight
    /// is finished first (the caller bounds how long it waits).
    pub(crate) async fn run(self, mut rx: mpsc::UnboundedReceiver<Work>) {
        if self.service.key_ordered_concurrency > 1 && self.service.batch.is_none() {
            let ordered = super::ordered::Ordered {
                service: self.service,
                sink: self.sink,
                claim: self.claim,
                queued: self.queued,
                stop: self.stop,
            };
            return ordered.run(rx).await;
        }
        let mut tracker = Tracker::default();
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            // Work already queued needs no wait (and no waiter registered
            // on `stop`, which costs two locks).
            let work = match rx.try_recv() {
                Ok(work) => work,
                Err(_) => tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return,
                    work = rx.recv() => match work { Some(work) => work, None => return },
                },
            };
            let (records, bytes) = (work.len(), work_bytes(&work));
            let finished = self.handle(work, &mut tracker).await;
            self.flush(&mut tracker);
            if !finished {
                // Stopped: what is left is neither handled nor stored.
                return;
            }
            self.queued.finish(records, bytes);
        }
    }

    /// Handles one piece of work in order; `false` when stopped before
    /// its end.
    async fn handle(&self, work: Work, tracker: &mut Tracker) -> bool {
        let (service, claim, stop) = (&*self.service, &*self.claim, &*self.stop);
        match work {
            Work::Started {
                continuation, last, ..
            } => {
                // Admitted by the poll thread when it started it.
                settled(tracker, last, continuation.await)
            }
            Work::Batch(msgs) => {
                let Some(last) = msgs.last().map(|m| m.offset) else {
                    return true;
                };
                if !service.wait_until_due(stop, &msgs).await
                    || !service.admit(stop, msgs.len()).await
                {
                    return false;
                }
                let outcome = attempt::handle(service, claim, Records::Batch(msgs), stop).await;
                settled(tracker, last, outcome)
            }
            Work::Records(msgs) => {
                for msg in msgs {
                    if stop.is_cancelled()
                        || !service
                            .wait_until_due(stop, std::slice::from_ref(&msg))
                            .await
                        || !service.admit(stop, 1).await
                    {
                        return false;
                    }
                    let offset = msg.offset;
                    let outcome = attempt::handle(service, claim, Records::One(msg), stop).await;
                    if !settled(tracker, offset, outcome) {
                        return false;
                    }
                    if tracker.flush_due() {
                        self.flush(tracker);
                    }
                }
                true
            }
        }
    }

    pub(crate) fn flush(&self, tracker: &mut Tracker) {
        let claim = &self.claim;
        tracker.flush(
            &*self.sink,
            &self.service.name,
            &claim.topic,
            claim.partition,
        );
    }
}

/// Records a handling's outcome; `false` when it stopped unfinished.
fn settled(tracker: &mut Tracker, last: i64, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Commit => tracker.complete(last, true),
        Outcome::SkipWithoutCommit => tracker.complete(last, false),
        Outcome::Stopped => return false,
    }
    true
}

/// The bytes the poll thread counted for `work` (see `held_bytes`).
pub(crate) fn work_bytes(work: &Work) -> usize {
    match work {
        Work::Records(msgs) | Work::Batch(msgs) => msgs.iter().map(held_bytes).sum(),
        Work::Started { .. } => 0,
    }
}
