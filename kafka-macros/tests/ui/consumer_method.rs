use kafka_runtime::{kafka_consumer, HandlerError, Message};

struct Service;

impl Service {
    #[kafka_consumer(service = "svc")]
    async fn handle(&self, msg: Message) -> Result<(), HandlerError> {
        let _ = msg;
        Ok(())
    }
}

fn main() {}
