use kafka_runtime::{kafka_consumer, HandlerError, Message};

struct NotAProducer;

#[kafka_consumer(service = "svc")]
async fn handle(msg: Message, extra: NotAProducer) -> Result<(), HandlerError> {
    let _ = (msg, extra);
    Ok(())
}

fn main() {}
