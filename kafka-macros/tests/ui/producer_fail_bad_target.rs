use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer(target = "127.0.0.1:9092?topic=orders")]
struct Orders(RawProducer);

fn main() {}
