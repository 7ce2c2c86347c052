//! JSON for model configs, model file headers, settings and reports: a parser into a [`Json`]
//! tree, [`FromJson`] to read values from it, and [`ToJson`] to write values as compact text.
//! It takes the place of serde and serde_json, whose generic code was about 90 KB of the 553 KB
//! wasm core. Numbers keep their JSON text until a type reads them, so integers keep every
//! digit and `f32` values round trip.
//!
//! Errors name the value that failed by its path, such as `layers[2].kernel_size`, and syntax
//! errors give the line and column.

use std::fmt;

use crate::number;

/// Deepest nesting of arrays and objects the parser accepts, so that hostile input cannot
/// overflow the stack.
const MAX_DEPTH: usize = 128;

/// A parsed JSON value. Objects keep their entries in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its JSON text.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object's entries, in order.
    Object(Vec<(String, Json)>),
}

/// An error reading JSON: what failed, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonError {
    /// Path of the value that failed, such as `layers[2].kernel_size`, or empty for the whole
    /// value and for syntax errors.
    path: String,
    /// Description of the failure.
    message: String,
}

impl JsonError {
    /// Creates an error about the value being read, with no path yet.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            message: message.into(),
        }
    }

    /// Places the error inside the field `name` of an object.
    pub fn in_field(self, name: &str) -> Self {
        self.nest(name.to_string())
    }

    /// Places the error inside item `index` of an array.
    pub fn in_item(self, index: usize) -> Self {
        self.nest(format!("[{index}]"))
    }

    fn nest(mut self, outer: String) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, &outer);
        self
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// Result of reading JSON.
pub type JsonResult<T> = std::result::Result<T, JsonError>;

/// A value read from JSON.
pub trait FromJson: Sized {
    /// Reads `value`, or returns an error that names what is wrong with it.
    fn from_json(value: &Json) -> JsonResult<Self>;
}

/// A value written as JSON. Objects are written through `&dyn ToJson` fields
/// ([`write_object`]), so that each struct's writer is one call and not a copy of its fields'.
pub trait ToJson {
    /// Appends the value as compact JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

/// Parses JSON text into `T`.
pub fn from_str<T: FromJson>(text: &str) -> JsonResult<T> {
    T::from_json(&parse(text)?)
}

/// Writes `value` as compact JSON text.
pub fn to_string<T: ToJson + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// Appends an object of `fields`, in order, to `out`.
pub fn write_object(out: &mut String, fields: &[(&str, &dyn ToJson)]) {
    out.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        value.write_json(out);
    }
    out.push('}');
}

/// Fields written as a JSON object, for values that have no struct of their own.
pub struct Object<'a>(pub &'a [(&'a str, &'a dyn ToJson)]);

impl ToJson for Object<'_> {
    fn write_json(&self, out: &mut String) {
        write_object(out, self.0);
    }
}

/// Appends an object of `fields` followed by the entries of the object that `object` writes,
/// such as an internally tagged enum's tag followed by its variant's fields. `object` must
/// write a JSON object.
pub fn write_merged(out: &mut String, fields: &[(&str, &dyn ToJson)], object: &dyn ToJson) {
    write_object(out, fields);
    let inner = to_string(object);
    if inner.len() > 2 {
        out.pop();
        if !fields.is_empty() {
            out.push(',');
        }
        out.push_str(&inner[1..]);
    }
}

