use kafka_runtime::kafka_producer;

#[kafka_producer(service = "trpc.app.server.producer")]
enum Orders {
    One,
}

fn main() {}
