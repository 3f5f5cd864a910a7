use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer(topic = "orders")]
struct Orders(RawProducer);

fn main() {}
