//! Malformed configuration, row by row, with the exact error each must give.
//!
//! The unit tests in `src/config/tests/` hold one valid and one invalid value
//! per key and the basic syntax errors; this table adds the inputs people
//! actually get wrong or that break parsers: case and unicode slips in keys,
//! a password glued to its key, numbers too long for any integer type, float
//! and hex spellings, NUL bytes, huge values, look-alike `?`, broken broker
//! lists, empty values, duplicates, discovery without its partner, and YAML
//! files that are wrong in shape rather than in an address.

use kafka_runtime::config::keys::{allowed_names, Side};
use kafka_runtime::config::{parse_consumer_address, parse_producer_target, Config};

const SERVICE: &str = "svc";
const BROKER_RULE: &str = "each broker is `host:port` with a non-empty host and a port in 1..=65535, brokers separated by commas";
const NO_QUESTION_MARK: &str = "the address has no `?`: write `host:port[,host:port...]?key=value&...` (e.g. `127.0.0.1:9092?topics=orders&group=billing`); for an address configured in code (like `fake_address`), call kafka_runtime::config::register_consumer_addr_config with that exact string before loading";
const BOOL: &str = "true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)";
const RATE: &str = "a positive decimal number (events per second), e.g. 100 or 0.5";
const VERSION: &str = "0.x.y.z before 1.0 (e.g. 0.10.2.0), x.y.z from 1.0 (e.g. 1.1.1, 2.8.0)";

/// `{C}` and `{P}` in an expected error stand for the allowed key lists, so
/// the rows survive keys being added to the table.
fn expand(expected: &str) -> String {
    expected
        .replace("{C}", &allowed_names(Side::Consumer).join(", "))
        .replace("{P}", &allowed_names(Side::Producer).join(", "))
        .replace("{BROKER_RULE}", BROKER_RULE)
        .replace("{NO_Q}", NO_QUESTION_MARK)
        .replace("{BOOL}", BOOL)
        .replace("{RATE}", RATE)
        .replace("{VERSION}", VERSION)
}

/// A consumer address with valid `topics` and `group`, then `extra`.
fn consumer(extra: &str) -> String {
    format!("127.0.0.1:9092?topics=t&group=g&{extra}")
}

/// A producer target with a valid `topic`, then `extra`.
fn producer(extra: &str) -> String {
    format!("kafka://127.0.0.1:9092?topic=t&{extra}")
}

fn consumer_error(address: &str) -> String {
    match parse_consumer_address(SERVICE, address) {
        Ok(cfg) => panic!("`{address}` was accepted: {cfg:?}"),
        Err(e) => e.to_string(),
    }
}

fn producer_error(target: &str) -> String {
    match parse_producer_target(SERVICE, target) {
        Ok(cfg) => panic!("`{target}` was accepted: {cfg:?}"),
        Err(e) => e.to_string(),
    }
}

