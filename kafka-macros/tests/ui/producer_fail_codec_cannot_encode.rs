use kafka_runtime::codec::Protobuf;
use kafka_runtime::{kafka_producer, Producer};

#[derive(serde::Serialize)]
struct Order {
    id: u64,
}

#[kafka_producer(service = "trpc.app.server.producer")]
struct Orders(Producer<Order, Protobuf>);

fn main() {}
