use kafka_runtime::{kafka_consumer, Context, HandlerError};

#[kafka_consumer(service = "svc")]
async fn handle(ctx: Context) -> Result<(), HandlerError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
