//! Procedural macros of kafka-rs. Use them through `kafka_runtime`, which
//! re-exports them; the generated code refers only to `::kafka_runtime` paths.
