//! Support code shared by the workspace's `examples/` and `tests/`: which
//! broker to run against (the embedded mock cluster or an external tansu),
//! and unique topic and group names per test.
