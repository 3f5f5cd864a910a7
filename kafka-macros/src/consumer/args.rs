//! The attribute's arguments: `service = "..."` and `batch`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::LitStr;

/// Parsed `#[kafka_consumer(...)]` arguments.
pub struct Args {
    /// `service = "..."`; `None` serves every Kafka service.
    pub service: Option<LitStr>,
    /// `batch`: the handler takes a batch.
    pub batch: bool,
    batch_span: Option<Span>,
}

impl Args {
    /// Parses `attr`, reporting every bad argument at its own tokens.
    pub fn parse(attr: TokenStream) -> syn::Result<Args> {
        let mut args = Args {
            service: None,
            batch: false,
            batch_span: None,
        };
        let parser = syn::meta::parser(|meta| args.one(meta));
        syn::parse::Parser::parse2(parser, attr)?;
        Ok(args)
    }

    fn one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("service") {
            let value = meta.value().map_err(|_| {
                meta.error(
                    "`service` takes the service name: `service = \"trpc.app.server.consumer\"`",
                )
            })?;
            let lit: LitStr = value.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`service` takes a string literal: `service = \"trpc.app.server.consumer\"`",
                )
            })?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "`service` must name a `server.service[]` entry; \
                     to serve every Kafka service, leave `service` out",
                ));
            }
            if self.service.is_some() {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    "`service` set multiple times; a handler serves one service \
                     (or, without `service`, all of them)",
                ));
            }
            self.service = Some(lit);
            Ok(())
        } else if meta.path.is_ident("batch") {
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                return Err(meta.error(
                    "`batch` is a flag; the batch size is `batch=N` in the service's address",
                ));
            }
            if self.batch_span.is_some() {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    "`batch` set multiple times",
                ));
            }
            self.batch = true;
            self.batch_span = Some(meta.path.span());
            Ok(())
        } else {
            Err(syn::Error::new_spanned(
                &meta.path,
                format!(
                    "unknown argument `{}`; #[kafka_consumer] takes `service = \"...\"` and `batch`",
                    quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', "")
                ),
            ))
        }
    }
}

use syn::spanned::Spanned as _;
