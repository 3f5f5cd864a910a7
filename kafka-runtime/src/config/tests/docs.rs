//! `CONFIGURATION.md` stays in step with the key table.

use super::super::keys::{markdown_table, Side, KEYS};

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../CONFIGURATION.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn every_key_is_documented() {
    let doc = reference();
    for key in KEYS {
        for name in std::iter::once(key.name).chain(key.aliases.iter().copied()) {
            assert!(
                doc.contains(&format!("`{name}`")),
                "`{name}` missing from CONFIGURATION.md"
            );
        }
    }
}

/// The three key tables of the reference are the key table, rendered.
#[test]
fn key_tables_match_the_key_table() {
    let doc = reference();
    for side in [Side::Both, Side::Consumer, Side::Producer] {
        let table = markdown_table(side);
        assert!(
            doc.contains(&table),
            "CONFIGURATION.md's {side} key table differs from the key table; expected:\n{table}"
        );
    }
}
