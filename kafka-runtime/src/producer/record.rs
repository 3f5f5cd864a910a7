//! The parts of a record a caller hands over: key, headers, and the outcome of a delivery.

use bytes::Bytes;
use rdkafka::message::{Header, OwnedHeaders};

use crate::Metadata;

/// A record key: bytes, or none (no key: `partitioner=hash` then picks a
/// random partition, as sarama does).
///
/// Built from `&str`, `String`, `&[u8]`, `Vec<u8>`, `Bytes`, byte-string
/// literals, an `Option` of those, or [`Key::none`].
///
/// ```
/// use kafka_runtime::producer::Key;
///
/// assert_eq!(Key::from("order-7").as_bytes(), Some(&b"order-7"[..]));
/// assert_eq!(Key::from(None::<&str>), Key::none());
/// assert_eq!(Key::none().as_bytes(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key(Option<Bytes>);

impl Key {
    /// No key.
    ///
    /// ```
    /// assert_eq!(kafka_runtime::producer::Key::none().as_bytes(), None);
    /// ```
    pub const fn none() -> Self {
        Key(None)
    }

    /// The key's bytes, if any.
    ///
    /// ```
    /// assert_eq!(kafka_runtime::producer::Key::from(b"k").as_bytes(), Some(&b"k"[..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }
}

macro_rules! key_from {
    ($($ty:ty => $conv:expr),+ $(,)?) => {
        $(
            impl From<$ty> for Key {
                fn from(value: $ty) -> Self {
                    let conv: fn($ty) -> Bytes = $conv;
                    Key(Some(conv(value)))
                }
            }
        )+
    };
}

key_from! {
    &str => |k| Bytes::copy_from_slice(k.as_bytes()),
    String => Bytes::from,
    &String => |k| Bytes::copy_from_slice(k.as_bytes()),
    &[u8] => Bytes::copy_from_slice,
    Vec<u8> => Bytes::from,
    Bytes => |k| k,
}

impl<const N: usize> From<&[u8; N]> for Key {
    fn from(value: &[u8; N]) -> Self {
        Key(Some(Bytes::copy_from_slice(value)))
    }
}

impl<T: Into<Key>> From<Option<T>> for Key {
    fn from(value: Option<T>) -> Self {
        value.map(Into::into).unwrap_or_default()
    }
}

/// Record headers in the order they are sent. Keys may repeat, as in Kafka.
///
/// ```
/// use kafka_runtime::producer::Headers;
/// let headers = Headers::new().with("trace", "abc").with("retry", b"1".as_slice());
/// assert_eq!(headers.len(), 2);
/// let none = Headers::new();
/// assert!(none.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Bytes)>);

impl Headers {
    /// No headers.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// assert!(Headers::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// Adds a header, keeping earlier ones with the same key.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// let h = Headers::new().with("a", "1").with("a", "2"); // keys may repeat
    /// assert_eq!(h.len(), 2);
    /// ```
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.push(key, value);
        self
    }

    /// Adds a header, keeping earlier ones with the same key.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// let mut h = Headers::new();
    /// h.push("source", "doc");
    /// assert_eq!(h.iter().next().map(|(k, _)| k), Some("source"));
    /// ```
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<Bytes>) {
        self.0.push((key.into(), value.into()));
    }

    /// Every header, in order.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// let h = Headers::new().with("a", "1").with("b", "2");
    /// let keys: Vec<&str> = h.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of headers.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// assert_eq!(Headers::new().with("a", "1").len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no header.
    ///
    /// ```
    /// use kafka_runtime::producer::Headers;
    /// assert!(Headers::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `trpcMeta=true`: the current tRPC metadata goes out as headers, after
    /// the caller's own (the seed leaves conflicts to the user, Q12; a
    /// consumer sees both and the last value of a key wins there).
    pub(crate) fn append_metadata(&mut self, metadata: &Metadata) {
        for (key, value) in metadata.iter() {
            self.0.push((key.to_owned(), value.clone()));
        }
    }

    pub(crate) fn to_owned_headers(&self) -> Option<OwnedHeaders> {
        if self.0.is_empty() {
            return None;
        }
        let headers = self.0.iter().fold(
            OwnedHeaders::new_with_capacity(self.0.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_ref()),
                })
            },
        );
        Some(headers)
    }
}

impl<K: Into<String>, V: Into<Bytes>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Headers(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<Bytes>, const N: usize> From<[(K, V); N]> for Headers {
    fn from(value: [(K, V); N]) -> Self {
        value.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<Bytes>> From<Vec<(K, V)>> for Headers {
    fn from(value: Vec<(K, V)>) -> Self {
        value.into_iter().collect()
    }
}

impl From<&Metadata> for Headers {
    fn from(value: &Metadata) -> Self {
        let mut headers = Headers::new();
        headers.append_metadata(value);
        headers
    }
}

/// Where a record was written: its partition and offset on the broker.
///
/// With `requiredAcks=0` the broker sends no acknowledgement, so the offset
/// is not known and is `-1`.
///
/// ```
/// use kafka_runtime::producer::Delivered;
/// let at = Delivered { partition: 2, offset: 41 };
/// assert_eq!(format!("{}@{}", at.partition, at.offset), "2@41");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The partition the record was written to.
    pub partition: i32,
    /// The record's offset in that partition (`-1` with `requiredAcks=0`).
    pub offset: i64,
}

/// A record as it was sent, handed to the asynchronous callbacks (the seed's
/// `topic, key, value, headers` arguments).
///
/// ```
/// use kafka_runtime::producer::{AsyncCallbacks, SentRecord};
/// let callbacks = AsyncCallbacks::new().on_error(|err, record: &SentRecord| {
///     eprintln!("{} ({} bytes, key {:?}): {err}", record.topic, record.value.len(), record.key);
/// });
/// # drop(callbacks);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRecord {
    /// The topic written to.
    pub topic: String,
    /// The record key, if any.
    pub key: Option<Bytes>,
    /// The record value as sent (serialized for typed producers).
    pub value: Bytes,
    /// The headers as sent, tRPC metadata included.
    pub headers: Headers,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_convert_from_common_types() {
        assert_eq!(Key::from("a").as_bytes(), Some(&b"a"[..]));
        assert_eq!(Key::from(b"ab").as_bytes(), Some(&b"ab"[..]));
        assert_eq!(Key::from(None::<&str>).as_bytes(), None);
        assert_eq!(Key::from(Some(vec![1u8])).as_bytes(), Some(&[1u8][..]));
        assert_eq!(Key::none().as_bytes(), None);
    }

    #[test]
    fn metadata_follows_explicit_headers() {
        let mut headers = Headers::from([("a", "1")]);
        let md: Metadata = [("t", "x")].into_iter().collect();
        headers.append_metadata(&md);
        let seen: Vec<_> = headers.iter().map(|(k, v)| (k, &v[..])).collect();
        assert_eq!(seen, vec![("a", &b"1"[..]), ("t", &b"x"[..])]);
        assert!(Headers::new().to_owned_headers().is_none());
    }
}
