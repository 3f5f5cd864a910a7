use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = "svc", codec = json)]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

fn main() {}
