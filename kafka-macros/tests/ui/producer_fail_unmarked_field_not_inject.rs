use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer]
struct Outbox {
    #[producer(service = "trpc.app.server.producer")]
    orders: RawProducer,
    audit: RawProducer,
}

fn main() {}
