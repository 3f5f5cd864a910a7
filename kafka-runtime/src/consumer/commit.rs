//! The commit stage: librdkafka commits stored offsets every
//! `auto.commit.interval.ms` on its own; the engine commits synchronously
//! where it must not lose what was handled: on revocation, and when the
//! service stops ([`close`], which also leaves the group in the order
//! librdkafka documents).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How long one `poll` blocks while the consumer closes.
const CLOSE_POLL: Duration = Duration::from_millis(50);

/// Commits the stored offsets now. "No offset" just means nothing was
/// handled since the last commit.
pub(crate) fn commit_stored<C: ConsumerContext>(service: &str, consumer: &BaseConsumer<C>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(service, error = %e, "could not commit handled offsets"),
    }
}

/// Leaves the group, once every handler is done and the stored offsets are
/// committed: closes the consumer's queue and serves it until librdkafka
/// reports the consumer closed (the final revocation runs the engine's
/// callback, with nothing left to wait for), at most `wait`. Records
/// polled meanwhile are neither handled nor committed. The caller drops
/// the consumer afterwards, on the same thread.
pub(crate) fn close<C: ConsumerContext>(service: &str, consumer: &BaseConsumer<C>, wait: Duration) {
    commit_stored(service, consumer);
    match consumer.close_queue() {
        Ok(()) => {
            let deadline = Instant::now() + wait.max(Duration::from_secs(1));
            while !consumer.closed() && Instant::now() < deadline {
                let _ = consumer.poll(CLOSE_POLL);
            }
        }
        Err(e) => tracing::warn!(service, error = %e, "could not close the consumer"),
    }
}
