//! What `#[kafka_consumer]` and `#[kafka_producer]` record about payload
//! types, chosen at the macro's expansion site by autoref: a type that
//! implements `schemars::JsonSchema` (feature `schemars`) gets its schema,
//! any other type its name only. Not public API: the macros' generated code
//! calls `(&&Consumed::<T>::new()).payload()` and
//! `(&&&Produced::<F>::new()).payload()` with these traits in scope.

use std::marker::PhantomData;

use super::Payload;
use crate::codec::{Protobuf, Raw};
use crate::{Producer, RawProducer};

/// The content type of `codec = protobuf` payloads.
pub const PROTOBUF: &str = "application/x-protobuf";
/// The content type of `codec = raw` payloads and of the application's own
/// codecs.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A consumer's payload type `T` (deserialized from JSON).
pub struct Consumed<T: ?Sized>(PhantomData<fn() -> T>);

impl<T: ?Sized> Consumed<T> {
    /// The probe.
    pub const fn new() -> Self {
        Consumed(PhantomData)
    }
}

impl<T: ?Sized> Default for Consumed<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A producer field of type `F` (`Producer<T>`, `RawProducer`, ...).
pub struct Produced<F: ?Sized>(PhantomData<fn() -> F>);

impl<F: ?Sized> Produced<F> {
    /// The probe.
    pub const fn new() -> Self {
        Produced(PhantomData)
    }
}

impl<F: ?Sized> Default for Produced<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// The most specific: a type with a JSON Schema.
pub trait ViaSchema {
    /// The payload, with its schema.
    fn payload(&self) -> Payload;
}

/// A known producer type without a schema.
pub trait ViaKnown {
    /// The payload, by name.
    fn payload(&self) -> Payload;
}

/// Anything else.
pub trait ViaAny {
    /// The payload, by type name.
    fn payload(&self) -> Payload;
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> ViaSchema for &Consumed<T> {
    fn payload(&self) -> Payload {
        Payload::json_with_schema::<T>(false)
    }
}

impl<T: ?Sized> ViaAny for Consumed<T> {
    fn payload(&self) -> Payload {
        Payload::json_named(std::any::type_name::<T>())
    }
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> ViaSchema for &&Produced<Producer<T>> {
    fn payload(&self) -> Payload {
        Payload::json_with_schema::<T>(true)
    }
}

impl<T> ViaKnown for &Produced<Producer<T>> {
    fn payload(&self) -> Payload {
        Payload::json_named(std::any::type_name::<T>())
    }
}

impl<T> ViaKnown for &Produced<Producer<T, Raw>> {
    fn payload(&self) -> Payload {
        Payload::encoded(std::any::type_name::<T>(), OCTET_STREAM)
    }
}

impl<T> ViaKnown for &Produced<Producer<T, Protobuf>> {
    fn payload(&self) -> Payload {
        Payload::encoded(std::any::type_name::<T>(), PROTOBUF)
    }
}

impl ViaKnown for &Produced<RawProducer> {
    fn payload(&self) -> Payload {
        Payload::bytes()
    }
}

impl<F: ?Sized> ViaAny for Produced<F> {
    fn payload(&self) -> Payload {
        Payload::unknown(std::any::type_name::<F>())
    }
}

#[cfg(test)]
// The borrows are the point: autoref picks the most specific impl.
#[allow(clippy::needless_borrow)]
mod tests {
    #[allow(unused_imports)]
    use super::{Consumed, Produced, ViaAny as _, ViaKnown as _, ViaSchema as _};
    use crate::{Producer, RawProducer};

    struct Plain;

    #[test]
    fn the_most_specific_description_wins() {
        let plain = (&&Consumed::<Plain>::new()).payload();
        assert!(plain.type_name.ends_with("Plain") && plain.schema.is_none());
        assert_eq!(plain.content_type, "application/json");
        let raw = (&&&Produced::<RawProducer>::new()).payload();
        assert_eq!(raw.content_type, "application/octet-stream");
        let typed = (&&&Produced::<Producer<Plain>>::new()).payload();
        assert!(typed.type_name.ends_with("Plain") && typed.schema.is_none());
        let other = (&&&Produced::<u8>::new()).payload();
        assert_eq!(other.type_name, "u8");
    }

    #[cfg(feature = "schemars")]
    #[test]
    fn a_type_with_a_json_schema_gets_it() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Order {
            id: u32,
            lines: Vec<Line>,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Line {
            sku: String,
        }
        let consumed = (&&Consumed::<Order>::new()).payload();
        let schema = consumed.schema.expect("a schema");
        assert_eq!(schema["$ref"], "#/components/schemas/Order");
        let order = &consumed.definitions["Order"];
        assert_eq!(order["type"], "object");
        assert_eq!(
            order["properties"]["lines"]["items"]["$ref"],
            "#/components/schemas/Line"
        );
        assert!(consumed.definitions.contains_key("Line"));
        let produced = (&&&Produced::<Producer<Order>>::new()).payload();
        assert!(produced.schema.is_some());
    }
}
