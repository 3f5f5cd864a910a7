//! `${VAR}` expansion in Kafka addresses and targets, as tRPC-Go expands
//! environment variables in its configuration.

use super::error::ConfigError;

/// The variables `${NAME}` expands to: the process environment, where
/// `HOSTNAME` falls back to the kernel's host name, since shells keep
/// `HOSTNAME` as an unexported variable (a container orchestrator sets it
/// to the pod's name in the environment): `groupInstanceId` and
/// `transactionalId` are per-instance identities, and `${HOSTNAME}` is how
/// addresses say so.
pub(crate) fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| match name {
        "HOSTNAME" => kernel_host_name(),
        _ => None,
    })
}

fn kernel_host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Replaces every `${NAME}` in `text` with the variable's value. An
/// undefined variable, an unterminated `${` or a bad name is an error that
/// names the variable, never a value. `$` not followed by `{` stays as is.
pub(crate) fn expand(
    service: &str,
    field: &str,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::new(
                Some(service),
                format!("`{field}` has an unterminated `${{`: write `${{NAME}}` to use an environment variable"),
            ));
        };
        let name = &after[..end];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::new(
                Some(service),
                format!("`{field}` uses `${{{name}}}`: a variable name is letters, digits and `_`, not starting with a digit"),
            ));
        }
        let Some(value) = lookup(name) else {
            return Err(ConfigError::new(
                Some(service),
                format!("`{field}` uses the environment variable `{name}`, which is not set"),
            ));
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "BROKERS" => Some("10.0.0.1:9092,10.0.0.2:9092".to_owned()),
            "KAFKA_PASSWORD" => Some("s3cr3t".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_defined_variables() {
        let out = expand(
            "svc",
            "address",
            "${BROKERS}?topics=t&password=${KAFKA_PASSWORD}",
            env,
        )
        .unwrap();
        assert_eq!(out, "10.0.0.1:9092,10.0.0.2:9092?topics=t&password=s3cr3t");
        assert_eq!(
            expand("svc", "address", "a$b?x=$1", env).unwrap(),
            "a$b?x=$1"
        );
    }

    #[test]
    fn hostname_is_always_defined() {
        // Set in the environment or not, `${HOSTNAME}` names this machine.
        let host = environment("HOSTNAME").expect("a host name");
        assert!(!host.is_empty());
        assert_eq!(environment("KAFKA_RS_SURELY_UNSET_VARIABLE"), None);
    }

    #[test]
    fn undefined_and_malformed_variables_are_errors() {
        let err = expand("svc", "address", "${NOPE}:9092?topics=t", env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "service `svc`: `address` uses the environment variable `NOPE`, which is not set"
        );
        let err = expand("svc", "target", "kafka://${BROKERS", env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "service `svc`: `target` has an unterminated `${`: write `${NAME}` to use an environment variable"
        );
        let err = expand("svc", "address", "${1X}", env).unwrap_err();
        assert!(err.to_string().contains("`${1X}`"), "{err}");
    }
}
