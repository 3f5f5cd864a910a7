//! The commit stage: librdkafka commits stored offsets every
//! `auto.commit.interval.ms` on its own; the engine commits synchronously
//! where it must not lose what was handled: on revocation, and when the
//! service stops; [`leave_group`] then leaves the group in the order
//! librdkafka documents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How long one `poll` blocks while the consumer closes.
const CLOSE_POLL: Duration = Duration::from_millis(50);

/// How often [`leave_group`] looks whether the tasks released the consumer.
const RELEASE_POLL: Duration = Duration::from_millis(1);

/// Commits the stored offsets now. "No offset" just means nothing was
/// handled since the last commit.
pub(crate) fn commit_stored<C: ConsumerContext>(service: &str, consumer: &BaseConsumer<C>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(service, error = %e, "could not commit handled offsets"),
    }
}

/// Leaves the group now rather than whenever the last reference drops,
/// once every handler is done and the stored offsets are committed: the
/// consumer is dropped on the calling (poll) thread as soon as the stopped
/// tasks released their references. Its `Drop` closes the queue and serves
/// it until librdkafka reports the consumer closed (the final revocation
/// runs the engine's callback, with nothing left to wait for; records polled
/// then are neither handled nor committed). Closing the queue here first
/// would make that `Drop` close it a second time and log an error
/// (`BrokerDestroy`). Only when a task still holds the consumer after
/// `wait` (a handler that overran the shutdown deadline) is the queue closed
/// here, and the consumer left to that task.
pub(crate) fn leave_group<C: ConsumerContext>(
    consumer: Arc<BaseConsumer<C>>,
    service: &str,
    wait: Duration,
) {
    let deadline = Instant::now() + wait.max(Duration::from_secs(1));
    let mut consumer = consumer;
    loop {
        match Arc::try_unwrap(consumer) {
            Ok(last) => {
                drop(last);
                break;
            }
            Err(shared) if Instant::now() < deadline => {
                consumer = shared;
                std::thread::sleep(RELEASE_POLL);
            }
            Err(shared) => {
                tracing::warn!(
                    service,
                    "a handler still holds the consumer after the shutdown deadline; \
                     leaving the group without it"
                );
                match shared.close_queue() {
                    Ok(()) => {
                        while !shared.closed() && Instant::now() < deadline + wait {
                            let _ = shared.poll(CLOSE_POLL);
                        }
                    }
                    Err(e) => tracing::warn!(service, error = %e, "could not close the consumer"),
                }
                break;
            }
        }
    }
    tracing::info!(service, "stopped");
}
