//! Running a handler on one message or batch until the retry policy says stop.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::RetryPolicy;
use crate::handler::{ErrorKind, HandlerFuture, HandlerResult};
use crate::metrics::{record_attempt, AttemptResult};

/// What became of a message (or batch) after its handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled, or given up on and dead-lettered or skipped: store its offset.
    Commit,
    /// `continue_without_commit`: go on without storing the offset.
    SkipWithoutCommit,
    /// The partition is being revoked or the service stops while waiting to
    /// retry: leave the message unhandled and uncommitted, for redelivery.
    Stopped,
}

/// What [`run`] decided: a settled outcome, or a message (batch) the handler
/// gave up on, which the caller dead-letters or skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing more to do than what the outcome says.
    Settled(Outcome),
    /// `maxRetry` is exhausted or the payload does not decode.
    GaveUp(Failure),
}

/// Why a message (or batch) was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The last attempt's error (a timeout and a panic are errors too).
    pub(crate) error: String,
    /// How many times the handler ran.
    pub(crate) attempts: u32,
    /// Whether the payload did not decode (no handler ran at all).
    pub(crate) undecodable: bool,
}

/// The retry settings of a service (`maxRetry`, `retryInterval`, `timeout`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) retry: RetryPolicy,
    pub(crate) interval: Duration,
    pub(crate) timeout: Option<Duration>,
}

/// Where the message came from, for logs.
pub(crate) struct Origin<'a> {
    pub(crate) service: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) last_offset: i64,
    /// How many messages the attempt covers (for metrics).
    pub(crate) count: usize,
}

/// One attempt in flight: the handler's future, with a panic caught as a
/// failure of the attempt.
pub(crate) type Attempt = futures::future::CatchUnwind<AssertUnwindSafe<HandlerFuture>>;

/// What an attempt ended with; `Err` holds a panic's payload.
pub(crate) type AttemptOutput = std::thread::Result<HandlerResult>;

/// Starts an attempt on the handler's future.
pub(crate) fn start(handler: HandlerFuture) -> Attempt {
    AssertUnwindSafe(handler).catch_unwind()
}

/// A first attempt started before [`run`] (by the poll thread, which polls
/// it once and hands what does not succeed on).
pub(crate) enum First {
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
pub(crate) async fn run(
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
        if !policy.retry.allows_another_attempt(attempts) {
            record(AttemptResult::Failed);
            return Verdict::GaveUp(Failure {
                error: failure,
                attempts,
                undecodable: false,
            });
        }
        tracing::warn!(
            service = origin.service,
            topic = origin.topic,
            partition = origin.partition,
            offset = origin.offset,
            last_offset = origin.last_offset,
            attempts,
            error = %failure,
            retry_in = ?policy.interval,
            "handler failed; retrying"
        );
        record(AttemptResult::Retried);
        tokio::select! {
            () = tokio::time::sleep(policy.interval) => {}
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
