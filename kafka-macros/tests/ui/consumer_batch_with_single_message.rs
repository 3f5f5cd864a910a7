use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = "svc", batch)]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

#[kafka_consumer(service = "bytes", batch)]
async fn handle_bytes(payload: Vec<u8>) -> Result<(), HandlerError> {
    let _ = payload;
    Ok(())
}

fn main() {}
