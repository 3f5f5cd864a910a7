use kafka_runtime::{kafka_consumer, HandlerError};

#[kafka_consumer(service = "svc", codec = json, codec = raw)]
async fn handle(text: String) -> Result<(), HandlerError> {
    let _ = text;
    Ok(())
}

fn main() {}
