//! Metrics the runtime records through the [`metrics`](https://docs.rs/metrics)
//! facade, and (feature `prometheus`) a Prometheus scrape endpoint for them.
//!
//! The runtime only records; the application chooses where numbers go by
//! installing a `metrics` recorder (any exporter works), or calls
//! `install_prometheus` (feature `prometheus`) for the bundled one. Without
//! a recorder every recording is a no-op.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | [`MESSAGES_HANDLED`] | counter | service, topic | messages whose handler succeeded (a batch counts each message) |
//! | [`MESSAGES_FAILED`] | counter | service, topic | messages given up on: retries exhausted (`maxRetry`), or the payload did not decode; their offsets are committed |
//! | [`MESSAGES_RETRIED`] | counter | service, topic | handler re-runs after a failed attempt (error, panic or `timeout`) |
//! | [`MESSAGES_DEAD_LETTERED`] | counter | service, topic | records sent to the dead-letter topic (`deadLetterTopic`) and acknowledged; registered at 0 |
//! | [`HANDLER_DURATION`] | histogram (s) | service, topic | time of each handler attempt |
//! | [`CONSUMER_LAG`] | gauge | service, topic, partition | librdkafka's `consumer_lag` (high watermark minus committed offset) from its statistics, every `statistics.interval.ms` (default [`DEFAULT_STATISTICS_INTERVAL`]); a partition whose lag librdkafka does not know (it reports -1, e.g. before the first commit) keeps its last value |
//! | [`PRODUCER_DELIVERED`] | counter | service, topic | records a producer got acknowledged |
//! | [`PRODUCER_DELIVERY_ERRORS`] | counter | service, topic | records a producer failed to deliver |
//! | [`PRODUCER_DELIVERY_DURATION`] | histogram (s) | service, topic | time from the record being queued in librdkafka to the broker's answer (or failure) |
//!
//! `service` is the `name` of the `server.service[]` / `client.service[]`
//! entry (for a producer: its service name, or its producer type when it is
//! not bound to one service).

use std::time::Duration;

use rdkafka::statistics::Statistics;

/// Counter: messages whose handler succeeded.
///
/// Recorded by the consumer engine while `serve()` runs; a scrape shows it
/// under this name (`cargo run --example metrics` prints one):
///
/// ```
/// assert!(kafka_runtime::metrics::MESSAGES_HANDLED.starts_with("kafka_consumer_"));
/// ```
pub const MESSAGES_HANDLED: &str = "kafka_consumer_messages_handled_total";
/// Counter: messages given up on (retries exhausted or undecodable).
///
/// Recorded by the consumer engine while `serve()` runs; a scrape shows it
/// under this name (`cargo run --example metrics` prints one):
///
/// ```
/// assert!(kafka_runtime::metrics::MESSAGES_FAILED.starts_with("kafka_consumer_"));
/// ```
pub const MESSAGES_FAILED: &str = "kafka_consumer_messages_failed_total";
/// Counter: handler re-runs after a failed attempt.
///
/// Recorded by the consumer engine while `serve()` runs; a scrape shows it
/// under this name (`cargo run --example metrics` prints one):
///
/// ```
/// assert!(kafka_runtime::metrics::MESSAGES_RETRIED.starts_with("kafka_consumer_"));
/// ```
pub const MESSAGES_RETRIED: &str = "kafka_consumer_messages_retried_total";
/// Counter: messages sent to a dead-letter topic (stays 0 until the runtime
/// has dead-lettering).
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{MESSAGES_DEAD_LETTERED};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_dead_lettered("svc", "orders") });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == MESSAGES_DEAD_LETTERED), "{names:?}");
/// ```
pub const MESSAGES_DEAD_LETTERED: &str = "kafka_consumer_messages_dead_lettered_total";
/// Histogram: seconds per handler attempt.
///
/// Recorded by the consumer engine while `serve()` runs; a scrape shows it
/// under this name (`cargo run --example metrics` prints one):
///
/// ```
/// assert!(kafka_runtime::metrics::HANDLER_DURATION.starts_with("kafka_consumer_"));
/// ```
pub const HANDLER_DURATION: &str = "kafka_consumer_handler_duration_seconds";
/// Gauge: consumer lag per partition (high watermark minus committed
/// offset), from librdkafka statistics every `statistics.interval.ms`; for
/// a paused partition (a paused service, or handlers behind), which fetches
/// nothing, from a high-watermark query at the same pace.
///
/// Recorded by the consumer engine while `serve()` runs; a scrape shows it
/// under this name (`cargo run --example metrics` prints one):
///
/// ```
/// assert!(kafka_runtime::metrics::CONSUMER_LAG.starts_with("kafka_consumer_"));
/// ```
pub const CONSUMER_LAG: &str = "kafka_consumer_lag";
/// Counter: records a producer got acknowledged.
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{PRODUCER_DELIVERED};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_delivery("svc", "orders", std::time::Duration::from_millis(3), true) });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == PRODUCER_DELIVERED), "{names:?}");
/// ```
pub const PRODUCER_DELIVERED: &str = "kafka_producer_delivered_total";
/// Counter: records a producer failed to deliver.
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{PRODUCER_DELIVERY_ERRORS};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_delivery("svc", "orders", std::time::Duration::from_millis(3), false) });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == PRODUCER_DELIVERY_ERRORS), "{names:?}");
/// ```
pub const PRODUCER_DELIVERY_ERRORS: &str = "kafka_producer_delivery_errors_total";
/// Histogram: seconds from send to acknowledgement or failure.
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{PRODUCER_DELIVERY_DURATION};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_delivery("svc", "orders", std::time::Duration::from_millis(3), true) });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == PRODUCER_DELIVERY_DURATION), "{names:?}");
/// ```
pub const PRODUCER_DELIVERY_DURATION: &str = "kafka_producer_delivery_duration_seconds";

