use kafka_runtime::{kafka_consumer, HandlerError};

#[kafka_consumer(service = "svc")]
async fn handle<T: serde::de::DeserializeOwned>(msg: T) -> Result<(), HandlerError> {
    let _ = msg;
    Ok(())
}

fn main() {}
