//! The arguments of `#[kafka_producer(...)]` and of a field's `#[producer(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::LitStr;

/// Where a producer's settings come from, as written by the user.
pub(crate) enum Source {
    Service(LitStr),
    Target(LitStr),
}

/// The parsed arguments: at most one source.
#[derive(Default)]
pub(crate) struct Args {
    service: Option<LitStr>,
    target: Option<LitStr>,
}

const EXPECTED: &str =
    "expected `service = \"<client.service name>\"` or `target = \"kafka://host:port?topic=...\"`";

impl Args {
    /// Parses `service = "..."` / `target = "..."` from an attribute's tokens.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| args.parse_one(meta));
        syn::parse::Parser::parse2(parser, tokens)?;
        Ok(args)
    }

    /// Parses the arguments of a field's `#[producer(...)]`.
    pub(crate) fn parse_attr(attr: &syn::Attribute) -> syn::Result<Args> {
        let mut args = Args::default();
        attr.parse_nested_meta(|meta| args.parse_one(meta))?;
        Ok(args)
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("codec") {
            return Err(meta.error(
                "a producer's codec is part of its type, not an argument: write \
                 `Producer<T, kafka_runtime::codec::Protobuf>` (or `Raw`, `Json`, your own codec) \
                 for the field, and remove `codec`",
            ));
        }
        let slot = if meta.path.is_ident("service") {
            &mut self.service
        } else if meta.path.is_ident("target") {
            &mut self.target
        } else {
            let name = meta
                .path
                .get_ident()
                .map_or_else(|| "this argument".to_owned(), |i| format!("`{i}`"));
            return Err(meta.error(format!("unknown argument {name}; {EXPECTED}")));
        };
        let key = if meta.path.is_ident("service") {
            "service"
        } else {
            "target"
        };
        if slot.is_some() {
            return Err(meta.error(format!("`{key}` set multiple times")));
        }
        let value: LitStr = meta.value()?.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("`{key}` takes a string literal: {key} = \"...\""),
            )
        })?;
        check_value(key, &value)?;
        *slot = Some(value);
        Ok(())
    }

    /// Whether no argument was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.service.is_none() && self.target.is_none()
    }

    /// The single source; `missing_at` is where to report its absence.
    pub(crate) fn into_source(self, missing_at: Span) -> syn::Result<Source> {
        match (self.service, self.target) {
            (Some(service), None) => Ok(Source::Service(service)),
            (None, Some(target)) => Ok(Source::Target(target)),
            (Some(_), Some(target)) => Err(syn::Error::new(
                target.span(),
                "use either `service` (a client.service[] entry) or `target` (an inline kafka:// target), not both",
            )),
            (None, None) => Err(syn::Error::new(
                missing_at,
                format!("missing producer source: {EXPECTED}"),
            )),
        }
    }
}

fn check_value(key: &str, value: &LitStr) -> syn::Result<()> {
    let text = value.value();
    if text.trim().is_empty() {
        return Err(syn::Error::new(
            value.span(),
            format!("`{key}` must not be empty"),
        ));
    }
    if key == "target" && !text.starts_with("kafka://") {
        return Err(syn::Error::new(
            value.span(),
            "a producer target starts with `kafka://`, e.g. \"kafka://127.0.0.1:9092?topic=orders\"",
        ));
    }
    Ok(())
}
