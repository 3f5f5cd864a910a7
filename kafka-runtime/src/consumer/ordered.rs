//! Key-ordered concurrency within one partition (`keyOrderedConcurrency=N`,
//! N > 1): the worker hands its partition's messages here instead of running
//! them one at a time.
//!
//! - Each key is a lane: at most one handler per key runs at a time, and a
//!   key's messages run in offset order. A message waits for its key's
//!   predecessor, retries included, so per-key order is what the sequential
//!   path gives.
//! - Records without a key share one lane (they are not each a key of their
//!   own): keyless data has no other order than the partition's, and treating
//!   each record as its own key would silently drop that order.
//! - At most N handlers of the partition run at once, each one message under
//!   the same pause switch, limiter and retry/timeout/panic policy as the
//!   sequential path ([`worker::admit`], [`handling::handle`]).
//! - Offsets: only the contiguous prefix of handled messages is stored, so a
//!   crash or a rebalance never skips a message that was not handled. A
//!   `continue_without_commit` message completes the prefix without being
//!   stored itself, as in the sequential path, where the next stored offset
//!   covers it.
//! - Memory stays bounded: at most [`buffer_cap`] messages wait besides the N
//!   running, and at most [`window`] offsets are tracked between the stored
//!   prefix and the newest message (a message that never finishes therefore
//!   stops the partition after a while, instead of letting its redelivery
//!   window grow without end). Past either bound the worker stops reading its
//!   channel, which fills, and the poll thread pauses the partition.
//! - On stop (revocation, shutdown) nothing new starts; running handlers
//!   finish their attempt within the caller's bound and the prefix is stored.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rdkafka::consumer::BaseConsumer;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt::Outcome;
use super::handling;
use super::rebalance::EngineContext;
use super::records::Records;
use super::worker::{self, Claim, ServiceRuntime, Work};
use crate::Message;

/// A lane's key; `None` is the one lane of records without a key.
type Key = Option<Bytes>;

/// Messages that may wait, not yet started, besides the `limit` running:
/// enough to find work for every slot when keys repeat.
pub(super) fn buffer_cap(limit: usize) -> usize {
    (2 * limit).max(64)
}

/// Offsets tracked between the stored prefix and the newest message.
pub(super) fn window(limit: usize) -> usize {
    8 * buffer_cap(limit)
}

/// The partition a dispatcher serves: what its handlers and its offset
/// stores need.
pub(super) struct Served {
    pub(super) service: Arc<ServiceRuntime>,
    pub(super) consumer: Arc<BaseConsumer<EngineContext>>,
    pub(super) claim: Arc<Claim>,
}

/// Runs the partition's messages with up to
/// `service.key_ordered_concurrency` handlers at once, until the channel
/// closes and everything received is handled, or `stop` fires and the running
/// handlers are done.
pub(super) async fn run(served: Served, mut rx: mpsc::Receiver<Work>, stop: CancellationToken) {
    let Served {
        service,
        consumer,
        claim,
    } = served;
    let limit = service.key_ordered_concurrency.max(1);
    let mut lanes = Lanes::new(buffer_cap(limit));
    let mut prefix = Prefix::default();
    let mut running: JoinSet<(i64, Key, Outcome)> = JoinSet::new();
    let mut open = true;
    let mut stopping = false;
    loop {
        while !stopping && !stop.is_cancelled() && running.len() < limit {
            let Some(msg) = lanes.start_next() else { break };
            running.spawn(one(service.clone(), claim.clone(), msg, stop.clone()));
        }
        if running.is_empty() && (stopping || (!open && lanes.is_empty())) {
            // Stopped: what waits is neither handled nor stored, for redelivery.
            return;
        }
        let room = lanes.has_room() && prefix.len() < window(limit);
        tokio::select! {
            biased;
            Some(done) = running.join_next(), if !running.is_empty() => {
                let (offset, key, outcome) = match done {
                    Ok(done) => done,
                    // The handler's own panics are caught by attempt::run; a
                    // panic here is the engine's, as in the sequential path.
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Only dropping the set cancels its tasks.
                    Err(_) => continue,
                };
                lanes.finish(&key);
                match outcome {
                    Outcome::Commit => prefix.complete(offset, true),
                    Outcome::SkipWithoutCommit => prefix.complete(offset, false),
                    // Not handled: the prefix ends before it.
                    Outcome::Stopped => stopping = true,
                }
                if let Some(last) = prefix.advance() {
                    worker::store(&service, &consumer, &claim, last);
                }
            }
            () = stop.cancelled(), if !stopping => stopping = true,
            m = worker::next_record(&mut rx), if open && !stopping && room => match m {
                Some(msg) => {
                    prefix.push(msg.offset);
                    lanes.push(msg);
                }
                None => open = false,
            },
        }
    }
}

