use bytes::Bytes;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[derive(Clone)]
struct Audit;

impl kafka_runtime::Inject for Audit {
    fn inject(_: &kafka_runtime::RuntimeHandle) -> Result<Self, kafka_runtime::Error> {
        Ok(Audit)
    }
}

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mine")
    }
}

impl std::error::Error for MyError {}

#[kafka_consumer(service = "raw")]
async fn raw(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    let _ = (ctx.raw().offset, msg.offset);
    Ok(())
}

#[kafka_consumer(service = "typed")]
async fn typed(order: Order, _ctx: Context) -> Result<(), HandlerError> {
    let _ = order.id;
    Ok(())
}

#[kafka_consumer(service = "bytes")]
async fn bytes(payload: Bytes) -> Result<(), MyError> {
    let _ = payload;
    Ok(())
}

#[kafka_consumer(service = "vec")]
async fn vec(payload: Vec<u8>, audit: Audit) -> Result<(), HandlerError> {
    let _ = (payload, audit);
    Ok(())
}

#[kafka_consumer]
async fn everything(_ctx: Context, text: String) -> Result<(), HandlerError> {
    let _ = text;
    Ok(())
}

#[kafka_consumer(service = "batch", batch)]
async fn batch(ctx: Context, msgs: Vec<Message>) -> Result<(), HandlerError> {
    let _ = (ctx, msgs);
    Ok(())
}

#[kafka_consumer(batch, service = "typed-batch")]
pub async fn typed_batch(orders: Vec<Order>, audit: Audit) -> Result<(), HandlerError> {
    let _ = (orders, audit);
    Err(HandlerError::continue_without_commit())
}

fn main() {}
