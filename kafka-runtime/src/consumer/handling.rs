//! Running the handler on one message or batch: the retry policy, the
//! message's `kafka_handle` span, the trace and metadata scopes, and the
//! dead-letter topic for what the policy gives up on.
//!
//! A worker runs a handling from start to end ([`handle`]). The poll thread
//! starts one itself ([`begin`]): it calls the handler and polls it once,
//! and only when that poll does not end in success does it box the rest of
//! the handling, which then continues under the same policy as a worker's.
//! A cheap handler thus never pays for the boxed handling future and the
//! attempt loop around it; kafka-bench measured those at about a fifth of
//! the poll thread's CPU per record with a no-op handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attempt::{self, Failure, First, Origin, Outcome, Verdict};
use super::records::Records;
use super::worker::{Claim, ServiceRuntime};
use crate::context::{Context, RawContext};
use crate::deadletter::{self, DeadLetter};
use crate::handler::{Handler, HandlerFuture};
use crate::metrics::{record_attempt, AttemptResult};
use crate::tracecontext::TraceParent;
use crate::{Message, Metadata};

/// The rest of a handling the poll thread started, owned, so that it can
/// finish on the partition's worker.
pub(crate) type Handling = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// How the poll thread's first poll of a handling ended.
pub(crate) enum Begun {
    /// The handler succeeded: store the offset.
    Handled,
    /// The handler is still running, or failed and the policy decides what
    /// follows: the rest of the handling.
    Continues {
        handling: Handling,
        /// Whether the handler is still running (its poll was `Pending`).
        running: bool,
    },
}

/// Calls the handler on `records` and polls it once, on this thread; what
/// does not succeed in that poll continues as a [`Handling`].
pub(crate) fn begin(
    service: &Arc<ServiceRuntime>,
    claim: &Arc<Claim>,
    records: Records,
    stop: &Arc<CancellationToken>,
) -> Begun {
    let Some(prepared) = Prepared::new(service, claim, records.as_slice()) else {
        return Begun::Handled;
    };
    // Kept for retries and the dead-letter path (reference counts, no bytes).
    let spare = records.clone();
    let started = Instant::now();
    let mut attempt = attempt::start(prepared.call(service, claim, records));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = prepared.span.in_scope(|| {
        prepared.span.record("attempt", 1);
        attempt.poll_unpin(&mut cx)
    });
    let first = match polled {
        Poll::Ready(Ok(Ok(()))) => {
            let elapsed = started.elapsed();
            record_attempt(
                &service.name,
                &claim.topic,
                prepared.count,
                elapsed,
                AttemptResult::Handled,
            );
            return Begun::Handled;
        }
        Poll::Ready(output) => First::Finished { started, output },
        Poll::Pending => First::Running {
            started,
            running: attempt,
        },
    };
    let running = matches!(first, First::Running { .. });
    let (service, claim, stop) = (service.clone(), claim.clone(), stop.clone());
    let handling = Box::pin(async move {
        finish(&service, &claim, prepared, spare, None, Some(first), &stop).await
    });
    Begun::Continues { handling, running }
}

/// Runs the handler on `records` (one message, or a batch) under the retry
/// policy, in the message's `kafka_handle` span.
pub(crate) async fn handle(
    service: &ServiceRuntime,
    claim: &Claim,
    records: Records,
    stop: &CancellationToken,
) -> Outcome {
    let Some(prepared) = Prepared::new(service, claim, records.as_slice()) else {
        return Outcome::Commit;
    };
    let spare = records.clone();
    finish(service, claim, prepared, spare, Some(records), None, stop).await
}

