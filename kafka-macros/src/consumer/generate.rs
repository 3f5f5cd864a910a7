//! The generated registration: a factory building the type-erased handler,
//! submitted to `inventory`. Only `::kafka_runtime::__private` paths appear,
//! so users depend on `kafka-runtime` alone.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::args::Args;
use super::signature::{Param, Payload, Signature};

/// A JSON payload's description, with its JSON Schema when the type has
/// one (chosen by autoref at this concrete type).
fn json_payload(rt: &TokenStream, ty: &syn::Type) -> TokenStream {
    quote! {{
        #[allow(unused_imports)]
        use #rt::{ViaAny as _, ViaSchema as _};
        (&&#rt::Consumed::<#ty>::new()).payload()
    }}
}

/// The registration code emitted after the user's fn.
pub fn registration(func: &syn::ItemFn, args: &Args, sig: &Signature) -> TokenStream {
    let rt = quote!(::kafka_runtime::__private);
    let ident = &func.sig.ident;
    let name = ident.to_string();
    let service = match &args.service {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let batch = args.batch;

    let mut injections = Vec::new();
    let mut clones = Vec::new();
    let mut call_args = Vec::new();
    for (i, param) in sig.params.iter().enumerate() {
        match param {
            Param::Context => call_args.push(quote!(__ctx)),
            Param::Message => call_args.push(quote!(__payload)),
            Param::Injected(ty) => {
                let var = format_ident!("__inject{}", i);
                injections.push(quote_spanned! {syn::spanned::Spanned::span(ty)=>
                    let #var: #ty = <#ty as #rt::Inject>::inject(__runtime)?;
                });
                clones.push(quote_spanned! {syn::spanned::Spanned::span(ty)=>
                    let #var = ::core::clone::Clone::clone(&#var);
                });
                call_args.push(quote!(#var));
            }
        }
    }

    let decoder = match &sig.payload {
        Payload::Message => quote!(#rt::decode::message),
        Payload::Bytes => quote!(#rt::decode::bytes),
        Payload::Vec => quote!(#rt::decode::vec),
        Payload::String => quote!(#rt::decode::string),
        Payload::Json(ty) => quote!(#rt::decode::json::<#ty>),
        Payload::Codec(ty) => {
            let codec = args
                .codec
                .as_ref()
                .map(super::args::Codec::tokens)
                .unwrap_or_else(|| quote!(#rt::Json));
            // Spanned at the codec the user named, so a codec that cannot
            // decode the type is reported there.
            let span = args
                .codec
                .as_ref()
                .map_or(sig.output_span, super::args::Codec::span);
            quote_spanned!(span=> #rt::decode::with::<#codec, #ty>)
        }
    };
    let out = sig.output_span;
    // The runtime runs handlers on a multi-threaded runtime, so the future
    // must be `Send`; checking it on its own, at the fn's name, gives
    // "future returned by `handle` is not `Send`" instead of an error deep
    // in generated code.
    let future = quote_spanned! {ident.span()=>
        #rt::assert_send(#ident(#(#call_args),*))
    };
    // Spanned at the return type, so a wrong `Result` is reported there.
    let result = quote_spanned! {out=> __result };
    let typed_batch = batch && !matches!(sig.payload, Payload::Message);
    let call = if typed_batch {
        quote! {
            let #result = #future.await;
            __decoded.outcome(#rt::into_handler_result(#result))
        }
    } else {
        quote! {
            let #result = #future.await;
            #rt::into_handler_result(#result)
        }
    };
    let (variant, input_ty, decode) = if batch && matches!(sig.payload, Payload::Message) {
        // `Vec<Message>` is what the runtime hands over: no per-record pass
        // (a decode pass that changes nothing costs a move per record).
        (
            quote!(Batch),
            quote!(::std::vec::Vec<#rt::Message>),
            quote! { let __payload = __input; },
        )
    } else if batch {
        (
            quote!(Batch),
            quote!(::std::vec::Vec<#rt::Message>),
            quote! {
                let (__payload, __decoded) = #rt::decode::typed_batch(__input, #decoder);
                if __decoded.nothing_decoded() {
                    // Every record failed to decode: each is given up on.
                    return __decoded.outcome(::core::result::Result::Ok(()));
                }
            },
        )
    } else {
        (
            quote!(Single),
            quote!(#rt::Message),
            quote! { let __payload = #decoder(__input)?; },
        )
    };
    let factory = format_ident!("__kafka_consumer_factory_{}", ident);
    let describe = format_ident!("__kafka_consumer_payload_{}", ident);
    // For the AsyncAPI document: the payload type, with its JSON Schema when
    // it has one (chosen by autoref at this concrete type).
    let payload = match &sig.payload {
        Payload::Message | Payload::Bytes | Payload::Vec => quote!(#rt::Payload::bytes()),
        Payload::String => quote!(#rt::Payload::text()),
        Payload::Json(ty) => json_payload(&rt, ty),
        Payload::Codec(ty) => match args.codec.as_ref().map(super::args::Codec::name) {
            None | Some(Some("json")) => json_payload(&rt, ty),
            Some(Some("protobuf")) => quote! {
                #rt::Payload::encoded(::core::any::type_name::<#ty>(), #rt::PROTOBUF)
            },
            // `raw`, and the application's own codecs.
            Some(_) => quote! {
                #rt::Payload::encoded(::core::any::type_name::<#ty>(), #rt::OCTET_STREAM)
            },
        },
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        fn #factory(
            __runtime: &#rt::RuntimeHandle,
        ) -> ::core::result::Result<#rt::Handler, #rt::Error> {
            let _ = __runtime;
            #(#injections)*
            ::core::result::Result::Ok(#rt::Handler::#variant(#rt::Arc::new(
                move |__ctx: #rt::Context, __input: #input_ty| -> #rt::HandlerFuture {
                    #(#clones)*
                    ::std::boxed::Box::pin(async move {
                        let _ = &__ctx;
                        #decode
                        #call
                    })
                },
            )))
        }

        #rt::inventory::submit! {
            #rt::Registration::new(
                #service,
                #batch,
                ::core::concat!(::core::module_path!(), "::", #name),
                ::core::file!(),
                ::core::line!(),
                #factory,
            )
        }

        #[doc(hidden)]
        #[allow(non_snake_case, clippy::needless_borrow)]
        fn #describe() -> #rt::Payload {
            #payload
        }

        #rt::inventory::submit! {
            #rt::ConsumedPayload::new(
                #service,
                ::core::concat!(::core::module_path!(), "::", #name),
                #batch,
                #describe,
            )
        }
    }
}
