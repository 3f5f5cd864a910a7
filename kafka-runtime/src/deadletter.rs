//! Dead-letter topics: where a consumer puts records it gave up on.
//!
//! A record is given up on when its handler keeps failing until `maxRetry`
//! is exhausted (a timeout or a panic counts as a failure), after the last
//! retry topic with `retryTopics=N` ([`crate::retrytopic`]), or when its
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
//! rather than losing the record. A batch handler that gives up on the whole
//! batch sends every record of it; one that reported which records failed
//! ([`crate::BatchError`]) sends only those.
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

use std::time::{Duration, SystemTime};

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use tokio_util::sync::CancellationToken;

use crate::config::ConsumerConfig;
use crate::forward::{Copy, Forwarder};
use crate::retrytopic::{self, RetryTopics};
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

/// Why a record was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The last attempt's error (a timeout and a panic are errors too).
    pub(crate) error: String,
    /// How many times the handler ran on the record, on every topic.
    pub(crate) attempts: u32,
    /// Whether the payload did not decode (retrying cannot help).
    pub(crate) undecodable: bool,
    /// With retry topics: the wait before the record's next run, in the
    /// next retry topic; `None` when no hop follows.
    pub(crate) retry_in: Option<Duration>,
}

/// What a consumer service does with the records it gives up on: the
/// retry topics' next hop, the dead-letter topic, or nothing (skip).
pub(crate) struct GiveUp {
    forwarder: Option<Forwarder>,
    dead_letter_topic: Option<String>,
    retry_topics: Option<RetryTopics>,
}

/// Where the records come from, for the headers and logs.
pub(crate) struct Source<'a> {
    pub(crate) service: &'a str,
    pub(crate) group: &'a str,
}

/// The service stopped before a given-up record reached its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped;

impl GiveUp {
    /// The give-up stage of a consumer: a producer when it has
    /// `deadLetterTopic` or `retryTopics`.
    pub(crate) fn create(config: &ConsumerConfig) -> Result<Self, KafkaError> {
        let retry_topics = config
            .retry_topics
            .map(|levels| RetryTopics::new(&config.topics, levels));
        let forwarder = match (&config.dead_letter_topic, &retry_topics) {
            (None, None) => None,
            _ => Some(Forwarder::create(config)?),
        };
        Ok(GiveUp {
            forwarder,
            dead_letter_topic: config.dead_letter_topic.clone(),
            retry_topics,
        })
    }

    /// The retry topics, when the service has them.
    pub(crate) fn retry_topics(&self) -> Option<&RetryTopics> {
        self.retry_topics.as_ref()
    }

    /// Whether a record read from `topic` that the handler gives up on goes
    /// to a retry topic (rather than to the dead-letter stage).
    pub(crate) fn hops_from(&self, topic: &str) -> bool {
        self.retry_topics
            .as_ref()
            .is_some_and(|r| r.after(topic).is_some())
    }
}

/// The dead-letter stage of the consumer engine, for the records the retry
/// policy gave up on: each goes to the next retry topic when one follows
/// (its failure says when it is due), else to the dead-letter topic when
/// the service has one, else it is skipped; logged either way. `Ok` when
/// their offsets may be stored; `Err` when `stop` fired before every copy
/// was acknowledged (the offsets stay unstored, so they are read again).
pub(crate) async fn give_up(
    stage: &GiveUp,
    source: &Source<'_>,
    given_up: &[(Message, Failure)],
    stop: &CancellationToken,
) -> Result<(), Stopped> {
    if given_up.is_empty() {
        return Ok(());
    }
    let now = SystemTime::now();
    let mut copies = Vec::new();
    for (msg, failure) in given_up {
        let hop = match (failure.retry_in, &stage.retry_topics) {
            (Some(wait), Some(topics)) if !failure.undecodable => {
                topics.after(&msg.topic).map(|next| (next, wait))
            }
            _ => None,
        };
        match (hop, &stage.dead_letter_topic) {
            (Some((next, wait)), _) => {
                tracing::warn!(
                    service = source.service,
                    topic = &*msg.topic,
                    partition = msg.partition,
                    offset = msg.offset,
                    attempts = failure.attempts,
                    error = %failure.error,
                    retry_topic = next,
                    retry_in = ?wait,
                    "handler failed; the record goes to the next retry topic and its offset is committed"
                );
                let headers =
                    retrytopic::hop_headers(msg, failure.attempts, now + wait, &failure.error);
                copies.push((
                    Copy {
                        topic: next,
                        msg,
                        headers,
                    },
                    false,
                ));
            }
            (None, Some(topic)) => {
                log_given_up(source, msg, failure, Some(topic));
                let headers = dead_letter_headers(source, msg, failure);
                copies.push((
                    Copy {
                        topic,
                        msg,
                        headers,
                    },
                    true,
                ));
            }
            (None, None) => log_given_up(source, msg, failure, None),
        }
    }
    if copies.is_empty() {
        return Ok(());
    }
    let Some(forwarder) = &stage.forwarder else {
        return Ok(());
    };
    let dead_letter_topic = stage.dead_letter_topic.as_deref();
    let copies = copies.into_iter().map(|(copy, _)| copy).collect();
    let sent = |copy: &Copy<'_>| {
        if Some(copy.topic) == dead_letter_topic {
            crate::metrics::record_dead_lettered(source.service, &copy.msg.topic);
        }
    };
    if forwarder.send_all(source.service, copies, stop, sent).await {
        Ok(())
    } else {
        Err(Stopped)
    }
}

fn log_given_up(
    source: &Source<'_>,
    msg: &Message,
    failure: &Failure,
    dead_letter_topic: Option<&str>,
) {
    let destination = match dead_letter_topic {
        None => "no deadLetterTopic is configured, so it is skipped and its offset committed",
        Some(_) => "sending it to the dead-letter topic, then committing its offset",
    };
    tracing::error!(
        service = source.service,
        topic = &*msg.topic,
        partition = msg.partition,
        offset = msg.offset,
        attempts = failure.attempts,
        error = %failure.error,
        dead_letter_topic,
        "giving up on the record as maxRetry says (or its payload does not decode); {destination}"
    );
}

/// The original headers (without those of retry topics), then the `dlt-*`
/// ones, naming where the record was first read.
fn dead_letter_headers(source: &Source<'_>, msg: &Message, failure: &Failure) -> OwnedHeaders {
    let reason = if failure.undecodable {
        "undecodable"
    } else {
        "handler-failed"
    };
    let origin = retrytopic::origin_of(msg);
    let mut added = vec![
        (ERROR_HEADER, failure.error.clone()),
        (REASON_HEADER, reason.to_owned()),
        (ATTEMPTS_HEADER, failure.attempts.to_string()),
        (TOPIC_HEADER, origin.topic),
        (PARTITION_HEADER, origin.partition.to_string()),
        (OFFSET_HEADER, origin.offset.to_string()),
    ];
    if let Some(ts) = origin.timestamp {
        added.push((TIMESTAMP_HEADER, ts.to_string()));
    }
    added.push((SERVICE_HEADER, source.service.to_owned()));
    added.push((GROUP_HEADER, source.group.to_owned()));
    let originals = msg
        .headers
        .iter()
        .filter(|(k, _)| !retrytopic::is_own_header(k))
        .map(|(k, v)| (k.as_str(), v.as_deref()));
    let added = added.iter().map(|(k, v)| (*k, Some(v.as_bytes())));
    originals.chain(added).fold(
        OwnedHeaders::new_with_capacity(msg.headers.len() + 9),
        |headers, (key, value)| headers.insert(Header { key, value }),
    )
}
