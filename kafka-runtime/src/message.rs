//! The record a consumer handler receives.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};

/// One consumed record, owned (detached from librdkafka's buffers), so a
/// handler may keep it past its own return.
///
/// The small keys, values and header values of one partition's records are
/// copied into shared 32 KiB chunks and the topic name is shared, so
/// cloning a record (as the engine does to keep a copy for retries) copies
/// no bytes. A `Message` kept for long keeps its chunk alive, so a handler
/// that keeps a few records out of many should copy their bytes
/// (`Bytes::copy_from_slice`).
///
/// ```
/// use kafka_runtime::Message;
///
/// let msg = Message::new("orders", 1, 100)
///     .with_key("order-7")
///     .with_payload(r#"{"id":7}"#);
/// assert_eq!(msg.payload_bytes(), r#"{"id":7}"#);
/// assert_eq!(&*msg.topic, "orders");
/// assert_eq!(msg.key.as_deref(), Some(&b"order-7"[..]));
/// assert_eq!(msg.header("traceparent"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The topic it was read from, shared by every record of the partition
    /// (a record costs a reference count, not a copy of the name).
    pub topic: Arc<str>,
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
    /// Copies a record out of librdkafka's buffers into `arena`; `topic` is
    /// the claim's name for `record.topic()` (reading that validates the
    /// name as UTF-8 and would cost a copy per record).
    pub(crate) fn from_borrowed(
        record: &BorrowedMessage<'_>,
        topic: &Arc<str>,
        arena: &mut Arena,
    ) -> Self {
        let headers = record
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(|v| arena.copy(v))))
                    .collect()
            })
            .unwrap_or_default();
        Message {
            topic: Arc::clone(topic),
            partition: record.partition(),
            offset: record.offset(),
            key: record.key().map(|k| arena.copy(k)),
            payload: record.payload().map(|p| arena.copy(p)),
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
    pub fn new(topic: impl Into<Arc<str>>, partition: i32, offset: i64) -> Self {
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

/// Where the bytes of consumed records are copied: small values of one
/// partition share chunks, so a record costs no allocation of its own and a
/// clone of it (the copy kept for retries) only counts references. A value
/// kept alive keeps its chunk ([`Arena::CHUNK`] at most) alive.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    chunk: BytesMut,
}

impl Arena {
    /// Bytes of the chunks values are copied into.
    pub(crate) const CHUNK: usize = 32 << 10;
    /// Values larger than this get an allocation of their own.
    const OWN: usize = 4 << 10;

    /// A copy of `bytes`, in the current chunk when small.
    pub(crate) fn copy(&mut self, bytes: &[u8]) -> Bytes {
        if bytes.is_empty() {
            return Bytes::new();
        }
        if bytes.len() > Self::OWN {
            return Bytes::copy_from_slice(bytes);
        }
        if self.chunk.capacity() - self.chunk.len() < bytes.len() {
            self.chunk = BytesMut::with_capacity(Self::CHUNK);
        }
        self.chunk.extend_from_slice(bytes);
        self.chunk.split().freeze()
    }
}

#[cfg(test)]
mod arena_tests {
    use super::Arena;

    #[test]
    fn copies_are_exact_and_independent_of_later_copies() {
        let mut arena = Arena::default();
        let a = arena.copy(b"first");
        let b = arena.copy(b"second");
        let big = arena.copy(&vec![7u8; 5000]);
        let empty = arena.copy(b"");
        assert_eq!((&a[..], &b[..]), (&b"first"[..], &b"second"[..]));
        assert_eq!(big.len(), 5000);
        assert!(empty.is_empty());
        // Filling past a chunk starts a new one; earlier copies stay intact.
        let many: Vec<_> = (0..1000u32)
            .map(|i| arena.copy(&i.to_be_bytes().repeat(20)))
            .collect();
        for (i, m) in many.iter().enumerate() {
            assert_eq!(&m[..], &(i as u32).to_be_bytes().repeat(20)[..]);
        }
        assert_eq!(&a[..], b"first");
        drop(arena);
        assert_eq!(&b[..], b"second");
    }
}
