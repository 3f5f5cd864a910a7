//! The attempt stage: one handling (a message, or a batch) under the retry
//! policy, in the handling's `kafka_handle` span, with the trace and
//! metadata scopes; what the policy gives up on goes to the dead-letter
//! stage ([`crate::deadletter::give_up`]).
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
//! (values are reference counts on the partition's arena).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::retry::Policy;
use super::shared::{Claim, Continuation, Outcome, Records, Service};
use super::transaction::Transaction;
use crate::config::RetryPolicy;
use crate::context::{Context, RawContext};
use crate::deadletter::{self, Failure};
use crate::handler::{ErrorKind, Handler, HandlerFuture, HandlerResult};
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
    let mut attempt = start(prepared.call(service, claim, records));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = prepared.span.in_scope(|| {
        prepared.span.record("attempt", 1);
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
        Poll::Ready(output) => First::Finished { started, output },
        Poll::Pending => First::Running {
            started,
            running: attempt,
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
/// be taken back), and the record runs again after the rewind; once
/// `maxRetry` says so it is given up on without calling the handler.
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
    let spare = records.clone();
    let exhausted = earlier
        .as_ref()
        .is_some_and(|f| !service.policy.retry.allows_another_attempt(f.attempts));
    let verdict = match &earlier {
        Some(failed) if exhausted => Verdict::GaveUp(Failure {
            error: failed.error.clone(),
            attempts: failed.attempts,
            undecodable: false,
        }),
        _ => {
            let once = Policy {
                retry: RetryPolicy::Never,
                ..service.policy
            };
            let producer = Arc::clone(transaction.producer());
            let mut unused = Some(records);
            let origin = prepared.origin(service, claim);
            run(once, origin, &prepared.span, stop, None, || {
                let records = unused.take().unwrap_or_else(|| spare.clone());
                let handling = prepared.call(service, claim, records);
                Box::pin(crate::producer::transaction_scope(
                    producer.clone(),
                    handling,
                ))
            })
            .instrument(prepared.span.clone())
            .await
        }
    };
    let done = |lease: &super::transaction::Lease<'_>| {
        lease.handled(&claim.topic, claim.partition, prepared.last);
        lease.forget_failure(&key);
        Outcome::Commit
    };
    match verdict {
        Verdict::Settled(Outcome::Commit) => done(&lease),
        Verdict::Settled(other) => other,
        // Nothing of the handler's is in the transaction: give up here.
        Verdict::GaveUp(failure) if exhausted || failure.undecodable => {
            let source = deadletter::Source {
                service: &service.name,
                group: &service.group,
            };
            let given_up = deadletter::give_up(
                service.dead_letter.as_ref(),
                &source,
                spare.as_slice(),
                &failure,
                stop,
            )
            .instrument(prepared.span.clone())
            .await;
            match given_up {
                Ok(()) => done(&lease),
                Err(_) => Outcome::Stopped,
            }
        }
        Verdict::GaveUp(failure) => {
            let attempts = earlier.map_or(0, |f| f.attempts).saturating_add(1);
            tracing::warn!(
                parent: &prepared.span,
                attempts,
                error = %failure.error,
                retry_in = ?service.policy.interval,
                "handler failed in a transaction: the transaction is aborted and every \
                 partition goes back to its last committed offset, to run again"
            );
            lease.failed(key, attempts, failure.error);
            Outcome::Stopped
        }
    }
}

/// The attempts of a handling, the `first` of which may have started
/// elsewhere: the first attempt takes `unused` (the records themselves),
/// any later one a clone of `spare`, which the dead-letter stage reads.
async fn finish(
    service: &Service,
    claim: &Claim,
    prepared: Prepared,
    spare: Records,
    mut unused: Option<Records>,
    first: Option<First>,
    stop: &CancellationToken,
) -> Outcome {
    let mut input = || unused.take().unwrap_or_else(|| spare.clone());
    let origin = prepared.origin(service, claim);
    let verdict = run(service.policy, origin, &prepared.span, stop, first, || {
        prepared.call(service, claim, input())
    })
    .instrument(prepared.span.clone())
    .await;
    match verdict {
        Verdict::Settled(outcome) => outcome,
        Verdict::GaveUp(failure) => {
            let source = deadletter::Source {
                service: &service.name,
                group: &service.group,
            };
            deadletter::give_up(
                service.dead_letter.as_ref(),
                &source,
                spare.as_slice(),
                &failure,
                stop,
            )
            .instrument(prepared.span)
            .await
            .map_or(Outcome::Stopped, |()| Outcome::Commit)
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
        Some(Prepared {
            first: head.offset,
            last: tail.offset,
            count: msgs.len(),
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
            count: self.count,
        }
    }

    /// One attempt: the handler called on `records` with a context of its
    /// own (built per attempt rather than cloned from one built up front:
    /// the first attempt, usually the only one, then builds it once).
    fn call(&self, service: &Service, claim: &Claim, records: Records) -> HandlerFuture {
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

/// What [`run`] decided: a settled outcome, or a message (batch) the handler
/// gave up on, which the dead-letter stage takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Nothing more to do than what the outcome says.
    Settled(Outcome),
    /// `maxRetry` is exhausted or the payload does not decode.
    GaveUp(Failure),
}

/// Where the message came from, for logs.
struct Origin<'a> {
    service: &'a str,
    topic: &'a str,
    partition: i32,
    offset: i64,
    last_offset: i64,
    /// How many messages the attempt covers (for metrics).
    count: usize,
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
/// it once and hands on what does not succeed).
enum First {
    /// Still running.
    Running { started: Instant, running: Attempt },
    /// Already ended (with a failure; a success needs no [`run`]).
    Finished {
        started: Instant,
        output: AttemptOutput,
    },
}

/// Runs `call` until it succeeds or `policy` gives up; `first`, when given,
/// is the first attempt, already started.
///
/// A timeout (`timeout` from the YAML, the seed's handler deadline) drops the
/// handler's future, which is how a Rust future is cancelled; a panic is
/// caught and counted as a failed attempt so one bad message cannot take the
/// process down. `stop` is honoured only between attempts: an attempt in
/// flight is allowed to finish (the caller bounds how long it waits). Each
/// attempt's number is recorded on `span`, the message's span.
async fn run(
    policy: Policy,
    origin: Origin<'_>,
    span: &tracing::Span,
    stop: &CancellationToken,
    mut first: Option<First>,
    mut call: impl FnMut() -> HandlerFuture,
) -> Verdict {
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        span.record("attempt", attempts);
        let (started, result) = match first.take() {
            Some(First::Finished { started, output }) => (started, output),
            Some(First::Running { started, running }) => {
                (started, settle(running, started, policy.timeout).await)
            }
            None => {
                let started = Instant::now();
                (
                    started,
                    settle(start(call()), started, policy.timeout).await,
                )
            }
        };
        let record = |result| {
            record_attempt(
                origin.service,
                origin.topic,
                origin.count,
                started.elapsed(),
                result,
            )
        };
        let failure = match result {
            Ok(Ok(())) => {
                record(AttemptResult::Handled);
                return Verdict::Settled(Outcome::Commit);
            }
            Ok(Err(e)) => match e.kind() {
                ErrorKind::ContinueWithoutCommit => {
                    record(AttemptResult::Handled);
                    return Verdict::Settled(Outcome::SkipWithoutCommit);
                }
                ErrorKind::Undecodable(reason) => {
                    // Decoding is deterministic: retrying cannot help.
                    record(AttemptResult::Failed);
                    return Verdict::GaveUp(Failure {
                        error: format!("payload does not decode: {reason}"),
                        attempts,
                        undecodable: true,
                    });
                }
                ErrorKind::Failed(_) => e.to_string(),
            },
            Err(panic) => format!("handler panicked: {}", panic_message(&panic)),
        };
        let Some(delay) = policy.next_delay(attempts) else {
            record(AttemptResult::Failed);
            return Verdict::GaveUp(Failure {
                error: failure,
                attempts,
                undecodable: false,
            });
        };
        tracing::warn!(
            service = origin.service,
            topic = origin.topic,
            partition = origin.partition,
            offset = origin.offset,
            last_offset = origin.last_offset,
            attempts,
            error = %failure,
            retry_in = ?delay,
            "handler failed; retrying"
        );
        record(AttemptResult::Retried);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return Verdict::Settled(Outcome::Stopped),
        }
    }
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
    use std::sync::Arc;

    use super::*;
    use crate::config::RetryPolicy;
    use crate::HandlerError;

    fn origin() -> Origin<'static> {
        Origin {
            service: "s",
            topic: "t",
            partition: 0,
            offset: 0,
            last_offset: 0,
            count: 1,
        }
    }

    /// `run` with no first attempt, a span that is off and a stop that
    /// never fires.
    async fn run_plain(policy: Policy, call: impl FnMut() -> HandlerFuture) -> Verdict {
        let stop = CancellationToken::new();
        run(policy, origin(), &tracing::Span::none(), &stop, None, call).await
    }

    async fn runs_until(retry: RetryPolicy, succeed_on: u32) -> (Verdict, u32) {
        let runs = Arc::new(AtomicU32::new(0));
        let policy = Policy {
            retry,
            interval: Duration::from_millis(1),
            timeout: Some(Duration::from_millis(500)),
        };
        let counter = runs.clone();
        let outcome = run_plain(policy, move || {
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
        let gave_up = |attempts| {
            Verdict::GaveUp(Failure {
                error: "not yet".to_owned(),
                attempts,
                undecodable: false,
            })
        };
        assert_eq!(
            runs_until(RetryPolicy::Forever, 5).await,
            (Verdict::Settled(Outcome::Commit), 5)
        );
        assert_eq!(runs_until(RetryPolicy::Never, 99).await, (gave_up(1), 1));
        assert_eq!(
            runs_until(RetryPolicy::Limited(2), 99).await,
            (gave_up(3), 3)
        );
    }

    #[tokio::test]
    async fn a_panic_on_the_last_attempt_is_the_failure() {
        let (verdict, runs) = runs_until(RetryPolicy::Limited(1), 99).await;
        assert_eq!(runs, 2);
        let Verdict::GaveUp(failure) = verdict else {
            panic!("expected GaveUp, got {verdict:?}");
        };
        assert_eq!(failure.error, "handler panicked: second attempt panics");
        assert_eq!(failure.attempts, 2);
    }

    #[tokio::test]
    async fn an_undecodable_payload_is_given_up_at_once() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let policy = Policy {
            retry: RetryPolicy::Forever,
            interval: Duration::from_millis(1),
            timeout: None,
        };
        let verdict = run_plain(policy, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Err(HandlerError::undecodable(
                    "expected value at line 1".to_owned(),
                ))
            })
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            verdict,
            Verdict::GaveUp(Failure {
                error: "payload does not decode: expected value at line 1".to_owned(),
                attempts: 1,
                undecodable: true,
            })
        );
    }

    #[tokio::test]
    async fn stop_interrupts_the_retry_wait() {
        let stop = CancellationToken::new();
        stop.cancel();
        let policy = Policy {
            retry: RetryPolicy::Forever,
            interval: Duration::from_secs(3600),
            timeout: None,
        };
        let outcome = run(
            policy,
            origin(),
            &tracing::Span::none(),
            &stop,
            None,
            || Box::pin(async { Err(HandlerError::msg("fails")) }),
        )
        .await;
        assert_eq!(outcome, Verdict::Settled(Outcome::Stopped));
    }

    #[tokio::test]
    async fn a_first_attempt_that_already_failed_counts_as_attempt_one() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let failed = || First::Finished {
            started: Instant::now(),
            output: Ok(Err(HandlerError::msg("failed on the poll thread"))),
        };
        let policy = |retry| Policy {
            retry,
            interval: Duration::from_millis(1),
            timeout: None,
        };
        let stop = CancellationToken::new();
        let span = tracing::Span::none();
        let verdict = run(
            policy(RetryPolicy::Limited(1)),
            origin(),
            &span,
            &stop,
            Some(failed()),
            || {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            },
        )
        .await;
        assert_eq!(verdict, Verdict::Settled(Outcome::Commit));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "only the retry calls the handler"
        );

        let verdict = run(
            policy(RetryPolicy::Never),
            origin(),
            &span,
            &stop,
            Some(failed()),
            || unreachable!("maxRetry=-1 allows no second attempt"),
        )
        .await;
        assert_eq!(
            verdict,
            Verdict::GaveUp(Failure {
                error: "failed on the poll thread".to_owned(),
                attempts: 1,
                undecodable: false,
            })
        );
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
        };
        let policy = Policy {
            retry: RetryPolicy::Never,
            interval: Duration::from_millis(1),
            timeout: Some(limit),
        };
        let stop = CancellationToken::new();
        let verdict = tokio::time::timeout(
            Duration::from_secs(1),
            run(
                policy,
                origin(),
                &tracing::Span::none(),
                &stop,
                Some(first),
                || unreachable!("maxRetry=-1 allows no second attempt"),
            ),
        )
        .await
        .expect("the timeout counts from the attempt's start, so it has passed already");
        assert_eq!(
            verdict,
            Verdict::GaveUp(Failure {
                error: "handler timed out after 2s (service `timeout`)".to_owned(),
                attempts: 1,
                undecodable: false,
            })
        );
    }
}
