//! Retry topics: retries that do not hold the partition up
//! (`retryTopics=N` on a consumer address).
//!
//! Without them, a failing record is retried in place: the partition waits
//! (`retryInterval`, `retryBackoff`) until the handler succeeds or
//! `maxRetry` gives up. With `retryTopics=N`, a record the handler gives up
//! on is written to `TOPIC-retry-1` and its offset committed, so the records
//! behind it flow on at once. The service itself consumes the retry topics,
//! in the consumer group `GROUP-retry`, with the same handler: a record in
//! `TOPIC-retry-k` is handled once its wait has passed (the retry
//! schedule's wait after the record's runs so far, without jitter), and if
//! the handler gives up on it again it moves to `TOPIC-retry-(k+1)`, and
//! after `TOPIC-retry-N` to `deadLetterTopic` (or it is skipped with an
//! error log when there is none). A payload that does not decode goes to the
//! dead-letter stage at once: decoding again cannot help.
//!
//! ```yaml
//! server:
//!   service:
//!     - name: trpc.app.server.orders
//!       address: 127.0.0.1:9092?topics=orders&group=billing&retryTopics=3&retryBackoff=exponential&retryInterval=1000&deadLetterTopic=orders.dlt
//! ```
//!
//! Here a record that always fails runs once in `orders`, once in
//! `orders-retry-1` 1 s later, once in `orders-retry-2` 2 s after that, once
//! in `orders-retry-3` 4 s after that, and then lands in `orders.dlt` with
//! `dlt-attempts: 4`. `maxRetry` counts the runs in place on each topic: with
//! retry topics, 0 (the default) means one run per topic.
//!
//! Every copy keeps the original key, value and headers, and carries these
//! headers after them (UTF-8 text), replaced at every hop:
//!
//! | header | value |
//! |---|---|
//! | [`ATTEMPTS_HEADER`] | how many times the handler ran on the record so far, on every topic |
//! | [`DUE_HEADER`] | when the next run is due, in milliseconds since the Unix epoch |
//! | [`ERROR_HEADER`] | the last error |
//! | [`TOPIC_HEADER`], [`PARTITION_HEADER`], [`OFFSET_HEADER`] | where the record was first read |
//! | [`TIMESTAMP_HEADER`] | the original record's timestamp, when it had one |
//!
//! The dead-letter copy names the original topic, partition and offset in
//! its `dlt-original-*` headers, counts every run in `dlt-attempts`, and
//! carries the original headers without these.
//!
//! The retry topics must exist: `serve()` fails at startup naming the
//! missing ones (give them as many partitions as the topic they retry).
//! Copies are partitioned by key, so the records of one key stay in order
//! within a retry topic. The handler sees a retried record as it was
//! written to the retry topic: `ctx.raw().topic` is the retry topic and
//! [`crate::Context::attempt`] counts the runs on every topic.
//!
//! ```
//! use kafka_runtime::{retrytopic, Message};
//!
//! assert_eq!(retrytopic::topic_name("orders", 2), "orders-retry-2");
//! let mut copy = Message::new("orders-retry-2", 0, 5);
//! copy.headers.push((retrytopic::ATTEMPTS_HEADER.into(), Some("2".into())));
//! copy.headers.push((retrytopic::OFFSET_HEADER.into(), Some("41".into())));
//! assert_eq!(retrytopic::attempts_so_far(&copy), 2);
//! assert_eq!(copy.header(retrytopic::OFFSET_HEADER).map(|v| &v[..]), Some(&b"41"[..]));
//! ```
//!
//! Order: records of a partition that succeed are not held back by one that
//! fails, so a retried record is handled after records that came after it,
//! also after later records of its own key. A service that needs each key's
//! records in order must keep retries in place (no `retryTopics`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::message::{Header, OwnedHeaders};

use crate::Message;

/// How many times the handler ran on the record so far, on every topic.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::ATTEMPTS_HEADER, "retry-attempts");
/// ```
pub const ATTEMPTS_HEADER: &str = "retry-attempts";
/// When the next run is due, in milliseconds since the Unix epoch.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::DUE_HEADER, "retry-due");
/// ```
pub const DUE_HEADER: &str = "retry-due";
/// The error of the run that sent the record on.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::ERROR_HEADER, "retry-error");
/// ```
pub const ERROR_HEADER: &str = "retry-error";
/// The topic the record was first read from.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::TOPIC_HEADER, "retry-original-topic");
/// ```
pub const TOPIC_HEADER: &str = "retry-original-topic";
/// The partition the record was first read from.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::PARTITION_HEADER, "retry-original-partition");
/// ```
pub const PARTITION_HEADER: &str = "retry-original-partition";
/// The record's offset in the partition it was first read from.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::OFFSET_HEADER, "retry-original-offset");
/// ```
pub const OFFSET_HEADER: &str = "retry-original-offset";
/// The original record's timestamp, in milliseconds since the Unix epoch.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::TIMESTAMP_HEADER, "retry-original-timestamp");
/// ```
pub const TIMESTAMP_HEADER: &str = "retry-original-timestamp";