/// Parses JSON text. Trailing characters other than whitespace are an error.
pub fn parse(text: &str) -> JsonResult<Json> {
    let mut parser = Parser { text, at: 0 };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.at < text.len() {
        return Err(parser.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

/// The `null` that indexing a [`Json`] returns for a missing entry.
static NULL: Json = Json::Null;

impl Json {
    /// Returns the value of the object entry `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// Returns the string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// Returns the items, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the entries, if this is an object.
    pub fn as_object(&self) -> Option<&Vec<(String, Json)>> {
        match self {
            Json::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// Returns the value, if this is `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// Returns the number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        f64::from_json(self).ok()
    }

    /// Returns the number, if this is a whole number of 0 or more that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        u64::from_json(self).ok()
    }

    /// Returns whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Returns whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// Describes the value for messages: its kind, and the value itself when it is short.
    pub fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(value) => format!("{value}"),
            Json::Number(text) => text.clone(),
            Json::String(text) if text.len() <= 40 => format!("the string {}", self),
            Json::String(_) => "a string".into(),
            Json::Array(items) => {
                format!("an array of {}", crate::error::counted(items.len(), "item"))
            }
            Json::Object(_) => "an object".into(),
        }
    }
}

impl ToJson for Json {
    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::String(text) => write_string(text, out),
            Json::Array(items) => items.write_json(out),
            Json::Object(entries) => {
                let fields: Vec<(&str, &dyn ToJson)> = entries
                    .iter()
                    .map(|(key, value)| (key.as_str(), value as &dyn ToJson))
                    .collect();
                write_object(out, &fields);
            }
        }
    }
}

impl fmt::Display for Json {
    /// Writes the value as compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&to_string(self))
    }
}

impl std::ops::Index<&str> for Json {
    type Output = Json;

    /// Returns the object entry `key`, or `null` when there is none.
    fn index(&self, key: &str) -> &Json {
        self.get(key).unwrap_or(&NULL)
    }
}

/// Writes `text` as a JSON string, escaping quotes, backslashes and control characters.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A recursive-descent parser over JSON text.
struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
}

impl Parser<'_> {
    /// Creates a syntax error at the current position, as `MESSAGE at line L column C`.
    fn error(&self, message: &str) -> JsonError {
        let before = &self.text[..self.at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        JsonError::new(format!("{message} at line {line} column {column}"))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `byte` after any whitespace, or fails with `expected`.
    fn expect(&mut self, byte: u8, expected: &str) -> JsonResult<()> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(expected));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> JsonResult<Json> {
        self.skip_whitespace();
        if depth >= MAX_DEPTH {
            return Err(self.error("arrays and objects nested too deep"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => {
                for (word, value) in [
                    ("null", Json::Null),
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                ] {
                    if self.text[self.at..].starts_with(word) {
                        self.at += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error(if self.at == self.text.len() {
                    "the JSON text ends where a value should be"
                } else {
                    "expected a value"
                }))
            }
        }
    }

    fn array(&mut self, depth: usize) -> JsonResult<Json> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> JsonResult<Json> {
        self.at += 1;
        let mut entries = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(entries));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.expect(b':', "expected `:`")?;
            entries.push((key, self.value(depth + 1)?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(entries));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// Reads a string whose opening quote is at the current position.
    fn string(&mut self) -> JsonResult<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            let run = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < 0x20)
                .ok_or_else(|| {
                    self.at = self.text.len();
                    self.error("the JSON text ends inside a string")
                })?;
            out.push_str(&rest[..run]);
            self.at += run;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                _ => return Err(self.error("control character inside a string; escape it")),
            }
        }
    }

    /// Reads an escape sequence whose backslash is at the current position.
    fn escape(&mut self) -> JsonResult<char> {
        self.at += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            _ => return Err(self.error("invalid escape in a string")),
        };
        self.at += 1;
        Ok(c)
    }

    /// Reads `uXXXX`, and a second `\uXXXX` when the first is a high surrogate.
    fn unicode_escape(&mut self) -> JsonResult<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.text[self.at..].starts_with("\\u") {
                return Err(self.error("unpaired surrogate in a \\u escape"));
            }
            self.at += 1;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("unpaired surrogate in a \\u escape"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate in a \\u escape"))
    }

    /// Reads `uXXXX` at the current position.
    fn hex4(&mut self) -> JsonResult<u32> {
        let digits = self.text.get(self.at + 1..self.at + 5);
        let code = digits
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("expected 4 hex digits after \\u"))?;
        self.at += 5;
        Ok(code)
    }

    /// Reads a number: `-`, an integer part without leading zeros, then an optional fraction and
    /// exponent.
    fn number(&mut self) -> JsonResult<Json> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(Json::Number(self.text[start..self.at].to_string()))
    }

    /// Reads one or more decimal digits.
    fn digits(&mut self) -> JsonResult<()> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("expected a digit"));
        }
        Ok(())
    }
}