/// The attempts of a handling, the `first` of which may have started
/// elsewhere: the first attempt takes `unused` (the records themselves),
/// any later one a clone of `spare`, which the dead-letter path reads.
async fn finish(
    service: &ServiceRuntime,
    claim: &Claim,
    prepared: Prepared,
    spare: Records,
    mut unused: Option<Records>,
    first: Option<First>,
    stop: &CancellationToken,
) -> Outcome {
    let mut input = || unused.take().unwrap_or_else(|| spare.clone());
    let origin = prepared.origin(service, claim);
    let verdict = attempt::run(service.policy, origin, &prepared.span, stop, first, || {
        prepared.call(service, claim, input())
    })
    .instrument(prepared.span.clone())
    .await;
    match verdict {
        Verdict::Settled(outcome) => outcome,
        Verdict::GaveUp(failure) => {
            give_up(service, spare.as_slice(), &failure, stop)
                .instrument(prepared.span)
                .await
        }
    }
}

/// What one handling computes once, whichever attempt runs.
struct Prepared {
    /// The first and last offsets and the count of its records.
    first: i64,
    last: i64,
    count: usize,
    /// From the first record's headers with `trpcMeta=true`, else empty.
    metadata: Metadata,
    /// From the first record's W3C `traceparent` header, when valid.
    trace: Option<TraceParent>,
    /// One span per message (or batch), so handler logs carry where it
    /// came from.
    span: tracing::Span,
}

impl Prepared {
    /// `None` for no records (nothing to handle).
    fn new(service: &ServiceRuntime, claim: &Claim, msgs: &[Message]) -> Option<Self> {
        let (head, tail) = (msgs.first()?, msgs.last()?);
        let metadata = if service.trpc_meta {
            metadata_of(head)
        } else {
            Metadata::new()
        };
        let span = tracing::info_span!(
            "kafka_handle",
            service = &*service.name,
            topic = &*claim.topic,
            partition = claim.partition,
            offset = head.offset,
            last_offset = tail.offset,
            // Recorded per attempt: 1 for the first run, 2 for the first retry...
            attempt = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            parent_span_id = tracing::field::Empty,
        );
        let trace = crate::tracecontext::of_message(head);
        if let Some(tp) = trace {
            span.record("trace_id", tp.trace_id_hex());
            span.record("parent_span_id", tp.parent_id_hex());
            #[cfg(feature = "opentelemetry")]
            crate::otel::set_remote_parent(&span, tp);
        }
        Some(Prepared {
            first: head.offset,
            last: tail.offset,
            count: msgs.len(),
            metadata,
            trace,
            span,
        })
    }

    fn origin<'a>(&self, service: &'a ServiceRuntime, claim: &'a Claim) -> Origin<'a> {
        Origin {
            service: &service.name,
            topic: &claim.topic,
            partition: claim.partition,
            offset: self.first,
            last_offset: self.last,
            count: self.count,
        }
    }

    /// One attempt: the handler called on `records` with a context of its
    /// own (built per attempt rather than cloned from one built up front:
    /// the first attempt, usually the only one, then builds it once).
    fn call(&self, service: &ServiceRuntime, claim: &Claim, records: Records) -> HandlerFuture {
        let ctx = Context {
            service: service.name.clone(),
            raw: RawContext {
                topic: claim.topic.clone(),
                partition: claim.partition,
                offset: self.first,
                last_offset: self.last,
                group: service.group.clone(),
                member_id: claim.member_id.clone(),
                generation_id: claim.generation_id,
                assignment: claim.assignment,
                initial_offset: claim.initial_offset,
            },
            metadata: self.metadata.clone(),
        };
        let fut = match &service.handler {
            Handler::Single(f) => match records.into_first() {
                Some(msg) => f(ctx, msg),
                None => Box::pin(std::future::ready(Ok(()))),
            },
            Handler::Batch(f) => f(ctx, records.into_vec()),
        };
        scoped(service.trpc_meta, &self.metadata, self.trace, fut)
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
        topic = &*first.topic,
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
    metadata: &Metadata,
    trace: Option<TraceParent>,
    fut: HandlerFuture,
) -> HandlerFuture {
    let fut = if trpc_meta {
        Box::pin(metadata.clone().scope(fut))
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
