use kafka_runtime::{kafka_consumer, Message};

#[kafka_consumer(service = "svc")]
async fn handle(msg: Message) {
    let _ = msg;
}

fn main() {}
