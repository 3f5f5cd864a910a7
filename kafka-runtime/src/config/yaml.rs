//! Loading `trpc_go.yaml`: the Kafka services and the Kafka plugin settings,
//! nothing else (a tRPC file holds much more, which stays untouched).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::address::{parse_consumer_address, parse_producer_target};
use super::env::{environment, expand};
use super::error::ConfigError;
use super::registry;
use super::types::CommonConfig;
use super::types::KAFKA_SCHEME;
use super::validate::{MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE};
use super::{Config, ConsumerService, PluginConfig, ProducerService};

/// The environment variable naming the configuration file.
///
/// ```
/// // Run with `KAFKA_RS_CONFIG=conf/trpc_go.yaml` to read that file instead.
/// assert_eq!(kafka_runtime::config::CONFIG_ENV, "KAFKA_RS_CONFIG");
/// ```
pub const CONFIG_ENV: &str = "KAFKA_RS_CONFIG";
/// The file read when [`CONFIG_ENV`] is not set.
///
/// ```
/// use kafka_runtime::config::{Config, DEFAULT_CONFIG_PATH};
/// let err = Config::from_path("/nonexistent/trpc_go.yaml").unwrap_err();
/// assert!(err.to_string().contains("not found"), "{err}");
/// assert_eq!(DEFAULT_CONFIG_PATH, "./trpc_go.yaml");
/// ```
pub const DEFAULT_CONFIG_PATH: &str = "./trpc_go.yaml";

impl Config {
    /// Loads the file named by the environment variable `KAFKA_RS_CONFIG`,
    /// else `./trpc_go.yaml`. A missing file is an error naming the path and
    /// the variable.
    ///
    /// ```
    /// // Reads $KAFKA_RS_CONFIG, else ./trpc_go.yaml; there is none here:
    /// let err = kafka_runtime::config::Config::load().unwrap_err();
    /// assert!(err.reason.contains("not found"), "{err}");
    /// ```
    pub fn load() -> Result<Config, ConfigError> {
        load_from(std::env::var_os(CONFIG_ENV))
    }

    /// Loads the configuration file at `path`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("kafka-rs-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("trpc_go.yaml");
    /// std::fs::write(&path, "client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n").unwrap();
    /// let config = kafka_runtime::config::Config::from_path(&path).unwrap();
    /// assert_eq!(config.producers.len(), 1);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::NotFound {
                format!("configuration file `{}` not found", path.display())
            } else {
                format!("cannot read configuration file `{}`: {e}", path.display())
            };
            ConfigError::new(None, reason)
        })?;
        Config::from_yaml_str(&text).map_err(|mut e| {
            if e.service.is_none() && e.key.is_none() {
                e.reason = format!("`{}`: {}", path.display(), e.reason);
            }
            e
        })
    }

    /// Parses the Kafka part of a `trpc_go.yaml` text.
    ///
    /// ```
    /// use kafka_runtime::config::Config;
    /// let config = Config::from_yaml_str("client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n").unwrap();
    /// assert_eq!(config.producers[0].name, "p");
    /// let err = Config::from_yaml_str("client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topik=t\n").unwrap_err();
    /// assert!(err.to_string().contains("did you mean `topic`"), "{err}");
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigError> {
        from_yaml_with_env(text, environment)
    }
}

/// [`Config::load`] with the value of `KAFKA_RS_CONFIG` passed in.
pub(crate) fn load_from(env_path: Option<std::ffi::OsString>) -> Result<Config, ConfigError> {
    let from_env = env_path.is_some();
    let path = env_path.map_or_else(|| DEFAULT_CONFIG_PATH.into(), std::path::PathBuf::from);
    Config::from_path(&path).map_err(|mut e| {
        if e.service.is_none() && e.key.is_none() && e.reason.ends_with("not found") {
            e.reason.push_str(&if from_env {
                format!(" (the path comes from the environment variable {CONFIG_ENV})")
            } else {
                format!(" (the default path; set the environment variable {CONFIG_ENV} to the file's path)")
            });
        }
        e
    })
}

