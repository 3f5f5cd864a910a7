use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer]
struct Outbox {
    #[producer]
    orders: RawProducer,
}

fn main() {}
