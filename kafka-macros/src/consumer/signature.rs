//! Classifying a handler's parameters: the optional context, the message (or
//! batch) and injected values.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Type};

/// How the payload reaches the handler.
pub enum Payload {
    /// `Message`: the whole record.
    Message,
    /// `Bytes`: the value.
    Bytes,
    /// `Vec<u8>`: the value.
    Vec,
    /// `String`: the value as UTF-8.
    String,
    /// Anything else: the value as JSON.
    Json(Box<Type>),
    /// Any type, through the codec the attribute names.
    Codec(Box<Type>),
}

/// One parameter of the handler, in order.
pub enum Param {
    /// The handler's `Context`.
    Context,
    /// The message, or the batch.
    Message,
    /// A value built by `Inject` at startup and cloned per call.
    Injected(Box<Type>),
}

/// What the generated code needs to know about the handler.
pub struct Signature {
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// How to decode each message.
    pub payload: Payload,
    /// The return type's span, for type errors on the user's tokens.
    pub output_span: Span,
}

const EXPECTED: &str =
    "expected `async fn handler(ctx: Context, msg: Message) -> Result<(), HandlerError>` \
     (the context is optional; the message may also be `Bytes`, `Vec<u8>`, `String` or any \
     `serde::Deserialize` type)";

impl Signature {
    /// `batch` is `None` when the attribute itself did not parse; `codec`
    /// is where the attribute names a codec, if it does.
    pub fn classify(
        func: &syn::ItemFn,
        batch: Option<bool>,
        codec: Option<Span>,
    ) -> syn::Result<Signature> {
        let sig = &func.sig;
        let mut errors = Errors::default();
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span(),
                "#[kafka_consumer] handlers must be `async fn`: write `async fn` here",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(syn::Error::new_spanned(
                &sig.generics,
                "#[kafka_consumer] handlers cannot be generic: the runtime calls them with \
                 concrete types; use a concrete payload type",
            ));
        }
        if let Some(v) = &sig.variadic {
            errors.push(syn::Error::new_spanned(v, EXPECTED));
        }
        let output_span = match &sig.output {
            ReturnType::Default => {
                errors.push(syn::Error::new(
                    sig.paren_token.span.close(),
                    "#[kafka_consumer] handlers return `Result<(), HandlerError>`: add \
                     `-> Result<(), HandlerError>` (an `Err` is retried as `maxRetry` says)",
                ));
                sig.ident.span()
            }
            ReturnType::Type(_, ty) => ty.span(),
        };

        let mut params = Vec::new();
        let mut payload = None;
        let mut seen_context = false;
        for arg in &sig.inputs {
            let ty = match arg {
                FnArg::Receiver(r) => {
                    errors.push(syn::Error::new_spanned(
                        r,
                        "#[kafka_consumer] goes on a free `async fn`, not a method: \
                         move the handler out of the `impl` block",
                    ));
                    continue;
                }
                FnArg::Typed(t) => &*t.ty,
            };
            if is_named(ty, "Context") {
                if seen_context {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "the handler takes `Context` twice; remove one",
                    ));
                }
                seen_context = true;
                params.push(Param::Context);
            } else if payload.is_none() {
                match classify_payload(ty, batch).and_then(|p| with_codec(p, ty, batch, codec)) {
                    Ok(p) => payload = Some(p),
                    Err(e) => {
                        errors.push(e);
                        payload = Some(Payload::Message);
                    }
                }
                params.push(Param::Message);
            } else {
                params.push(Param::Injected(Box::new(ty.clone())));
            }
        }
        let payload = match payload {
            Some(p) => p,
            None => {
                let what = if batch == Some(true) {
                    "`msgs: Vec<Message>`"
                } else {
                    "`msg: Message`"
                };
                errors.push(syn::Error::new(
                    sig.paren_token.span.join(),
                    format!("the handler has no message parameter: add {what}; {EXPECTED}"),
                ));
                Payload::Message
            }
        };
        errors.finish()?;
        Ok(Signature {
            params,
            payload,
            output_span,
        })
    }
}

fn classify_payload(ty: &Type, batch: Option<bool>) -> syn::Result<Payload> {
    match batch {
        Some(true) => match vec_element(ty) {
            Some(inner) if !is_named(inner, "u8") => Ok(single(inner)),
            Some(_) => Err(syn::Error::new_spanned(
                ty,
                "with `batch` the handler takes the whole batch, and `Vec<u8>` is one \
                 message's bytes: write `Vec<Message>`, `Vec<Vec<u8>>` or `Vec<YourType>`",
            )),
            None => Err(syn::Error::new_spanned(
                ty,
                "with `batch` the handler takes the whole batch: write `Vec<Message>` \
                 (or `Vec<YourType>`), or remove `batch` to handle one message at a time",
            )),
        },
        Some(false) => match vec_element(ty) {
            Some(inner)
                if is_named(inner, "Message") || is_named(inner, "Bytes") || is_vec_u8(inner) =>
            {
                Err(syn::Error::new_spanned(
                    ty,
                    "this parameter takes a batch of messages, but the handler is not \
                     marked `batch`: write `#[kafka_consumer(service = \"...\", batch)]`, or \
                     take one `Message`",
                ))
            }
            _ => Ok(single(ty)),
        },
        None => Ok(single(ty)),
    }
}

/// The payload when the attribute names a codec: any type but the whole
/// record, decoded by that codec.
fn with_codec(
    payload: Payload,
    ty: &Type,
    batch: Option<bool>,
    codec: Option<Span>,
) -> syn::Result<Payload> {
    let Some(codec) = codec else {
        return Ok(payload);
    };
    match payload {
        Payload::Message => {
            let mut error = syn::Error::new_spanned(
                ty,
                "`Message` is the whole record, which no codec decodes: take the decoded \
                 type here (e.g. `order: Order`), or remove `codec`",
            );
            error.combine(syn::Error::new(codec, "the codec is named here"));
            Err(error)
        }
        Payload::Bytes | Payload::Vec | Payload::String | Payload::Json(_) | Payload::Codec(_) => {
            // A batch handler takes `Vec<T>`: the codec decodes each `T`.
            let element = match batch {
                Some(true) => vec_element(ty).unwrap_or(ty),
                _ => ty,
            };
            Ok(Payload::Codec(Box::new(element.clone())))
        }
    }
}

fn single(ty: &Type) -> Payload {
    if is_named(ty, "Message") {
        Payload::Message
    } else if is_named(ty, "Bytes") {
        Payload::Bytes
    } else if is_vec_u8(ty) {
        Payload::Vec
    } else if is_named(ty, "String") {
        Payload::String
    } else {
        Payload::Json(Box::new(ty.clone()))
    }
}

/// Whether `ty` is a path whose last segment is `name`, without generics.
/// By name, as a macro must: `Context` and `Message` mean the runtime's types.
fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == name && s.arguments.is_none()),
        Type::Paren(p) => is_named(&p.elem, name),
        Type::Group(g) => is_named(&g.elem, name),
        _ => false,
    }
}

fn vec_element(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Vec" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

fn is_vec_u8(ty: &Type) -> bool {
    vec_element(ty).is_some_and(|t| is_named(t, "u8"))
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
