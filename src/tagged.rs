//! JSON deserialization of internally tagged enums (`{"type": "conv2d", ...}`) without serde's
//! private `Content` buffer. A derived `#[serde(tag = "type")]` enum buffers every object in
//! `Content` and deserializes each variant from it. Here the object's other entries are kept as
//! raw JSON text until the tag is known, and each variant's fields are then parsed by the JSON
//! deserializer that the module has anyway. For the layer and optimizer configs this took the
//! npm package's wasm core from 592,046 to 573,529 bytes (236,385 to 232,747 gzipped).
//!
//! The messages and their positions match the derived code's: the unknown variant or duplicate
//! tag at the tag, any other error at the end of the object. Unlike the derived code, only
//! serde_json can deserialize these enums, and a JSON array in place of the object is rejected.
//! NOTE: a number beyond f64's range in a field is reported at the end of the object, where the
//! derived code reports it at the number.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::Deserialize;
use serde_json::de::StrRead;
use serde_json::value::RawValue;
use serde_json::Error;

/// Name of the tag field.
const TAG: &str = "type";

/// An enum deserialized from a JSON object with a `type` tag.
pub trait Tagged: Sized {
    /// The variant names, a `#[serde(variant_identifier)]` enum.
    type Tag: for<'de> Deserialize<'de>;
    /// The enum's name in errors, as the derived code writes it: `internally tagged enum NAME`.
    const EXPECTING: &'static str;

    /// Builds the variant `tag` from the object's other entries.
    fn from_fields(tag: Self::Tag, fields: Fields<'_>) -> Result<Self, serde_json::Error>;
}

/// Deserializes a [`Tagged`] enum; call it from the enum's `Deserialize` impl.
pub fn deserialize<'de, D: Deserializer<'de>, T: Tagged>(deserializer: D) -> Result<T, D::Error> {
    let (tag, entries) = deserializer.deserialize_any(TaggedVisitor::<T>(PhantomData))?;
    // As in the derived code, the variant is built after the object, so the deserializer of the
    // enclosing value adds the position, if any.
    T::from_fields(tag, Fields(&entries)).map_err(de::Error::custom)
}

/// The entries of a tagged object other than the tag, in order, with their values as JSON
/// text. Deserializing a struct from it parses each value.
pub struct Fields<'a>(&'a [(String, Box<RawValue>)]);

struct TaggedVisitor<T>(PhantomData<T>);

/// Entries of an object other than the tag, with their values as JSON text.
type Entries = Vec<(String, Box<RawValue>)>;

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = (T::Tag, Entries);

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tag = None;
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key != TAG {
                fields.push((key, map.next_value()?));
            } else if tag.is_some() {
                return Err(de::Error::duplicate_field(TAG));
            } else {
                tag = Some(map.next_value()?);
            }
        }
        let tag = tag.ok_or_else(|| de::Error::missing_field(TAG))?;
        Ok((tag, fields))
    }
}

impl<'a> Deserializer<'a> for Fields<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(FieldAccess {
            entries: self.0.iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        <V: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

struct FieldAccess<'a> {
    entries: std::slice::Iter<'a, (String, Box<RawValue>)>,
    /// The value of the key that `next_key_seed` returned last.
    value: Option<&'a RawValue>,
}

impl<'a> MapAccess<'a> for FieldAccess<'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(key.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        seed.deserialize(FieldValue(value.get()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// One field's value as JSON text. It deserializes as serde's `Content` buffer does, which
/// differs from serde_json's own rules in the messages about arrays that are too long and about
/// enums given neither a string nor a map.
struct FieldValue<'a>(&'a str);

impl<'a> FieldValue<'a> {
    /// Runs `deserialize` on a JSON deserializer of the text, without the position in the text.
    fn json<T>(
        &self,
        deserialize: impl FnOnce(&mut serde_json::Deserializer<StrRead<'a>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        deserialize(&mut serde_json::Deserializer::from_str(self.0)).map_err(without_position)
    }
}

/// Forwards `Deserializer` methods that take only a visitor to the JSON deserializer, whose
/// messages for these types are the same as `Content`'s.
macro_rules! forward_to_json {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
            self.json(|json| json.$method(visitor))
        }
    )*};
}

impl<'a> Deserializer<'a> for FieldValue<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.json(|json| json.deserialize_any(visitor))
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0 == "null" {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.json(|json| json.deserialize_seq(ExactLength(visitor)))
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        check_enum_shape(self.0)?;
        self.json(|json| json.deserialize_enum(name, variants, visitor))
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.json(|json| json.deserialize_struct(name, fields, visitor))
    }

    forward_to_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    serde::forward_to_deserialize_any! {
        <V: Visitor<'a>>
        unit_struct tuple_struct
    }
}