/// The entries of a JSON object that a struct reads, checked against the struct's field names.
pub struct Fields<'a> {
    entries: &'a [(String, Json)],
}

impl<'a> Fields<'a> {
    /// Checks that `value` is an object whose keys are all among `names`, each at most once.
    pub fn of(value: &'a Json, names: &[&str]) -> JsonResult<Self> {
        let fields = Self::lenient(value)?;
        for (i, (key, _)) in fields.entries.iter().enumerate() {
            if names.is_empty() {
                return Err(JsonError::new(format!(
                    "unknown field `{key}`, expected no fields"
                )));
            }
            if !names.contains(&key.as_str()) {
                return Err(JsonError::new(format!(
                    "unknown field `{key}`, expected one of {}",
                    quoted(names)
                )));
            }
            if fields.entries[..i]
                .iter()
                .any(|(earlier, _)| earlier == key)
            {
                return Err(JsonError::new(format!("duplicate field `{key}`")));
            }
        }
        Ok(fields)
    }

    /// Takes the entries of `value`, which must be an object, whatever their keys.
    pub fn lenient(value: &'a Json) -> JsonResult<Self> {
        let entries = value.as_object().ok_or_else(|| {
            JsonError::new(format!("expected an object, got {}", value.describe()))
        })?;
        Ok(Self { entries })
    }

    /// Reads the field `name`, or `None` when the object lacks it.
    pub fn get<T: FromJson>(&self, name: &str) -> JsonResult<Option<T>> {
        let Some((_, value)) = self.entries.iter().find(|(key, _)| key == name) else {
            return Ok(None);
        };
        T::from_json(value).map(Some).map_err(|e| e.in_field(name))
    }

    /// Reads the field `name`, which the object must have.
    pub fn required<T: FromJson>(&self, name: &str) -> JsonResult<T> {
        self.get(name)?
            .ok_or_else(|| JsonError::new(format!("missing field `{name}`")))
    }

    /// Reads the field `name`, or returns `default` when the object lacks it.
    pub fn or<T: FromJson>(&self, name: &str, default: T) -> JsonResult<T> {
        Ok(self.get(name)?.unwrap_or(default))
    }
}

/// Key of the entry that names the variant of an internally tagged enum.
const TAG: &str = "type";

/// Splits an internally tagged object, `{"type": "conv2d", ...}`, into its tag, which must be one
/// of `names`, and an object of its other entries.
pub fn untag<'n>(value: &Json, names: &[&'n str]) -> JsonResult<(&'n str, Json)> {
    let entries = value
        .as_object()
        .ok_or_else(|| JsonError::new(format!("expected an object, got {}", value.describe())))?;
    let (tags, rest): (Vec<_>, Vec<_>) = entries.iter().cloned().partition(|(key, _)| key == TAG);
    let tag = match tags.as_slice() {
        [] => return Err(JsonError::new(format!("missing field `{TAG}`"))),
        [(_, tag)] => tag,
        _ => return Err(JsonError::new(format!("duplicate field `{TAG}`"))),
    };
    let name = names
        .iter()
        .find(|name| tag.as_str() == Some(name))
        .ok_or_else(|| unknown_variant(tag, names).in_field(TAG))?;
    Ok((name, Json::Object(rest)))
}

/// Appends an internally tagged object: the tag `name` first, then the entries of the object
/// that `fields` writes.
pub fn write_tagged(out: &mut String, name: &str, fields: &dyn ToJson) {
    write_merged(out, &[(TAG, &name)], fields);
}

/// Implements [`ToJson`] for a struct as an object of the fields listed, in order:
/// `to_json!(Name { field, ... })`, or `to_json!(Name<'_> { ... })` for a struct that borrows.
macro_rules! to_json {
    ($name:ident $(<$lt:lifetime>)? { $($field:ident),* $(,)? }) => {
        impl $crate::json::ToJson for $name $(<$lt>)? {
            fn write_json(&self, out: &mut String) {
                $crate::json::write_object(out, &[$((stringify!($field), &self.$field),)*]);
            }
        }
    };
}

