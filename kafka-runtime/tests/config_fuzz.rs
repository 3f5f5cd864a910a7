//! Property-based fuzzing of the configuration language: the address/target
//! parser and the YAML loader, fed arbitrary text, near-valid addresses built
//! from the key table, and arbitrary YAML documents.
//!
//! Every input must end in `Ok` or in an `Err` whose message is non-empty,
//! names the service it is about, and never contains a password (given as
//! `password` or `tlsKeyPassword`, or under a misspelling of either). An
//! accepted address must also give properties librdkafka accepts.
//!
//! Each property runs `PROPTEST_CASES` cases (default 2,000, which keeps the
//! whole file well under 30 s in a debug build); set the variable higher for
//! a longer run. The inputs come from a fixed seed, so CI is reproducible;
//! set `PROPTEST_RNG_SEED` to any other number to explore new inputs. Each
//! property prints how many inputs it ran without a panic.

use std::sync::atomic::{AtomicU64, Ordering};

use kafka_runtime::config::keys::{KeySpec, Kind, KEYS};
use kafka_runtime::config::{
    parse_consumer_address, parse_producer_target, Config, ConfigError, ConsumerConfig,
    ProducerConfig,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngSeed, TestCaseError, TestRunner};
use serde_yaml::{Mapping, Value};

/// Cases per property when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 2_000;
/// Seed when `PROPTEST_RNG_SEED` is not set.
const DEFAULT_SEED: u64 = 0x6b61_666b_6172_7300;

/// A generated address or target and the passwords in it.
type Generated = (String, Vec<String>);

/// Every generated password starts with this, so a leak is unmistakable.
const PASSWORD_MARK: &str = "PWmark";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Runs `check` on `cases()` values of `strategy`, reports the number of
/// executions, and fails (with proptest's shrunk input) on any panic or
/// violated property.
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value) -> Result<Outcome, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    fuzz_with_cases(name, cases(), strategy, check);
}

/// [`fuzz`] with an explicit number of cases.
fn fuzz_with_cases<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<Outcome, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = RunnerConfig {
        cases,
        // Shrinking a failure is what makes it readable; keep it bounded.
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..RunnerConfig::default()
    };
    // `RunnerConfig::default()` reads PROPTEST_RNG_SEED; without it, the fixed seed.
    let config = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        config
    } else {
        RunnerConfig {
            rng_seed: RngSeed::Fixed(DEFAULT_SEED),
            ..config
        }
    };
    let seed = config.rng_seed;
    let executions = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        let outcome = check(value)?;
        executions.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::Accepted {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
    let executions = executions.load(Ordering::Relaxed);
    let accepted = accepted.load(Ordering::Relaxed);
    println!(
        "fuzz {name}: {executions} executions without a panic ({accepted} accepted, {} rejected; seed {seed:?})",
        executions - accepted
    );
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Rejected,
}

/// What every rejection must satisfy.
fn check_error(
    err: &ConfigError,
    service: Option<&str>,
    secrets: &[String],
) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(!err.reason.trim().is_empty(), "empty reason: {err:?}");
    prop_assert!(!text.trim().is_empty());
    if let Some(service) = service {
        prop_assert_eq!(err.service.as_deref(), Some(service), "{}", text);
        let prefix = format!("service `{service}`: ");
        prop_assert!(text.starts_with(&prefix), "{}", text);
    }
    for secret in secrets {
        prop_assert!(
            !text.contains(secret.as_str()),
            "password in error: {}",
            text
        );
        let debug = format!("{err:?}");
        prop_assert!(
            !debug.contains(secret.as_str()),
            "password in Debug: {}",
            debug
        );
    }
    Ok(())
}

/// What every accepted consumer or producer must satisfy.
fn check_accepted(
    debug: String,
    props: kafka_runtime::config::Properties,
    secrets: &[String],
) -> Result<(), TestCaseError> {
    let shown = format!("{props}{props:?}");
    for secret in secrets {
        prop_assert!(
            !debug.contains(secret.as_str()),
            "password in Debug: {}",
            debug
        );
        prop_assert!(
            !shown.contains(secret.as_str()),
            "password in properties: {}",
            shown
        );
    }
    if let Err(e) = props.to_client_config().create_native_config() {
        return Err(TestCaseError::fail(format!(
            "accepted address gives properties librdkafka refuses: {e}: {props}"
        )));
    }
    Ok(())
}

