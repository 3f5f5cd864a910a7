//! The attempt stage: one handling (a message, or a batch) under the retry
//! policy, in the handling's `kafka_handle` span, with the trace and
//! metadata scopes; what the policy gives up on goes to the dead-letter
//! stage ([`crate::deadletter::give_up`]), which also sends records on to
//! the retry topics.
//!
//! A partition task runs a handling from start to end ([`handle`]). The
//! poll thread starts one itself ([`begin`]): it calls the handler and
//! polls it once, and only a handling that does not end there is boxed
//! into a [`Continuation`], which continues under the same policy on the
//! partition's task (its timeout counted from the first attempt's start).
//! A cheap handler thus never pays for the boxed future and the attempt
//! loop around it.
//!
//! Each attempt gets its own [`Context`] and records: the first attempt,
//! usually the only one, takes the records themselves; the engine keeps a
//! clone for retries and the dead-letter stage, which copies no bytes
//! (values are reference counts on the partition's arena). A batch handler
//! that reports which records failed ([`crate::BatchError`]) gets only
//! those on its next attempt, and only those are given up on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::retry::{Next, Policy};
use super::shared::{Claim, Continuation, Outcome, Records, Service};
use super::transaction::{Failed as TransactionFailure, Transaction};
use crate::config::RetryPolicy;
use crate::context::{Context, RawContext};
use crate::deadletter::{self, Failure};
use crate::handler::{ErrorKind, Handler, HandlerError, HandlerFuture, HandlerResult};
use crate::metrics::{record_attempt, AttemptResult, HandledMetrics};
use crate::tracecontext::TraceParent;
use crate::{Message, Metadata};

/// How the poll thread's first poll of a handling ended.
pub(crate) enum Begun {
    /// The handler returned in that poll, with this outcome.
    Done(Outcome),
    /// The handler is still running (`running`), or failed and the policy
    /// decides what follows: the rest of the handling.
    Continues {
        continuation: Continuation,
        running: bool,
    },
}

/// Calls the handler on `records` and polls it once, on this thread.
/// `clock` is when it starts (the caller's last clock read); on return it
/// holds when it ended, so that back-to-back handlings read the clock
/// once each; the time the poll took comes back with the outcome.
/// `handled` records a success (looked up once per run by the caller).
pub(crate) fn begin(
    service: &Arc<Service>,
    claim: &Arc<Claim>,
    records: Records,
    stop: &Arc<CancellationToken>,
    clock: &mut Instant,
    handled: &HandledMetrics,
) -> (Begun, Duration) {
    let Some(prepared) = Prepared::new(service, claim, records.as_slice()) else {
        return (Begun::Done(Outcome::Commit), Duration::ZERO);
    };
    // Kept for retries and the dead-letter stage (reference counts, no bytes).
    let spare = records.clone();
    let started = *clock;
    let next = prepared.next(&service.policy, 1);
    let mut attempt = start(prepared.call(service, claim, records, 1, next));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = prepared.span.in_scope(|| {
        prepared.span.record("attempt", prepared.base + 1);
        attempt.poll_unpin(&mut cx)
    });
    *clock = Instant::now();
    let elapsed = clock.saturating_duration_since(started);
    let first = match polled {
        Poll::Ready(Ok(Ok(()))) => {
            handled.record(prepared.count, elapsed);
            return (Begun::Done(Outcome::Commit), elapsed);
        }
        Poll::Ready(Ok(Err(e))) if e.is_continue_without_commit() => {
            handled.record(prepared.count, elapsed);
            return (Begun::Done(Outcome::SkipWithoutCommit), elapsed);
        }
        Poll::Ready(output) => First::Finished {
            started,
            output,
            next,
        },
        Poll::Pending => First::Running {
            started,
            running: attempt,
            next,
        },
    };
    let running = matches!(first, First::Running { .. });
    let (service, claim, stop) = (service.clone(), claim.clone(), stop.clone());
    let continuation = Box::pin(async move {
        finish(&service, &claim, prepared, spare, None, Some(first), &stop).await
    });
    let begun = Begun::Continues {
        continuation,
        running,
    };
    (begun, elapsed)
}

/// Runs the handler on `records` under the retry policy, in the
/// handling's span, and the dead-letter stage on what it gives up on.
pub(crate) async fn handle(
    service: &Service,
    claim: &Claim,
    records: Records,
    stop: &CancellationToken,
) -> Outcome {
    let Some(prepared) = Prepared::new(service, claim, records.as_slice()) else {
        return Outcome::Commit;
    };
    if let Some(transaction) = &service.transaction {
        return in_transaction(service, claim, prepared, records, stop, transaction).await;
    }
    let spare = records.clone();
    finish(service, claim, prepared, spare, Some(records), None, stop).await
}

