//! Runs the built `kafka-config-check` binary on files written to a temp dir
//! and checks its output, its redaction and its exit codes. No broker needed:
//! the check only loads, validates and maps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_kafka-config-check");
const PASSWORD: &str = "hunter2-Very-Secret";

fn good_yaml() -> String {
    format!(
        r#"
server:
  service:
    - name: trpc.app.server.Greeter
      address: 127.0.0.1:8000
      protocol: trpc
    - name: trpc.app.server.consumer
      address: 127.0.0.1:9092,127.0.0.2:9092?topics=orders,refunds&group=billing&batch=10&batchFlush=500&maxRetry=2&retryInterval=250&limiterRate=5&mechanism=SCRAM-SHA-512&user=alice&password={PASSWORD}
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.app.server.producer
      target: kafka://127.0.0.1:9092?topic=audit&compression=zstd&partitioner=roundrobin&async=1&maxRetry=5&trpcMeta=true
      timeout: 800
plugins:
  database:
    kafka:
      rewrite_log: true
"#
    )
}

struct Dir(TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().expect("temp dir"))
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Runs the binary with `args` in `cwd`, with `KAFKA_RS_CONFIG` set to `env`
/// (or removed), so the test does not depend on the caller's environment.
fn run(cwd: &Path, env: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd).args(args);
    match env {
        Some(path) => cmd.env("KAFKA_RS_CONFIG", path),
        None => cmd.env_remove("KAFKA_RS_CONFIG"),
    };
    cmd.output().expect("run kafka-config-check")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

