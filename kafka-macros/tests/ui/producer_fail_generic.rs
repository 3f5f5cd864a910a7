use kafka_runtime::{kafka_producer, Producer};

#[kafka_producer(service = "trpc.app.server.producer")]
struct Orders<T>(Producer<T>);

fn main() {}
