//! Payload codecs: how record values become handler parameters and how
//! producer values become record values.
//!
//! | codec | values | chosen by |
//! |---|---|---|
//! | [`Json`] (the default) | any `serde::Serialize` / `serde::Deserialize` type | nothing: a typed handler parameter or `Producer<T>` |
//! | [`Protobuf`] (feature `protobuf`) | any `prost::Message` type | `#[kafka_consumer(codec = protobuf)]`, `Producer<T, Protobuf>` |
//! | [`Raw`] | `Bytes`, `Vec<u8>`, `String` (UTF-8 checked), as they are | `#[kafka_consumer(codec = raw)]`, `Producer<T, Raw>` |
//!
//! A handler names its codec in the macro (`codec = json`, `codec = protobuf`,
//! `codec = raw`, or the path of your own codec type); without one, a
//! `Message`, `Bytes`, `Vec<u8>` or `String` parameter takes the value as it
//! is and any other type is JSON, as before. A producer's codec is its
//! type's second parameter. A record whose value does not decode is not
//! retried (decoding is deterministic): it goes to the dead-letter topic
//! (`deadLetterTopic`) or is skipped with an error log; in a batch, only
//! that record does.
//!
//! ```
//! use bytes::Bytes;
//! use kafka_runtime::codec::{Decode, Encode, Json, Raw};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Order { id: u32 }
//!
//! let bytes = Json::encode(&Order { id: 7 }).unwrap();
//! assert_eq!(&*bytes, br#"{"id":7}"#);
//! let back: Order = Json::decode(Bytes::copy_from_slice(&bytes)).unwrap();
//! assert_eq!(back, Order { id: 7 });
//! let text: String = Raw::decode(Bytes::from_static(b"as is")).unwrap();
//! assert_eq!(text, "as is");
//! assert!(<Raw as Decode<String>>::decode(Bytes::from_static(b"\xff")).is_err());
//! ```
//!
//! Your own codec implements [`Codec`] and [`Encode`] and/or [`Decode`]:
//!
//! ```
//! use std::borrow::Cow;
//! use bytes::Bytes;
//! use kafka_runtime::codec::{Codec, CodecError, Decode, Encode};
//!
//! /// Numbers as decimal text.
//! struct Decimal;
//! impl Codec for Decimal {
//!     const NAME: &'static str = "decimal";
//! }
//! impl Encode<u64> for Decimal {
//!     fn encode(value: &u64) -> Result<Cow<'_, [u8]>, CodecError> {
//!         Ok(Cow::Owned(value.to_string().into_bytes()))
//!     }
//! }
//! impl Decode<u64> for Decimal {
//!     fn decode(payload: Bytes) -> Result<u64, CodecError> {
//!         let text = std::str::from_utf8(&payload).map_err(CodecError::new)?;
//!         text.parse().map_err(CodecError::new)
//!     }
//! }
//! assert_eq!(Decimal::decode(Bytes::from_static(b"42")).unwrap(), 42);
//! assert_eq!(&*Decimal::encode(&7).unwrap(), b"7");
//! // In a handler: #[kafka_consumer(service = "...", codec = my_codecs::Decimal)]
//! // In a producer: struct Counts(Producer<u64, my_codecs::Decimal>);
//! ```

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

/// Why a value did not encode or decode.
///
/// ```
/// let err = kafka_runtime::codec::CodecError::new("missing field `id`");
/// assert_eq!(err.to_string(), "missing field `id`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(String);

impl CodecError {
    /// An error described by `reason`.
    ///
    /// ```
    /// let err = kafka_runtime::codec::CodecError::new(format!("field {} missing", "id"));
    /// assert_eq!(err.to_string(), "field id missing");
    /// ```
    pub fn new(reason: impl fmt::Display) -> Self {
        CodecError(reason.to_string())
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// A payload format. Its [`Encode`] and [`Decode`] implementations say which
/// types it writes and reads.
///
/// ```
/// use kafka_runtime::codec::{Codec, Json, Raw};
/// assert_eq!((Json::NAME, Raw::NAME), ("JSON", "raw"));
/// ```
pub trait Codec: 'static {
    /// The format's name, in errors and logs.
    const NAME: &'static str;
}

/// A codec that writes `T` values (producers).
///
/// ```
/// use kafka_runtime::codec::{Encode, Raw};
/// assert_eq!(&*Raw::encode(&"text".to_owned()).unwrap(), b"text");
/// ```
#[diagnostic::on_unimplemented(
    message = "the codec `{Self}` cannot encode `{T}`",
    label = "`{T}` is not a value of this codec",
    note = "`Json` encodes `serde::Serialize` types, `Protobuf` encodes `prost::Message` types (kafka-runtime's feature `protobuf`), `Raw` sends `Bytes`, `Vec<u8>` or `String` as they are"
)]
pub trait Encode<T: ?Sized>: Codec {
    /// The record value for `value` (borrowed when it already is bytes).
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, CodecError>;
}

