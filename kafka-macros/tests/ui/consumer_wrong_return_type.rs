use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = "svc")]
async fn handle(msg: Message) -> Result<u32, HandlerError> {
    let _ = msg;
    Ok(1)
}

fn main() {}
