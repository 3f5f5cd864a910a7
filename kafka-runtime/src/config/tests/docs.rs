//! `CONFIGURATION.md` stays in step with the key table.
//!
//! It carries the key tables between generation markers:
//!
//! ```text
//! <!-- generated: keys shared -->
//! | key | default | ... |
//! <!-- end generated -->
//! ```
//!
//! The tests fail when a marked section differs from
//! [`markdown_table`]'s rendering. To regenerate every marked section (after
//! adding or changing a key in `keys.rs`, or when resolving a merge):
//!
//! ```text
//! KAFKA_RS_BLESS_DOCS=1 cargo test -p kafka-runtime --lib config::tests::docs
//! ```

use super::super::keys::{markdown_table, Side, KEYS};

/// The files that carry generated key tables, relative to the workspace root.
const FILES: &[&str] = &["CONFIGURATION.md"];

/// The environment variable that turns the check into a rewrite.
const BLESS_ENV: &str = "KAFKA_RS_BLESS_DOCS";

const END_MARKER: &str = "<!-- end generated -->";

/// What a marked section holds: the marker's name and the rendered text.
fn sections() -> Vec<(&'static str, String)> {
    vec![
        ("keys shared", markdown_table(Side::Both)),
        ("keys consumer", markdown_table(Side::Consumer)),
        ("keys producer", markdown_table(Side::Producer)),
    ]
}

fn path(file: &str) -> String {
    format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"))
}

/// Reads a documentation file; with `KAFKA_RS_BLESS_DOCS` set, every file
/// is regenerated first (once, before any test reads, so the tests of this
/// module never see a half-blessed state).
fn read(file: &str) -> String {
    static BLESS: std::sync::Once = std::sync::Once::new();
    if std::env::var_os(BLESS_ENV).is_some() {
        BLESS.call_once(bless);
    }
    let path = path(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Replaces the body of every marked section of `doc` with its rendering.
/// Returns the new text and the names of the sections that differed; a
/// section whose markers are missing is an error naming it.
fn regenerate(file: &str, doc: &str) -> Result<(String, Vec<&'static str>), String> {
    let mut out = doc.to_owned();
    let mut changed = Vec::new();
    for (name, body) in sections() {
        let begin = format!("<!-- generated: {name} -->\n");
        let start = out
            .find(&begin)
            .ok_or_else(|| format!("{file}: marker `{}` is missing", begin.trim_end()))?
            + begin.len();
        let len = out[start..]
            .find(END_MARKER)
            .ok_or_else(|| format!("{file}: section `{name}` has no `{END_MARKER}`"))?;
        if out[start..start + len] != body {
            out.replace_range(start..start + len, &body);
            changed.push(name);
        }
    }
    Ok((out, changed))
}

/// Rewrites the marked sections of every file that differ.
fn bless() {
    for file in FILES {
        let path = path(file);
        let doc =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let (fresh, changed) = regenerate(file, &doc).unwrap_or_else(|e| panic!("{e}"));
        if !changed.is_empty() {
            std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        }
    }
}

/// Every marked section equals the key table's rendering, in every file
/// (with `KAFKA_RS_BLESS_DOCS=1`, after rewriting them).
#[test]
fn generated_sections_match_the_key_table() {
    let mut stale = Vec::new();
    for file in FILES {
        let doc = read(file);
        let (_, changed) = regenerate(file, &doc).unwrap_or_else(|e| panic!("{e}"));
        if !changed.is_empty() {
            stale.push(format!("{file}: {}", changed.join(", ")));
        }
    }
    assert!(
        stale.is_empty(),
        "generated key tables are out of date ({}); regenerate them with\n  \
         {BLESS_ENV}=1 cargo test -p kafka-runtime --lib config::tests::docs",
        stale.join("; ")
    );
}

#[test]
fn every_key_is_documented() {
    for file in FILES {
        let doc = read(file);
        for key in KEYS {
            for name in std::iter::once(key.name).chain(key.aliases.iter().copied()) {
                assert!(
                    doc.contains(&format!("`{name}`")),
                    "`{name}` missing from {file}"
                );
            }
        }
    }
}

/// The YAML-level keys the loader reads (`yaml.rs`) are in
/// CONFIGURATION.md's table of them.
#[test]
fn yaml_keys_are_documented() {
    let doc = read("CONFIGURATION.md");
    for key in [
        "server.service[].name",
        "server.service[].address",
        "server.service[].protocol",
        "server.service[].timeout",
        "client.service[].name",
        "client.service[].target",
        "client.service[].protocol",
        "client.service[].timeout",
        "plugins.database.kafka.max_request_size",
        "plugins.database.kafka.max_response_size",
        "plugins.database.kafka.rewrite_log",
    ] {
        assert!(
            doc.contains(&format!("| `{key}` |")),
            "`{key}` missing from CONFIGURATION.md's YAML key table"
        );
    }
}

#[test]
fn regenerate_replaces_only_marked_text() {
    let shared = markdown_table(Side::Both);
    let doc = format!(
        "intro\n<!-- generated: keys shared -->\nstale\n{END_MARKER}\n\
         mid\n<!-- generated: keys consumer -->\n{}{END_MARKER}\n\
         <!-- generated: keys producer -->\n{END_MARKER}\nend\n",
        markdown_table(Side::Consumer)
    );
    let (out, changed) = regenerate("doc", &doc).unwrap();
    assert_eq!(changed, ["keys shared", "keys producer"]);
    assert!(out.starts_with(&format!(
        "intro\n<!-- generated: keys shared -->\n{shared}{END_MARKER}\nmid\n"
    )));
    assert!(out.ends_with(&format!(
        "{}{END_MARKER}\nend\n",
        markdown_table(Side::Producer)
    )));
    let missing = regenerate("doc", "no markers").unwrap_err();
    assert!(
        missing.contains("`<!-- generated: keys shared -->` is missing"),
        "{missing}"
    );
}
