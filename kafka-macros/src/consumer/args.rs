//! The attribute's arguments: `service = "..."`, `batch` and `codec = ...`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::LitStr;

/// `codec = ...`: how the payload is decoded.
pub enum Codec {
    /// `json`, `protobuf` or `raw`: the runtime's codec of that name.
    Builtin(syn::Ident),
    /// The path of the user's own codec type.
    Path(syn::Path),
}

impl Codec {
    /// The codec's type, for generated code.
    pub fn tokens(&self) -> TokenStream {
        match self {
            Codec::Builtin(name) => {
                let ty = match name.to_string().as_str() {
                    "json" => "Json",
                    "protobuf" => "Protobuf",
                    _ => "Raw",
                };
                let ty = syn::Ident::new(ty, name.span());
                quote::quote_spanned!(name.span()=> ::kafka_runtime::__private::#ty)
            }
            Codec::Path(path) => quote::ToTokens::to_token_stream(path),
        }
    }

    /// The built-in codec's name (`json`, `protobuf`, `raw`); `None` for
    /// the application's own.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Codec::Builtin(name) => match name.to_string().as_str() {
                "json" => Some("json"),
                "protobuf" => Some("protobuf"),
                _ => Some("raw"),
            },
            Codec::Path(_) => None,
        }
    }

    /// Where the user wrote it.
    pub fn span(&self) -> Span {
        match self {
            Codec::Builtin(name) => name.span(),
            Codec::Path(path) => path.span(),
        }
    }
}

/// The codecs `codec = NAME` names.
const BUILTIN_CODECS: [&str; 3] = ["json", "protobuf", "raw"];

const CODEC_HELP: &str = "write `codec = json`, `codec = protobuf` or `codec = raw`, \
     or the path of your own codec type (implementing `kafka_runtime::codec::Decode<T>`)";

/// Parsed `#[kafka_consumer(...)]` arguments.
pub struct Args {
    /// `service = "..."`; `None` serves every Kafka service.
    pub service: Option<LitStr>,
    /// `batch`: the handler takes a batch.
    pub batch: bool,
    batch_span: Option<Span>,
    /// `codec = ...`; `None` picks by the parameter's type.
    pub codec: Option<Codec>,
}

impl Args {
    /// Parses `attr`, reporting every bad argument at its own tokens.
    pub fn parse(attr: TokenStream) -> syn::Result<Args> {
        let mut args = Args {
            service: None,
            batch: false,
            batch_span: None,
            codec: None,
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
        } else if meta.path.is_ident("codec") {
            let value = meta
                .value()
                .map_err(|_| meta.error(format!("`codec` takes a codec: {CODEC_HELP}")))?;
            if value.peek(LitStr) {
                let lit: LitStr = value.parse()?;
                let hint = if BUILTIN_CODECS.contains(&lit.value().as_str()) {
                    format!("write `codec = {}`, without quotes", lit.value())
                } else {
                    CODEC_HELP.to_owned()
                };
                return Err(syn::Error::new(
                    lit.span(),
                    format!("`codec` takes a name or a type path, not a string: {hint}"),
                ));
            }
            let path: syn::Path = value.parse().map_err(|e| {
                syn::Error::new(e.span(), format!("`codec` takes a codec: {CODEC_HELP}"))
            })?;
            let codec = match path.get_ident() {
                Some(name) if BUILTIN_CODECS.contains(&name.to_string().as_str()) => {
                    Codec::Builtin(name.clone())
                }
                // A lowercase single word names a built-in codec: a typo.
                Some(name)
                    if name
                        .to_string()
                        .starts_with(|c: char| c.is_ascii_lowercase()) =>
                {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("unknown codec `{name}`: {CODEC_HELP}"),
                    ));
                }
                _ => Codec::Path(path),
            };
            if self.codec.is_some() {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    "`codec` set multiple times; a handler decodes its payload one way",
                ));
            }
            self.codec = Some(codec);
            Ok(())
        } else {
            Err(syn::Error::new_spanned(
                &meta.path,
                format!(
                    "unknown argument `{}`; #[kafka_consumer] takes `service = \"...\"`, `batch` and `codec = ...`",
                    quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', "")
                ),
            ))
        }
    }
}

use syn::spanned::Spanned as _;