/// One handling of a transactional service, under a lease of the open
/// transaction (see `transaction.rs`): one attempt, with the handler's
/// producers in the transaction; its offset recorded in the transaction on
/// success. A failure dooms the transaction (what the handler sent cannot
/// be taken back), and the handling runs again after the rewind; once
/// `maxRetry` says so, what failed is given up on without calling the
/// handler again.
///
/// How #22's features meet a transaction, and why:
/// - Retries happen through the rewind, not in place: an in-place retry
///   would leave the failed attempt's records in the transaction.
///   `retryBackoff`/`retryJitter` set the wait before the rewound
///   handling runs again, and the handler's `Context` counts attempts
///   across rewinds.
/// - A [`crate::BatchError`] naming some records still fails the attempt
///   as a whole: the abort takes back the outputs of the records that
///   succeeded too, so they must run again. Once `maxRetry` is spent, the
///   named records are given up on and only the others run (once more,
///   in the new transaction), so a dead-lettered batch holds just the
///   records its handler reported.
/// - Records that do not decode are given up on at once (retrying cannot
///   help) and the rest of the handling commits normally.
/// - The dead-letter copy is written by the dead-letter producer, outside
///   the transaction, just before the input offset is recorded in it: a
///   crash or abort in between may write it twice (at least once), never
///   lose it. `retryTopics` is refused with `transactionalId` at config
///   validation (`config/validate.rs`).
async fn in_transaction(
    service: &Service,
    claim: &Claim,
    prepared: Prepared,
    records: Records,
    stop: &CancellationToken,
    transaction: &Transaction,
) -> Outcome {
    let Some(lease) = transaction.enter(stop).await else {
        return Outcome::Stopped;
    };
    let key = (claim.topic.to_string(), claim.partition, prepared.first);
    let earlier = lease.earlier_failure(&key);
    let runs_before = earlier.as_ref().map_or(0, |f| f.attempts);
    let exhausted = earlier
        .as_ref()
        .is_some_and(|f| !service.policy.retry.allows_another_attempt(f.attempts));
    let (mut given_up, rest) = match &earlier {
        Some(failed) if exhausted => split_exhausted(records, failed),
        _ => (Vec::new(), records),
    };
    let attempt = runs_before.saturating_add(1);
    let next = service.policy.after_failure(attempt, attempt, false);
    let mut failing: Vec<(i64, String)> = Vec::new();
    let mut outcome = Outcome::Commit;
    if !rest.as_slice().is_empty() {
        // One run here: what follows a failure is the transaction's abort
        // and rewind, not a retry in place.
        let once = Policy {
            retry: RetryPolicy::Never,
            ..service.policy
        };
        let producer = Arc::clone(transaction.producer());
        let handling = Handling {
            records: rest.clone(),
            unused: Some(rest),
            base: runs_before,
            hops: false,
            reads_retry_topic: false,
        };
        let verdict = run(
            &once,
            prepared.origin(service, claim),
            &prepared.span,
            stop,
            None,
            handling,
            |records, _, _| {
                // The handler is told its run number across rewinds (a
                // transactional service reads no retry topic, so
                // `prepared.base` is 0) and the wait its failure causes.
                let handling = prepared.call(service, claim, records, attempt, next);
                Box::pin(crate::producer::transaction_scope(
                    producer.clone(),
                    handling,
                ))
            },
        )
        .instrument(prepared.span.clone())
        .await;
        if verdict.outcome == Outcome::Stopped {
            return Outcome::Stopped;
        }
        outcome = verdict.outcome;
        for (msg, failure) in verdict.gave_up {
            if failure.undecodable {
                given_up.push((
                    msg,
                    Failure {
                        attempts: attempt,
                        ..failure
                    },
                ));
            } else {
                failing.push((msg.offset, failure.error));
            }
        }
    }
    if let Some((_, error)) = failing.first() {
        let error = if failing.len() == 1 {
            error.clone()
        } else {
            format!("{} records failed, the first: {error}", failing.len())
        };
        let retry_in = next.delay().unwrap_or(service.policy.interval);
        tracing::warn!(
            parent: &prepared.span,
            attempts = attempt,
            error = %error,
            retry_in = ?retry_in,
            "handler failed in a transaction: the transaction is aborted and every \
             partition goes back to its last committed offset, to run again"
        );
        // Past `maxRetry`, the records given up on this time stay given up
        // on: the set only grows, so the rest ends up handled or given up.
        let mut records = match earlier {
            Some(failed) if exhausted => failed.records,
            _ => Vec::new(),
        };
        records.extend(failing);
        lease.failed(
            key,
            TransactionFailure {
                attempts: attempt,
                error,
                records,
                retry_in,
            },
        );
        return Outcome::Stopped;
    }
    let source = deadletter::Source {
        service: &service.name,
        group: &service.group,
    };
    if deadletter::give_up(&service.give_up, &source, &given_up, stop)
        .instrument(prepared.span.clone())
        .await
        .is_err()
    {
        return Outcome::Stopped;
    }
    lease.forget_failure(&key);
    if outcome == Outcome::Commit {
        lease.handled(&claim.topic, claim.partition, prepared.last);
    }
    outcome
}

