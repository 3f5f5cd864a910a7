//! Matching `#[kafka_consumer]` registrations to `server.service[]` entries,
//! with every mismatch reported at once, before anything connects.

use crate::config::{Config, ConsumerService};
use crate::handler::Registration;
use crate::Error;

/// Which handler serves which service.
#[derive(Debug)]
pub struct Wiring {
    /// Each selected service with its handler's registration.
    pub pairs: Vec<(ConsumerService, &'static Registration)>,
}

impl Wiring {
    /// Matches `registrations` to the Kafka services of `config` (only those
    /// named in `only`, when given) or explains every mismatch.
    pub fn resolve(
        config: &Config,
        registrations: &[&'static Registration],
        only: Option<&[String]>,
    ) -> Result<Wiring, Error> {
        let mut problems = Vec::new();
        let names: Vec<&str> = config.consumers.iter().map(|s| s.name.as_str()).collect();
        if let Some(only) = only {
            for name in only {
                if !names.contains(&name.as_str()) {
                    problems.push(format!(
                        "only_services names `{name}`, which is not a Kafka service of the \
                         configuration (Kafka services: {})",
                        list(&names)
                    ));
                }
            }
        }
        let selected: Vec<&ConsumerService> = config
            .consumers
            .iter()
            .filter(|s| only.is_none_or(|o| o.iter().any(|n| n == &s.name)))
            .collect();

        if only.is_none() {
            for r in registrations {
                if let Some(service) = r.service {
                    if !names.contains(&service) {
                        let hint = strsim_hint(service, &names);
                        problems.push(format!(
                            "handler {} is bound to service `{service}`, which is not a Kafka \
                             service (`protocol: kafka`) in `server.service[]`{hint}; \
                             Kafka services: {}",
                            r.describe(),
                            list(&names)
                        ));
                    }
                }
            }
        }

        let mut pairs = Vec::new();
        for service in selected {
            let named: Vec<_> = registrations
                .iter()
                .filter(|r| r.service == Some(service.name.as_str()))
                .collect();
            // A handler naming the service wins over catch-all handlers
            // (seed Q1: one handler without a name serves every service).
            let candidates: Vec<_> = if named.is_empty() {
                registrations
                    .iter()
                    .filter(|r| r.service.is_none())
                    .collect()
            } else {
                named
            };
            let registration = match candidates.as_slice() {
                [] => {
                    problems.push(format!(
                        "Kafka service `{}` has no handler: add \
                         `#[kafka_consumer(service = \"{}\")]` to an async fn{}",
                        service.name,
                        service.name,
                        if service.config.batch.is_some() {
                            " taking `Vec<Message>` and marked `batch` (its address sets `batch`)"
                        } else {
                            ""
                        }
                    ));
                    continue;
                }
                [one] => **one,
                many => {
                    problems.push(format!(
                        "Kafka service `{}` has {} handlers, one is allowed: {}",
                        service.name,
                        many.len(),
                        many.iter()
                            .map(|r| r.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    continue;
                }
            };
            match (registration.batch, service.config.batch) {
                (true, None) => problems.push(format!(
                    "batch handler {} serves service `{}`, whose address has no `batch`: \
                     add `batch=N` (N > 0) to the address, or make the handler take one \
                     message without `batch`",
                    registration.describe(),
                    service.name
                )),
                (false, Some(n)) => problems.push(format!(
                    "service `{}` sets `batch={n}` in its address but its handler {} takes \
                     one message: mark it `#[kafka_consumer(..., batch)]` taking \
                     `Vec<Message>`, or remove `batch` from the address",
                    service.name,
                    registration.describe()
                )),
                _ => pairs.push((service.clone(), registration)),
            }
        }
        if problems.is_empty() {
            Ok(Wiring { pairs })
        } else {
            Err(Error::Wiring(problems.join("; ")))
        }
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn strsim_hint(wanted: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| (strsim::jaro_winkler(wanted, n), *n))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}