/// Rejects the JSON `text` of an enum unless it is a string or an object with one entry, with
/// `Content`'s messages. It is not generic and stays out of line, so each enum type does not get
/// a copy of it.
#[inline(never)]
fn check_enum_shape(text: &str) -> Result<(), Error> {
    let shape = serde_json::from_str(text).map_err(without_position)?;
    match shape {
        Shape::Map(1) | Shape::String => Ok(()),
        Shape::Map(_) => Err(de::Error::invalid_value(
            Unexpected::Map,
            &"map with a single key",
        )),
        Shape::Other(other) => Err(de::Error::invalid_type(
            other.unexpected(),
            &"string or map",
        )),
    }
}

/// Wraps a sequence's visitor and rejects elements that it leaves, as `Content` does.
struct ExactLength<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ExactLength<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        let mut counted = CountedSeq {
            seq: &mut seq,
            count: 0,
        };
        let value = self.0.visit_seq(&mut counted)?;
        let count = counted.count;
        let mut remaining = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            remaining += 1;
        }
        if remaining > 0 {
            return Err(de::Error::invalid_length(
                count + remaining,
                &ElementsInSeq(count),
            ));
        }
        Ok(value)
    }
}

/// A sequence that counts the elements read from it.
struct CountedSeq<'s, A> {
    seq: &'s mut A,
    count: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CountedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let element = self.seq.next_element_seed(seed)?;
        self.count += usize::from(element.is_some());
        Ok(element)
    }
}

/// The expected length in `Content`'s message about a sequence that is too long.
struct ElementsInSeq(usize);

impl de::Expected for ElementsInSeq {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            1 => formatter.write_str("1 element in sequence"),
            count => write!(formatter, "{count} elements in sequence"),
        }
    }
}

/// The kind of a JSON value, for the messages about enums.
enum Shape {
    String,
    /// An object with this many entries.
    Map(usize),
    Other(Scalar),
}

/// A JSON value that is neither a string nor an object.
enum Scalar {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Null,
    Array,
}

impl Scalar {
    fn unexpected(&self) -> Unexpected<'_> {
        match *self {
            Scalar::Bool(value) => Unexpected::Bool(value),
            Scalar::Unsigned(value) => Unexpected::Unsigned(value),
            Scalar::Signed(value) => Unexpected::Signed(value),
            Scalar::Float(value) => Unexpected::Float(value),
            Scalar::Null => Unexpected::Unit,
            Scalar::Array => Unexpected::Seq,
        }
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Shape, E> {
        Ok(Shape::Other(Scalar::Bool(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Shape, E> {
        Ok(Shape::Other(Scalar::Unsigned(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Shape, E> {
        Ok(Shape::Other(Scalar::Signed(value)))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Shape, E> {
        Ok(Shape::Other(Scalar::Float(value)))
    }

    fn visit_str<E>(self, _value: &str) -> Result<Shape, E> {
        Ok(Shape::String)
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other(Scalar::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other(Scalar::Array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut entries = 0;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            entries += 1;
        }
        Ok(Shape::Map(entries))
    }
}

/// Drops the position within one value's text from `error`, so that the outer deserializer
/// adds the position in the whole document, as it does for the derived code's errors.
fn without_position(error: serde_json::Error) -> serde_json::Error {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    de::Error::custom(message.strip_suffix(&position).unwrap_or(&message))
}

/// Checks that `T` deserializes each of `inputs`, alone and inside an array, to the same value
/// and with the same error message and position as `Derived`, the same enum with derived serde.
#[cfg(test)]
pub fn assert_matches_derived<T, Derived>(inputs: &[&str])
where
    T: serde::de::DeserializeOwned + serde::Serialize,
    Derived: serde::de::DeserializeOwned + serde::Serialize,
{
    fn parse<V: serde::de::DeserializeOwned + serde::Serialize>(text: &str) -> String {
        match serde_json::from_str::<V>(text) {
            Ok(value) => serde_json::to_string(&value).expect("values serialize"),
            Err(error) => format!("error: {error}"),
        }
    }
    for input in inputs {
        assert_eq!(parse::<T>(input), parse::<Derived>(input), "{input}");
        let list = format!("[\n  {input},\n  {input}\n]");
        assert_eq!(
            parse::<Vec<T>>(&list),
            parse::<Vec<Derived>>(&list),
            "{list}"
        );
    }
}
