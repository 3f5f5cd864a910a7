//! One partition's worker: takes the partition's messages in order, runs the
//! handler on each message (or batch), and stores the offset after success.
//!
//! One worker per assigned partition gives concurrency across partitions and
//! order within one, as sarama's `ConsumeClaim` did in the seed.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attempt::{self, Failure, Origin, Outcome, Policy, Verdict};
use super::limiter::Limiter;
use super::rebalance::EngineContext;
use crate::context::{Context, RawContext};
use crate::deadletter::{self, DeadLetter};
use crate::handler::Handler;
use crate::{Message, Metadata};

/// What every worker of one service shares.
pub(crate) struct ServiceRuntime {
    pub(crate) name: Arc<str>,
    pub(crate) group: String,
    pub(crate) handler: Handler,
    pub(crate) policy: Policy,
    pub(crate) batch: Option<(usize, Duration)>,
    pub(crate) trpc_meta: bool,
    pub(crate) limiter: Option<Limiter>,
    /// `keyOrderedConcurrency`: above 1, [`super::ordered`] runs the
    /// partition's messages instead of the sequential loop below.
    pub(crate) key_ordered_concurrency: usize,
    /// The service's pause switch ([`crate::ServiceControl`]).
    pub(crate) paused: watch::Receiver<bool>,
    /// Where given-up records go (`deadLetterTopic`); `None` skips them.
    pub(crate) dead_letter: Option<DeadLetter>,
}

/// The claim a worker serves.
pub(crate) struct Claim {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) initial_offset: i64,
    pub(crate) assignment: u64,
    /// This member's id when the claim started.
    pub(crate) member_id: Option<String>,
    /// The group generation when the claim started.
    pub(crate) generation_id: Option<i32>,
}

/// Runs until the channel closes or `stop` fires; an attempt in flight is
/// finished first.
pub(crate) async fn run(
    service: Arc<ServiceRuntime>,
    consumer: Arc<BaseConsumer<EngineContext>>,
    claim: Claim,
    mut rx: mpsc::Receiver<Message>,
    stop: CancellationToken,
) {
    if service.key_ordered_concurrency > 1 && service.batch.is_none() {
        let served = super::ordered::Served {
            service,
            consumer,
            claim: Arc::new(claim),
        };
        return super::ordered::run(served, rx, stop).await;
    }
    loop {
        let first = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            m = rx.recv() => match m { Some(m) => m, None => return },
        };
        let msgs = match service.batch {
            None => vec![first],
            Some((size, flush)) => {
                match collect_batch(first, &mut rx, &stop, size, flush).await {
                    Some(batch) => batch,
                    // Stopped while collecting: nothing was handled, nothing is stored.
                    None => return,
                }
            }
        };
        if !admit(&service, &stop, msgs.len()).await {
            return;
        }
        let last_offset = msgs.last().map_or(0, |m| m.offset);
        match handle(&service, &claim, &msgs, &stop).await {
            Outcome::Commit => store(&service, &consumer, &claim, last_offset),
            Outcome::SkipWithoutCommit => {}
            Outcome::Stopped => return,
        }
    }
}

/// Waits until `count` messages may start: a paused service starts no
/// handler (what it holds stays unhandled and uncommitted until resume or
/// revocation), and the limiter hands out one token per message. `false` if
/// stopped meanwhile.
pub(super) async fn admit(
    service: &ServiceRuntime,
    stop: &CancellationToken,
    count: usize,
) -> bool {
    if !wait_unpaused(&service.paused, stop).await {
        return false;
    }
    if let Some(limiter) = &service.limiter {
        for _ in 0..count {
            tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                () = limiter.acquire() => {}
            }
        }
    }
    true
}

/// Stores `offset` as handled, for librdkafka's next commit.
pub(super) fn store(
    service: &ServiceRuntime,
    consumer: &BaseConsumer<EngineContext>,
    claim: &Claim,
    offset: i64,
) {
    // rd_kafka_offset_store stores `offset + 1`, the next record to read. It
    // fails once the partition is no longer assigned, which is what we want:
    // a revoked partition's offsets belong to its new owner.
    if let Err(e) = consumer.store_offset(&claim.topic, claim.partition, offset) {
        tracing::warn!(
            service = &*service.name, topic = claim.topic, partition = claim.partition,
            offset, error = %e,
            "could not store the offset of a handled message (partition revoked?)"
        );
    }
}

/// Waits while the service is paused; `false` if stopped meanwhile.
async fn wait_unpaused(paused: &watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    if !*paused.borrow() {
        return true;
    }
    let mut paused = paused.clone();
    tokio::select! {
        biased;
        () = stop.cancelled() => false,
        // An error means the switch is gone, which cannot pause anything.
        _ = paused.wait_for(|p| !*p) => true,
    }
}

/// Up to `size` messages, or fewer when `flush` has passed since the first.
async fn collect_batch(
    first: Message,
    rx: &mut mpsc::Receiver<Message>,
    stop: &CancellationToken,
    size: usize,
    flush: Duration,
) -> Option<Vec<Message>> {
    let deadline = Instant::now() + flush;
    let mut batch = Vec::with_capacity(size);
    batch.push(first);
    while batch.len() < size {
        tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            m = tokio::time::timeout_at(deadline, rx.recv()) => match m {
                Ok(Some(m)) => batch.push(m),
                // Timed out (flush) or the channel closed: hand over what we have.
                Ok(None) | Err(_) => break,
            },
        }
    }
    Some(batch)
}

