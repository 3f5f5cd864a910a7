use kafka_runtime::{kafka_producer, Producer};

struct Order;

#[kafka_producer(service = "trpc.app.server.producer")]
struct Orders(Producer<Order>);

fn main() {}