const OWN_HEADERS: [&str; 7] = [
    ATTEMPTS_HEADER,
    DUE_HEADER,
    ERROR_HEADER,
    TOPIC_HEADER,
    PARTITION_HEADER,
    OFFSET_HEADER,
    TIMESTAMP_HEADER,
];

/// The retry topic `level` (1 for the first) of `topic`: `TOPIC-retry-LEVEL`.
///
/// ```
/// assert_eq!(kafka_runtime::retrytopic::topic_name("orders", 1), "orders-retry-1");
/// ```
pub fn topic_name(topic: &str, level: u32) -> String {
    format!("{topic}-retry-{level}")
}

/// How many times the handler ran on `msg` before it reached the topic it
/// was read from (0 for a record that is not a retry copy).
///
/// ```
/// use kafka_runtime::{retrytopic, Message};
/// assert_eq!(retrytopic::attempts_so_far(&Message::new("orders", 0, 0)), 0);
/// ```
pub fn attempts_so_far(msg: &Message) -> u32 {
    number(msg, ATTEMPTS_HEADER).unwrap_or(0)
}

fn number<T: std::str::FromStr>(msg: &Message, header: &str) -> Option<T> {
    let value = msg.header(header)?;
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// When `msg`'s next run is due, if it is a retry copy.
pub(crate) fn due_of(msg: &Message) -> Option<SystemTime> {
    number::<u64>(msg, DUE_HEADER).map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
}

/// Whether `key` is one of the headers this module writes.
pub(crate) fn is_own_header(key: &str) -> bool {
    OWN_HEADERS.contains(&key)
}

/// Where a record was first read: from the headers of a retry copy, else
/// the record's own coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: Option<i64>,
}

pub(crate) fn origin_of(msg: &Message) -> Origin {
    let text = |header| {
        msg.header(header)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned)
    };
    match (
        text(TOPIC_HEADER),
        number(msg, PARTITION_HEADER),
        number(msg, OFFSET_HEADER),
    ) {
        (Some(topic), Some(partition), Some(offset)) => Origin {
            topic,
            partition,
            offset,
            timestamp: number(msg, TIMESTAMP_HEADER),
        },
        _ => Origin {
            topic: msg.topic.to_string(),
            partition: msg.partition,
            offset: msg.offset,
            timestamp: msg.timestamp,
        },
    }
}

/// The retry topics of one consumer service.
#[derive(Debug, Clone)]
pub(crate) struct RetryTopics {
    /// For every topic the service reads (subscribed or retry), the topic a
    /// record given up on there goes to; `None` after the last level.
    next: Vec<(String, Option<String>)>,
}

impl RetryTopics {
    /// The retry topics of `topics` with `levels` levels.
    pub(crate) fn new(topics: &[String], levels: u32) -> Self {
        let mut next = Vec::new();
        for topic in topics {
            for level in 0..=levels {
                let from = match level {
                    0 => topic.clone(),
                    k => topic_name(topic, k),
                };
                let to = (level < levels).then(|| topic_name(topic, level + 1));
                next.push((from, to));
            }
        }
        RetryTopics { next }
    }

    /// Every retry topic, in level order per subscribed topic.
    pub(crate) fn all(&self) -> Vec<String> {
        self.next.iter().filter_map(|(_, to)| to.clone()).collect()
    }

    /// The retry topic a record read from `topic` goes to when given up
    /// on; `None` after the last level (it goes to the dead-letter stage).
    pub(crate) fn after(&self, topic: &str) -> Option<&str> {
        self.next
            .iter()
            .find(|(from, _)| from == topic)
            .and_then(|(_, to)| to.as_deref())
    }
}