/// How often librdkafka reports statistics (and so consumer lag) unless the
/// configuration sets `statistics.interval.ms` itself.
///
/// ```
/// use kafka_runtime::config::parse_consumer_address;
/// use kafka_runtime::metrics::DEFAULT_STATISTICS_INTERVAL;
/// assert_eq!(DEFAULT_STATISTICS_INTERVAL.as_millis(), 5000);
/// // An address-level override wins:
/// let mut cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=t&group=g").unwrap();
/// cfg.common.librdkafka_overrides.insert("statistics.interval.ms".into(), "1000".into());
/// ```
pub const DEFAULT_STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// Registers help texts with the installed recorder (exporters show them).
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// let recorder = DebuggingRecorder::new();
/// metrics::with_local_recorder(&recorder, kafka_runtime::metrics::describe);
/// ```
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(MESSAGES_HANDLED, "Messages whose handler succeeded");
    describe_counter!(
        MESSAGES_FAILED,
        "Messages given up on (retries exhausted or undecodable); committed"
    );
    describe_counter!(MESSAGES_RETRIED, "Handler re-runs after a failed attempt");
    describe_counter!(
        MESSAGES_DEAD_LETTERED,
        "Messages sent to a dead-letter topic"
    );
    describe_histogram!(
        HANDLER_DURATION,
        Unit::Seconds,
        "Duration of each handler attempt"
    );
    describe_gauge!(
        CONSUMER_LAG,
        "Consumer lag per partition (librdkafka statistics)"
    );
    describe_counter!(PRODUCER_DELIVERED, "Records acknowledged by the broker");
    describe_counter!(PRODUCER_DELIVERY_ERRORS, "Records that failed to deliver");
    describe_histogram!(
        PRODUCER_DELIVERY_DURATION,
        Unit::Seconds,
        "Time from send to acknowledgement or failure"
    );
}

fn labels(service: &str, topic: &str) -> [(&'static str, String); 2] {
    [("service", service.to_owned()), ("topic", topic.to_owned())]
}

/// Makes the consumer counters of `service` on `topic` exist at 0, so
/// dashboards and alerts see them before the first message.
pub(crate) fn register_consumer(service: &str, topic: &str) {
    for name in [
        MESSAGES_HANDLED,
        MESSAGES_FAILED,
        MESSAGES_RETRIED,
        MESSAGES_DEAD_LETTERED,
    ] {
        metrics::counter!(name, &labels(service, topic)).increment(0);
    }
}

/// What one handler attempt came to, for [`record_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// The handler succeeded (or asked to go on without commit).
    Handled,
    /// It failed and will run again.
    Retried,
    /// It failed (or did not decode) and the engine gives up on the messages.
    Failed,
}

/// Records one handler attempt over `count` messages that took `elapsed`.
pub(crate) fn record_attempt(
    service: &str,
    topic: &str,
    count: usize,
    elapsed: Duration,
    result: AttemptResult,
) {
    with_handles(service, topic, |h| {
        let name = match result {
            AttemptResult::Handled => MESSAGES_HANDLED,
            AttemptResult::Retried => MESSAGES_RETRIED,
            AttemptResult::Failed => MESSAGES_FAILED,
        };
        h.histogram(HANDLER_DURATION).record(elapsed.as_secs_f64());
        h.counter(name).increment(count as u64);
    });
}

/// The metrics of handler attempts that succeeded, for one (service,
/// topic), looked up once for a run of handlings on one thread rather than
/// per record (what [`record_attempt`] does with `Handled`).
pub(crate) struct HandledMetrics {
    duration: metrics::Histogram,
    handled: metrics::Counter,
}

