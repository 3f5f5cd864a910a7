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

        if only.is_none() && names.is_empty() {
            for r in registrations.iter().filter(|r| r.service.is_none()) {
                problems.push(format!(
                    "handler {} serves every Kafka service, but the configuration has none: \
                     add a `server.service[]` entry with `protocol: kafka`",
                    r.describe()
                ));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Handler;
    use crate::RuntimeHandle;

    fn never(_: &RuntimeHandle) -> Result<Handler, Error> {
        Err(Error::Wiring("not built in these tests".to_owned()))
    }

    static NAMED: Registration = Registration::new(Some("a"), false, "named", "f.rs", 1, never);
    static CATCH_ALL: Registration = Registration::new(None, false, "catch_all", "f.rs", 2, never);
    static BATCH_B: Registration = Registration::new(Some("b"), true, "batch_b", "f.rs", 3, never);

    fn config(yaml_services: &[(&str, &str)]) -> Config {
        let mut yaml = String::from("server:\n  service:\n");
        for (name, extra) in yaml_services {
            yaml.push_str(&format!(
                "    - name: {name}\n      address: 127.0.0.1:9092?topics=t&group=g{extra}\n      protocol: kafka\n"
            ));
        }
        Config::from_yaml_str(&yaml).expect("test config")
    }

    fn names(w: &Wiring) -> Vec<(String, &'static str)> {
        w.pairs
            .iter()
            .map(|(s, r)| (s.name.clone(), r.name))
            .collect()
    }

    #[test]
    fn a_named_handler_wins_over_the_catch_all() {
        let w = Wiring::resolve(
            &config(&[("a", ""), ("c", ""), ("b", "&batch=2")]),
            &[&NAMED, &CATCH_ALL, &BATCH_B],
            None,
        )
        .expect("wires");
        assert_eq!(
            names(&w),
            [
                ("a".to_owned(), "named"),
                ("c".to_owned(), "catch_all"),
                ("b".to_owned(), "batch_b")
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Wiring::resolve(
            &config(&[("b", ""), ("c", "&batch=3")]),
            &[&NAMED, &BATCH_B],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bound to service `a`"), "{err}");
        assert!(err.contains("has no `batch`"), "{err}");
        assert!(err.contains("`c` has no handler"), "{err}");
        assert!(
            err.contains("taking `Vec<Message>` and marked `batch`"),
            "{err}"
        );
    }

    #[test]
    fn a_catch_all_handler_needs_a_kafka_service() {
        let err = Wiring::resolve(&Config::default(), &[&CATCH_ALL], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("serves every Kafka service, but the configuration has none"),
            "{err}"
        );
    }

    #[test]
    fn only_services_ignores_handlers_of_other_services() {
        let w = Wiring::resolve(
            &config(&[("a", ""), ("z", "")]),
            &[&NAMED, &BATCH_B],
            Some(&["a".to_owned()]),
        )
        .expect("wires");
        assert_eq!(names(&w), [("a".to_owned(), "named")]);
    }
}
