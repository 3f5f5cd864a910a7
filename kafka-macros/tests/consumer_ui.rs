//! Compile-time behaviour of `#[kafka_consumer]`: every accepted signature
//! compiles, and every mistake is reported at the user's tokens with what to
//! write instead. Snapshots: `TRYBUILD=overwrite cargo test -p kafka-macros
//! --test consumer_ui`, then review the `.stderr` files.

#[test]
fn consumer_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/consumer_*.rs");
    t.compile_fail("tests/ui/consumer_*.rs");
}