impl HandledMetrics {
    /// The handles of `service` on `topic`, from this thread's cache.
    pub(crate) fn of(service: &str, topic: &str) -> Self {
        let mut handled = None;
        with_handles(service, topic, |h| {
            handled = Some(HandledMetrics {
                duration: h.histogram(HANDLER_DURATION).clone(),
                handled: h.counter(MESSAGES_HANDLED).clone(),
            });
        });
        handled.unwrap_or_else(|| HandledMetrics {
            duration: metrics::Histogram::noop(),
            handled: metrics::Counter::noop(),
        })
    }

    /// Records one successful attempt over `count` messages.
    pub(crate) fn record(&self, count: usize, elapsed: Duration) {
        self.duration.record(elapsed.as_secs_f64());
        self.handled.increment(count as u64);
    }
}

/// Records a message sent to a dead-letter topic (for the dead-letter
/// support to call).
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{MESSAGES_DEAD_LETTERED};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_dead_lettered("svc", "orders") });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == MESSAGES_DEAD_LETTERED), "{names:?}");
/// ```
pub fn record_dead_lettered(service: &str, topic: &str) {
    metrics::counter!(MESSAGES_DEAD_LETTERED, &labels(service, topic)).increment(1);
}

/// Records the outcome of one produced record: `elapsed` from send to the
/// broker's answer, `delivered` whether it was acknowledged. The producer
/// side calls this from its delivery path.
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use kafka_runtime::metrics::{PRODUCER_DELIVERY_ERRORS};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || { kafka_runtime::metrics::record_delivery("svc", "orders", std::time::Duration::from_millis(3), false) });
/// let names: Vec<String> = snapshotter.snapshot().into_vec().into_iter()
///     .map(|(key, ..)| key.key().name().to_owned()).collect();
/// assert!(names.iter().any(|n| n == PRODUCER_DELIVERY_ERRORS), "{names:?}");
/// ```
pub fn record_delivery(service: &str, topic: &str, elapsed: Duration, delivered: bool) {
    with_handles(service, topic, |h| {
        let name = if delivered {
            PRODUCER_DELIVERED
        } else {
            PRODUCER_DELIVERY_ERRORS
        };
        h.histogram(PRODUCER_DELIVERY_DURATION)
            .record(elapsed.as_secs_f64());
        h.counter(name).increment(1);
    });
}

/// The per-record metrics of one (service, topic), registered once.
///
/// Building a metric key (two label strings, a hash) per record cost more
/// than the rest of a no-op handler's bookkeeping; handles are cached per
/// thread, keyed by the recorder they were registered with, so a recorder
/// installed later (or a test's local recorder) gets its own.
struct Handles {
    recorder: usize,
    service: Box<str>,
    topic: Box<str>,
    /// Registered on first use, as the uncached code did.
    counters: Vec<(&'static str, metrics::Counter)>,
    histograms: Vec<(&'static str, metrics::Histogram)>,
}

impl Handles {
    fn counter(&mut self, name: &'static str) -> &metrics::Counter {
        let i = match self.counters.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                let counter = metrics::counter!(name, &labels(&self.service, &self.topic));
                self.counters.push((name, counter));
                self.counters.len() - 1
            }
        };
        &self.counters[i].1
    }

    fn histogram(&mut self, name: &'static str) -> &metrics::Histogram {
        let i = match self.histograms.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                let histogram = metrics::histogram!(name, &labels(&self.service, &self.topic));
                self.histograms.push((name, histogram));
                self.histograms.len() - 1
            }
        };
        &self.histograms[i].1
    }
}

/// Entries one thread caches at most (services x topics it served).
const HANDLE_CACHE: usize = 64;

thread_local! {
    static HANDLES: std::cell::RefCell<Vec<Handles>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The address of the recorder in force for this thread: tells a cached
/// handle's recorder from a newer one.
fn recorder_id() -> usize {
    metrics::with_recorder(|r| r as *const dyn metrics::Recorder as *const () as usize)
}

fn with_handles(service: &str, topic: &str, f: impl FnOnce(&mut Handles)) {
    let recorder = recorder_id();
    HANDLES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let found = cache
            .iter()
            .position(|h| h.recorder == recorder && &*h.topic == topic && &*h.service == service);
        let index = match found {
            Some(i) => i,
            None => {
                if cache.len() >= HANDLE_CACHE {
                    cache.clear();
                }
                cache.push(Handles {
                    recorder,
                    service: service.into(),
                    topic: topic.into(),
                    counters: Vec::new(),
                    histograms: Vec::new(),
                });
                cache.len() - 1
            }
        };
        f(&mut cache[index]);
    });
}

