use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer]
struct Orders(RawProducer);

fn main() {}
