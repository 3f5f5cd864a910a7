use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

#[kafka_consumer(service = "svc")]
async fn handle(a: Context, b: Context, msg: Message) -> Result<(), HandlerError> {
    let _ = (a, b, msg);
    Ok(())
}

fn main() {}