fn check_consumer(
    service: &str,
    address: &str,
    secrets: &[String],
) -> Result<Outcome, TestCaseError> {
    match parse_consumer_address(service, address) {
        Ok(cfg) => {
            accepted_consumer(service, &cfg, secrets)?;
            Ok(Outcome::Accepted)
        }
        Err(err) => {
            check_error(&err, Some(service), secrets)?;
            Ok(Outcome::Rejected)
        }
    }
}

fn accepted_consumer(
    service: &str,
    cfg: &ConsumerConfig,
    secrets: &[String],
) -> Result<(), TestCaseError> {
    prop_assert!(cfg.validate(service).is_ok());
    check_accepted(format!("{cfg:?}"), cfg.librdkafka_properties(), secrets)
}

fn accepted_producer(
    service: &str,
    cfg: &ProducerConfig,
    secrets: &[String],
) -> Result<(), TestCaseError> {
    prop_assert!(cfg.validate(service).is_ok());
    check_accepted(format!("{cfg:?}"), cfg.librdkafka_properties(), secrets)
}

fn check_producer(
    service: &str,
    target: &str,
    secrets: &[String],
) -> Result<Outcome, TestCaseError> {
    match parse_producer_target(service, target) {
        Ok(cfg) => {
            accepted_producer(service, &cfg, secrets)?;
            Ok(Outcome::Accepted)
        }
        Err(err) => {
            check_error(&err, Some(service), secrets)?;
            Ok(Outcome::Rejected)
        }
    }
}

// ---------------------------------------------------------------- strategies

/// Text made mostly of the characters that matter to the address syntax.
fn syntax_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                ":", ",", "?", "&", "=", "%", "+", ";", "@", "/", "[", "]", " ", "%41", "%zz",
                "%2", "kafka://", "${", "}", "\u{0}", "\u{feff}", "é", "€", "🦀", "\n", "\t",
            ])
            .prop_map(str::to_owned),
            4 => "[a-zA-Z0-9.-]{1,8}",
            2 => prop::sample::select(KEYS.iter().map(|k| k.name).collect::<Vec<_>>())
                .prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn service_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "trpc\\.[a-z]{1,6}\\.[a-z]{1,6}\\.[a-z]{1,8}",
        1 => "[^\u{0}]{1,20}".prop_filter("a name has a visible character", |s| !s.trim().is_empty()),
        1 => Just("名前.サービス".to_owned()),
    ]
}

/// A broker list: mostly valid, often subtly not.
fn brokers() -> impl Strategy<Value = String> {
    let broker = prop_oneof![
        6 => Just("127.0.0.1:9092".to_owned()),
        3 => "[a-z]{1,10}(\\.[a-z]{1,6}){0,2}:[1-9][0-9]{0,4}",
        1 => Just("[::1]:9092".to_owned()),
        1 => Just("::1:9092".to_owned()),
        1 => Just("host".to_owned()),
        1 => Just("host:0".to_owned()),
        1 => Just("host:65536".to_owned()),
        1 => Just("host:99999999999999999999999".to_owned()),
        1 => Just("host:+1".to_owned()),
        1 => Just(":9092".to_owned()),
        1 => Just("[]:9092".to_owned()),
        1 => Just("user:PWmarkbroker@host:9092".to_owned()),
        1 => Just("kafka://host:9092".to_owned()),
        1 => Just("hôst.例え:9092".to_owned()),
        1 => Just(" host :9092".to_owned()),
        1 => Just("ho\u{0}st:9092".to_owned()),
        1 => Just(String::new()),
        1 => "[^?&]{0,12}",
    ];
    prop::collection::vec(broker, 0..4).prop_map(|list| list.join(","))
}

/// A valid value of `kind`, or one close to valid.
fn value_for(kind: Kind) -> BoxedStrategy<String> {
    prop_oneof![4 => valid_value(kind), 1 => near_value()].boxed()
}

