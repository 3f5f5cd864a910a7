//! Procedural macros of kafka-rs. Use them through `kafka_runtime`, which
//! re-exports them; the generated code refers only to `::kafka_runtime` paths.

use proc_macro::TokenStream;

mod consumer;
mod producer;

/// Registers an async fn as the handler of a Kafka consumer service.
/// Documented on the `kafka_runtime` re-export.
#[proc_macro_attribute]
pub fn kafka_consumer(attr: TokenStream, item: TokenStream) -> TokenStream {
    consumer::expand(attr.into(), item.into()).into()
}

/// Declares a producer, or a struct of producers, built from the configuration.
/// Documented on the `kafka_runtime` re-export.
#[proc_macro_attribute]
pub fn kafka_producer(attr: TokenStream, item: TokenStream) -> TokenStream {
    producer::expand(attr.into(), item.into()).into()
}
