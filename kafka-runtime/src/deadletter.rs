//! Dead-letter topics: where a consumer puts records it gave up on.
//!
//! A record is given up on when its handler keeps failing until `maxRetry`
//! is exhausted (a timeout or a panic counts as a failure), or when its
//! payload does not decode into the handler's type (decoding is
//! deterministic, so it is not retried). Without `deadLetterTopic` the
//! record is skipped with an error log, as the seed does. With
//! `deadLetterTopic=NAME` on the consumer address, the runtime first sends it
//! to `NAME`, and only stores its offset once the broker has acknowledged
//! that copy, so a record is never both uncommitted-and-lost nor
//! committed-and-lost:
//!
//! ```yaml
//! server:
//!   service:
//!     - name: trpc.app.server.orders
//!       address: 127.0.0.1:9092?topics=orders&group=billing&maxRetry=3&deadLetterTopic=orders.dlt
//! ```
//!
//! The copy carries the original key, value and headers (in order), and
//! these headers after them, all UTF-8 text:
//!
//! | header | value |
//! |---|---|
//! | [`ERROR_HEADER`] | the last error (`handler panicked: ...`, `handler timed out ...`, `payload does not decode: ...`) |
//! | [`REASON_HEADER`] | `handler-failed` or `undecodable` |
//! | [`ATTEMPTS_HEADER`] | how many times the handler ran |
//! | [`TOPIC_HEADER`], [`PARTITION_HEADER`], [`OFFSET_HEADER`] | where the record was read |
//! | [`TIMESTAMP_HEADER`] | the original record timestamp (ms since the epoch), when it had one |
//! | [`SERVICE_HEADER`], [`GROUP_HEADER`] | the consuming service and group |
//!
//! The copy is produced with `acks=all` by a producer on the consumer's own
//! brokers and security settings, partitioned by key. If the dead-letter
//! topic cannot be written (it does not exist on a broker that does not
//! create topics, an ACL refuses it...), the runtime logs the error and
//! tries again every `retryInterval` (at least 100 ms): the partition waits
//! rather than losing the record. A batch handler that gives up sends every
//! record of the batch.
//!
//! Reading the headers back, e.g. in a handler of the dead-letter topic:
//!
//! ```
//! use kafka_runtime::{deadletter, Message};
//!
//! fn describe(record: &Message) -> String {
//!     let text = |name| {
//!         record
//!             .header(name)
//!             .map(|v| String::from_utf8_lossy(v).into_owned())
//!             .unwrap_or_default()
//!     };
//!     format!(
//!         "{}[{}]@{} failed: {}",
//!         text(deadletter::TOPIC_HEADER),
//!         text(deadletter::PARTITION_HEADER),
//!         text(deadletter::OFFSET_HEADER),
//!         text(deadletter::ERROR_HEADER),
//!     )
//! }
//!
//! let mut record = Message::new("orders.dlt", 0, 7);
//! record.headers.push((deadletter::TOPIC_HEADER.into(), Some("orders".into())));
//! record.headers.push((deadletter::PARTITION_HEADER.into(), Some("3".into())));
//! record.headers.push((deadletter::OFFSET_HEADER.into(), Some("42".into())));
//! record.headers.push((deadletter::ERROR_HEADER.into(), Some("boom".into())));
//! assert_eq!(describe(&record), "orders[3]@42 failed: boom");
//! ```

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::config::{ConsumerConfig, ProducerConfig};
use crate::Message;