/// Sets the lag gauges of `service` from one librdkafka statistics report,
/// except for the partitions `stale` names (their report is known to be
/// out of date: see `consumer::lag`).
///
/// Partition -1 (librdkafka's "unassigned" bucket) and lags of -1 (unknown:
/// nothing committed yet, or a broker that does not report watermarks) are
/// skipped rather than exported as a negative lag.
pub(crate) fn record_consumer_stats(
    service: &str,
    stats: &Statistics,
    stale: impl Fn(&str, i32) -> bool,
) {
    record_lags(
        service,
        stats.topics.iter().flat_map(|(topic, t)| {
            t.partitions
                .iter()
                .filter(|(p, _)| !stale(topic, **p))
                .map(move |(p, part)| (topic.as_str(), *p, part.consumer_lag))
        }),
    );
}

/// Sets the lag gauge of one partition of `service` (skipped when unknown,
/// as in [`record_consumer_stats`]).
pub(crate) fn record_lag(service: &str, topic: &str, partition: i32, lag: i64) {
    record_lags(service, std::iter::once((topic, partition, lag)));
}

/// Sets the lag gauge for each (topic, partition, lag) that is known.
fn record_lags<'a>(service: &str, lags: impl Iterator<Item = (&'a str, i32, i64)>) {
    for (topic, partition, lag) in lags {
        if partition < 0 || lag < 0 {
            continue;
        }
        metrics::gauge!(
            CONSUMER_LAG,
            "service" => service.to_owned(),
            "topic" => topic.to_owned(),
            "partition" => partition.to_string()
        )
        .set(lag as f64);
    }
}

/// Installs a Prometheus recorder as the global `metrics` recorder and
/// serves it over HTTP at `addr` (any path answers with the metrics text).
/// Histograms are exported with buckets from 1 ms to 10 s.
///
/// Call it once, early (before `serve()`), inside a tokio runtime or not.
/// Fails if a global recorder is already installed or `addr` cannot be bound.
///
/// (Compiled only: `serve()` runs until SIGINT/SIGTERM; `cargo run
/// --example metrics` scrapes a live endpoint.)
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// kafka_runtime::metrics::install_prometheus(([0, 0, 0, 0], 9000).into())?;
/// kafka_runtime::serve().await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "prometheus")]
pub fn install_prometheus(
    addr: std::net::SocketAddr,
) -> Result<(), metrics_exporter_prometheus::BuildError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    const BUCKETS: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)?
        .install()?;
    describe();
    Ok(())
}

/// The Prometheus exporter's error type (feature `prometheus`).
#[cfg(feature = "prometheus")]
pub use metrics_exporter_prometheus::BuildError as PrometheusError;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    /// (metric name, labels as `k=v` joined by `,`, value) of every sample.
    fn samples(recorder: &DebuggingRecorder) -> Vec<(String, String, DebugValue)> {
        let mut out: Vec<_> = recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect::<Vec<_>>()
                    .join(",");
                (key.name().to_owned(), labels, value)
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    #[test]
    fn unknown_lags_and_the_unassigned_partition_are_not_exported() {
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            record_lags(
                "svc",
                [("t", 0, 5), ("t", 1, -1), ("t", -1, 7), ("u", 2, 0)].into_iter(),
            );
        });
        let got = samples(&recorder);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, "service=svc,topic=t,partition=0");
        assert_eq!(got[0].2, DebugValue::Gauge(5.0.into()));
        assert_eq!(got[1].1, "service=svc,topic=u,partition=2");
        assert_eq!(got[1].2, DebugValue::Gauge(0.0.into()));
    }

    #[test]
    fn attempts_count_messages_and_time_every_attempt() {
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            register_consumer("svc", "t");
            let ms = Duration::from_millis(2);
            record_attempt("svc", "t", 3, ms, AttemptResult::Handled);
            record_attempt("svc", "t", 1, ms, AttemptResult::Retried);
            record_attempt("svc", "t", 1, ms, AttemptResult::Failed);
        });
        let got = samples(&recorder);
        let value = |name: &str| got.iter().find(|(n, ..)| n == name).map(|(_, _, v)| v);
        assert_eq!(value(MESSAGES_HANDLED), Some(&DebugValue::Counter(3)));
        assert_eq!(value(MESSAGES_RETRIED), Some(&DebugValue::Counter(1)));
        assert_eq!(value(MESSAGES_FAILED), Some(&DebugValue::Counter(1)));
        assert_eq!(value(MESSAGES_DEAD_LETTERED), Some(&DebugValue::Counter(0)));
        match value(HANDLER_DURATION) {
            Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 3),
            other => panic!("no latency histogram: {other:?}"),
        }
    }
}
