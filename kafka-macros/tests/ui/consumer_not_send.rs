use kafka_runtime::{kafka_consumer, HandlerError, Message};

static LOCK: std::sync::Mutex<u32> = std::sync::Mutex::new(0);

#[kafka_consumer(service = "svc")]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    let guard = LOCK.lock().unwrap();
    std::future::ready(()).await;
    drop(guard);
    let _ = msg;
    Ok(())
}

fn main() {}
