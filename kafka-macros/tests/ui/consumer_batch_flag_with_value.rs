use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = "svc", batch = 10)]
async fn handle(msgs: Vec<Message>) -> Result<(), HandlerError> {
    let _ = msgs;
    Ok(())
}

fn main() {}
