use kafka_runtime::kafka_consumer;

#[kafka_consumer(service = "svc")]
struct Handler;

fn main() {}
