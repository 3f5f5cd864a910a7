use kafka_runtime::{kafka_consumer, HandlerError, Message};

#[kafka_consumer(service = trpc.app.server)]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

#[kafka_consumer(service = "")]
async fn empty(msg: Message) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

fn main() {}