/// Implements [`FromJson`] for a struct from an object with the fields listed, each required
/// unless a default follows it: `from_json!(Name { field, other = 1 })`. Unknown fields are an
/// error, or ignored after `lenient`: `from_json!(lenient Name { ... })`, for files that other
/// tools write.
macro_rules! from_json {
    (lenient $name:ident { $($field:ident $(= $default:expr)?),* $(,)? }) => {
        impl $crate::json::FromJson for $name {
            fn from_json(value: &$crate::json::Json) -> $crate::json::JsonResult<Self> {
                let fields = $crate::json::Fields::lenient(value)?;
                $crate::json::from_json!(@build fields $name { $($field $(= $default)?),* })
            }
        }
    };
    ($name:ident { $($field:ident $(= $default:expr)?),* $(,)? }) => {
        impl $crate::json::FromJson for $name {
            fn from_json(value: &$crate::json::Json) -> $crate::json::JsonResult<Self> {
                let fields = $crate::json::Fields::of(value, &[$(stringify!($field)),*])?;
                $crate::json::from_json!(@build fields $name { $($field $(= $default)?),* })
            }
        }
    };
    (@build $fields:ident $name:ident { $($field:ident $(= $default:expr)?),* }) => {
        Ok($name {
            $($field: $crate::json::from_json!(@field $fields $field $(= $default)?),)*
        })
    };
    (@field $fields:ident $field:ident) => {
        $fields.required(stringify!($field))?
    };
    (@field $fields:ident $field:ident = $default:expr) => {
        $fields.or(stringify!($field), $default)?
    };
}

/// Implements [`FromJson`] and [`ToJson`] for an enum of unit variants written as strings:
/// `string_enum!(Name { Variant = "variant", ... })`.
macro_rules! string_enum {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $crate::json::FromJson for $name {
            fn from_json(value: &$crate::json::Json) -> $crate::json::JsonResult<Self> {
                match value.as_str() {
                    $(Some($text) => Ok($name::$variant),)*
                    _ => Err($crate::json::unknown_variant(value, &[$($text),*])),
                }
            }
        }

        impl $crate::json::ToJson for $name {
            fn write_json(&self, out: &mut String) {
                let text = match self {
                    $($name::$variant => $text,)*
                };
                $crate::json::ToJson::write_json(text, out);
            }
        }
    };
}

pub(crate) use {from_json, string_enum, to_json};

/// Creates the error for a value that matches none of the strings `names`.
pub fn unknown_variant(value: &Json, names: &[&str]) -> JsonError {
    let expected = quoted(names);
    JsonError::new(match value.as_str() {
        Some(text) => format!("unknown variant `{text}`, expected one of {expected}"),
        None => format!("expected one of {expected}, got {}", value.describe()),
    })
}

/// Writes `names` in backquotes, separated by commas: `` `a`, `b` ``.
fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

impl FromJson for bool {
    fn from_json(value: &Json) -> JsonResult<Self> {
        match value {
            Json::Bool(value) => Ok(*value),
            _ => Err(JsonError::new(format!(
                "expected true or false, got {}",
                value.describe()
            ))),
        }
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl FromJson for String {
    fn from_json(value: &Json) -> JsonResult<Self> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| JsonError::new(format!("expected a string, got {}", value.describe())))
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_string(self, out);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_string(self, out);
    }
}

