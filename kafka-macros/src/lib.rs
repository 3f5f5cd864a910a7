//! Procedural macros of kafka-rs. Use them through `kafka_runtime`, which
//! re-exports them; the generated code refers only to `::kafka_runtime` paths.

mod producer;

/// Declares producers the runtime builds from the configuration: on a tuple
/// struct `#[kafka_producer(service = "...")]` or `#[kafka_producer(target =
/// "kafka://...")]`, or on a struct with named fields each marked
/// `#[producer(service = "...")]` / `#[producer(target = "...")]` (unmarked
/// fields are built through their own `Inject`).
#[proc_macro_attribute]
pub fn kafka_producer(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    producer::expand(attr.into(), item.into()).into()
}