/// Checks every row, reporting all mismatches at once.
fn check(rows: &[(String, &str)], error_of: impl Fn(&str) -> String) {
    let mut failures = Vec::new();
    for (input, expected) in rows {
        let expected = format!("service `{SERVICE}`: {}", expand(expected));
        let actual = error_of(input);
        if actual != expected {
            failures.push(format!(
                "input:    {input:?}\nexpected: {expected}\nactual:   {actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

#[test]
fn unknown_keys() {
    let rows = [
        (consumer("Topics=x"), "`Topics=x`: unknown key `Topics`, did you mean `topics`? allowed consumer keys: {C}"),
        (consumer("tópics=x"), "`tópics=x`: unknown key `tópics`, did you mean `topics`? allowed consumer keys: {C}"),
        // A zero-width space pasted from a chat window.
        (consumer("group\u{200b}=h"), "`group\u{200b}=h`: unknown key `group\u{200b}`, did you mean `group`? allowed consumer keys: {C}"),
        (consumer("fetch_max=5000"), "`fetch_max=5000`: unknown key `fetch_max`, did you mean `fetchMax`? allowed consumer keys: {C}"),
        (consumer("%74opics=x"), "`topics=x`: `topics` is given more than once; each key may appear once"),
        (producer("Topic=x"), "`Topic=x`: unknown key `Topic`, did you mean `topic`? allowed producer keys: {P}"),
        (producer("acks=all"), "`acks=all`: unknown key `acks`; allowed producer keys: {P}"),
        (producer("batch=10"), "`batch=10`: `batch` is a consumer key, not allowed in a producer address"),
    ];
    check(&rows, consumer_or_producer_error);
}

/// Consumer addresses have no scheme; producer targets start with `kafka://`.
fn consumer_or_producer_error(input: &str) -> String {
    if input.starts_with("kafka://") {
        producer_error(input)
    } else {
        consumer_error(input)
    }
}

#[test]
fn a_password_glued_to_its_key_is_never_echoed() {
    let rows = [
        (consumer("password:hunter2"), "`***=***`: unknown key `***` (not shown: it may contain the password), did you mean `password`? allowed consumer keys: {C}"),
        (consumer("passwordhunter2"), "`***=***`: unknown key `***` (not shown: it may contain the password), did you mean `password`? allowed consumer keys: {C}"),
        // `+` decodes to a space: `password hunter2` is one key.
        (consumer("password+hunter2"), "`***=***`: unknown key `***` (not shown: it may contain the password), did you mean `password`? allowed consumer keys: {C}"),
        (producer("pwd-hunter2=x"), "`***=***`: unknown key `***` (not shown: it may contain the password); allowed producer keys: {P}"),
        // A misspelt secret key: its value is a secret all the same; the
        // key, a slip from a real key, has no room for one and is shown.
        (consumer("mechanism=PLAIN&user=u&pasword=hunter2"), "`pasword=***`: unknown key `pasword`, did you mean `password`? allowed consumer keys: {C}"),
        (producer("tlsKeyFile=k.pem&tlsKeyPasword=hunter2"), "`tlsKeyPasword=***`: unknown key `tlsKeyPasword`, did you mean `tlsKeyPassword`? allowed producer keys: {P}"),
        (consumer("tls_key_password=hunter2"), "`tls_key_password=***`: unknown key `tls_key_password`, did you mean `tlsKeyPassword`? allowed consumer keys: {C}"),
        (consumer("passwrod=hunter2"), "`passwrod=***`: unknown key `passwrod`, did you mean `password`? allowed consumer keys: {C}"),
        (producer("paswordhunter2=x"), "`***=***`: unknown key `***` (not shown: it may contain the password), did you mean `password`? allowed producer keys: {P}"),
        // A short plain word cannot hold the value: it stays readable.
        (consumer("Password=hunter2"), "`Password=***`: unknown key `Password`, did you mean `password`? allowed consumer keys: {C}"),
        (consumer("mechanism=PLAIN&user=u&password=hunter2%"), "bad percent-escape in the query pair of key `***`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"),
        (consumer("mechanism=PLAIN&user=u&password=hunter2&password=hunter3"), "`password=***`: `password` is given more than once; each key may appear once"),
        (consumer("mechanism=PLAIN&user=u&password=hunter2%00"), "`password=***`: contains a NUL character (`%00`), which the Kafka client cannot take; allowed: any non-empty text"),
    ];
    check(&rows, consumer_or_producer_error);
    for (input, _) in &rows {
        let err = consumer_or_producer_error(input);
        assert!(!err.contains("hunter"), "{err}");
    }
}

#[test]
fn empty_values() {
    let rows = [
        (consumer("version="), "`version=`: empty value; allowed: {VERSION}"),
        (consumer("strategy="), "`strategy=`: empty value; allowed: sticky, range, roundrobin"),
        (consumer("mechanism=PLAIN&user=u&password="), "`password=`: empty value; allowed: any non-empty text"),
        ("127.0.0.1:9092?topics=&group=g".to_owned(), "`topics=`: empty value; allowed: a comma-separated list of non-empty names"),
        ("127.0.0.1:9092?topics=a,&group=g".to_owned(), "`topics=a,`: empty name in the list; allowed: a comma-separated list of non-empty names"),
        ("127.0.0.1:9092?topics=%20&group=g".to_owned(), "`topics= `: empty name in the list; allowed: a comma-separated list of non-empty names"),
        (consumer("discover=polaris&namespace="), "`namespace=`: empty value; allowed: any non-empty text"),
        (consumer("namespace=Production&discover="), "`discover=`: empty value; allowed: any non-empty text"),
        (producer("async="), "`async=`: empty value; allowed: 1 (asynchronous); any other value (0, false, true...) is synchronous, as the Go plugin reads it"),
        (producer("idempotent"), "`idempotent=`: empty value; allowed: {BOOL}"),
    ];
    check(&rows, consumer_or_producer_error);
}

#[test]
fn bad_numbers() {
    let huge = "9".repeat(1_000);
    let rows = [
        // Too long for any integer type: a range problem, not a syntax one.
        (consumer("fetchMax=99999999999999999999"), "`fetchMax=99999999999999999999`: out of range; allowed: 1000..=2147483135 (bytes)"),
        (consumer("maxRetry=-99999999999999999999"), "`maxRetry=-99999999999999999999`: out of range; allowed: -2147483648..=2147483647"),
        (consumer(&format!("batch={huge}")), "`batch=999999999999999999999999999999999999999999999999999999999999... (1000 characters)`: out of range; allowed: 1..=2147483647"),
        (producer("flushFrequency=99999999999999999999"), "`flushFrequency=99999999999999999999`: out of range; allowed: 0..=299999 (milliseconds)"),
        (consumer("batch=1.5"), "`batch=1.5`: not a whole number; allowed: 1..=2147483647"),
        (consumer("batch=1e3"), "`batch=1e3`: not a whole number; allowed: 1..=2147483647"),
        (consumer("maxWaitTime=0x10"), "`maxWaitTime=0x10`: not a whole number; allowed: 1..=300000 (milliseconds)"),
        (consumer("batch=-0"), "`batch=-0`: out of range; allowed: 1..=2147483647"),
        // `+` is a space in a query; `%2B` is the plus sign.
        (consumer("batch=+5"), "`batch= 5`: not a whole number; allowed: 1..=2147483647"),
        // Full-width digits are not digits to Kafka.
        (consumer("batch=５"), "`batch=５`: not a whole number; allowed: 1..=2147483647"),
        (consumer("groupSessionTimeout=10s"), "`groupSessionTimeout=10s`: not a whole number; allowed: 1..=3600000 (milliseconds)"),
        (producer("maxMessageBytes=1e6"), "`maxMessageBytes=1e6`: not a whole number; allowed: 1000..=1000000000 (bytes)"),
        (consumer("limiterRate=NaN"), "`limiterRate=NaN`: out of range; allowed: {RATE}"),
        (consumer("limiterRate=inf"), "`limiterRate=inf`: out of range; allowed: {RATE}"),
        (consumer("limiterRate=1e309"), "`limiterRate=1e309`: out of range; allowed: {RATE}"),
        (consumer("limiterRate=-0.5"), "`limiterRate=-0.5`: out of range; allowed: {RATE}"),
        (consumer("version=１.1.1"), "`version=１.1.1`: not a Kafka version; allowed: {VERSION}"),
        (consumer("version=99999.1.1"), "`version=99999.1.1`: not a Kafka version; allowed: {VERSION}"),
    ];
    check(&rows, consumer_or_producer_error);
}

#[test]
fn bad_enums() {
    let rows = [
        (consumer("initial=Newest"), "`initial=Newest`: not an allowed value; allowed: newest, oldest"),
        (consumer("isolationLevel=readcommitted"), "`isolationLevel=readcommitted`: not an allowed value; allowed: ReadUncommitted, ReadCommitted"),
        (consumer("strategy=sticky+"), "`strategy=sticky `: not an allowed value; allowed: sticky, range, roundrobin"),
        (consumer("mechanism=plain&user=u&password=p"), "`mechanism=plain`: not an allowed value; allowed: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN"),
        (consumer("protocol=sasl_ssl"), "`protocol=sasl_ssl`: not an allowed value; allowed: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        (consumer("trpcMeta=yes"), "`trpcMeta=yes`: not a boolean; allowed: {BOOL}"),
        (producer("partitioner=Hash"), "`partitioner=Hash`: not an allowed value; allowed: random, roundrobin, hash"),
        (producer("compression=ZSTD"), "`compression=ZSTD`: not an allowed value; allowed: none, gzip, snappy, lz4, zstd"),
        (producer("requiredAcks=all"), "`requiredAcks=all`: not an allowed value; allowed: 0, 1, -1"),
    ];
    check(&rows, consumer_or_producer_error);
}

#[test]
fn nul_bytes_and_huge_values() {
    let huge = "x".repeat(100_000);
    let rows = [
        (consumer("clientid=a%00b"), "`clientid=a%00b`: contains a NUL character (`%00`), which the Kafka client cannot take; allowed: any non-empty text"),
        ("127.0.0.1:9092?topics=t%00u&group=g".to_owned(), "`topics=t%00u`: contains a NUL character (`%00`), which the Kafka client cannot take; allowed: a comma-separated list of non-empty names"),
        ("ho\0st:9092?topics=t&group=g".to_owned(), "broker `ho\0st:9092`: bad host; {BROKER_RULE}"),
        (consumer(&format!("version={huge}")), "`version=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (100000 characters)`: not a Kafka version; allowed: {VERSION}"),
        (consumer(&format!("strategy={huge}")), "`strategy=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (100000 characters)`: not an allowed value; allowed: sticky, range, roundrobin"),
    ];
    check(&rows, consumer_or_producer_error);
}

#[test]
fn missing_or_look_alike_question_mark() {
    let rows = [
        // A full-width question mark from an IME.
        ("127.0.0.1:9092？topics=t&group=g".to_owned(), "{NO_Q}"),
        ("127.0.0.1:9092&topics=t&group=g".to_owned(), "{NO_Q}"),
        ("127.0.0.1:9092/topics=t&group=g".to_owned(), "{NO_Q}"),
        (String::new(), "{NO_Q}"),
    ];
    check(&rows, consumer_error);
    assert_eq!(
        producer_error("kafka://"),
        "service `svc`: the address has no `?`: write `host:port[,host:port...]?key=value&...` (e.g. `kafka://127.0.0.1:9092?topic=orders`); for an address configured in code (like `fake_address`), call kafka_runtime::config::register_producer_addr_config with that exact string before loading"
    );
}

#[test]
fn broker_lists() {
    let rows = [
        (",127.0.0.1:9092?topics=t&group=g", "empty broker in the broker list; {BROKER_RULE}"),
        ("127.0.0.1:9092,?topics=t&group=g", "empty broker in the broker list; {BROKER_RULE}"),
        (" ?topics=t&group=g", "no brokers: the part before `?` is `host:port[,host:port...]` (e.g. `127.0.0.1:9092`)"),
        ("?", "no brokers: the part before `?` is `host:port[,host:port...]` (e.g. `127.0.0.1:9092`)"),
        ("h:-1?topics=t&group=g", "broker with host `h`: the port is not a number; {BROKER_RULE}"),
        ("h:9092x?topics=t&group=g", "broker with host `h`: the port is not a number; {BROKER_RULE}"),
        ("h:?topics=t&group=g", "broker with host `h`: the port is not a number; {BROKER_RULE}"),
        ("h:99999999999999999999?topics=t&group=g", "broker `h:99999999999999999999`: bad port; {BROKER_RULE}"),
        ("::1:9092?topics=t&group=g", "broker `::1:9092`: bad host; {BROKER_RULE}"),
        ("[::1:9092?topics=t&group=g", "broker `[::1:9092`: bad host; {BROKER_RULE}"),
        ("h 1:9092?topics=t&group=g", "broker `h 1:9092`: bad host; {BROKER_RULE}"),
        ("127.0.0.1:9092?", "`topics`: a consumer needs `topics` (comma-separated topic names, e.g. `?topics=orders,refunds&group=billing`)"),
        ("?topics=t&group=g&discover=polaris&namespace=P", "with `discover`, the part before `?` is exactly one service name for the resolver (e.g. `my.kafka.service?discover=polaris&namespace=Production&...`)"),
    ];
    let rows: Vec<(String, &str)> = rows.iter().map(|(a, e)| ((*a).to_owned(), *e)).collect();
    check(&rows, consumer_error);
    // Query text before the `?` is never echoed: it may hold the password.
    for address in [
        "h:1&password=hunter2?topics=t&group=g",
        "password=hunter2&topics=t&group=g?",
    ] {
        assert_eq!(
            consumer_error(address),
            "service `svc`: a broker contains `=` or `&`: `key=value` pairs go after the `?` (`host:port[,host:port...]?key=value&...`); the broker is not shown because it may hold a password"
        );
    }
    let producer_rows = [
        (
            "kafka://?topic=t".to_owned(),
            "no brokers: the part before `?` is `host:port[,host:port...]` (e.g. `127.0.0.1:9092`)",
        ),
        (
            "KAFKA://h:1?topic=t".to_owned(),
            "broker `KAFKA://h:1`: a broker has no scheme; {BROKER_RULE}",
        ),
        (
            "kafka:/h:1?topic=t".to_owned(),
            "broker `kafka:/h:1`: bad host; {BROKER_RULE}",
        ),
    ];
    check(&producer_rows, producer_error);
}

#[test]
fn duplicates_and_discovery() {
    let rows = [
        (consumer("topics=a"), "`topics=a`: `topics` is given more than once; each key may appear once"),
        // The duplicate is reported before the empty value.
        (consumer("group="), "`group=`: `group` is given more than once; each key may appear once"),
        (producer("topic=u"), "`topic=u`: `topic` is given more than once; each key may appear once"),
        (consumer("discover=polaris"), "`discover=polaris`: `discover` requires `namespace` (e.g. `&namespace=Production`)"),
        (producer("namespace=Production"), "`namespace=Production`: `namespace` requires `discover` (the name of the discovery resolver, e.g. `&discover=polaris`)"),
        (consumer("x=%GG"), "bad percent-escape in the query pair of key `x`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"),
        (consumer("x=%"), "bad percent-escape in the query pair of key `x`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"),
    ];
    check(&rows, consumer_or_producer_error);
}

/// Odd-looking inputs that are valid, and what they become.
#[test]
fn odd_but_valid() {
    let cfg = parse_consumer_address(SERVICE, &consumer("batch=%2B5&clientid=日本語")).unwrap();
    assert_eq!(cfg.batch, Some(5), "`%2B5` is +5, as Go's strconv accepts");
    assert_eq!(cfg.effective_client_id(), "日本語");
    let cfg = parse_consumer_address(SERVICE, "hôst.example:9092?topics=t&group=g").unwrap();
    assert_eq!(cfg.common.brokers, ["hôst.example:9092"]);
    let long = "y".repeat(10_000);
    let cfg = parse_producer_target(SERVICE, &producer(&format!("clientid={long}"))).unwrap();
    assert_eq!(
        cfg.librdkafka_properties().get("client.id"),
        Some(long.as_str())
    );
}

/// Whole files that are wrong in shape. `Prefix` rows come from the YAML
/// library, whose wording is not ours to pin beyond the start.
#[test]
fn malformed_yaml_files() {
    enum Expect {
        Exact(&'static str),
        Prefix(&'static str),
    }
    use Expect::{Exact, Prefix};
    let rows = [
        ("server:\n  service:\n    - {name: c, protocol: kafka, address: [a, b]}\n",
            Exact("server.service[0].address must be a string")),
        ("server:\n  service:\n    - {name: [x], protocol: kafka, address: 'h:1?topics=t&group=g'}\n",
            Exact("server.service[0].name must be a string")),
        ("server:\n  service:\n    - {name: '', protocol: kafka, address: 'h:1?topics=t&group=g'}\n",
            Exact("server.service[0] is a Kafka service and needs a non-empty `name`")),
        ("client:\n  service:\n    - {target: 'kafka://h:1?topic=t'}\n",
            Exact("client.service[0] is a Kafka service and needs a non-empty `name`")),
        ("server:\n  service:\n    - name: c\n      name: d\n      protocol: kafka\n      address: 'h:1?topics=t&group=g'\n",
            Exact("invalid YAML: server.service[0]: duplicate entry with key \"name\" at line 3 column 7")),
        ("server:\n\tservice: []\n",
            Prefix("invalid YAML: found character that cannot start any token at line 2 column 1")),
        ("---\nserver: {}\n---\nclient: {}\n",
            Exact("invalid YAML: deserializing from YAML containing more than one document is not supported")),
        ("x: &a [*a]\n", Prefix("invalid YAML: recursion limit exceeded")),
        ("- a\n- b\n",
            Exact("the top level of the file must be a mapping (`server:`, `client:`, `plugins:`, ...)")),
        ("server: {service: {name: c}}\n", Exact("`server.service` must be a list of services")),
        ("server:\n  service:\n    - {name: c, protocol: kafka, address: 'h:1?topics=t&group=g', timeout: 1.5}\n",
            Exact("service `c`: `timeout=1.5`: allowed: a whole number of milliseconds >= 0 (0 or absent: no deadline)")),
        ("server:\n  service:\n    - {name: c, protocol: kafka, address: 'h:1?topics=t&group=g', timeout: 18446744073709551616}\n",
            Prefix("invalid YAML: server.service[0].timeout: ")),
        ("server:\n  service:\n    - {name: c, protocol: kafka, address: '${KAFKA_RS_MALFORMED_TEST_UNSET}?topics=t&group=g'}\n",
            Exact("service `c`: `address` uses the environment variable `KAFKA_RS_MALFORMED_TEST_UNSET`, which is not set")),
        ("client:\n  service:\n    - {name: p, target: \"kafka://h:1?topic=t&clientid=a\\0b\"}\n",
            Exact("service `p`: `clientid=a%00b`: contains a NUL character (`%00`), which the Kafka client cannot take; allowed: any non-empty text")),
        ("server:\n  service:\n    - {name: c, protocol: kafka, address: 'h:1?topics=t&group=g&user=u&password=hunter2'}\n",
            Exact("service `c`: `user=u`: `user` requires `mechanism` (one of: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)")),
        ("plugins:\n  database:\n    kafka:\n      max_request_size: -1\n",
            Exact("`plugins.database.kafka.max_request_size=-1`: allowed: 1000..=2147483647 (bytes), or 0/absent for librdkafka's default")),
        ("plugins:\n  database:\n    kafka:\n      max_response_size: 99999999999999999999\n",
            Prefix("invalid YAML: plugins.database.kafka.max_response_size: ")),
    ];
    let mut failures = Vec::new();
    for (yaml, expected) in &rows {
        let actual = match Config::from_yaml_str(yaml) {
            Ok(cfg) => format!("accepted: {cfg:?}"),
            Err(e) => e.to_string(),
        };
        let ok = match expected {
            Exact(e) => actual == *e,
            Prefix(p) => actual.starts_with(p),
        };
        if !ok {
            failures.push(format!("yaml: {yaml:?}\nactual: {actual}"));
        }
        assert!(!actual.contains("hunter2"), "{actual}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Shapes that are not errors: an empty file, a BOM, a non-mapping entry
    // (not a Kafka service), and `protocol: Kafka` (only `kafka` selects Kafka).
    for yaml in [
        "",
        "\u{feff}server:\n  service: []\n",
        "server:\n  service:\n    - just a string\n",
        "server:\n  service:\n    - {name: c, protocol: Kafka, address: 'h:1?topics=t&group=g'}\n",
    ] {
        let cfg = Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{yaml:?}: {e}"));
        assert!(
            cfg.consumers.is_empty() && cfg.producers.is_empty(),
            "{yaml:?}"
        );
    }
}
