//! `#[kafka_producer]`: turns a struct of producers into something the
//! runtime builds from the configuration.
//!
//! ```text
//! #[kafka_producer(service = "trpc.app.server.producer")]
//! struct Orders(Producer<Order>);
//!
//! #[kafka_producer(target = "kafka://127.0.0.1:9092?topic=audit")]
//! struct Audit(RawProducer);
//!
//! #[kafka_producer]
//! struct Outbox {
//!     #[producer(service = "trpc.app.server.producer")]
//!     orders: Producer<Order>,
//!     audit: Audit,            // no attribute: any `Inject` type
//! }
//! ```
//!
//! Generated: an `inventory` registration per producer (so the runtime builds
//! and checks every one at startup), `impl Inject`, and `impl Clone` unless
//! the struct derives it.

mod args;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, Item, ItemStruct};

use args::{Args, Source};

/// The field attribute naming a field's producer source.
const FIELD_ATTR: &str = "producer";

/// Expands `#[kafka_producer(attr)] item`. On error the item is still
/// emitted (without our field attributes) next to the errors, so the rest of
/// the crate keeps type-checking and IDEs keep working.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<Item>(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return combine(item, error),
    };
    let Item::Struct(mut strukt) = parsed else {
        let error = syn::Error::new(
            item_keyword_span(&parsed),
            "#[kafka_producer] goes on a struct, e.g. `struct Orders(Producer<Order>);`",
        );
        return combine(item, error);
    };
    let result = expand_struct(attr, &strukt);
    strip_field_attrs(&mut strukt);
    match result {
        Ok(generated) => quote!(#strukt #generated),
        Err(error) => combine(strukt.to_token_stream(), error),
    }
}

fn combine(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#item #error)
}

fn item_keyword_span(item: &Item) -> Span {
    match item {
        Item::Enum(e) => e.enum_token.span,
        Item::Fn(f) => f.sig.fn_token.span,
        Item::Union(u) => u.union_token.span,
        Item::Trait(t) => t.trait_token.span,
        Item::Type(t) => t.type_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Mod(m) => m.mod_token.span,
        other => other.span(),
    }
}

fn strip_field_attrs(strukt: &mut ItemStruct) {
    for field in strukt.fields.iter_mut() {
        field.attrs.retain(|a| !a.path().is_ident(FIELD_ATTR));
    }
}

/// How each field is built.
enum FieldInit {
    /// A producer from a source.
    Producer(Source),
    /// Any `Inject` value (a nested producer struct).
    Inject,
}

