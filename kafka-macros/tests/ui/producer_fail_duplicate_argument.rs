use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer(service = "a", service = "b")]
struct Orders(RawProducer);

fn main() {}