/// One message: admitted (pause, limiter), then handled like the sequential
/// path handles it.
async fn one(
    service: Arc<ServiceRuntime>,
    claim: Arc<Claim>,
    msg: Message,
    stop: CancellationToken,
) -> (i64, Key, Outcome) {
    let (offset, key) = (msg.offset, msg.key.clone());
    let outcome = if worker::admit(&service, &stop, 1).await {
        handling::handle(&service, &claim, Records::One(msg), &stop).await
    } else {
        Outcome::Stopped
    };
    (offset, key, outcome)
}

/// The per-key lanes of messages received and not yet started.
struct Lanes {
    /// Keys with a message running or waiting.
    lanes: HashMap<Key, Lane>,
    /// Lanes that may start their head, by the head's offset: the oldest
    /// message starts first, which keeps the stored prefix moving.
    ready: BTreeMap<i64, Key>,
    waiting: usize,
    cap: usize,
}

#[derive(Default)]
struct Lane {
    running: bool,
    queue: VecDeque<Message>,
}

impl Lanes {
    fn new(cap: usize) -> Self {
        Lanes {
            lanes: HashMap::new(),
            ready: BTreeMap::new(),
            waiting: 0,
            cap,
        }
    }

    fn push(&mut self, msg: Message) {
        let lane = self.lanes.entry(msg.key.clone()).or_default();
        if !lane.running && lane.queue.is_empty() {
            self.ready.insert(msg.offset, msg.key.clone());
        }
        lane.queue.push_back(msg);
        self.waiting += 1;
    }

    /// The oldest message whose key has nothing running; its lane is then
    /// running until [`Lanes::finish`].
    fn start_next(&mut self) -> Option<Message> {
        let (_, key) = self.ready.pop_first()?;
        let lane = self.lanes.get_mut(&key)?;
        let msg = lane.queue.pop_front()?;
        lane.running = true;
        self.waiting -= 1;
        Some(msg)
    }

    /// `key`'s running message is done: its next one may start.
    fn finish(&mut self, key: &Key) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        lane.running = false;
        match lane.queue.front() {
            Some(next) => {
                self.ready.insert(next.offset, key.clone());
            }
            None => {
                self.lanes.remove(key);
            }
        }
    }

    fn has_room(&self) -> bool {
        self.waiting < self.cap
    }

    fn is_empty(&self) -> bool {
        self.waiting == 0
    }
}

/// The offsets received and not yet part of the stored prefix, in order.
///
/// Kafka offsets of one partition increase but may skip (compaction,
/// transaction markers), so the prefix is "every received offset up to
/// here is done", not "offset + 1 is next".
#[derive(Default)]
struct Prefix {
    /// (offset, `None` while not done, `Some(store)` once done).
    pending: VecDeque<(i64, Option<bool>)>,
}

impl Prefix {
    fn push(&mut self, offset: i64) {
        self.pending.push_back((offset, None));
    }

    /// `offset` is done; `store` says whether its own offset is stored
    /// (`false` for `continue_without_commit`).
    fn complete(&mut self, offset: i64, store: bool) {
        if let Ok(i) = self.pending.binary_search_by_key(&offset, |(o, _)| *o) {
            self.pending[i].1 = Some(store);
        }
    }

