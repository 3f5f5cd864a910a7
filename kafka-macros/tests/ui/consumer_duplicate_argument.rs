use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = "a", service = "b")]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

#[kafka_consumer(service = "c", batch, batch)]
async fn handle_batch(msgs: Vec<Message>) -> Result<(), HandlerError> {
    let _ = msgs;
    Ok(())
}

fn main() {}
