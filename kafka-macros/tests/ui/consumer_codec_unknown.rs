use kafka_runtime::{kafka_consumer, HandlerError};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[kafka_consumer(service = "svc", codec = protobuff)]
async fn handle(order: Order) -> Result<(), HandlerError> {
    let _ = order.id;
    Ok(())
}

fn main() {}
