use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(servce = "svc")]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

fn main() {}
