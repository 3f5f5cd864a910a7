use kafka_runtime::{kafka_producer, RawProducer};

#[kafka_producer(service = "trpc.app.server.producer", target = "kafka://127.0.0.1:9092?topic=a")]
struct Orders(RawProducer);

fn main() {}