/// Values that are wrong for most kinds, or right in a surprising way.
fn near_value() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("1e3".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("0x10".to_owned()),
        Just("+5".to_owned()),
        Just("５".to_owned()),
        Just("%E2%82%AC".to_owned()),
        Just("%".to_owned()),
        Just("a%00b".to_owned()),
        Just("a+b".to_owned()),
        "[a-zA-Z]{1,12}",
        // Huge values: the parser must neither panic nor echo megabytes slowly.
        (1usize..40_000).prop_map(|n| "9".repeat(n)),
        (1usize..40_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// A value `kind` accepts on its own (cross-key rules may still refuse it).
fn valid_value(kind: Kind) -> BoxedStrategy<String> {
    match kind {
        Kind::Text => prop_oneof![
            8 => "[a-zA-Z0-9._-]{1,16}",
            1 => Just("日本語+名前".to_owned()),
            1 => Just("a%00b".to_owned()),
            1 => Just("%E2%82%AC%2B%26".to_owned()),
            1 => (1usize..20_000).prop_map(|n| "y".repeat(n)),
        ]
        .boxed(),
        Kind::Names => prop_oneof![
            4 => "[a-z0-9]{1,8}(,[a-z0-9]{1,8}){0,3}",
            1 => Just("t%00,u".to_owned()),
            1 => Just("トピック,t".to_owned()),
        ]
        .boxed(),
        Kind::Bool => prop::sample::select(vec!["true", "false", "1", "0", "t", "F", "TRUE"])
            .prop_map(str::to_owned)
            .boxed(),
        Kind::AsyncFlag => prop::sample::select(vec!["0", "1", "true", "false"])
            .prop_map(str::to_owned)
            .boxed(),
        Kind::Choice(values) => prop::sample::select(values.to_vec())
            .prop_map(str::to_owned)
            .boxed(),
        Kind::Int { min, max, .. } => prop_oneof![
            4 => (min..=max).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec![min, max, min.saturating_sub(1), max.saturating_add(1)])
                .prop_map(|n| n.to_string()),
        ]
        .boxed(),
        Kind::Rate => prop_oneof![
            (1u32..10_000).prop_map(|n| n.to_string()),
            (1u32..1000).prop_map(|n| format!("0.{n}")),
            Just("-1".to_owned()),
            Just("1e308".to_owned()),
            Just("1e309".to_owned()),
        ]
        .boxed(),
        Kind::Version => prop::sample::select(vec![
            "0.10.2.0",
            "1.1.1",
            "2.8.0",
            "3.7.0.1",
            "1.1",
            "0.10.2",
            "v1",
            "1..1",
            "9999.9999.9999",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        // Kinds added later still get fuzzed with near-valid text.
        #[allow(unreachable_patterns)]
        _ => "[a-zA-Z0-9._/-]{1,16}".boxed(),
    }
}

/// A key as written: the table's name, an alias, a case or spelling slip,
/// or something else.
fn key_spelling(spec: &'static KeySpec) -> BoxedStrategy<String> {
    let mut spellings = vec![spec.name.to_owned()];
    spellings.extend(spec.aliases.iter().map(|a| (*a).to_owned()));
    prop_oneof![
        8 => prop::sample::select(spellings),
        1 => Just(spec.name.to_ascii_lowercase()),
        1 => Just(format!("{}x", spec.name)),
        1 => Just(format!(" {}", spec.name)),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// One `key=value` pair (rendered), with random separators now and then.
fn pair() -> impl Strategy<Value = String> {
    let spec_pair = prop::sample::select(KEYS.iter().collect::<Vec<_>>()).prop_flat_map(|spec| {
        // The password pair is generated separately, with a marked value.
        let spec: &'static KeySpec = spec;
        (key_spelling(spec), value_for(spec.kind))
    });
    let random_pair = ("[a-zA-Z%+é]{0,10}", "[^&]{0,12}");
    let separator = prop_oneof![
        12 => Just("="),
        1 => Just(":"),
        1 => Just("=="),
        1 => Just(""),
    ];
    (prop_oneof![6 => spec_pair, 1 => random_pair], separator)
        .prop_filter(
            "the password pair is generated on its own",
            |((k, _), _)| !k.to_ascii_lowercase().contains("pass"),
        )
        .prop_map(|((key, value), sep)| format!("{key}{sep}{value}"))
}

/// The key a secret is given under: `password` or `tlsKeyPassword` as the
/// table spells them, or with a slip of the kind people make (a letter
/// missing, doubled, replaced or swapped with its neighbour, a case or
/// separator change). A misspelt secret key is an unknown key, and its
/// value must stay hidden all the same.
fn secret_key() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["password", "tlsKeyPassword"]);
    let slip = (
        any::<prop::sample::Index>(),
        0u8..4,
        prop::sample::select(vec!['a', 's', 'o', 'w', 'd', 'r', 'x', '0', '_', '-', '.']),
    );
    prop_oneof![
        4 => name.clone().prop_map(str::to_owned),
        1 => name.clone().prop_map(|n| n.to_ascii_uppercase()),
        1 => name.clone().prop_map(|n| n.replace("Key", "_key_").replace("Password", "password")),
        4 => (name, prop::collection::vec(slip, 1..=2)).prop_map(|(name, slips)| {
            let mut key: Vec<char> = name.chars().collect();
            for (at, kind, letter) in slips {
                let i = at.index(key.len());
                match kind {
                    0 if key.len() > 1 => {
                        key.remove(i);
                    }
                    1 => key.insert(i, key[i]),
                    2 => key[i] = letter,
                    _ if i + 1 < key.len() => key.swap(i, i + 1),
                    _ => key.insert(i, letter),
                }
            }
            key.into_iter().collect()
        }),
    ]
}

/// An address, either clean (valid pieces, distinct keys: what survives
/// reaches validation and the mapping) or messy (any slip anywhere).
/// Returns the address and the passwords in it.
fn address(consumer: bool) -> impl Strategy<Value = (String, Vec<String>)> {
    prop_oneof![clean_address(consumer), messy_address(consumer)]
}

/// Distinct keys of the address's side, each with a value its kind accepts.
fn clean_address(consumer: bool) -> impl Strategy<Value = (String, Vec<String>)> {
    let side_keys: Vec<&'static KeySpec> = KEYS
        .iter()
        .filter(|k| {
            let side = k.side.as_str();
            let ours = side == "shared" || (side == "consumer") == consumer;
            ours && !["password", "topics", "group", "topic", "user", "mechanism"].contains(&k.name)
        })
        .collect();
    let pairs = prop::sample::subsequence(side_keys, 0..5).prop_flat_map(|specs| {
        specs
            .into_iter()
            .map(|spec| valid_value(spec.kind).prop_map(move |v| format!("{}={v}", spec.name)))
            .collect::<Vec<_>>()
    });
    let broker = prop_oneof![
        Just("127.0.0.1:9092".to_owned()),
        "[a-z]{1,10}(\\.[a-z]{1,6}){0,2}:[1-9][0-9]{0,3}",
        Just("[::1]:9092".to_owned()),
    ];
    let required: Vec<String> = if consumer {
        vec!["topics=t1,t2".to_owned(), "group=g".to_owned()]
    } else {
        vec!["topic=t".to_owned()]
    };
    let sasl = prop::option::of("[a-zA-Z0-9]{4,16}".prop_map(|s| format!("{PASSWORD_MARK}{s}")));
    (prop::collection::vec(broker, 1..3), pairs, sasl).prop_map(
        move |(brokers, pairs, password)| {
            let mut all = required.clone();
            all.extend(pairs);
            let mut secrets = Vec::new();
            if let Some(password) = password {
                all.push("mechanism=SCRAM-SHA-256".to_owned());
                all.push("user=u".to_owned());
                all.push(format!("password={password}"));
                secrets.push(password);
            }
            let prefix = if consumer { "" } else { "kafka://" };
            (
                format!("{prefix}{}?{}", brokers.join(","), all.join("&")),
                secrets,
            )
        },
    )
}

/// Brokers, `?`, pairs, maybe the required keys and maybe a marked
/// password, with slips in every part.
fn messy_address(consumer: bool) -> impl Strategy<Value = (String, Vec<String>)> {
    let required = if consumer {
        prop_oneof![
            3 => Just(vec!["topics=t1,t2".to_owned(), "group=g".to_owned()]),
            1 => Just(vec!["group=g".to_owned()]),
            1 => Just(vec![]),
        ]
        .boxed()
    } else {
        prop_oneof![3 => Just(vec!["topic=t".to_owned()]), 1 => Just(vec![])].boxed()
    };
    let password = prop_oneof![
        2 => Just(None),
        1 => "[a-zA-Z0-9]{4,16}".prop_map(|s| Some(format!("{PASSWORD_MARK}{s}"))),
        1 => "[a-zA-Z0-9]{4,16}".prop_map(|s| Some(format!("{PASSWORD_MARK}é{s}€"))),
    ];
    let sasl = prop_oneof![
        Just(vec![]),
        Just(vec!["mechanism=PLAIN".to_owned(), "user=u".to_owned()]),
        Just(vec!["mechanism=SCRAM-SHA-512".to_owned()]),
    ];
    // A slip in the password's own separator must not leak it through the key.
    let password_sep = prop_oneof![8 => Just("="), 1 => Just(":"), 1 => Just(""), 1 => Just("+")];
    let password = (secret_key(), password);
    let question = prop_oneof![10 => Just("?"), 1 => Just(""), 1 => Just("??"), 1 => Just("#")];
    let joiner = prop_oneof![12 => Just("&"), 1 => Just("&&"), 1 => Just(";"), 1 => Just(",")];
    (
        brokers(),
        question,
        required,
        prop::collection::vec(pair(), 0..8),
        sasl,
        (password, password_sep),
        joiner,
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(
            move |(
                brokers,
                q,
                required,
                pairs,
                sasl,
                ((secret_key, password), password_sep),
                joiner,
                at,
                scheme,
            )| {
                let mut all: Vec<String> = required;
                all.extend(pairs);
                all.extend(sasl);
                let mut secrets = Vec::new();
                let mut query = all.join(joiner);
                if let Some(password) = password {
                    // Inserted as an intact `&password=...&` pair: a broken
                    // separator around it would make it part of another value.
                    let position = at.index(all.len() + 1);
                    let mut with: Vec<String> = all;
                    with.insert(position, format!("{secret_key}{password_sep}{password}"));
                    query = with.join("&");
                    secrets.push(password);
                }
                let prefix = if !consumer && scheme { "kafka://" } else { "" };
                (format!("{prefix}{brokers}{q}{query}"), secrets)
            },
        )
}

// ---------------------------------------------------------------- parser

#[test]
fn parser_survives_arbitrary_text() {
    fuzz(
        "parser/arbitrary-text",
        (service_name(), syntax_soup(), any::<bool>()),
        |(service, text, consumer)| {
            if consumer {
                check_consumer(&service, &text, &[])
            } else {
                check_producer(&service, &text, &[])
            }
        },
    );
}

#[test]
fn consumer_addresses_near_valid() {
    fuzz(
        "parser/consumer-near-valid",
        (service_name(), address(true)),
        |(service, (address, secrets))| check_consumer(&service, &address, &secrets),
    );
}

#[test]
fn producer_targets_near_valid() {
    fuzz(
        "parser/producer-near-valid",
        (service_name(), address(false)),
        |(service, (target, secrets))| check_producer(&service, &target, &secrets),
    );
}

/// librdkafka checks some rules between properties only when a client is
/// created (fetch.max.bytes vs message.max.bytes, idempotence, linger.ms vs
/// message.timeout.ms, ...): every accepted clean address must pass them.
/// Clients are real but point at a closed local port, so nothing resolves
/// names or waits on a broker; a tenth of the cases keeps this bounded.
#[test]
fn accepted_addresses_create_real_clients() {
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::producer::BaseProducer;

    let strategy = (service_name(), clean_address(true), clean_address(false));
    let check = |(service, (address, _), (target, _)): (String, Generated, Generated)| {
        let mut accepted = false;
        if let Ok(cfg) = parse_consumer_address(&service, &address) {
            let mut client = cfg.client_config();
            client.set("bootstrap.servers", "127.0.0.1:1");
            if let Err(e) = client.create::<BaseConsumer>() {
                return Err(TestCaseError::fail(format!("consumer `{address}`: {e}")));
            }
            accepted = true;
        }
        if let Ok(cfg) = parse_producer_target(&service, &target) {
            let mut client = cfg.client_config();
            client.set("bootstrap.servers", "127.0.0.1:1");
            if let Err(e) = client.create::<BaseProducer>() {
                return Err(TestCaseError::fail(format!("producer `{target}`: {e}")));
            }
            accepted = true;
        }
        Ok(if accepted {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        })
    };
    fuzz_with_cases(
        "librdkafka/real-clients",
        (cases() / 10).max(1),
        strategy,
        check,
    );
}

// ---------------------------------------------------------------- YAML

/// A `timeout:` of any YAML type.
fn timeout_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        3 => (0u64..100_000).prop_map(|n| Some(Value::from(n))),
        1 => any::<i64>().prop_map(|n| Some(Value::from(n))),
        1 => any::<u64>().prop_map(|n| Some(Value::from(n))),
        1 => any::<f64>().prop_map(|n| Some(Value::from(n))),
        1 => Just(Some(Value::from("1s"))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(Value::Bool(true))),
        1 => Just(Some(Value::Sequence(vec![Value::from(1)]))),
    ]
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    kafka: bool,
    address: String,
    timeout: Option<Value>,
}

fn entry(consumer: bool) -> impl Strategy<Value = (Entry, Vec<String>)> {
    (
        service_name(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        address(consumer),
        timeout_value(),
        any::<bool>(),
    )
        .prop_map(move |(name, kafka, (address, secrets), timeout, scheme)| {
            let address = if !consumer && kafka && scheme && !address.starts_with("kafka://") {
                format!("kafka://{address}")
            } else {
                address
            };
            (
                Entry {
                    name,
                    kafka,
                    address,
                    timeout,
                },
                secrets,
            )
        })
}

fn entry_value(entry: &Entry, consumer: bool) -> Value {
    let mut map = Mapping::new();
    map.insert("name".into(), entry.name.clone().into());
    if consumer {
        let protocol = if entry.kafka { "kafka" } else { "trpc" };
        map.insert("protocol".into(), protocol.into());
        map.insert("address".into(), entry.address.clone().into());
    } else {
        if entry.kafka {
            map.insert("protocol".into(), "kafka".into());
        }
        map.insert("target".into(), entry.address.clone().into());
    }
    if let Some(timeout) = &entry.timeout {
        map.insert("timeout".into(), timeout.clone());
    }
    Value::Mapping(map)
}

/// `plugins.database.kafka` with values of any type.
fn plugin_value() -> impl Strategy<Value = Option<Value>> {
    let size = prop_oneof![
        Just(Value::Null),
        (0i64..2_000_000_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from("10MB")),
    ];
    let rewrite = prop_oneof![
        Just(Value::Bool(true)),
        Just(Value::Bool(false)),
        Just(Value::from("yes")),
        Just(Value::from(1)),
    ];
    prop::option::of(
        (size.clone(), size, rewrite).prop_map(|(req, resp, rewrite)| {
            let mut kafka = Mapping::new();
            kafka.insert("max_request_size".into(), req);
            kafka.insert("max_response_size".into(), resp);
            kafka.insert("rewrite_log".into(), rewrite);
            let mut database = Mapping::new();
            database.insert("kafka".into(), Value::Mapping(kafka));
            let mut plugins = Mapping::new();
            plugins.insert("database".into(), Value::Mapping(database));
            Value::Mapping(plugins)
        }),
    )
}

/// A well-laid-out `trpc_go.yaml` (every Kafka entry named) with near-valid
/// addresses, targets, timeouts and plugin settings. Returns the text, the
/// service names and the passwords in it.
fn layout_valid_document() -> impl Strategy<Value = (String, Vec<String>, Vec<String>)> {
    (
        prop::collection::vec(entry(true), 0..4),
        prop::collection::vec(entry(false), 0..4),
        plugin_value(),
    )
        .prop_map(|(servers, clients, plugins)| {
            let mut names = Vec::new();
            let mut secrets = Vec::new();
            let mut root = Mapping::new();
            for (section, entries, consumer) in
                [("server", servers, true), ("client", clients, false)]
            {
                let mut list = Vec::new();
                for (entry, entry_secrets) in entries {
                    names.push(entry.name.clone());
                    secrets.extend(entry_secrets);
                    list.push(entry_value(&entry, consumer));
                }
                let mut section_map = Mapping::new();
                section_map.insert("service".into(), Value::Sequence(list));
                root.insert(section.into(), Value::Mapping(section_map));
            }
            if let Some(plugins) = plugins {
                root.insert("plugins".into(), plugins);
            }
            let text = serde_yaml::to_string(&Value::Mapping(root)).expect("serialise");
            (text, names, secrets)
        })
}

/// An arbitrary YAML tree whose keys often are the ones the loader reads.
fn yaml_tree() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "server",
        "client",
        "plugins",
        "database",
        "kafka",
        "service",
        "name",
        "address",
        "target",
        "protocol",
        "timeout",
        "max_request_size",
        "max_response_size",
        "rewrite_log",
        "<<",
        "x",
    ])
    .prop_map(Value::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(Value::from("kafka")),
        Just(Value::from("kafka://127.0.0.1:9092?topic=t")),
        Just(Value::from("127.0.0.1:9092?topics=t&group=g")),
        syntax_soup().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Sequence),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Mapping(pairs.into_iter().collect())),
        ]
    })
}

