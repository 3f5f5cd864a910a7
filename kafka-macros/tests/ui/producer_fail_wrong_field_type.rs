use kafka_runtime::kafka_producer;

#[kafka_producer(service = "trpc.app.server.producer")]
struct Orders(String);

fn main() {}