/// Past `maxRetry` in a transaction: the records of `records` that
/// `failed` names, with their errors, to give up on, and the others, to
/// run again.
fn split_exhausted(
    records: Records,
    failed: &TransactionFailure,
) -> (Vec<(Message, Failure)>, Records) {
    let error_of = |offset: i64| {
        failed
            .records
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, e)| e.clone())
    };
    let mut given_up = Vec::new();
    let mut rest = Vec::new();
    for msg in records.into_vec() {
        match error_of(msg.offset) {
            Some(error) => given_up.push((
                msg,
                Failure {
                    error,
                    attempts: failed.attempts,
                    undecodable: false,
                    retry_in: None,
                },
            )),
            None => rest.push(msg),
        }
    }
    (given_up, Records::Batch(rest))
}

/// The attempts of a handling, the `first` of which may have started
/// elsewhere: the first attempt takes `unused` (the records themselves),
/// any later one a clone of (part of) `spare`, which the dead-letter stage
/// reads.
async fn finish(
    service: &Service,
    claim: &Claim,
    prepared: Prepared,
    spare: Records,
    unused: Option<Records>,
    first: Option<First>,
    stop: &CancellationToken,
) -> Outcome {
    let origin = prepared.origin(service, claim);
    let handling = Handling {
        records: spare,
        unused,
        base: prepared.base,
        hops: prepared.hops,
        reads_retry_topic: prepared.base_from_headers,
    };
    let verdict = run(
        &service.policy,
        origin,
        &prepared.span,
        stop,
        first,
        handling,
        |records, local, next| prepared.call(service, claim, records, local, next),
    )
    .instrument(prepared.span.clone())
    .await;
    if verdict.outcome == Outcome::Stopped || verdict.gave_up.is_empty() {
        return verdict.outcome;
    }
    let source = deadletter::Source {
        service: &service.name,
        group: &service.group,
    };
    deadletter::give_up(&service.give_up, &source, &verdict.gave_up, stop)
        .instrument(prepared.span)
        .await
        .map_or(Outcome::Stopped, |()| verdict.outcome)
}

/// What one handling computes once, whichever attempt runs.
struct Prepared {
    /// The first and last offsets and the count of its records.
    first: i64,
    last: i64,
    count: usize,
    /// The handler's runs on its (first) record before this handling: on
    /// earlier topics, for a record read from a retry topic; else 0.
    base: u32,
    /// Whether `base` came from the retry topics' headers (so each record's
    /// own count does too).
    base_from_headers: bool,
    /// Whether a record given up on goes on to a retry topic.
    hops: bool,
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
    fn new(service: &Service, claim: &Claim, msgs: &[Message]) -> Option<Self> {
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
        let base_from_headers = service.due_gate;
        Some(Prepared {
            first: head.offset,
            last: tail.offset,
            count: msgs.len(),
            base: if base_from_headers {
                crate::retrytopic::attempts_so_far(head)
            } else {
                0
            },
            base_from_headers,
            hops: service.give_up.hops_from(&claim.topic),
            metadata,
            trace,
            span,
        })
    }

    fn origin<'a>(&self, service: &'a Service, claim: &'a Claim) -> Origin<'a> {
        Origin {
            service: &service.name,
            topic: &claim.topic,
            partition: claim.partition,
            offset: self.first,
            last_offset: self.last,
        }
    }

    /// What follows a failure of this handling's run number `local`.
    fn next(&self, policy: &Policy, local: u32) -> Next {
        policy.after_failure(local, self.base + local, self.hops)
    }