#[test]
fn valid_file_prints_every_service_in_text() {
    let dir = Dir::new();
    let path = dir.write("trpc_go.yaml", &good_yaml());
    let out = run(dir.path(), None, &[path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert_eq!(stderr(&out), "");

    assert!(
        text.starts_with(&format!(
            "{}: valid (1 consumer service, 1 producer service)\n",
            path.display()
        )),
        "{text}"
    );
    // The non-Kafka service is not reported.
    assert!(!text.contains("Greeter"), "{text}");
    for line in [
        "consumer `trpc.app.server.consumer`",
        "    handler_timeout_ms: 1000",
        "    topics: orders, refunds",
        "    group: billing",
        "    mode: batch of up to 10 messages",
        "    batch_flush_ms: 500",
        "    retry: at most 2 retries (3 attempts), then the message is skipped",
        "    retry_interval_ms: 250",
        "    limiter_rate_per_s: 5.0",
        "    limiter_burst: 1",
        "    bootstrap.servers=127.0.0.1:9092,127.0.0.2:9092",
        "    group.id=billing",
        "    sasl.mechanisms=SCRAM-SHA-512",
        "    sasl.username=alice",
        "    sasl.password=***",
        "    security.protocol=sasl_plaintext",
        "producer `trpc.app.server.producer`",
        "    request_timeout_ms: 800",
        "    topic: audit",
        "    async: true",
        "    partitioner: roundrobin",
        "    trpc_meta: true",
        "    compression.type=zstd",
        "    retries=5",
        "    client.id=trpcgo",
        "  rewrite_log: true",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line `{line}` in:\n{text}"
        );
    }
    assert!(!text.contains(PASSWORD), "password leaked:\n{text}");
}

#[test]
fn valid_file_as_json() {
    let dir = Dir::new();
    let path = dir.write("kafka.yaml", &good_yaml());
    let out = run(
        dir.path(),
        None,
        &["--format", "json", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let raw = stdout(&out);
    assert!(!raw.contains(PASSWORD), "password leaked:\n{raw}");
    let doc: Value = serde_json::from_str(&raw).expect("stdout is one JSON document");

    assert_eq!(doc["valid"], true);
    assert_eq!(doc["path"], path.display().to_string());
    assert_eq!(doc["plugin"]["rewrite_log"], true);
    assert_eq!(doc["plugin"]["max_request_size"], Value::Null);

    let consumers = doc["consumers"].as_array().unwrap();
    assert_eq!(consumers.len(), 1);
    let c = &consumers[0];
    assert_eq!(c["name"], "trpc.app.server.consumer");
    assert_eq!(c["settings"]["handler_timeout_ms"], 1000);
    assert_eq!(
        c["settings"]["topics"],
        serde_json::json!(["orders", "refunds"])
    );
    assert_eq!(c["settings"]["batch"], 10);
    assert_eq!(c["settings"]["limiter_rate_per_s"], 5.0);
    assert_eq!(c["librdkafka"]["group.id"], "billing");
    assert_eq!(c["librdkafka"]["sasl.password"], "***");
    assert_eq!(c["librdkafka"]["enable.auto.offset.store"], "false");

    let producers = doc["producers"].as_array().unwrap();
    assert_eq!(producers.len(), 1);
    let p = &producers[0];
    assert_eq!(p["name"], "trpc.app.server.producer");
    assert_eq!(p["settings"]["async"], true);
    assert_eq!(p["settings"]["partitioner"], "roundrobin");
    assert_eq!(p["settings"]["request_timeout_ms"], 800);
    assert_eq!(p["settings"]["topic"], "audit");
    assert_eq!(p["librdkafka"]["compression.type"], "zstd");
    assert_eq!(p["librdkafka"]["retries"], "5");
    assert_eq!(p["librdkafka"]["acks"], "all");
}

#[test]
fn default_path_and_environment_variable() {
    // Without an argument: ./trpc_go.yaml in the working directory.
    let dir = Dir::new();
    dir.write("trpc_go.yaml", &good_yaml());
    let out = run(dir.path(), None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("./trpc_go.yaml: valid"),
        "{}",
        stdout(&out)
    );

    // KAFKA_RS_CONFIG wins over ./trpc_go.yaml.
    let other = dir.write(
        "other.yaml",
        "client:\n  service:\n    - {name: only.producer, target: 'kafka://h:1?topic=t'}\n",
    );
    let out = run(dir.path(), Some(&other), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "{}: valid (0 consumer services, 1 producer service)",
            other.display()
        )),
        "{text}"
    );
    assert!(text.contains("producer `only.producer`"), "{text}");

    // Neither: the error explains both.
    let empty = Dir::new();
    let out = run(empty.path(), None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: configuration file `./trpc_go.yaml` not found (the default path; set the environment variable KAFKA_RS_CONFIG to the file's path)\n"
    );
    let missing = empty.path().join("missing.yaml");
    let out = run(empty.path(), Some(&missing), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: configuration file `{}` not found (the path comes from the environment variable KAFKA_RS_CONFIG)\n",
            missing.display()
        )
    );
}

/// Each bad file exits with 2, prints nothing on stdout and the exact error on stderr.
#[test]
fn bad_files_exit_2_with_the_error_on_stderr() {
    let dir = Dir::new();
    let cases: &[(&str, String)] = &[
        (
            "server:\n  service:\n    - {name: c1, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&fetchMax=12x'}\n",
            "error: service `c1`: `fetchMax=12x`: not a whole number; allowed: 1000..=2147483135 (bytes)\n".to_owned(),
        ),
        (
            "client:\n  service:\n    - {name: p1, target: 'kafka://127.0.0.1:9092?topic=t&partitioner=murmur2'}\n",
            "error: service `p1`: `partitioner=murmur2`: not an allowed value; allowed: random, roundrobin, hash\n".to_owned(),
        ),
        (
            "server:\n  service:\n    - {name: c2, protocol: kafka, address: '127.0.0.1:9092'}\n",
            "error: service `c2`: the address has no `?`: write `host:port[,host:port...]?key=value&...` (e.g. `127.0.0.1:9092?topics=orders&group=billing`); for an address configured in code (like `fake_address`), call kafka_runtime::config::register_consumer_addr_config with that exact string before loading\n".to_owned(),
        ),
        (
            "server: [\n",
            "__starts_with__error: `{path}`: invalid YAML: did not find expected node content".to_owned(),
        ),
    ];
    for (index, (yaml, expected)) in cases.iter().enumerate() {
        let path = dir.write(&format!("bad{index}.yaml"), yaml);
        for format in ["text", "json"] {
            let out = run(
                dir.path(),
                None,
                &["--format", format, path.to_str().unwrap()],
            );
            assert_eq!(out.status.code(), Some(2), "{yaml}");
            assert_eq!(stdout(&out), "", "{yaml}");
            let err = stderr(&out);
            let expected = expected.replace("{path}", &path.display().to_string());
            match expected.strip_prefix("__starts_with__") {
                Some(prefix) => assert!(err.starts_with(prefix), "{err}"),
                None => assert_eq!(err, expected, "{yaml}"),
            }
        }
    }
}

#[test]
fn errors_never_show_the_password() {
    let dir = Dir::new();
    // mechanism without user: the error is about the password-bearing address.
    let path = dir.write(
        "bad.yaml",
        &format!("server:\n  service:\n    - {{name: c, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&mechanism=PLAIN&password={PASSWORD}'}}\n"),
    );
    let out = run(dir.path(), None, &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err,
        "error: service `c`: `mechanism=PLAIN`: `mechanism` requires both `user` and `password`\n"
    );
    assert!(!err.contains(PASSWORD));

    let path = dir.write(
        "bad2.yaml",
        &format!("server:\n  service:\n    - {{name: c, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&password={PASSWORD}&password=x'}}\n"),
    );
    let out = run(dir.path(), None, &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains(PASSWORD), "{}", stderr(&out));
}

/// A misspelt secret key is an unknown key, and its value is still a
/// secret: neither the text nor the JSON format, nor the error on stderr,
/// may show it.
#[test]
fn misspelt_secret_keys_never_show_their_value() {
    let dir = Dir::new();
    let cases = [
        (
            format!("server:\n  service:\n    - {{name: c, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&mechanism=PLAIN&user=u&pasword={PASSWORD}'}}\n"),
            "error: service `c`: `pasword=***`: unknown key `pasword`, did you mean `password`? allowed consumer keys: ",
        ),
        (
            format!("client:\n  service:\n    - {{name: p, target: 'kafka://127.0.0.1:9092?topic=t&tlsKeyPasword={PASSWORD}'}}\n"),
            "error: service `p`: `tlsKeyPasword=***`: unknown key `tlsKeyPasword`, did you mean `tlsKeyPassword`? allowed producer keys: ",
        ),
        (
            format!("client:\n  service:\n    - {{name: p, target: 'kafka://127.0.0.1:9092?topic=t&passwrod={PASSWORD}'}}\n"),
            "error: service `p`: `passwrod=***`: unknown key `passwrod`, did you mean `password`? allowed producer keys: ",
        ),
        (
            format!("server:\n  service:\n    - {{name: c, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&saslPasswd={PASSWORD}'}}\n"),
            "error: service `c`: `saslPasswd=***`: unknown key `saslPasswd`",
        ),
    ];
    for (i, (yaml, expected)) in cases.iter().enumerate() {
        let path = dir.write(&format!("misspelt{i}.yaml"), yaml);
        for format in ["text", "json"] {
            let out = run(
                dir.path(),
                None,
                &[path.to_str().unwrap(), "--format", format],
            );
            assert_eq!(out.status.code(), Some(2), "{yaml}");
            let (err, text) = (stderr(&out), stdout(&out));
            assert!(err.starts_with(expected), "{err}");
            assert!(
                !err.contains(PASSWORD) && !text.contains(PASSWORD),
                "{err}{text}"
            );
        }
    }
}

#[test]
fn file_without_kafka_services_is_valid_and_says_so() {
    let dir = Dir::new();
    let path = dir.write(
        "plain.yaml",
        "server:\n  service:\n    - {name: web, protocol: http, address: ':8080'}\n",
    );
    let out = run(dir.path(), None, &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!(
            "{}: valid (0 consumer services, 0 producer services)",
            path.display()
        )),
        "{}",
        stdout(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    let out = run(dir.path(), None, &["--format", "xml", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("possible values: text, json"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), None, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("KAFKA_RS_CONFIG"), "{}", stdout(&out));
}

#[test]
fn near_misses_are_noted_but_valid() {
    let dir = Dir::new();
    let path = dir.write(
        "near.yaml",
        "server:\n  service:\n    - {name: c.upper, protocol: Kafka, address: '127.0.0.1:9092?topics=t&group=g'}\n    - {name: c.ok, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g'}\nclient:\n  service:\n    - {name: p.upper, target: 'KAFKA://127.0.0.1:9092?topic=t'}\n",
    );
    let out = run(dir.path(), None, &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..3],
        [
            format!("{}: valid (1 consumer service, 0 producer services)", path.display()).as_str(),
            "note: server.service[0] (`c.upper`) has `protocol: Kafka`: only `kafka` (lower case) makes it a Kafka consumer, so it was not checked",
            "note: client.service[0] (`p.upper`) has a target starting with `KAFKA://`: only `kafka://` (lower case) makes it a Kafka producer, so it was not checked",
        ],
        "{text}"
    );

    let out = run(
        dir.path(),
        None,
        &["--format", "json", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["notes"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["consumers"][0]["name"], "c.ok");

    // A clean file has no notes.
    let path = dir.write("clean.yaml", &good_yaml());
    let out = run(
        dir.path(),
        None,
        &["--format", "json", path.to_str().unwrap()],
    );
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["notes"], serde_json::json!([]));
    assert!(!stdout(&run(dir.path(), None, &[path.to_str().unwrap()])).contains("note:"));
}

#[test]
fn asyncapi_describes_every_channel_without_secrets() {
    let dir = Dir::new();
    let path = dir.write("trpc_go.yaml", &good_yaml());
    let out = run(
        dir.path(),
        None,
        &[
            "--asyncapi",
            "--api-version",
            "2.1.0",
            path.to_str().unwrap(),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        !text.contains(PASSWORD) && !text.contains("alice"),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["info"]["title"], "trpc_go.yaml");
    assert_eq!(doc["info"]["version"], "2.1.0");
    // Two clusters: the consumer's (SCRAM) and the producer's.
    assert_eq!(doc["servers"]["kafka_1"]["host"], "127.0.0.1:9092");
    assert_eq!(
        doc["servers"]["kafka_1"]["security"][0]["$ref"],
        "#/components/securitySchemes/scramSha512"
    );
    assert_eq!(doc["servers"]["kafka_2"]["protocol"], "kafka");
    let channels: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["audit", "orders", "refunds"]);
    let operations = doc["operations"].as_object().unwrap();
    let receive = &operations["trpc_app_server_consumer_receive_orders"];
    assert_eq!(receive["action"], "receive");
    assert_eq!(receive["channel"]["$ref"], "#/channels/orders");
    assert_eq!(
        receive["bindings"]["kafka"]["groupId"]["enum"][0],
        "billing"
    );
    assert!(!receive["summary"]
        .as_str()
        .unwrap()
        .contains("(in batches)"));
    assert_eq!(
        operations["trpc_app_server_producer_send"]["action"],
        "send"
    );
    // The configuration alone does not know the payload types.
    assert!(doc["components"]["messages"]["unspecified"]["description"]
        .as_str()
        .unwrap()
        .contains("KAFKA_RS_ASYNCAPI"));

    let out = run(
        dir.path(),
        None,
        &["--asyncapi", "--format", "json", path.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--asyncapi replaces the report formats"
    );
}