/// The headers of the copy of `msg` sent on to a retry topic: the original
/// headers (without those of an earlier hop), then this module's.
pub(crate) fn hop_headers(
    msg: &Message,
    attempts: u32,
    due: SystemTime,
    error: &str,
) -> OwnedHeaders {
    let origin = origin_of(msg);
    // Rounded up to the next millisecond: a copy never runs before its
    // wait is over (truncating made a 300 ms wait 299.8 ms).
    let due_ms = due.duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 != 0)
    });
    let mut added = vec![
        (ATTEMPTS_HEADER, attempts.to_string()),
        (DUE_HEADER, due_ms.to_string()),
        (ERROR_HEADER, error.to_owned()),
        (TOPIC_HEADER, origin.topic),
        (PARTITION_HEADER, origin.partition.to_string()),
        (OFFSET_HEADER, origin.offset.to_string()),
    ];
    if let Some(ts) = origin.timestamp {
        added.push((TIMESTAMP_HEADER, ts.to_string()));
    }
    let originals = msg
        .headers
        .iter()
        .filter(|(k, _)| !is_own_header(k))
        .map(|(k, v)| (k.as_str(), v.as_deref()));
    let added = added.iter().map(|(k, v)| (*k, Some(v.as_bytes())));
    originals.chain(added).fold(
        OwnedHeaders::new_with_capacity(msg.headers.len() + OWN_HEADERS.len()),
        |headers, (key, value)| headers.insert(Header { key, value }),
    )
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers as _;

    use super::*;

    #[test]
    fn each_topic_leads_to_the_next_level_and_the_last_to_none() {
        let topics = RetryTopics::new(&["a".to_owned(), "b".to_owned()], 2);
        assert_eq!(topics.after("a"), Some("a-retry-1"));
        assert_eq!(topics.after("a-retry-1"), Some("a-retry-2"));
        assert_eq!(topics.after("a-retry-2"), None);
        assert_eq!(topics.after("b-retry-1"), Some("b-retry-2"));
        assert_eq!(topics.after("c"), None);
        assert_eq!(
            topics.all(),
            ["a-retry-1", "a-retry-2", "b-retry-1", "b-retry-2"]
        );
    }

    #[test]
    fn a_hop_keeps_the_original_headers_and_replaces_its_own() {
        let mut first = Message::new("orders", 3, 41).with_key("k");
        first.timestamp = Some(1_700_000_000_000);
        first.headers.push(("tenant".into(), Some("acme".into())));
        let due = UNIX_EPOCH + Duration::from_millis(1_700_000_005_000);
        let headers = hop_headers(&first, 1, due, "boom");
        let mut copy = Message::new("orders-retry-1", 0, 7);
        copy.headers = (0..headers.count())
            .map(|i| {
                let h = headers.get(i);
                (h.key.to_owned(), h.value.map(bytes::Bytes::copy_from_slice))
            })
            .collect();
        let keys: Vec<&str> = copy.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "tenant",
                ATTEMPTS_HEADER,
                DUE_HEADER,
                ERROR_HEADER,
                TOPIC_HEADER,
                PARTITION_HEADER,
                OFFSET_HEADER,
                TIMESTAMP_HEADER
            ]
        );
        assert_eq!(attempts_so_far(&copy), 1);
        assert_eq!(due_of(&copy), Some(due));
        let origin = Origin {
            topic: "orders".into(),
            partition: 3,
            offset: 41,
            timestamp: Some(1_700_000_000_000),
        };
        assert_eq!(origin_of(&copy), origin);

        // The second hop names the first topic still, and no header twice.
        let headers = hop_headers(&copy, 2, due, "again");
        let keys: Vec<&str> = (0..headers.count()).map(|i| headers.get(i).key).collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        assert_eq!(keys.iter().filter(|k| **k == ATTEMPTS_HEADER).count(), 1);
        let offset = (0..headers.count())
            .map(|i| headers.get(i))
            .find(|h| h.key == OFFSET_HEADER)
            .and_then(|h| h.value);
        assert_eq!(offset, Some(&b"41"[..]));
    }

    #[test]
    fn a_due_time_between_milliseconds_is_rounded_up() {
        let msg = Message::new("orders", 0, 1);
        let due_of_hop = |due: SystemTime| {
            let headers = hop_headers(&msg, 1, due, "e");
            let value = (0..headers.count())
                .map(|i| headers.get(i))
                .find(|h| h.key == DUE_HEADER)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            value.unwrap()
        };
        let whole = UNIX_EPOCH + Duration::from_millis(1_700_000_005_000);
        assert_eq!(due_of_hop(whole), "1700000005000");
        assert_eq!(
            due_of_hop(whole + Duration::from_micros(200)),
            "1700000005001"
        );
    }
}
