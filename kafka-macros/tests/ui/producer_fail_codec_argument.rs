use kafka_runtime::{kafka_producer, Producer};

#[derive(serde::Serialize)]
struct Order {
    id: u64,
}

#[kafka_producer(service = "trpc.app.server.producer", codec = protobuf)]
struct Orders(Producer<Order>);

fn main() {}