/// [`Config::from_yaml_str`] with an explicit environment, for tests.
pub(crate) fn from_yaml_with_env(
    text: &str,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<Config, ConfigError> {
    let mut value: Value = serde_yaml::from_str(text)
        .map_err(|e| ConfigError::new(None, format!("invalid YAML: {e}")))?;
    if value.is_null() {
        return Ok(Config::default());
    }
    value
        .apply_merge()
        .map_err(|e| ConfigError::new(None, format!("invalid YAML merge key: {e}")))?;
    if !value.is_mapping() {
        return Err(ConfigError::new(
            None,
            "the top level of the file must be a mapping (`server:`, `client:`, `plugins:`, ...)",
        ));
    }
    let plugin = plugin_config(&value)?;
    let mut config = Config {
        plugin,
        ..Config::default()
    };

    let servers = services(&value, "server")?;
    let mut names = HashSet::new();
    for (index, entry) in servers.iter().enumerate() {
        let where_ = format!("server.service[{index}]");
        if text_field(entry, "protocol", &where_)?.as_deref() != Some("kafka") {
            continue;
        }
        let name = required(entry, "name", &where_, None)?;
        if !names.insert(name.clone()) {
            return Err(ConfigError::new(
                Some(&name),
                "two `server.service` entries with `protocol: kafka` have this name; service names must be unique",
            ));
        }
        let address = required(entry, "address", &where_, Some(&name))?;
        let timeout = timeout(entry, &name)?;
        let mut cfg = match registry::consumer(&address) {
            Some(cfg) => cfg,
            None => parse_consumer_address(&name, &expand(&name, "address", &address, env)?)?,
        };
        copy_plugin(&config.plugin, &mut cfg.common);
        cfg.validate(&name)?;
        config.consumers.push(ConsumerService {
            name,
            timeout,
            config: cfg,
        });
    }

    check_instance_identities(&config.consumers)?;

    let clients = services(&value, "client")?;
    let mut names = HashSet::new();
    for (index, entry) in clients.iter().enumerate() {
        let where_ = format!("client.service[{index}]");
        let target = text_field(entry, "target", &where_)?;
        let kafka_target = target
            .as_deref()
            .is_some_and(|t| t.starts_with(KAFKA_SCHEME));
        let kafka_protocol = text_field(entry, "protocol", &where_)?.as_deref() == Some("kafka");
        if !kafka_target {
            if kafka_protocol {
                let name = text_field(entry, "name", &where_)?;
                return Err(ConfigError::new(
                    name.as_deref(),
                    format!(
                        "{where_} has `protocol: kafka` but its `target` does not start with `kafka://`: write `target: kafka://host:port[,host:port...]?topic=...`"
                    ),
                ));
            }
            continue;
        }
        let name = required(entry, "name", &where_, None)?;
        if !names.insert(name.clone()) {
            return Err(ConfigError::new(
                Some(&name),
                "two `client.service` entries with a `kafka://` target have this name; service names must be unique",
            ));
        }
        let target = target.unwrap_or_default();
        let timeout = timeout(entry, &name)?;
        let mut cfg = match registry::producer(&target) {
            Some(cfg) => cfg,
            None => parse_producer_target(&name, &expand(&name, "target", &target, env)?)?,
        };
        copy_plugin(&config.plugin, &mut cfg.common);
        cfg.validate(&name)?;
        config.producers.push(ProducerService {
            name,
            timeout,
            config: cfg,
        });
    }
    Ok(config)
}

/// Two services of one file with the same `transactionalId` would fence
/// each other's transactions, and two members of one group with the same
/// `groupInstanceId` each other's membership: both are per-instance
/// identities.
fn check_instance_identities(consumers: &[ConsumerService]) -> Result<(), ConfigError> {
    for (i, a) in consumers.iter().enumerate() {
        for b in &consumers[..i] {
            let (x, y) = (&a.config, &b.config);
            if x.transactional_id.is_some() && x.transactional_id == y.transactional_id {
                return Err(ConfigError::for_key(
                    &a.name,
                    "transactionalId",
                    x.transactional_id.as_deref(),
                    format!(
                        "service `{}` has the same transactional id: each transactional service \
                         needs its own (the producer of one would fence the other's), e.g. \
                         `<service>-${{HOSTNAME}}`",
                        b.name
                    ),
                ));
            }
            if x.group_instance_id.is_some()
                && x.group_instance_id == y.group_instance_id
                && x.group == y.group
            {
                return Err(ConfigError::for_key(
                    &a.name,
                    "groupInstanceId",
                    x.group_instance_id.as_deref(),
                    format!(
                        "service `{}` is a member of the same group `{}` with the same \
                         instance id: each static member of a group needs its own",
                        b.name, x.group
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Plugin settings fill what a (registered) config leaves unset.
fn copy_plugin(plugin: &PluginConfig, common: &mut CommonConfig) {
    if common.max_request_size.is_none() {
        common.max_request_size = plugin.max_request_size;
    }
    if common.max_response_size.is_none() {
        common.max_response_size = plugin.max_response_size;
    }
}

/// The mapping at `path` under `root`; absent or null is `None`, anything
/// but a mapping is an error naming the path.
fn mapping<'a>(root: &'a Value, path: &[&str]) -> Result<Option<&'a Value>, ConfigError> {
    let mut current = root;
    for (depth, key) in path.iter().enumerate() {
        match current.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(next) if next.is_mapping() => current = next,
            Some(_) => {
                return Err(ConfigError::new(
                    None,
                    format!("`{}` must be a mapping", path[..=depth].join(".")),
                ))
            }
        }
    }
    Ok(Some(current))
}

/// The entries of `<section>.service`; entries stay untyped because only
/// Kafka ones are read and others may hold anything.
fn services(root: &Value, section: &str) -> Result<Vec<Value>, ConfigError> {
    let Some(section_value) = mapping(root, &[section])? else {
        return Ok(Vec::new());
    };
    match section_value.get("service") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(entries)) => Ok(entries.clone()),
        Some(_) => Err(ConfigError::new(
            None,
            format!("`{section}.service` must be a list of services"),
        )),
    }
}

fn plugin_config(root: &Value) -> Result<PluginConfig, ConfigError> {
    let Some(kafka) = mapping(root, &["plugins", "database", "kafka"])? else {
        return Ok(PluginConfig::default());
    };
    let size = |key: &str, (min, max): (i64, i64)| -> Result<Option<u32>, ConfigError> {
        let bad = |shown: String| ConfigError {
            service: None,
            key: Some(format!("plugins.database.kafka.{key}")),
            value: Some(shown),
            reason: format!("allowed: {min}..={max} (bytes), or 0/absent for librdkafka's default"),
        };
        match kafka.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(None),
                Some(v) if (min..=max).contains(&v) => Ok(u32::try_from(v).ok()),
                _ => Err(bad(n.to_string())),
            },
            Some(Value::String(s)) => Err(bad(s.clone())),
            Some(_) => Err(bad("(not a number)".to_owned())),
        }
    };
    let rewrite_log = match kafka.get("rewrite_log") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            let shown = match other {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => "(not a boolean)".to_owned(),
            };
            return Err(ConfigError {
                service: None,
                key: Some("plugins.database.kafka.rewrite_log".to_owned()),
                value: Some(shown),
                reason: "allowed: true, false".to_owned(),
            });
        }
    };
    Ok(PluginConfig {
        max_request_size: size("max_request_size", MAX_REQUEST_SIZE)?,
        max_response_size: size("max_response_size", MAX_RESPONSE_SIZE)?,
        rewrite_log,
    })
}