/// The last error of the handler, or why the payload did not decode.
///
/// ```
/// use kafka_runtime::{deadletter::ERROR_HEADER, Message};
/// assert_eq!(ERROR_HEADER, "dlt-error");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((ERROR_HEADER.into(), Some("x".into())));
/// assert!(copy.header(ERROR_HEADER).is_some());
/// ```
pub const ERROR_HEADER: &str = "dlt-error";
/// `handler-failed` (maxRetry exhausted) or `undecodable`.
///
/// ```
/// use kafka_runtime::{deadletter::REASON_HEADER, Message};
/// assert_eq!(REASON_HEADER, "dlt-reason");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((REASON_HEADER.into(), Some("x".into())));
/// assert!(copy.header(REASON_HEADER).is_some());
/// ```
pub const REASON_HEADER: &str = "dlt-reason";
/// How many times the handler ran on the record.
///
/// ```
/// use kafka_runtime::{deadletter::ATTEMPTS_HEADER, Message};
/// assert_eq!(ATTEMPTS_HEADER, "dlt-attempts");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((ATTEMPTS_HEADER.into(), Some("x".into())));
/// assert!(copy.header(ATTEMPTS_HEADER).is_some());
/// ```
pub const ATTEMPTS_HEADER: &str = "dlt-attempts";
/// The topic the record was read from.
///
/// ```
/// use kafka_runtime::{deadletter::TOPIC_HEADER, Message};
/// assert_eq!(TOPIC_HEADER, "dlt-original-topic");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((TOPIC_HEADER.into(), Some("x".into())));
/// assert!(copy.header(TOPIC_HEADER).is_some());
/// ```
pub const TOPIC_HEADER: &str = "dlt-original-topic";
/// The partition the record was read from.
///
/// ```
/// use kafka_runtime::{deadletter::PARTITION_HEADER, Message};
/// assert_eq!(PARTITION_HEADER, "dlt-original-partition");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((PARTITION_HEADER.into(), Some("x".into())));
/// assert!(copy.header(PARTITION_HEADER).is_some());
/// ```
pub const PARTITION_HEADER: &str = "dlt-original-partition";
/// The offset of the record in its partition.
///
/// ```
/// use kafka_runtime::{deadletter::OFFSET_HEADER, Message};
/// assert_eq!(OFFSET_HEADER, "dlt-original-offset");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((OFFSET_HEADER.into(), Some("x".into())));
/// assert!(copy.header(OFFSET_HEADER).is_some());
/// ```
pub const OFFSET_HEADER: &str = "dlt-original-offset";
/// The original record's timestamp in milliseconds since the epoch.
///
/// ```
/// use kafka_runtime::{deadletter::TIMESTAMP_HEADER, Message};
/// assert_eq!(TIMESTAMP_HEADER, "dlt-original-timestamp");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((TIMESTAMP_HEADER.into(), Some("x".into())));
/// assert!(copy.header(TIMESTAMP_HEADER).is_some());
/// ```
pub const TIMESTAMP_HEADER: &str = "dlt-original-timestamp";
/// The consumer service (the YAML `name`) that gave up.
///
/// ```
/// use kafka_runtime::{deadletter::SERVICE_HEADER, Message};
/// assert_eq!(SERVICE_HEADER, "dlt-service");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((SERVICE_HEADER.into(), Some("x".into())));
/// assert!(copy.header(SERVICE_HEADER).is_some());
/// ```
pub const SERVICE_HEADER: &str = "dlt-service";
/// The consumer group of that service.
///
/// ```
/// use kafka_runtime::{deadletter::GROUP_HEADER, Message};
/// assert_eq!(GROUP_HEADER, "dlt-group");
/// let mut copy = Message::new("orders.dlt", 0, 0);
/// copy.headers.push((GROUP_HEADER.into(), Some("x".into())));
/// assert!(copy.header(GROUP_HEADER).is_some());
/// ```
pub const GROUP_HEADER: &str = "dlt-group";

/// How long one send may take before it is reported and tried again;
/// shorter than librdkafka's 300 s default so a missing topic shows up in
/// the logs quickly.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest wait between two rounds of failed sends.
const MIN_RETRY_WAIT: Duration = Duration::from_millis(100);

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

/// The dead-letter stage of the consumer engine: a message (batch) the
/// retry policy gave up on goes to the dead-letter topic when the service
/// has one, else it is skipped; logged either way. `Ok` when its offset
/// may be stored; `Err` when `stop` fired before the dead-letter topic
/// took it (its offset stays unstored, so it is read again).
pub(crate) async fn give_up(
    dead_letter: Option<&DeadLetter>,
    source: &Source<'_>,
    msgs: &[Message],
    failure: &Failure,
    stop: &CancellationToken,
) -> Result<(), Stopped> {
    let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
        return Ok(());
    };
    let destination = match dead_letter {
        None => "no deadLetterTopic is configured, so it is skipped and its offset committed",
        Some(dead_letter) => {
            if !dead_letter.publish(source, msgs, failure, stop).await {
                return Err(Stopped);
            }
            "sent to the dead-letter topic, committing its offset"
        }
    };
    tracing::error!(
        service = source.service,
        topic = &*first.topic,
        partition = first.partition,
        offset = first.offset,
        last_offset = last.offset,
        attempts = failure.attempts,
        error = %failure.error,
        dead_letter_topic = dead_letter.map(DeadLetter::topic),
        "giving up on the record as maxRetry says (or its payload does not decode); {destination}"
    );
    Ok(())
}