    /// One attempt, run number `local` of this handling, whose failure
    /// `next` follows: the handler called on `records` with a context of
    /// its own (built per attempt rather than cloned from one built up
    /// front: the first attempt, usually the only one, then builds it
    /// once).
    fn call(
        &self,
        service: &Service,
        claim: &Claim,
        records: Records,
        local: u32,
        next: Next,
    ) -> HandlerFuture {
        let msgs = records.as_slice();
        let (offset, last_offset) = match (msgs.first(), msgs.last()) {
            (Some(head), Some(tail)) => (head.offset, tail.offset),
            _ => (self.first, self.last),
        };
        let ctx = Context {
            service: service.name.clone(),
            raw: RawContext {
                topic: claim.topic.clone(),
                partition: claim.partition,
                offset,
                last_offset,
                group: service.group.clone(),
                member_id: claim.member_id.clone(),
                generation_id: claim.generation_id,
                assignment: claim.assignment,
                initial_offset: claim.initial_offset,
            },
            metadata: self.metadata.clone(),
            attempt: self.base + local,
            next_retry_delay: next.delay(),
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

/// What [`run`] decided: the outcome of the handling, and the records
/// given up on (retries exhausted, or payloads that do not decode), which
/// the dead-letter stage takes before the outcome stands.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    outcome: Outcome,
    gave_up: Vec<(Message, Failure)>,
}

/// The records of a handling, as [`run`] takes them.
struct Handling {
    /// Every record of the handling (a clone the engine keeps).
    records: Records,
    /// The records themselves, for the first attempt when it has not
    /// started yet.
    unused: Option<Records>,
    /// The handler's runs on the (first) record before this handling.
    base: u32,
    /// Whether a record given up on goes on to a retry topic.
    hops: bool,
    /// Whether the records are retry copies, whose headers count their
    /// earlier runs.
    reads_retry_topic: bool,
}

/// Where the message came from, for logs.
struct Origin<'a> {
    service: &'a str,
    topic: &'a str,
    partition: i32,
    offset: i64,
    last_offset: i64,
}

/// One attempt in flight: the handler's future, with a panic caught as a
/// failure of the attempt.
type Attempt = futures::future::CatchUnwind<AssertUnwindSafe<HandlerFuture>>;

/// What an attempt ended with; `Err` holds a panic's payload.
type AttemptOutput = std::thread::Result<HandlerResult>;

/// Starts an attempt on the handler's future.
fn start(handler: HandlerFuture) -> Attempt {
    AssertUnwindSafe(handler).catch_unwind()
}

/// A first attempt started before [`run`] (by the poll thread, which polls
/// it once and hands on what does not succeed), with what follows its
/// failure (as its context said).
enum First {
    /// Still running.
    Running {
        started: Instant,
        running: Attempt,
        next: Next,
    },
    /// Already ended (with a failure; a success needs no [`run`]).
    Finished {
        started: Instant,
        output: AttemptOutput,
        next: Next,
    },
}

/// The records of a failed attempt that failed, and why.
enum Failed {
    /// The whole attempt: every record it covered.
    All(String),
    /// Some records of a batch, each with its error.
    Some(Vec<(Message, String)>),
}

/// Runs `call` until it succeeds or `policy` gives up; `first`, when given,
/// is the first attempt, already started. `call` takes the records of the
/// attempt, its number in this handling and what follows its failure.
///
/// A timeout (`timeout` from the YAML, the seed's handler deadline) drops the
/// handler's future, which is how a Rust future is cancelled; a panic is
/// caught and counted as a failed attempt so one bad message cannot take the
/// process down. A batch handler's [`crate::BatchError`] narrows the next
/// attempt to the records it names; a payload that does not decode is
/// given up on at once. `stop` is honoured only between attempts: an
/// attempt in flight is allowed to finish (the caller bounds how long it
/// waits). Each attempt's number is recorded on `span`, the message's span.
async fn run(
    policy: &Policy,
    origin: Origin<'_>,
    span: &tracing::Span,
    stop: &CancellationToken,
    mut first: Option<First>,
    handling: Handling,
    mut call: impl FnMut(Records, u32, Next) -> HandlerFuture,
) -> Verdict {
    let Handling {
        records: mut current,
        mut unused,
        base,
        hops,
        reads_retry_topic,
    } = handling;
    let attempts_of = |msg: &Message, local: u32| {
        if reads_retry_topic {
            crate::retrytopic::attempts_so_far(msg) + local
        } else {
            local
        }
    };
    let mut local: u32 = 0;
    let mut gave_up: Vec<(Message, Failure)> = Vec::new();
    loop {
        local = local.saturating_add(1);
        let total = base + local;
        span.record("attempt", total);
        let (started, result, next) = match first.take() {
            Some(First::Finished {
                started,
                output,
                next,
            }) => (started, output, next),
            Some(First::Running {
                started,
                running,
                next,
            }) => (
                started,
                settle(running, started, policy.timeout).await,
                next,
            ),
            None => {
                let next = policy.after_failure(local, total, hops);
                let input = unused.take().unwrap_or_else(|| current.clone());
                let started = Instant::now();
                let output = settle(start(call(input, local, next)), started, policy.timeout).await;
                (started, output, next)
            }
        };
        let record = |count: usize, result| {
            record_attempt(
                origin.service,
                origin.topic,
                count,
                started.elapsed(),
                result,
            )
        };
        let count = current.as_slice().len();
        let failed = match result {
            Ok(Ok(())) => {
                record(count, AttemptResult::Handled);
                return Verdict {
                    outcome: Outcome::Commit,
                    gave_up,
                };
            }
            Ok(Err(e)) => match e.into_kind() {
                ErrorKind::ContinueWithoutCommit => {
                    record(count, AttemptResult::Handled);
                    return Verdict {
                        outcome: Outcome::SkipWithoutCommit,
                        gave_up,
                    };
                }
                ErrorKind::Undecodable(reason) => {
                    // Decoding is deterministic: retrying cannot help.
                    record(count, AttemptResult::Failed);
                    let error = format!("payload does not decode: {reason}");
                    for msg in current.as_slice() {
                        gave_up.push((msg.clone(), undecodable(&error, attempts_of(msg, local))));
                    }
                    return Verdict {
                        outcome: Outcome::Commit,
                        gave_up,
                    };
                }
                ErrorKind::Partial(list) => {
                    let failing = split(current.as_slice(), list, &origin, |msg, error| {
                        gave_up.push((msg.clone(), undecodable(&error, attempts_of(msg, local))))
                    });
                    let done = count - failing.len();
                    if done > 0 {
                        record(done, AttemptResult::Handled);
                    }
                    if failing.is_empty() {
                        return Verdict {
                            outcome: Outcome::Commit,
                            gave_up,
                        };
                    }
                    Failed::Some(failing)
                }
                kind @ ErrorKind::Failed(_) => {
                    Failed::All(HandlerError::from_kind(kind).to_string())
                }
            },
            Err(panic) => Failed::All(format!("handler panicked: {}", panic_message(&panic))),
        };
        let failing = match &failed {
            Failed::All(_) => count,
            Failed::Some(records) => records.len(),
        };
        let Next::InPlace(delay) = next else {
            record(failing, AttemptResult::Failed);
            let retry_in = match next {
                Next::Hop(wait) => Some(wait),
                _ => None,
            };
            let failure = |error: String, msg: &Message| Failure {
                error,
                attempts: attempts_of(msg, local),
                undecodable: false,
                retry_in,
            };
            match failed {
                Failed::All(error) => gave_up.extend(
                    current
                        .as_slice()
                        .iter()
                        .map(|msg| (msg.clone(), failure(error.clone(), msg))),
                ),
                Failed::Some(records) => gave_up.extend(records.into_iter().map(|(msg, error)| {
                    let f = failure(error, &msg);
                    (msg, f)
                })),
            }
            return Verdict {
                outcome: Outcome::Commit,
                gave_up,
            };
        };
        let error = match &failed {
            Failed::All(error) => error.clone(),
            Failed::Some(records) => format!(
                "{} of {count} records of the batch failed, the first: {}",
                records.len(),
                records.first().map_or("", |(_, e)| e.as_str())
            ),
        };
        tracing::warn!(
            service = origin.service,
            topic = origin.topic,
            partition = origin.partition,
            offset = origin.offset,
            last_offset = origin.last_offset,
            attempts = total,
            records = failing,
            error = %error,
            retry_in = ?delay,
            "handler failed; retrying"
        );
        record(failing, AttemptResult::Retried);
        if let Failed::Some(records) = failed {
            // The next attempt covers only the records that failed.
            current = Records::Batch(records.into_iter().map(|(msg, _)| msg).collect());
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return Verdict { outcome: Outcome::Stopped, gave_up: Vec::new() },
        }
    }
}

fn undecodable(error: &str, attempts: u32) -> Failure {
    Failure {
        error: error.to_owned(),
        attempts,
        undecodable: true,
        retry_in: None,
    }
}

/// The records of `msgs` that a [`crate::BatchError`] names as failed,
/// each with its error, in batch order; those that did not decode go to
/// `give_up` instead, and those reported `continue_without_commit` count as
/// handled. Positions past the batch are logged and ignored.
fn split(
    msgs: &[Message],
    mut list: Vec<(usize, HandlerError)>,
    origin: &Origin<'_>,
    mut give_up: impl FnMut(&Message, String),
) -> Vec<(Message, String)> {
    list.sort_by_key(|(i, _)| *i);
    list.dedup_by_key(|(i, _)| *i);
    let mut failing = Vec::with_capacity(list.len());
    for (i, error) in list {
        let Some(msg) = msgs.get(i) else {
            tracing::error!(
                service = origin.service,
                topic = origin.topic,
                partition = origin.partition,
                offset = origin.offset,
                index = i,
                records = msgs.len(),
                "a batch handler reported a failed record past the end of its batch; ignored"
            );
            continue;
        };
        match error.into_kind() {
            ErrorKind::Undecodable(reason) => {
                give_up(msg, format!("payload does not decode: {reason}"))
            }
            ErrorKind::ContinueWithoutCommit => {}
            kind => failing.push((msg.clone(), HandlerError::from_kind(kind).to_string())),
        }
    }
    failing
}

/// Waits for an attempt started at `started` to end, or for its `timeout`
/// (counted from `started`) to pass, which fails it.
async fn settle(running: Attempt, started: Instant, timeout: Option<Duration>) -> AttemptOutput {
    match timeout {
        Some(limit) => match tokio::time::timeout_at(started + limit, running).await {
            Ok(output) => output,
            Err(_) => Ok(Err(crate::HandlerError::msg(format!(
                "handler timed out after {limit:?} (service `timeout`)"
            )))),
        },
        None => running.await,
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::{RetryBackoff, RetryPolicy};
    use crate::{BatchError, HandlerError};

    fn origin() -> Origin<'static> {
        Origin {
            service: "s",
            topic: "t",
            partition: 0,
            offset: 0,
            last_offset: 0,
        }
    }

    fn policy(retry: RetryPolicy, interval_ms: u64, timeout: Option<Duration>) -> Policy {
        Policy {
            retry,
            interval: Duration::from_millis(interval_ms),
            backoff: RetryBackoff::Fixed,
            max_interval: Duration::from_secs(60),
            jitter: 0,
            timeout,
        }
    }

    fn one() -> Records {
        Records::One(Message::new("t", 0, 0))
    }

    fn handling(records: Records) -> Handling {
        Handling {
            unused: Some(records.clone()),
            records,
            base: 0,
            hops: false,
            reads_retry_topic: false,
        }
    }

    /// `run` with no first attempt, a span that is off and a stop that
    /// never fires.
    async fn run_plain(
        policy: Policy,
        handling: Handling,
        call: impl FnMut(Records, u32, Next) -> HandlerFuture,
    ) -> Verdict {
        let stop = CancellationToken::new();
        run(
            &policy,
            origin(),
            &tracing::Span::none(),
            &stop,
            None,
            handling,
            call,
        )
        .await
    }

    fn gave_up(error: &str, attempts: u32) -> Verdict {
        Verdict {
            outcome: Outcome::Commit,
            gave_up: vec![(
                Message::new("t", 0, 0),
                Failure {
                    error: error.to_owned(),
                    attempts,
                    undecodable: false,
                    retry_in: None,
                },
            )],
        }
    }

    fn committed() -> Verdict {
        Verdict {
            outcome: Outcome::Commit,
            gave_up: Vec::new(),
        }
    }

    async fn runs_until(retry: RetryPolicy, succeed_on: u32) -> (Verdict, u32) {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let policy = policy(retry, 1, Some(Duration::from_millis(500)));
        let outcome = run_plain(policy, handling(one()), move |_, _, _| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                if n == 2 {
                    panic!("second attempt panics");
                }
                if n >= succeed_on {
                    Ok(())
                } else {
                    Err(HandlerError::msg("not yet"))
                }
            })
        })
        .await;
        (outcome, runs.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn retry_counts_follow_the_seed() {
        assert_eq!(runs_until(RetryPolicy::Forever, 5).await, (committed(), 5));
        assert_eq!(
            runs_until(RetryPolicy::Never, 99).await,
            (gave_up("not yet", 1), 1)
        );
        assert_eq!(
            runs_until(RetryPolicy::Limited(2), 99).await,
            (gave_up("not yet", 3), 3)
        );
    }

    #[tokio::test]
    async fn a_panic_on_the_last_attempt_is_the_failure() {
        let (verdict, runs) = runs_until(RetryPolicy::Limited(1), 99).await;
        assert_eq!(runs, 2);
        assert_eq!(
            verdict,
            gave_up("handler panicked: second attempt panics", 2)
        );
    }

    #[tokio::test]
    async fn an_undecodable_payload_is_given_up_at_once() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let verdict = run_plain(
            policy(RetryPolicy::Forever, 1, None),
            handling(one()),
            move |_, _, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {
                    Err(HandlerError::undecodable(
                        "expected value at line 1".to_owned(),
                    ))
                })
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let mut expected = gave_up("payload does not decode: expected value at line 1", 1);
        expected.gave_up[0].1.undecodable = true;
        assert_eq!(verdict, expected);
    }

    #[tokio::test]
    async fn stop_interrupts_the_retry_wait() {
        let stop = CancellationToken::new();
        stop.cancel();
        let outcome = run(
            &policy(RetryPolicy::Forever, 3_600_000, None),
            origin(),
            &tracing::Span::none(),
            &stop,
            None,
            handling(one()),
            |_, _, _| Box::pin(async { Err(HandlerError::msg("fails")) }),
        )
        .await;
        assert_eq!(outcome.outcome, Outcome::Stopped);
        assert!(outcome.gave_up.is_empty());
    }

    #[tokio::test]
    async fn a_first_attempt_that_already_failed_counts_as_attempt_one() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let failed = |next| First::Finished {
            started: Instant::now(),
            output: Ok(Err(HandlerError::msg("failed on the poll thread"))),
            next,
        };
        let stop = CancellationToken::new();
        let span = tracing::Span::none();
        let limited = policy(RetryPolicy::Limited(1), 1, None);
        let verdict = run(
            &limited,
            origin(),
            &span,
            &stop,
            Some(failed(limited.after_failure(1, 1, false))),
            handling(one()),
            |_, local, _| {
                assert_eq!(local, 2, "the retry is this handling's second run");
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            },
        )
        .await;
        assert_eq!(verdict, committed());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "only the retry calls the handler"
        );

        let never = policy(RetryPolicy::Never, 1, None);
        let verdict = run(
            &never,
            origin(),
            &span,
            &stop,
            Some(failed(never.after_failure(1, 1, false))),
            handling(one()),
            |_, _, _| unreachable!("maxRetry=-1 allows no second attempt"),
        )
        .await;
        assert_eq!(verdict, gave_up("failed on the poll thread", 1));
    }

    #[tokio::test]
    async fn a_running_first_attempt_times_out_counted_from_its_start() {
        let limit = Duration::from_secs(2);
        // Started 3 s ago: its deadline has passed, where a deadline counted
        // from when `run` took it over would still be 2 s away.
        let started = Instant::now()
            .checked_sub(Duration::from_secs(3))
            .expect("the monotonic clock is more than 3 s past its origin");
        let first = First::Running {
            started,
            running: start(Box::pin(std::future::pending())),
            next: Next::GiveUp,
        };
        let stop = CancellationToken::new();
        let verdict = tokio::time::timeout(
            Duration::from_secs(1),
            run(
                &policy(RetryPolicy::Never, 1, Some(limit)),
                origin(),
                &tracing::Span::none(),
                &stop,
                Some(first),
                handling(one()),
                |_, _, _| unreachable!("maxRetry=-1 allows no second attempt"),
            ),
        )
        .await
        .expect("the timeout counts from the attempt's start, so it has passed already");
        assert_eq!(
            verdict,
            gave_up("handler timed out after 2s (service `timeout`)", 1)
        );
    }

    #[tokio::test]
    async fn each_attempt_is_told_its_number_and_the_wait_after_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let exponential = Policy {
            backoff: RetryBackoff::Exponential,
            max_interval: Duration::from_millis(3),
            ..policy(RetryPolicy::Limited(3), 1, None)
        };
        let verdict = run_plain(exponential, handling(one()), move |_, local, next| {
            log.lock().unwrap().push((local, next));
            Box::pin(async { Err(HandlerError::msg("no")) })
        })
        .await;
        let ms = Duration::from_millis;
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (1, Next::InPlace(ms(1))),
                (2, Next::InPlace(ms(2))),
                (3, Next::InPlace(ms(3))),
                (4, Next::GiveUp)
            ]
        );
        assert_eq!(verdict, gave_up("no", 4));
    }

    #[tokio::test]
    async fn a_batch_error_narrows_the_retries_to_the_failed_records() {
        let batch: Vec<Message> = (0..5)
            .map(|o| Message::new("t", 0, o).with_payload(format!("v{o}")))
            .collect();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let log = calls.clone();
        let verdict = run_plain(
            policy(RetryPolicy::Limited(2), 1, None),
            handling(Records::Batch(batch)),
            move |records, _, _| {
                let offsets: Vec<i64> = records.as_slice().iter().map(|m| m.offset).collect();
                log.lock().unwrap().push(offsets.clone());
                let mut failed = BatchError::new();
                for (i, o) in offsets.iter().enumerate() {
                    match o {
                        1 | 3 => failed.fail(i, HandlerError::msg(format!("bad {o}"))),
                        // Not decodable: given up at once, never retried.
                        4 => failed.fail(i, HandlerError::undecodable("x".to_owned())),
                        _ => {}
                    }
                }
                Box::pin(async move { failed.into_result().map_err(Into::into) })
            },
        )
        .await;
        assert_eq!(
            *calls.lock().unwrap(),
            [vec![0, 1, 2, 3, 4], vec![1, 3], vec![1, 3]]
        );
        let given: Vec<(i64, String, u32, bool)> = verdict
            .gave_up
            .iter()
            .map(|(m, f)| (m.offset, f.error.clone(), f.attempts, f.undecodable))
            .collect();
        assert_eq!(
            given,
            [
                (4, "payload does not decode: x".to_owned(), 1, true),
                (1, "bad 1".to_owned(), 3, false),
                (3, "bad 3".to_owned(), 3, false)
            ]
        );
        assert_eq!(verdict.outcome, Outcome::Commit);
    }

    #[test]
    fn past_max_retry_in_a_transaction_only_the_named_records_are_given_up() {
        let batch: Vec<Message> = (10..15).map(|o| Message::new("t", 0, o)).collect();
        let failed = TransactionFailure {
            attempts: 3,
            error: "2 records failed, the first: bad 11".to_owned(),
            records: vec![(11, "bad 11".to_owned()), (13, "bad 13".to_owned())],
            retry_in: Duration::from_millis(1),
        };
        let (given_up, rest) = split_exhausted(Records::Batch(batch), &failed);
        let given: Vec<(i64, &str, u32)> = given_up
            .iter()
            .map(|(m, f)| (m.offset, f.error.as_str(), f.attempts))
            .collect();
        assert_eq!(given, [(11, "bad 11", 3), (13, "bad 13", 3)]);
        let rest: Vec<i64> = rest.as_slice().iter().map(|m| m.offset).collect();
        assert_eq!(rest, [10, 12, 14], "the others run again");

        // A single record that failed is given up on with nothing left to run.
        let one = TransactionFailure {
            records: vec![(7, "boom".to_owned())],
            ..failed
        };
        let (given_up, rest) = split_exhausted(Records::One(Message::new("t", 0, 7)), &one);
        assert_eq!(given_up.len(), 1);
        assert!(rest.as_slice().is_empty());
    }

    #[tokio::test]
    async fn a_record_moves_on_to_the_retry_topic_with_its_count() {
        let mut copy = Message::new("t-retry-1", 0, 0);
        copy.headers
            .push((crate::retrytopic::ATTEMPTS_HEADER.into(), Some("2".into())));
        let records = Records::One(copy.clone());
        let hopping = Handling {
            base: 2,
            hops: true,
            reads_retry_topic: true,
            ..handling(records)
        };
        let exponential = Policy {
            backoff: RetryBackoff::Exponential,
            ..policy(RetryPolicy::Never, 100, None)
        };
        let verdict = run_plain(exponential, hopping, |_, local, next| {
            assert_eq!((local, next), (1, Next::Hop(Duration::from_millis(400))));
            Box::pin(async { Err(HandlerError::msg("still failing")) })
        })
        .await;
        assert_eq!(
            verdict.gave_up,
            [(
                copy,
                Failure {
                    error: "still failing".to_owned(),
                    attempts: 3,
                    undecodable: false,
                    retry_in: Some(Duration::from_millis(400)),
                }
            )]
        );
    }
}