    /// Drops the done messages at the front; the highest of them to store,
    /// if any.
    fn advance(&mut self) -> Option<i64> {
        let mut last = None;
        while let Some(&(offset, Some(store))) = self.pending.front() {
            self.pending.pop_front();
            if store {
                last = Some(offset);
            }
        }
        last
    }

    fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(offset: i64, key: Option<&'static str>) -> Message {
        let m = Message::new("t", 0, offset);
        match key {
            Some(k) => m.with_key(k),
            None => m,
        }
    }

    #[test]
    fn the_prefix_stops_at_the_first_unfinished_offset() {
        let mut p = Prefix::default();
        for o in [3, 4, 7, 9, 10] {
            p.push(o);
        }
        p.complete(4, true);
        p.complete(9, true);
        assert_eq!(p.advance(), None, "3 is not done");
        p.complete(3, true);
        assert_eq!(p.advance(), Some(4), "3 and 4 done, 7 is not");
        assert_eq!(p.len(), 3);
        p.complete(7, true);
        assert_eq!(p.advance(), Some(9), "offsets may skip (8 never came)");
        p.complete(10, true);
        assert_eq!(p.advance(), Some(10));
        assert_eq!(p.len(), 0);
        assert_eq!(p.advance(), None);
    }

    #[test]
    fn a_skipped_offset_completes_the_prefix_without_being_stored() {
        let mut p = Prefix::default();
        for o in 0..4 {
            p.push(o);
        }
        p.complete(0, true);
        p.complete(1, false);
        assert_eq!(p.advance(), Some(0), "1 is skipped: 0 stays the stored one");
        p.complete(3, true);
        p.complete(2, false);
        assert_eq!(p.advance(), Some(3), "the next stored offset covers 2");
        p.push(4);
        p.complete(4, false);
        assert_eq!(p.advance(), None, "only skipped: nothing to store");
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn completing_an_unknown_offset_changes_nothing() {
        let mut p = Prefix::default();
        p.push(5);
        p.complete(6, true);
        assert_eq!(p.advance(), None);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn one_running_message_per_key_oldest_first() {
        let mut lanes = Lanes::new(64);
        lanes.push(msg(0, Some("a")));
        lanes.push(msg(1, Some("a")));
        lanes.push(msg(2, Some("b")));
        lanes.push(msg(3, None));
        lanes.push(msg(4, None));
        let started: Vec<i64> = std::iter::from_fn(|| lanes.start_next())
            .map(|m| m.offset)
            .collect();
        assert_eq!(started, [0, 2, 3], "one per key (null keys share a lane)");
        lanes.finish(&None);
        lanes.finish(&Some(Bytes::from_static(b"a")));
        assert_eq!(
            lanes.start_next().map(|m| m.offset),
            Some(1),
            "oldest first"
        );
        assert_eq!(lanes.start_next().map(|m| m.offset), Some(4));
        assert!(lanes.start_next().is_none());
        assert!(lanes.is_empty());
        for key in [Some("a"), Some("b"), None] {
            lanes.finish(&key.map(|k| Bytes::from_static(k.as_bytes())));
        }
        assert!(lanes.lanes.is_empty(), "finished lanes are dropped");
        assert!(lanes.ready.is_empty());
    }

    #[test]
    fn waiting_messages_are_capped() {
        let mut lanes = Lanes::new(2);
        lanes.push(msg(0, Some("a")));
        assert!(lanes.has_room());
        lanes.push(msg(1, Some("a")));
        assert!(!lanes.has_room());
        assert!(lanes.start_next().is_some());
        assert!(lanes.has_room(), "a started message no longer waits");
        assert!(lanes.start_next().is_none(), "a's next waits for a");
    }

    #[test]
    fn bounds_grow_with_the_limit() {
        assert_eq!(buffer_cap(2), 64);
        assert_eq!(buffer_cap(1024), 2048);
        assert_eq!(window(16), 512);
    }
}
