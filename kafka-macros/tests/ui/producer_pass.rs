use kafka_runtime::{kafka_producer, Inject, Producer, RawProducer, RuntimeHandle};

#[derive(serde::Serialize)]
struct Order {
    id: u64,
}

#[kafka_producer(service = "trpc.app.server.producer")]
struct Orders(Producer<Order>);

#[kafka_producer(target = "kafka://127.0.0.1:9092?topic=audit")]
#[derive(Clone, Debug)]
struct Audit(RawProducer);

#[kafka_producer]
struct Outbox {
    #[producer(service = "trpc.app.server.producer")]
    orders: Producer<Order>,
    #[producer(target = "kafka://127.0.0.1:9092?topic=audit")]
    audit: RawProducer,
    nested: Audit,
}

fn needs_inject<T: Inject>() {}

fn main() {
    needs_inject::<Orders>();
    needs_inject::<Audit>();
    needs_inject::<Outbox>();
    let _: fn(&RuntimeHandle) -> Result<Outbox, kafka_runtime::Error> = Outbox::inject;
}
