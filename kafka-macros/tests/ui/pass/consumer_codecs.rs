//! Handlers and producers choosing their payload codec.

use std::borrow::Cow;

use bytes::Bytes;
use kafka_runtime::codec::{Codec, CodecError, Decode, Encode, Protobuf, Raw};
use kafka_runtime::{kafka_consumer, kafka_producer, BatchError, Context, HandlerError, Producer};

#[derive(Clone, PartialEq, prost::Message)]
struct Order {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(serde::Deserialize)]
struct Refund {
    id: u64,
}

/// Numbers as decimal text.
pub struct Decimal;

impl Codec for Decimal {
    const NAME: &'static str = "decimal";
}

impl Decode<u64> for Decimal {
    fn decode(payload: Bytes) -> Result<u64, CodecError> {
        let text = std::str::from_utf8(&payload).map_err(CodecError::new)?;
        text.parse().map_err(CodecError::new)
    }
}

impl Encode<u64> for Decimal {
    fn encode(value: &u64) -> Result<Cow<'_, [u8]>, CodecError> {
        Ok(Cow::Owned(value.to_string().into_bytes()))
    }
}

mod codecs {
    pub use super::Decimal;
}

#[kafka_consumer(service = "protobuf", codec = protobuf)]
async fn protobuf(ctx: Context, order: Order) -> Result<(), HandlerError> {
    let _ = (ctx, order.id);
    Ok(())
}

#[kafka_consumer(service = "json", codec = json)]
async fn json(refund: Refund) -> Result<(), HandlerError> {
    let _ = refund.id;
    Ok(())
}

#[kafka_consumer(service = "json-text", codec = json)]
async fn json_text(text: String) -> Result<(), HandlerError> {
    let _ = text;
    Ok(())
}

#[kafka_consumer(service = "raw", codec = raw)]
async fn raw(bytes: Bytes) -> Result<(), HandlerError> {
    let _ = bytes;
    Ok(())
}

#[kafka_consumer(service = "own", codec = codecs::Decimal)]
async fn own(n: u64) -> Result<(), HandlerError> {
    let _ = n;
    Ok(())
}

#[kafka_consumer(service = "protobuf-batch", batch, codec = protobuf)]
async fn protobuf_batch(orders: Vec<Order>) -> Result<(), BatchError> {
    let mut failed = BatchError::new();
    for (i, order) in orders.iter().enumerate() {
        if order.id.is_empty() {
            failed.fail(i, HandlerError::msg("no id"));
        }
    }
    failed.into_result()
}

#[kafka_producer(service = "orders")]
struct Orders(Producer<Order, Protobuf>);

#[kafka_producer(service = "counts")]
struct Counts(Producer<u64, Decimal>);

#[kafka_producer(service = "bytes")]
struct Blobs(Producer<Bytes, Raw>);

fn main() {
    fn injectable<T: kafka_runtime::Inject>() {}
    injectable::<Orders>();
    injectable::<Counts>();
    injectable::<Blobs>();
}
