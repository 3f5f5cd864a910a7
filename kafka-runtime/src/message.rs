//! The record a consumer handler receives.

use bytes::Bytes;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};

/// One consumed record, owned (detached from librdkafka's buffers), so a
/// handler may keep it past its own return.
///
/// ```
/// use kafka_runtime::Message;
///
/// let msg = Message::new("orders", 1, 100)
///     .with_key("order-7")
///     .with_payload(r#"{"id":7}"#);
/// assert_eq!(msg.payload_bytes(), r#"{"id":7}"#);
/// assert_eq!(msg.key.as_deref(), Some(&b"order-7"[..]));
/// assert_eq!(msg.header("traceparent"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The topic it was read from.
    pub topic: String,
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The record key, if any.
    pub key: Option<Bytes>,
    /// The record value; `None` for a tombstone.
    pub payload: Option<Bytes>,
    /// Record headers in record order; a header may have no value.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The record timestamp in milliseconds since the Unix epoch, if the
    /// broker or producer set one.
    pub timestamp: Option<i64>,
}

impl Message {
    /// Copies a record out of librdkafka's buffers; `topic` is
    /// `record.topic()`, which the caller has already read (reading it
    /// validates the name as UTF-8 each time).
    pub(crate) fn from_borrowed(record: &BorrowedMessage<'_>, topic: &str) -> Self {
        let headers = record
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(Bytes::copy_from_slice)))
                    .collect()
            })
            .unwrap_or_default();
        Message {
            topic: topic.to_owned(),
            partition: record.partition(),
            offset: record.offset(),
            key: record.key().map(Bytes::copy_from_slice),
            payload: record.payload().map(Bytes::copy_from_slice),
            headers,
            timestamp: record.timestamp().to_millis(),
        }
    }

    /// The value bytes, empty for a tombstone.
    ///
    /// ```
    /// use kafka_runtime::Message;
    /// assert_eq!(Message::new("t", 0, 0).with_payload("v").payload_bytes(), "v");
    /// assert!(Message::new("t", 0, 1).payload_bytes().is_empty()); // a tombstone
    /// ```
    pub fn payload_bytes(&self) -> Bytes {
        self.payload.clone().unwrap_or_default()
    }

    /// The first header called `key` that has a value.
    ///
    /// ```
    /// use kafka_runtime::Message;
    /// let mut msg = Message::new("t", 0, 0);
    /// msg.headers.push(("tenant".into(), None));
    /// msg.headers.push(("tenant".into(), Some("acme".into())));
    /// assert_eq!(msg.header("tenant").map(|v| &v[..]), Some(&b"acme"[..]));
    /// assert_eq!(msg.header("missing"), None);
    /// ```
    pub fn header(&self, key: &str) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|(k, v)| k == key && v.is_some())
            .and_then(|(_, v)| v.as_ref())
    }

    /// Builds a message by hand, for handler unit tests.
    ///
    /// ```
    /// let msg = kafka_runtime::Message::new("orders", 2, 7);
    /// assert_eq!((msg.partition, msg.offset, msg.payload), (2, 7, None));
    /// ```
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        Message {
            topic: topic.into(),
            partition,
            offset,
            key: None,
            payload: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the value (builder style, for tests).
    ///
    /// ```
    /// let msg = kafka_runtime::Message::new("orders", 0, 0).with_payload(r#"{"id":1}"#);
    /// assert_eq!(msg.payload.as_deref(), Some(&br#"{"id":1}"#[..]));
    /// ```
    pub fn with_payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// Sets the key (builder style, for tests).
    ///
    /// ```
    /// let msg = kafka_runtime::Message::new("orders", 0, 0).with_key("order-1");
    /// assert_eq!(msg.key.as_deref(), Some(&b"order-1"[..]));
    /// ```
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
}