/// Checks a whole-file load. With `names`, the file is well laid out, so
/// every error must name one of its services (or be a plugin setting).
fn check_yaml(
    text: &str,
    names: Option<&[String]>,
    secrets: &[String],
) -> Result<Outcome, TestCaseError> {
    match Config::from_yaml_str(text) {
        Ok(config) => {
            for c in &config.consumers {
                accepted_consumer(&c.name, &c.config, secrets)?;
            }
            for p in &config.producers {
                accepted_producer(&p.name, &p.config, secrets)?;
            }
            Ok(Outcome::Accepted)
        }
        Err(err) => {
            check_error(&err, None, secrets)?;
            if let Some(names) = names {
                let plugin = err
                    .key
                    .as_deref()
                    .is_some_and(|k| k.starts_with("plugins.database.kafka."));
                let named = err.service.as_ref().is_some_and(|s| names.contains(s));
                prop_assert!(plugin || named, "error names no service: {}", err);
            }
            Ok(Outcome::Rejected)
        }
    }
}

#[test]
fn yaml_well_laid_out_documents() {
    fuzz(
        "yaml/layout-valid",
        layout_valid_document(),
        |(text, names, secrets)| check_yaml(&text, Some(&names), &secrets),
    );
}

#[test]
fn yaml_arbitrary_trees() {
    fuzz(
        "yaml/arbitrary-trees",
        prop::collection::vec(
            (
                prop::sample::select(vec!["server", "client", "plugins", "other"]),
                yaml_tree(),
            ),
            0..4,
        ),
        |sections| {
            let root: Mapping = sections
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect();
            let text = serde_yaml::to_string(&Value::Mapping(root)).expect("serialise");
            check_yaml(&text, None, &[])
        },
    );
}

