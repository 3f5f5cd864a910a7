use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer(service = "trpc.app.server.producer")]
struct Outbox {
    orders: RawProducer,
}

fn main() {}