fn expand_struct(attr: TokenStream, strukt: &ItemStruct) -> syn::Result<TokenStream> {
    let args = Args::parse(attr.clone())?;
    if !strukt.generics.params.is_empty() || strukt.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            strukt.generics.span(),
            "#[kafka_producer] structs cannot be generic: name the value type, e.g. `struct Orders(Producer<Order>);`",
        ));
    }
    let ident = &strukt.ident;
    let inits: Vec<FieldInit> = match &strukt.fields {
        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
            let field = &fields.unnamed[0];
            if let Some(extra) = field.attrs.iter().find(|a| a.path().is_ident(FIELD_ATTR)) {
                return Err(syn::Error::new(
                    extra.span(),
                    "`#[producer(...)]` is for named fields; on a tuple struct write the source in `#[kafka_producer(...)]`",
                ));
            }
            let missing_at = if attr.is_empty() {
                Span::call_site()
            } else {
                attr.span()
            };
            vec![FieldInit::Producer(args.into_source(missing_at)?)]
        }
        Fields::Named(fields) => {
            if !args.is_empty() {
                return Err(syn::Error::new(
                    attr.span(),
                    "on a struct with named fields, put the source on each field: `#[producer(service = \"...\")]` or `#[producer(target = \"kafka://...\")]`, and write `#[kafka_producer]` without arguments",
                ));
            }
            if fields.named.is_empty() {
                return Err(syn::Error::new(
                    strukt.ident.span(),
                    "this struct has no fields: add producer fields, e.g. `#[producer(service = \"...\")] orders: Producer<Order>`",
                ));
            }
            fields
                .named
                .iter()
                .map(field_init)
                .collect::<syn::Result<_>>()?
        }
        other => {
            return Err(syn::Error::new(
                if matches!(other, Fields::Unit) {
                    ident.span()
                } else {
                    other.span()
                },
                "a tuple producer struct holds exactly one producer, e.g. `struct Orders(Producer<Order>);`; for several, use named fields with `#[producer(service = \"...\")]`",
            ))
        }
    };

    let mut registrations = Vec::new();
    let mut builds = Vec::new();
    for (index, (field, init)) in strukt.fields.iter().zip(&inits).enumerate() {
        let ty = &field.ty;
        let declared_by = match &field.ident {
            Some(name) => format!("{ident}.{name}"),
            None => ident.to_string(),
        };
        let value = match init {
            FieldInit::Producer(source) => {
                let source = source_tokens(source);
                // For the AsyncAPI document: the field's payload type, with
                // its JSON Schema when it has one (autoref at this type).
                let describe = format_ident!("__kafka_producer_payload_{}", index);
                registrations.push(quote! {
                    ::kafka_runtime::__private::inventory::submit! {
                        ::kafka_runtime::__private::ProducerRegistration::new(
                            #source,
                            #declared_by,
                            ::core::file!(),
                            ::core::line!(),
                        )
                    }

                    #[allow(clippy::needless_borrow)]
                    fn #describe() -> ::kafka_runtime::__private::Payload {
                        #[allow(unused_imports)]
                        use ::kafka_runtime::__private::{ViaAny as _, ViaKnown as _, ViaSchema as _};
                        (&&&::kafka_runtime::__private::Produced::<#ty>::new()).payload()
                    }

                    ::kafka_runtime::__private::inventory::submit! {
                        ::kafka_runtime::__private::ProducedPayload::new(#source, #declared_by, #describe)
                    }
                });
                let from_raw = quote_spanned! {ty.span()=>
                    <#ty as ::kafka_runtime::__private::FromRawProducer>::from_raw
                };
                quote!(#from_raw(runtime.__producer(#source, #declared_by)?))
            }
            FieldInit::Inject => quote_spanned! {ty.span()=>
                <#ty as ::kafka_runtime::Inject>::inject(runtime)?
            },
        };
        builds.push(match &field.ident {
            Some(name) => quote!(#name: #value),
            None => value,
        });
    }

    let construct = match &strukt.fields {
        Fields::Named(_) => quote!(Self { #(#builds),* }),
        _ => quote!(Self(#(#builds),*)),
    };
    let clone_impl = if derives_clone(&strukt.attrs) {
        TokenStream::new()
    } else {
        clone_impl(strukt)
    };

    Ok(quote! {
        const _: () = {
            #(#registrations)*

            #[automatically_derived]
            impl ::kafka_runtime::Inject for #ident {
                fn inject(
                    runtime: &::kafka_runtime::RuntimeHandle,
                ) -> ::core::result::Result<Self, ::kafka_runtime::Error> {
                    ::core::result::Result::Ok(#construct)
                }
            }

            #clone_impl
        };
    })
}

fn field_init(field: &syn::Field) -> syn::Result<FieldInit> {
    let mut attrs = field.attrs.iter().filter(|a| a.path().is_ident(FIELD_ATTR));
    let Some(attr) = attrs.next() else {
        return Ok(FieldInit::Inject);
    };
    if let Some(second) = attrs.next() {
        return Err(syn::Error::new(
            second.span(),
            "a field takes one `#[producer(...)]` attribute",
        ));
    }
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return Err(syn::Error::new(
            attr.span(),
            "missing producer source: write `#[producer(service = \"<client.service name>\")]` or `#[producer(target = \"kafka://...\")]`",
        ));
    }
    let args = Args::parse_attr(attr)?;
    Ok(FieldInit::Producer(args.into_source(attr.span())?))
}

fn source_tokens(source: &Source) -> TokenStream {
    match source {
        Source::Service(name) => {
            quote!(::kafka_runtime::__private::ProducerSource::Service(#name))
        }
        Source::Target(target) => {
            quote!(::kafka_runtime::__private::ProducerSource::Target(#target))
        }
    }
}

fn derives_clone(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                if meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Clone")
                {
                    found = true;
                }
                Ok(())
            });
            found
        })
}

fn clone_impl(strukt: &ItemStruct) -> TokenStream {
    let ident = &strukt.ident;
    let body = match &strukt.fields {
        Fields::Named(fields) => {
            let names = fields.named.iter().map(|f| &f.ident);
            quote!(Self { #(#names: ::core::clone::Clone::clone(&self.#names)),* })
        }
        Fields::Unnamed(fields) => {
            let indexes = (0..fields.unnamed.len()).map(syn::Index::from);
            quote!(Self(#(::core::clone::Clone::clone(&self.#indexes)),*))
        }
        Fields::Unit => quote!(Self),
    };
    quote! {
        #[automatically_derived]
        impl ::core::clone::Clone for #ident {
            fn clone(&self) -> Self {
                #body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> String {
        expand(attr.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    #[test]
    fn tuple_struct_registers_and_injects() {
        let out = expand_str(r#"service = "svc""#, "struct Orders(Producer<Order>);");
        assert!(out.contains("ProducerRegistration :: new"), "{out}");
        assert!(out.contains("ProducerSource :: Service (\"svc\")"), "{out}");
        assert!(
            out.contains("impl :: kafka_runtime :: Inject for Orders"),
            "{out}"
        );
        assert!(
            out.contains("impl :: core :: clone :: Clone for Orders"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn derived_clone_is_not_generated_twice() {
        let out = expand_str(
            r#"target = "kafka://h:1?topic=t""#,
            "#[derive(Clone, Debug)] struct Audit(RawProducer);",
        );
        assert!(!out.contains("impl :: core :: clone :: Clone"), "{out}");
    }

    #[test]
    fn named_fields_take_sources_per_field_and_lose_the_helper_attribute() {
        let out = expand_str(
            "",
            r#"struct Outbox { #[producer(service = "a")] a: Producer<A>, nested: Audit }"#,
        );
        assert!(!out.contains("# [producer"), "{out}");
        assert!(out.contains("\"Outbox.a\""), "{out}");
        assert!(
            out.contains(":: kafka_runtime :: Inject > :: inject"),
            "{out}"
        );
    }

    #[test]
    fn misuse_is_reported() {
        for (attr, item, expected) in [
            ("", "struct A(RawProducer);", "missing producer source"),
            (
                r#"service = "a", target = "kafka://b""#,
                "struct A(RawProducer);",
                "not both",
            ),
            (
                r#"topic = "a""#,
                "struct A(RawProducer);",
                "unknown argument `topic`",
            ),
            (r#"service = "a""#, "enum A {}", "goes on a struct"),
            (
                r#"service = "a""#,
                "struct A(RawProducer, RawProducer);",
                "exactly one",
            ),
            (
                r#"target = "http://x""#,
                "struct A(RawProducer);",
                "starts with `kafka://`",
            ),
            (
                r#"service = """#,
                "struct A(RawProducer);",
                "must not be empty",
            ),
            (
                r#"service = "a", service = "b""#,
                "struct A(RawProducer);",
                "set multiple times",
            ),
        ] {
            let out = expand_str(attr, item);
            assert!(out.contains("compile_error"), "{attr} {item}: {out}");
            assert!(out.contains(expected), "{attr} {item}: {out}");
        }
    }
}