/// Implements the conversions of whole-number types: JSON integers of 0 or more that fit.
macro_rules! whole_number {
    ($($ty:ty),*) => {$(
        impl FromJson for $ty {
            fn from_json(value: &Json) -> JsonResult<Self> {
                match value {
                    Json::Number(text) => text.parse().map_err(|_| {
                        JsonError::new(format!(
                            "expected a whole number from 0 to {}, got {text}",
                            <$ty>::MAX
                        ))
                    }),
                    _ => Err(JsonError::new(format!(
                        "expected a whole number, got {}",
                        value.describe()
                    ))),
                }
            }
        }

        impl ToJson for $ty {
            fn write_json(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        }
    )*};
}

whole_number!(u32, u64, usize);

/// Implements the conversions of float types, each with its reader and writer from
/// `crate::number`. Non-finite values are written as `null`, as JavaScript's `JSON.stringify`
/// does, and reading a number beyond the type's range fails.
macro_rules! float {
    ($($ty:ty: $parse:path, $write:path;)*) => {$(
        impl FromJson for $ty {
            fn from_json(value: &Json) -> JsonResult<Self> {
                let Json::Number(text) = value else {
                    return Err(JsonError::new(format!(
                        "expected a number, got {}",
                        value.describe()
                    )));
                };
                match $parse(text) {
                    Some(number) if number.is_finite() => Ok(number),
                    _ => Err(JsonError::new(format!(
                        "{text} is beyond the range of {}",
                        stringify!($ty)
                    ))),
                }
            }
        }

        impl ToJson for $ty {
            fn write_json(&self, out: &mut String) {
                if self.is_finite() {
                    $write(*self, out);
                } else {
                    out.push_str("null");
                }
            }
        }
    )*};
}

float! {
    f32: number::parse_f32, number::write_f32;
    f64: number::parse_f64, number::write_f64;
}

impl<T: FromJson> FromJson for Option<T> {
    /// `null` is `None`.
    fn from_json(value: &Json) -> JsonResult<Self> {
        match value {
            Json::Null => Ok(None),
            _ => T::from_json(value).map(Some),
        }
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Json) -> JsonResult<Self> {
        let items = value.as_array().ok_or_else(|| {
            JsonError::new(format!("expected an array, got {}", value.describe()))
        })?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_json(item).map_err(|e| e.in_item(i)))
            .collect()
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: FromJson, const N: usize> FromJson for [T; N] {
    fn from_json(value: &Json) -> JsonResult<Self> {
        let wrong_length = || {
            JsonError::new(format!(
                "expected an array of {N} items, got {}",
                value.describe()
            ))
        };
        if value.as_array().map(Vec::len) != Some(N) {
            return Err(wrong_length());
        }
        Vec::from_json(value)?
            .try_into()
            .map_err(|_| wrong_length())
    }
}

impl<T: ToJson, const N: usize> ToJson for [T; N] {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl FromJson for Json {
    fn from_json(value: &Json) -> JsonResult<Self> {
        Ok(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Point {
        x: u32,
        y: f32,
        label: Option<String>,
    }

    to_json!(Point { x, y, label });
    from_json!(Point {
        x,
        y = 0.5,
        label = None
    });

    #[derive(Debug, PartialEq)]
    enum Side {
        Left,
        Right,
    }

    string_enum!(Side {
        Left = "left",
        Right = "right"
    });

    #[test]
    fn parses_and_writes_every_kind_of_value() {
        let text = r#"{"a":[1,-2.5e-3,true,false,null],"b":"q\"\\\n\u00e9\ud83d\ude00","c":{}}"#;
        let value = parse(text).unwrap();
        assert_eq!(value["a"].as_array().unwrap().len(), 5);
        assert_eq!(value["a"].as_array().unwrap()[1].as_f64(), Some(-2.5e-3));
        assert_eq!(value["b"].as_str(), Some("q\"\\\n\u{e9}\u{1F600}"));
        assert!(value["missing"].is_null());
        assert_eq!(parse(&value.to_string()).unwrap(), value);
        assert_eq!(Json::String("\u{1}\t".into()).to_string(), r#""\u0001\t""#);
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let cases = [
            ("{\"a\": 1,\n \"b\" 2}", "expected `:` at line 2 column 6"),
            ("[1, 2", "expected `,` or `]` at line 1 column 6"),
            ("[01]", "expected `,` or `]` at line 1 column 3"),
            ("[1.]", "expected a digit at line 1 column 4"),
            ("\"abc", "ends inside a string"),
            ("{} x", "trailing characters"),
            ("", "ends where a value should be"),
            ("\"\\x\"", "invalid escape"),
            ("\"\\ud800\"", "unpaired surrogate"),
            ("nul", "expected a value at line 1 column 1"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        let deep = nested(MAX_DEPTH + 1);
        assert!(parse(&deep)
            .unwrap_err()
            .to_string()
            .contains("nested too deep"));
    }

    #[test]
    fn numbers_round_trip() {
        for value in [0.1f32, 1e-7, 3.0, -2.5e20, f32::MAX, f32::MIN_POSITIVE] {
            assert_eq!(from_str::<f32>(&to_string(&value)).unwrap(), value);
        }
        for value in [0.1f64, 1e-300, 123456789.125, -0.0] {
            assert_eq!(from_str::<f64>(&to_string(&value)).unwrap(), value);
        }
        assert_eq!(to_string(&0.001f32), "0.001");
        assert_eq!(to_string(&1e-7f64), "0.0000001");
        assert_eq!(to_string(&f64::NAN), "null");
        assert_eq!(from_str::<u64>("18446744073709551615").unwrap(), u64::MAX);
        for text in ["-1", "1.5", "1e3", "18446744073709551616"] {
            let error = from_str::<u64>(text).unwrap_err().to_string();
            assert!(error.contains("whole number from 0 to"), "{text}: {error}");
        }
        let error = from_str::<f32>("1e60").unwrap_err().to_string();
        assert_eq!(error, "1e60 is beyond the range of f32");
    }

    #[test]
    fn structs_read_defaults_and_name_the_failing_field() {
        let point: Point = from_str(r#"{"x": 3}"#).unwrap();
        assert_eq!((point.x, point.y, point.label), (3, 0.5, None));
        assert_eq!(
            to_string(&Point {
                x: 1,
                y: 2.5,
                label: Some("p".into())
            }),
            r#"{"x":1,"y":2.5,"label":"p"}"#
        );

        let cases = [
            ("{}", "missing field `x`"),
            (
                r#"{"x": 1, "z": 2}"#,
                "unknown field `z`, expected one of `x`, `y`, `label`",
            ),
            (r#"{"x": 1, "x": 2}"#, "duplicate field `x`"),
            (
                r#"{"x": "1"}"#,
                "x: expected a whole number, got the string \"1\"",
            ),
            ("[1]", "expected an object, got an array of 1 item"),
        ];
        for (text, expected) in cases {
            let error = from_str::<Point>(text).err().unwrap().to_string();
            assert_eq!(error, expected, "{text}");
        }
    }

    #[test]
    fn nested_errors_carry_their_path() {
        let error = from_str::<Vec<[Point; 1]>>(r#"[[{"x": 1}], [{"x": 1, "y": true}]]"#)
            .err()
            .unwrap();
        assert_eq!(error.to_string(), "[1][0].y: expected a number, got true");
        let error = from_str::<[u32; 2]>("[1, 2, 3]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected an array of 2 items, got an array of 3 items"
        );
    }

    #[test]
    fn merged_objects_stay_valid_json() {
        let fields = Object(&[("b", &2u32)]);
        let mut out = String::new();
        write_merged(&mut out, &[], &fields);
        assert_eq!(out, r#"{"b":2}"#);
        out.clear();
        write_merged(&mut out, &[("a", &1u32)], &Object(&[]));
        assert_eq!(out, r#"{"a":1}"#);
        out.clear();
        write_merged(&mut out, &[("a", &1u32)], &fields);
        assert_eq!(out, r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn string_enums_list_their_variants() {
        assert_eq!(from_str::<Side>("\"right\"").unwrap(), Side::Right);
        assert_eq!(to_string(&Side::Left), "\"left\"");
        let error = from_str::<Side>("\"up\"").unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown variant `up`, expected one of `left`, `right`"
        );
        let error = from_str::<Side>("1").unwrap_err().to_string();
        assert_eq!(error, "expected one of `left`, `right`, got 1");
    }
}
