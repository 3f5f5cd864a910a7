//! The seed's `producer` example: a typed producer declared for a
//! `client.service[]` entry writes with `produce` (to the configured topic),
//! and the service's raw producer writes with `send_message` (to any topic,
//! returning the partition and offset).
//!
//! ```text
//! cargo run --example producer                      # embedded broker
//! KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:9092 cargo run --example producer
//! ```

use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_producer, Inject, Producer, RuntimeHandle};
use serde::Serialize;

// `JsonSchema` gives the type its schema in the application's AsyncAPI
// document (`KAFKA_RS_ASYNCAPI=path.json`).
/// A greeting, sent as JSON.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Greeting {
    id: u32,
    text: String,
}

/// Resolved from `client.service[]` when the runtime starts.
#[kafka_producer(service = "trpc.app.server.producer")]
struct Greetings(Producer<Greeting>);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _broker =
        kafka_rs::broker_for_example(&[("example_greetings", 3)], "KAFKA_BOOTSTRAP").await?;
    let config = Config::from_yaml_str(include_str!("producer.yaml"))?;
    let runtime = RuntimeHandle::start(Arc::new(config)).await?;

    // Produce: key, value and headers to the target's `topic`; waits for the
    // acknowledgement (the target has no `async=1`).
    let Greetings(greetings) = Greetings::inject(&runtime)?;
    for id in 0..3 {
        let greeting = Greeting {
            id,
            text: format!("hello #{id}"),
        };
        greetings
            .produce(
                format!("user-{id}"),
                &greeting,
                Headers::new().with("source", "producer-example"),
            )
            .await?;
        println!("produced {greeting:?}");
    }

    // SendMessage: any topic, raw bytes, and where the record landed. The seed's
    // `NewClientProxy("trpc.app.server.producer")`.
    let proxy = runtime.producer("trpc.app.server.producer")?;
    let delivered = proxy
        .send_message("example_greetings", "user-1", "raw bytes", Headers::new())
        .await?;
    println!(
        "sent raw record to partition {} at offset {}",
        delivered.partition, delivered.offset
    );

    runtime.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}