/// A codec that reads `T` values (handlers).
///
/// ```
/// use bytes::Bytes;
/// use kafka_runtime::codec::{Decode, Raw};
/// let bytes: Bytes = Raw::decode(Bytes::from_static(b"v")).unwrap();
/// assert_eq!(bytes, "v");
/// ```
#[diagnostic::on_unimplemented(
    message = "the codec `{Self}` cannot decode `{T}`",
    label = "`{T}` is not a value of this codec",
    note = "`json` decodes `serde::Deserialize` types, `protobuf` decodes `prost::Message` types (kafka-runtime's feature `protobuf`), `raw` takes `Bytes`, `Vec<u8>` or `String`; or take the whole `Message` without `codec`"
)]
pub trait Decode<T>: Codec {
    /// The value of a record's payload (empty for a tombstone).
    fn decode(payload: Bytes) -> Result<T, CodecError>;
}

/// JSON through serde, the default of typed handlers and producers.
///
/// ```
/// use bytes::Bytes;
/// use kafka_runtime::codec::{Decode, Json};
/// let n: Vec<u32> = Json::decode(Bytes::from_static(b"[1,2]")).unwrap();
/// assert_eq!(n, [1, 2]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    const NAME: &'static str = "JSON";
}

impl<T: serde::Serialize + ?Sized> Encode<T> for Json {
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, CodecError> {
        serde_json::to_vec(value)
            .map(Cow::Owned)
            .map_err(CodecError::new)
    }
}

impl<T: serde::de::DeserializeOwned> Decode<T> for Json {
    fn decode(payload: Bytes) -> Result<T, CodecError> {
        serde_json::from_slice(&payload).map_err(CodecError::new)
    }
}

/// Protocol Buffers through prost: `prost::Message` types (generated by
/// `prost-build`, or derived). Needs kafka-runtime's feature `protobuf`.
///
#[cfg_attr(feature = "protobuf", doc = "```")]
#[cfg_attr(not(feature = "protobuf"), doc = "```ignore")]
/// use bytes::Bytes;
/// use kafka_runtime::codec::{Decode, Encode, Protobuf};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Order {
///     #[prost(string, tag = "1")]
///     id: String,
///     #[prost(uint32, tag = "2")]
///     quantity: u32,
/// }
///
/// let order = Order { id: "o-7".into(), quantity: 3 };
/// let bytes = Protobuf::encode(&order).unwrap();
/// assert_eq!(&*bytes, b"\x0a\x03o-7\x10\x03");
/// let back: Order = Protobuf::decode(Bytes::copy_from_slice(&bytes)).unwrap();
/// assert_eq!(back, order);
/// assert!(<Protobuf as Decode<Order>>::decode(Bytes::from_static(b"\xff\xff")).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Protobuf;

impl Codec for Protobuf {
    const NAME: &'static str = "Protobuf";
}

#[cfg(feature = "protobuf")]
impl<T: prost::Message> Encode<T> for Protobuf {
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, CodecError> {
        Ok(Cow::Owned(value.encode_to_vec()))
    }
}

#[cfg(feature = "protobuf")]
impl<T: prost::Message + Default> Decode<T> for Protobuf {
    fn decode(payload: Bytes) -> Result<T, CodecError> {
        T::decode(payload).map_err(CodecError::new)
    }
}

/// The value as it is: `Bytes`, `Vec<u8>`, or `String` (checked to be
/// UTF-8 when decoded).
///
/// ```
/// use bytes::Bytes;
/// use kafka_runtime::codec::{Decode, Encode, Raw};
/// let v: Vec<u8> = Raw::decode(Bytes::from_static(b"\x00\x01")).unwrap();
/// assert_eq!(v, [0, 1]);
/// assert_eq!(&*Raw::encode(&Bytes::from_static(b"b")).unwrap(), b"b");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    const NAME: &'static str = "raw";
}

impl Encode<Bytes> for Raw {
    fn encode(value: &Bytes) -> Result<Cow<'_, [u8]>, CodecError> {
        Ok(Cow::Borrowed(value))
    }
}

impl Encode<Vec<u8>> for Raw {
    fn encode(value: &Vec<u8>) -> Result<Cow<'_, [u8]>, CodecError> {
        Ok(Cow::Borrowed(value))
    }
}

impl Encode<String> for Raw {
    fn encode(value: &String) -> Result<Cow<'_, [u8]>, CodecError> {
        Ok(Cow::Borrowed(value.as_bytes()))
    }
}

impl Decode<Bytes> for Raw {
    fn decode(payload: Bytes) -> Result<Bytes, CodecError> {
        Ok(payload)
    }
}

impl Decode<Vec<u8>> for Raw {
    fn decode(payload: Bytes) -> Result<Vec<u8>, CodecError> {
        Ok(payload.to_vec())
    }
}

impl Decode<String> for Raw {
    fn decode(payload: Bytes) -> Result<String, CodecError> {
        String::from_utf8(payload.to_vec()).map_err(|e| CodecError::new(format!("not UTF-8: {e}")))
    }
}
