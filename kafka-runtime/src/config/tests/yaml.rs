//! The YAML loader on the seed's own snippets.

use std::time::Duration;

use super::super::yaml::{from_yaml_with_env, load_from};
use super::super::{register_consumer_addr_config, register_producer_addr_config};
use super::super::{Config, ConsumerConfig, ProducerConfig, RetryPolicy};

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<Config, String> {
    from_yaml_with_env(text, no_env).map_err(|e| e.to_string())
}

#[test]
fn single_consumer_service() {
    let config = load(
        r#"
server:                                                                                   #服务端配置
  service:                                                                                #业务服务提供的 service，可以有多个
    - name: trpc.app.server.consumer                                                      #service 的路由名称
      address: 127.0.0.1:9092,127.0.0.2:9092?topics=topic1,topic2&group=xxx&version=0.10.2.0
      protocol: kafka                                                                     #应用层协议
      timeout: 1000                                                                       #框架配置，与 sarama 配置无关
"#,
    )
    .unwrap();
    assert_eq!(config.consumers.len(), 1);
    assert!(config.producers.is_empty());
    let service = &config.consumers[0];
    assert_eq!(service.name, "trpc.app.server.consumer");
    assert_eq!(service.timeout, Some(Duration::from_millis(1000)));
    assert_eq!(service.config.topics, ["topic1", "topic2"]);
    assert_eq!(service.config.group, "xxx");
    assert_eq!(service.config.common.version, "0.10.2.0");
    assert_eq!(config.consumer("trpc.app.server.consumer"), Some(service));
}

#[test]
fn multiple_consumer_services_q1() {
    let config = load(
        r#"
server:
  service:
    - name: trpc.databaseDemo.kafka.consumer1
      address: 9.134.192.186:9092?topics=test_topic&group=uzuki_consumer1
      protocol: kafka
      timeout: 1000
    - name: trpc.databaseDemo.kafka.consumer2
      address: 9.134.192.186:9092?topics=test_topic&group=uzuki_consumer2&batch=10
      protocol: kafka
      timeout: 1000
"#,
    )
    .unwrap();
    let names: Vec<&str> = config.consumers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "trpc.databaseDemo.kafka.consumer1",
            "trpc.databaseDemo.kafka.consumer2"
        ]
    );
    assert_eq!(config.consumers[1].config.batch, Some(10));
    assert_eq!(config.consumers[0].config.group, "uzuki_consumer1");
}

#[test]
fn polaris_style_entries() {
    let config = load(
        r#"
server:
  service:
    - name: trpc.app.server.consumer1
      address: YOUR_SERVICE_NAME?topics=topic1,topic2&group=xxx&version=1.1.1&discover=polaris&namespace=Development
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.app.server.producer1
      target: kafka://YOUR_SERVICE_NAME?topic=YOUR_TOPIC&clientid=xxx&compression=none&discover=polaris&namespace=Development
      timeout: 800
"#,
    )
    .unwrap();
    let consumer = &config.consumers[0].config;
    assert_eq!(consumer.common.brokers, ["YOUR_SERVICE_NAME"]);
    assert_eq!(consumer.common.discover.as_deref(), Some("polaris"));
    let producer = &config.producers[0].config;
    assert_eq!(producer.common.namespace.as_deref(), Some("Development"));
    assert_eq!(
        config.producers[0].timeout,
        Some(Duration::from_millis(800))
    );

    let err = load(
        r#"
server:
  service:
    - name: polaris.without.namespace
      address: YOUR_SERVICE_NAME?topics=t&group=g&discover=polaris
      protocol: kafka
"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "service `polaris.without.namespace`: `discover=polaris`: `discover` requires `namespace` (e.g. `&namespace=Production`)"
    );
}

#[test]
fn fake_address_with_registered_config_q11() {
    let mut cfg = ConsumerConfig::default();
    cfg.common.brokers = vec!["127.0.0.1:9092".to_owned()];
    cfg.topics = vec!["test_topic".to_owned()];
    cfg.group = "q11_group".to_owned();
    cfg.common.client_id = Some("newClientID".to_owned());
    register_consumer_addr_config("yaml_test_fake_address", cfg.clone());

    let mut producer = ProducerConfig::default();
    producer.common.brokers = vec!["127.0.0.1:9092".to_owned()];
    producer.topic = Some("q11_topic".to_owned());
    register_producer_addr_config("yaml_test_fake_target", producer.clone());

    let config = load(
        r#"
server:
  service:
    - name: trpc.app.server.consumer
      address: yaml_test_fake_address
      protocol: kafka
client:
  service:
    - name: trpc.app.server.producer
      target: kafka://yaml_test_fake_target
plugins:
  database:
    kafka:
      max_response_size: 20000000
"#,
    )
    .unwrap();
    let mut expected = cfg;
    expected.common.max_response_size = Some(20_000_000);
    assert_eq!(config.consumers[0].config, expected);
    assert_eq!(
        config.consumers[0].config.effective_client_id(),
        "newClientID"
    );
    assert_eq!(
        config.producers[0].config.topic.as_deref(),
        Some("q11_topic")
    );
    // Nothing registered under this name: the missing `?` error points at the API.
    let err = load(
        "server:\n  service:\n    - name: s\n      address: yaml_test_unregistered\n      protocol: kafka\n",
    )
    .unwrap_err();
    assert!(err.contains("register_consumer_addr_config"), "{err}");
}

