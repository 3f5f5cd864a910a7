//! An in-process Kafka broker for tests (feature `testing`).
