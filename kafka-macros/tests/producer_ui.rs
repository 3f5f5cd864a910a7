//! Compile-time behaviour of `#[kafka_producer]`: valid declarations compile,
//! each misuse fails with a message that points at the user's tokens.
//! Snapshots: `TRYBUILD=overwrite cargo test -p kafka-macros --test producer_ui`.

#[test]
fn producer_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/producer_pass.rs");
    t.compile_fail("tests/ui/producer_fail_*.rs");
}