#[test]
fn producer_with_trpc_meta_q12() {
    let config = load(
        r#"
client:
  service:
    - name: trpc.app.server.producer
      target: kafka://11.135.87.176:9092?clientid=test_producer&partitioner=hash&topic=test_topic&trpcMeta=true
server:
  service:
    - name: trpc.app.server.consumer
      address: 11.135.87.176:9092?topics=test_topic&group=test_group&trpcMeta=true     #kafka consumer dsn
      protocol: kafka
"#,
    )
    .unwrap();
    let producer = &config.producers[0];
    assert!(producer.config.common.trpc_meta);
    assert_eq!(producer.timeout, None);
    assert_eq!(
        producer.config.librdkafka_properties().get("partitioner"),
        Some("fnv1a_random")
    );
    assert!(config.consumers[0].config.common.trpc_meta);
    assert_eq!(config.consumers[0].config.retry, RetryPolicy::Forever);
}

#[test]
fn non_kafka_services_are_ignored() {
    let config = load(
        r#"
global:
  namespace: Development
  env_name: test
server:
  app: app
  server: server
  filter: [recovery]
  service:
    - name: trpc.app.server.Greeter
      ip: 127.0.0.1
      port: 8000
      network: tcp
      protocol: trpc
      timeout: 1000
      address: ${NOT_EXPANDED_OUTSIDE_KAFKA}
    - name: trpc.app.server.consumer
      address: 127.0.0.1:9092?topics=t&group=g
      protocol: kafka
      timeout: 0
    - name: trpc.app.server.http
      protocol: http
      nic: eth0
client:
  timeout: 1000
  service:
    - name: trpc.other.server.Greeter
      target: ip://127.0.0.1:8000
      protocol: trpc
    - name: trpc.app.server.producer
      target: kafka://127.0.0.1:9092?topic=t
      timeout: 800
    - callee: something.without.name
      namespace: Development
    - name: trpc.redis.cache
      target: redis://127.0.0.1:6379
plugins:
  log:
    default:
      - writer: console
  database:
    mysql:
      dsn: "root:pw@tcp(127.0.0.1:3306)/db"
    kafka:
      max_request_size: 104857600
      max_response_size: 104857600
      rewrite_log: true
"#,
    )
    .unwrap();
    assert_eq!(config.consumers.len(), 1);
    assert_eq!(config.consumers[0].timeout, None, "timeout 0 means none");
    assert_eq!(config.producers.len(), 1);
    assert_eq!(config.producers[0].name, "trpc.app.server.producer");
    assert_eq!(config.plugin.max_request_size, Some(104_857_600));
    assert!(config.plugin.rewrite_log);
    // Plugin settings land in every service, and the consumer's properties.
    let consumer = &config.consumers[0].config;
    assert_eq!(consumer.common.max_response_size, Some(104_857_600));
    let props = consumer.librdkafka_properties();
    assert_eq!(props.get("receive.message.max.bytes"), Some("104857600"));
    assert_eq!(
        props.get("message.max.bytes"),
        None,
        "max_request_size only bounds producers"
    );
    assert_eq!(
        config.producers[0].config.common.max_request_size,
        Some(104_857_600)
    );
}

