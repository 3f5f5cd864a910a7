//! The consumer lag of paused partitions.
//!
//! librdkafka's statistics compute a partition's lag from the high watermark
//! its last Fetch response carried. A paused partition gets no Fetch
//! responses, so its lag would freeze at the moment of the pause: exactly
//! when records pile up, whether user code paused the service or the poll
//! thread paused a partition whose handlers fell behind. For those
//! partitions the statistics' lag is left out and the high watermark is
//! asked for instead (a ListOffsets request), off the poll thread, one round
//! of queries per service at a time, once per statistics report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

/// How long one watermark query may take. Short: a query in flight holds
/// the consumer, and a stopping service waits for that (`commit::leave_group`).
const QUERY_TIMEOUT: Duration = Duration::from_millis(500);

/// A paused partition whose lag is to be measured: topic, partition and
/// the offset its group committed.
pub(crate) type PausedPartition = (String, i32, i64);

/// Measures the lag of paused partitions for one service's consumer.
pub(crate) struct PausedLag<C: ConsumerContext + 'static> {
    /// Set once the consumer exists (it owns the context that owns this).
    consumer: OnceLock<Weak<BaseConsumer<C>>>,
    /// Whether a round of queries is running.
    querying: Arc<AtomicBool>,
}

impl<C: ConsumerContext + 'static> Default for PausedLag<C> {
    fn default() -> Self {
        PausedLag {
            consumer: OnceLock::new(),
            querying: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<C: ConsumerContext + 'static> PausedLag<C> {
    /// Names the consumer whose watermarks are queried.
    pub(crate) fn attach(&self, consumer: &Arc<BaseConsumer<C>>) {
        let _ = self.consumer.set(Arc::downgrade(consumer));
    }

    /// Queries the high watermark of each of `partitions` on a blocking
    /// thread of `runtime` and sets its lag gauge to high watermark minus
    /// committed offset. Does nothing while the previous round runs, or
    /// once the consumer is gone.
    pub(crate) fn refresh(
        &self,
        service: &Arc<str>,
        runtime: &tokio::runtime::Handle,
        partitions: Vec<PausedPartition>,
    ) {
        let Some(consumer) = self.consumer.get().cloned() else {
            return;
        };
        if partitions.is_empty() || self.querying.swap(true, Ordering::AcqRel) {
            return;
        }
        let querying = Finished(self.querying.clone());
        let service = service.clone();
        runtime.spawn_blocking(move || {
            let _querying = querying;
            for (topic, partition, committed) in partitions {
                // Held for one query at a time, so a stopping service
                // waits for at most one.
                let Some(consumer) = consumer.upgrade() else {
                    return;
                };
                match consumer.fetch_watermarks(&topic, partition, QUERY_TIMEOUT) {
                    Ok((_, high)) => {
                        crate::metrics::record_lag(
                            &service,
                            &topic,
                            partition,
                            (high - committed).max(0),
                        );
                    }
                    Err(e) => tracing::debug!(
                        service = &*service,
                        topic,
                        partition,
                        error = %e,
                        "could not read the high watermark of a paused partition; its lag gauge keeps its last value"
                    ),
                }
            }
        });
    }
}

/// Marks the round of queries finished however the blocking task ends.
struct Finished(Arc<AtomicBool>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