/// The service stopped before a given-up record reached the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped;

/// A consumer service's dead-letter producer.
pub(crate) struct DeadLetter {
    topic: String,
    producer: FutureProducer,
    retry_wait: Duration,
}

/// Where the records come from, for the headers and logs.
pub(crate) struct Source<'a> {
    pub(crate) service: &'a str,
    pub(crate) group: &'a str,
}

impl DeadLetter {
    /// The dead-letter producer of a consumer, if it has `deadLetterTopic`.
    pub(crate) fn create(config: &ConsumerConfig) -> Result<Option<Self>, KafkaError> {
        let Some(topic) = &config.dead_letter_topic else {
            return Ok(None);
        };
        // The consumer's brokers, client id and security, with the seed's
        // producer defaults (acks=all): a dead-letter copy must be durable.
        let producer_config = ProducerConfig {
            common: config.common.clone(),
            ..ProducerConfig::default()
        };
        let mut properties = producer_config.client_config();
        properties.set("message.timeout.ms", SEND_TIMEOUT.as_millis().to_string());
        crate::logging::configure(&mut properties);
        Ok(Some(DeadLetter {
            topic: topic.clone(),
            producer: properties.create()?,
            retry_wait: config.retry_interval.max(MIN_RETRY_WAIT),
        }))
    }

    /// The topic records go to.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends every record and waits for the broker's acknowledgements,
    /// trying failed ones again until they succeed; `false` when `stop`
    /// fired first (the caller then leaves the offsets unstored, so the
    /// records are read again).
    pub(crate) async fn publish(
        &self,
        source: &Source<'_>,
        msgs: &[Message],
        failure: &Failure,
        stop: &CancellationToken,
    ) -> bool {
        let mut pending: Vec<&Message> = msgs.iter().collect();
        loop {
            let results = join_all(pending.iter().map(|m| self.send(source, m, failure))).await;
            let mut failed = Vec::new();
            for (msg, result) in pending.into_iter().zip(results) {
                match result {
                    Ok(()) => crate::metrics::record_dead_lettered(source.service, &msg.topic),
                    Err(error) => {
                        tracing::error!(
                            service = source.service,
                            topic = &*msg.topic,
                            partition = msg.partition,
                            offset = msg.offset,
                            dead_letter_topic = self.topic,
                            %error,
                            retry_in = ?self.retry_wait,
                            "could not write a record to the dead-letter topic (does it exist?); \
                             its offset stays uncommitted, trying again"
                        );
                        failed.push(msg);
                    }
                }
            }
            if failed.is_empty() {
                return true;
            }
            pending = failed;
            tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(self.retry_wait) => {}
            }
        }
    }

    async fn send(
        &self,
        source: &Source<'_>,
        msg: &Message,
        failure: &Failure,
    ) -> Result<(), KafkaError> {
        let headers = dead_letter_headers(source, msg, failure);
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(key) = &msg.key {
            record = record.key(key.as_ref());
        }
        if let Some(payload) = &msg.payload {
            record = record.payload(payload.as_ref());
        }
        self.producer
            .send(record, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}

/// The original headers, then the `dlt-*` ones.
fn dead_letter_headers(source: &Source<'_>, msg: &Message, failure: &Failure) -> OwnedHeaders {
    let reason = if failure.undecodable {
        "undecodable"
    } else {
        "handler-failed"
    };
    let mut added = vec![
        (ERROR_HEADER, failure.error.clone()),
        (REASON_HEADER, reason.to_owned()),
        (ATTEMPTS_HEADER, failure.attempts.to_string()),
        (TOPIC_HEADER, msg.topic.to_string()),
        (PARTITION_HEADER, msg.partition.to_string()),
        (OFFSET_HEADER, msg.offset.to_string()),
    ];
    if let Some(ts) = msg.timestamp {
        added.push((TIMESTAMP_HEADER, ts.to_string()));
    }
    added.push((SERVICE_HEADER, source.service.to_owned()));
    added.push((GROUP_HEADER, source.group.to_owned()));
    let originals = msg.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
    let added = added.iter().map(|(k, v)| (*k, Some(v.as_bytes())));
    originals.chain(added).fold(
        OwnedHeaders::new_with_capacity(msg.headers.len() + 9),
        |headers, (key, value)| headers.insert(Header { key, value }),
    )
}