#[test]
fn layout_errors() {
    let dup = load(
        "server:\n  service:\n    - {name: a, address: 'h:1?topics=t&group=g', protocol: kafka}\n    - {name: a, address: 'h:1?topics=t&group=h', protocol: kafka}\n",
    )
    .unwrap_err();
    assert_eq!(
        dup,
        "service `a`: two `server.service` entries with `protocol: kafka` have this name; service names must be unique"
    );
    // The same name on both sides is fine.
    load("server:\n  service:\n    - {name: a, address: 'h:1?topics=t&group=g', protocol: kafka}\nclient:\n  service:\n    - {name: a, target: 'kafka://h:1?topic=t'}\n").unwrap();
    let dup = load(
        "client:\n  service:\n    - {name: p, target: 'kafka://h:1?topic=t'}\n    - {name: p, target: 'kafka://h:2?topic=t'}\n",
    )
    .unwrap_err();
    assert_eq!(
        dup,
        "service `p`: two `client.service` entries with a `kafka://` target have this name; service names must be unique"
    );
    assert_eq!(
        load("client:\n  service:\n    - {name: p, target: 'ip://h:1?topic=t', protocol: kafka}\n").unwrap_err(),
        "service `p`: client.service[0] has `protocol: kafka` but its `target` does not start with `kafka://`: write `target: kafka://host:port[,host:port...]?topic=...`"
    );
    assert_eq!(
        load("server:\n  service:\n    - {address: 'h:1?topics=t&group=g', protocol: kafka}\n")
            .unwrap_err(),
        "server.service[0] is a Kafka service and needs a non-empty `name`"
    );
    assert_eq!(
        load("server:\n  service:\n    - {name: c, protocol: kafka}\n").unwrap_err(),
        "service `c`: server.service[0] is a Kafka service and needs a non-empty `address`"
    );
    assert_eq!(
        load("server:\n  service:\n    - {name: c, address: 'h:1?topics=t&group=g', protocol: kafka, timeout: -5}\n").unwrap_err(),
        "service `c`: `timeout=-5`: allowed: a whole number of milliseconds >= 0 (0 or absent: no deadline)"
    );
    assert_eq!(
        load("server:\n  service:\n    - {name: c, address: 'h:1?topics=t&group=g', protocol: kafka, timeout: 1s}\n").unwrap_err(),
        "service `c`: `timeout=1s`: allowed: a whole number of milliseconds >= 0 (0 or absent: no deadline)"
    );
    assert_eq!(
        load("plugins:\n  database:\n    kafka:\n      max_request_size: 10\n").unwrap_err(),
        "`plugins.database.kafka.max_request_size=10`: allowed: 1000..=2147483647 (bytes), or 0/absent for librdkafka's default"
    );
    assert!(load("server: [").unwrap_err().starts_with("invalid YAML: "));
    assert_eq!(
        load("server:\n  - name: x\n").unwrap_err(),
        "`server` must be a mapping"
    );
    assert_eq!(
        load("client:\n  service: kafka://h:1?topic=t\n").unwrap_err(),
        "`client.service` must be a list of services"
    );
    assert_eq!(
        load("plugins:\n  database: [kafka]\n").unwrap_err(),
        "`plugins.database` must be a mapping"
    );
    assert_eq!(
        load("plugins:\n  database:\n    kafka:\n      rewrite_log: maybe\n").unwrap_err(),
        "`plugins.database.kafka.rewrite_log=maybe`: allowed: true, false"
    );
    assert_eq!(
        load("- a\n- b\n").unwrap_err(),
        "the top level of the file must be a mapping (`server:`, `client:`, `plugins:`, ...)"
    );
    assert_eq!(load("").unwrap(), Config::default());
    assert_eq!(
        load("global:\n  namespace: x\n").unwrap(),
        Config::default()
    );
}

#[test]
fn environment_variables_in_kafka_addresses() {
    let env = |name: &str| match name {
        "KAFKA_BROKERS" => Some("10.0.0.1:9092,10.0.0.2:9092".to_owned()),
        "KAFKA_PASSWORD" => Some("env-s3cr3t".to_owned()),
        _ => None,
    };
    let config = from_yaml_with_env(
        r#"
server:
  service:
    - name: c
      address: ${KAFKA_BROKERS}?topics=t&group=g&mechanism=SCRAM-SHA-512&user=u&password=${KAFKA_PASSWORD}
      protocol: kafka
client:
  service:
    - name: p
      target: kafka://${KAFKA_BROKERS}?topic=t
"#,
        env,
    )
    .unwrap();
    assert_eq!(
        config.consumers[0].config.common.brokers,
        ["10.0.0.1:9092", "10.0.0.2:9092"]
    );
    assert_eq!(
        config.consumers[0]
            .config
            .common
            .password
            .as_ref()
            .map(|p| p.expose()),
        Some("env-s3cr3t")
    );
    assert_eq!(config.producers[0].config.common.brokers.len(), 2);

    let err = from_yaml_with_env(
        "client:\n  service:\n    - {name: p, target: 'kafka://${MISSING_BROKERS}?topic=t'}\n",
        env,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "service `p`: `target` uses the environment variable `MISSING_BROKERS`, which is not set"
    );
}

#[test]
fn files_and_the_config_env_var() {
    let dir = std::env::temp_dir().join(format!("kafka-rs-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trpc_go.yaml");
    std::fs::write(
        &path,
        "server:\n  service:\n    - {name: c, address: 'h:1?topics=t&group=g', protocol: kafka}\n",
    )
    .unwrap();
    let config = Config::from_path(&path).unwrap();
    assert_eq!(config.consumers[0].name, "c");
    let config = load_from(Some(path.clone().into_os_string())).unwrap();
    assert_eq!(config.consumers.len(), 1);

    let missing = dir.join("missing.yaml");
    let err = load_from(Some(missing.clone().into_os_string())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "configuration file `{}` not found (the path comes from the environment variable KAFKA_RS_CONFIG)",
            missing.display()
        )
    );
    let err = Config::from_path(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("configuration file `{}` not found", missing.display())
    );

    std::fs::write(&path, "server: [").unwrap();
    let err = Config::from_path(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("`{}`: invalid YAML: ", path.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_path_error_names_the_env_var() {
    // Unit tests run in the crate directory, which holds no trpc_go.yaml.
    let err = load_from(None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration file `./trpc_go.yaml` not found (the default path; set the environment variable KAFKA_RS_CONFIG to the file's path)"
    );
}