/// A string field of a service entry; numbers are accepted as their text
/// (YAML reads `name: 123` as a number).
fn text_field(entry: &Value, field: &str, where_: &str) -> Result<Option<String>, ConfigError> {
    match entry.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(ConfigError::new(
            None,
            format!("{where_}.{field} must be a string"),
        )),
    }
}

fn required(
    entry: &Value,
    field: &str,
    where_: &str,
    service: Option<&str>,
) -> Result<String, ConfigError> {
    match text_field(entry, field, where_)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ConfigError::new(
            service,
            format!("{where_} is a Kafka service and needs a non-empty `{field}`"),
        )),
    }
}

/// `timeout` in milliseconds; absent or 0 means none.
fn timeout(entry: &Value, service: &str) -> Result<Option<Duration>, ConfigError> {
    let bad = |shown: String| {
        ConfigError::for_key(
            service,
            "timeout",
            Some(&shown),
            "allowed: a whole number of milliseconds >= 0 (0 or absent: no deadline)",
        )
    };
    match entry.get("timeout") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(ms) => Ok(Some(Duration::from_millis(ms))),
            None => Err(bad(n.to_string())),
        },
        Some(Value::String(s)) => Err(bad(s.clone())),
        Some(_) => Err(bad("(not a number)".to_owned())),
    }
}
