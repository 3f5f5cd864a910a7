//! Running a handler on one message or batch until the retry policy says stop.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::config::RetryPolicy;
use crate::handler::{ErrorKind, HandlerFuture};
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

/// Runs `call` until it succeeds or `policy` gives up.
///
/// A timeout (`timeout` from the YAML, the seed's handler deadline) drops the
/// handler's future, which is how a Rust future is cancelled; a panic is
/// caught and counted as a failed attempt so one bad message cannot take the
/// process down. `stop` is honoured only between attempts: an attempt in
/// flight is allowed to finish (the caller bounds how long it waits).
pub(crate) async fn run(
    policy: Policy,
    origin: Origin<'_>,
    stop: &CancellationToken,
    mut call: impl FnMut() -> HandlerFuture,
) -> Verdict {
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        // The caller instruments this future with the message's span.
        tracing::Span::current().record("attempt", attempts);
        let started = tokio::time::Instant::now();
        let record = |result| {
            record_attempt(
                origin.service,
                origin.topic,
                origin.count,
                started.elapsed(),
                result,
            )
        };
        let attempt = AssertUnwindSafe(call()).catch_unwind();
        let result = match policy.timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(r) => r,
                Err(_) => Ok(Err(crate::HandlerError::msg(format!(
                    "handler timed out after {limit:?} (service `timeout`)"
                )))),
            },
            None => attempt.await,
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

    async fn runs_until(retry: RetryPolicy, succeed_on: u32) -> (Verdict, u32) {
        let runs = Arc::new(AtomicU32::new(0));
        let policy = Policy {
            retry,
            interval: Duration::from_millis(1),
            timeout: Some(Duration::from_millis(500)),
        };
        let counter = runs.clone();
        let outcome = run(policy, origin(), &CancellationToken::new(), move || {
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
        let verdict = run(policy, origin(), &CancellationToken::new(), move || {
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
        let outcome = run(policy, origin(), &stop, || {
            Box::pin(async { Err(HandlerError::msg("fails")) })
        })
        .await;
        assert_eq!(outcome, Verdict::Settled(Outcome::Stopped));
    }
}