#[test]
fn yaml_arbitrary_and_mutated_text() {
    const SEED: &str = "server:\n  service:\n    - name: c\n      protocol: kafka\n      address: 127.0.0.1:9092?topics=t&group=g\n      timeout: 1000\nclient:\n  service:\n    - &p {name: p, target: 'kafka://127.0.0.1:9092?topic=t'}\n    - <<: *p\n      name: q\nplugins:\n  database:\n    kafka: {max_request_size: 104857600, rewrite_log: true}\n";
    let edit = (
        any::<prop::sample::Index>(),
        0usize..4,
        prop::sample::select(vec![
            "",
            " ",
            "\n",
            ":",
            "- ",
            "&a ",
            "*a",
            "<<: ",
            "{",
            "}",
            "[",
            "]",
            "'",
            "\"",
            "#",
            "!!binary ",
            "\t",
            "?",
            "é",
            "${X}",
            "\u{0}",
        ]),
    );
    fuzz(
        "yaml/arbitrary-and-mutated-text",
        prop_oneof![
            1 => syntax_soup(),
            1 => any::<String>(),
            4 => prop::collection::vec(edit, 1..6).prop_map(|edits| {
                let mut text: Vec<char> = SEED.chars().collect();
                for (at, delete, insert) in edits {
                    let start = at.index(text.len() + 1);
                    let end = (start + delete).min(text.len());
                    text.splice(start..end, insert.chars());
                }
                text.into_iter().collect()
            }),
        ],
        |text| check_yaml(&text, None, &[]),
    );
}