/// Runs the handler on `msgs` (one message, or a batch) under the retry
/// policy, in the message's `kafka_handle` span.
pub(super) async fn handle(
    service: &ServiceRuntime,
    claim: &Claim,
    msgs: &[Message],
    stop: &CancellationToken,
) -> Outcome {
    let (first, last) = match (msgs.first(), msgs.last()) {
        (Some(f), Some(l)) => (f.offset, l.offset),
        _ => return Outcome::Commit,
    };
    let metadata = if service.trpc_meta {
        metadata_of(&msgs[0])
    } else {
        Metadata::new()
    };
    let ctx = Context {
        service: service.name.clone(),
        raw: RawContext {
            topic: claim.topic.clone(),
            partition: claim.partition,
            offset: first,
            last_offset: last,
            group: service.group.clone(),
            member_id: claim.member_id.clone(),
            generation_id: claim.generation_id,
            assignment: claim.assignment,
            initial_offset: claim.initial_offset,
        },
        metadata: metadata.clone(),
    };
    let origin = Origin {
        service: &service.name,
        topic: &claim.topic,
        partition: claim.partition,
        offset: first,
        last_offset: last,
        count: msgs.len(),
    };
    let trpc_meta = service.trpc_meta;
    // One span per message (or batch), so handler logs carry where it came from.
    let span = tracing::info_span!(
        "kafka_handle",
        service = &*service.name,
        topic = claim.topic.as_str(),
        partition = claim.partition,
        offset = first,
        last_offset = last,
        // Recorded by attempt::run: 1 for the first run, 2 for the first retry...
        attempt = tracing::field::Empty,
        // From the first record's W3C `traceparent` header, when valid.
        trace_id = tracing::field::Empty,
        parent_span_id = tracing::field::Empty,
    );
    let trace = crate::tracecontext::of_message(&msgs[0]);
    if let Some(tp) = trace {
        span.record("trace_id", tp.trace_id_hex());
        span.record("parent_span_id", tp.parent_id_hex());
        #[cfg(feature = "opentelemetry")]
        crate::otel::set_remote_parent(&span, tp);
    }
    let verdict = match &service.handler {
        Handler::Single(f) => {
            let Some(msg) = msgs.first() else {
                return Outcome::Commit;
            };
            attempt::run(service.policy, origin, stop, || {
                let fut = f(ctx.clone(), msg.clone());
                scoped(trpc_meta, metadata.clone(), trace, fut)
            })
            .instrument(span.clone())
            .await
        }
        Handler::Batch(f) => {
            attempt::run(service.policy, origin, stop, || {
                let fut = f(ctx.clone(), msgs.to_vec());
                scoped(trpc_meta, metadata.clone(), trace, fut)
            })
            .instrument(span.clone())
            .await
        }
    };
    match verdict {
        Verdict::Settled(outcome) => outcome,
        Verdict::GaveUp(failure) => {
            give_up(service, msgs, &failure, stop)
                .instrument(span)
                .await
        }
    }
}

/// A message (batch) the handler gave up on: to the dead-letter topic when
/// the service has one, else skipped; logged either way.
async fn give_up(
    service: &ServiceRuntime,
    msgs: &[Message],
    failure: &Failure,
    stop: &CancellationToken,
) -> Outcome {
    let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
        return Outcome::Commit;
    };
    let destination = match &service.dead_letter {
        None => "no deadLetterTopic is configured, so it is skipped and its offset committed",
        Some(dead_letter) => {
            let source = deadletter::Source {
                service: &service.name,
                group: &service.group,
            };
            if !dead_letter.publish(&source, msgs, failure, stop).await {
                return Outcome::Stopped;
            }
            "sent to the dead-letter topic, committing its offset"
        }
    };
    tracing::error!(
        service = &*service.name,
        topic = first.topic,
        partition = first.partition,
        offset = first.offset,
        last_offset = last.offset,
        attempts = failure.attempts,
        error = %failure.error,
        dead_letter_topic = service.dead_letter.as_ref().map(DeadLetter::topic),
        "giving up on the record as maxRetry says (or its payload does not decode); {destination}"
    );
    Outcome::Commit
}

/// With `trpcMeta=true` the handler runs inside [`Metadata::scope`], so a
/// producer it calls writes the same metadata back as headers; with a trace
/// context, inside its scope, so a producer it calls forwards it.
fn scoped(
    trpc_meta: bool,
    metadata: Metadata,
    trace: Option<crate::TraceParent>,
    fut: crate::handler::HandlerFuture,
) -> crate::handler::HandlerFuture {
    let fut = if trpc_meta {
        Box::pin(metadata.scope(fut))
    } else {
        fut
    };
    match trace {
        Some(tp) => Box::pin(crate::tracecontext::scope(tp, fut)),
        None => fut,
    }
}

fn metadata_of(msg: &Message) -> Metadata {
    msg.headers
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .collect()
}
