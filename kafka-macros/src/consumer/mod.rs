//! `#[kafka_consumer(service = "...", batch, codec = ...)]`.
//!
//! Split by concern: [`args`] parses the attribute, [`signature`] classifies
//! the fn's parameters, [`generate`] writes the registration. Errors are
//! collected and reported together, and the user's fn is always emitted so
//! IDEs and later errors keep working.

mod args;
mod generate;
mod signature;

use proc_macro2::TokenStream;
use quote::quote;

/// Expands the attribute on `item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new_spanned(
                &item,
                "#[kafka_consumer] goes on an `async fn` handler, e.g. \
                 `async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError>`",
            );
            let err = err.into_compile_error();
            return quote! { #item #err };
        }
    };
    let args = args::Args::parse(attr);
    let sig = signature::Signature::classify(
        &func,
        args.as_ref().ok().map(|a| a.batch),
        args.as_ref()
            .ok()
            .and_then(|a| a.codec.as_ref().map(args::Codec::span)),
    );
    match (args, sig) {
        (Ok(args), Ok(sig)) => {
            let registration = generate::registration(&func, &args, &sig);
            quote! { #func #registration }
        }
        (args, sig) => {
            let mut errors: Option<syn::Error> = None;
            for e in [args.err(), sig.err()].into_iter().flatten() {
                match &mut errors {
                    Some(all) => all.combine(e),
                    None => errors = Some(e),
                }
            }
            let errors = errors.map(|e| e.into_compile_error());
            quote! { #func #errors }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_the_fn_and_a_registration() {
        let out = expand(
            quote! { service = "svc" },
            quote! { async fn h(ctx: Context, msg: Message) -> Result<(), HandlerError> { Ok(()) } },
        )
        .to_string();
        assert!(out.contains("async fn h"), "{out}");
        assert!(out.contains("Registration :: new"), "{out}");
        assert!(out.contains("\"svc\""), "{out}");
    }

    #[test]
    fn keeps_the_fn_on_error() {
        let out = expand(
            quote! { servce = "svc" },
            quote! { async fn h(msg: Message) -> Result<(), HandlerError> { Ok(()) } },
        )
        .to_string();
        assert!(out.contains("async fn h"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown argument"), "{out}");
    }
}
