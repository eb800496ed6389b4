//! The value model. Every [`Value`] is `Send + Sync` and 16 bytes: scalars
//! inline, everything else behind a pointer. Lists, maps and strings have
//! value semantics: copying one is O(1) (a reference count) and changing
//! one goes through `make_mut` ([`List::make_mut`], [`MapRef::make_mut`],
//! [`Str::make_mut`]), which is in place when the value is uniquely held
//! and copies it first when it is shared.
//!
//! Their payloads ([`Str`], [`List`], [`MapRef`], in `value/`) are single
//! allocations with a reference count that has no weak count (the
//! uniqueness check is one load) and can be *immortal* (no refcount traffic
//! at all: constants and module variables, see [`Value::make_immortal`]).
//! Read them through deref: `&str`, `&[Value]`, `&Map`.

use crate::error::{ErrorValue, Result};
use crate::function::Closure;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

mod intern;
mod list;
mod map_ref;
mod rc;
mod release;
mod string;

pub use crate::map::Map;
pub use intern::intern;
pub use list::{CapacityError, List, ListMut};
pub use map_ref::MapRef;
pub use string::{str_hash, Str, StrBuilder, StrMut};

mod deep;

/// A native function: a builtin or a stdlib module member.
pub type NativeFnPtr = fn(&mut crate::vm::Vm, &[Value]) -> Result<Value>;

/// A native (Rust) function value.
#[derive(Debug)]
pub struct NativeFn {
    /// The name shown as `<fn name>` and in traces.
    pub name: &'static str,
    /// The implementation.
    pub f: NativeFnPtr,
}

/// A lazy integer range `range(start, stop, step)`; `step` is never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeVal {
    /// First value.
    pub start: i64,
    /// Exclusive bound.
    pub stop: i64,
    /// Step (non-zero).
    pub step: i64,
}

impl RangeVal {
    /// The exact number of items, O(1). A range can have up to 2^64 - 1
    /// items (`range(-2**63, 2**63 - 1)`), more than an `i64` holds.
    pub fn len_i128(&self) -> i128 {
        let (start, stop, step) = (self.start as i128, self.stop as i128, self.step as i128);
        let n = if step > 0 {
            (stop - start + step - 1) / step
        } else {
            (start - stop - step - 1) / -step
        };
        n.max(0)
    }

    /// Number of items, saturated at `i64::MAX`: for iterating and sizing,
    /// where no loop or list can reach that many anyway. Where the exact
    /// count is the answer (`len`, indexing, `contains`), use
    /// [`len_i128`](Self::len_i128) or [`checked_len`](Self::checked_len).
    pub fn len(&self) -> i64 {
        i64::try_from(self.len_i128()).unwrap_or(i64::MAX)
    }

    /// The number of items as an int, or an `OverflowError` for a range
    /// longer than the largest int.
    pub fn checked_len(&self) -> Result<i64> {
        i64::try_from(self.len_i128()).map_err(|_| {
            crate::error::Error::new(
                crate::error::ErrorKind::OverflowError,
                format!(
                    "{self} has {} items, more than the largest int",
                    self.len_i128()
                ),
            )
        })
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len_i128() == 0
    }

    /// The `i`-th item (0-based, already bounds-checked by the caller).
    pub fn get(&self, i: i64) -> i64 {
        self.start + i * self.step
    }

    /// The `i`-th item for any `0 <= i < len_i128()` (always an `i64`:
    /// every item lies between `start` and `stop`).
    pub fn get_i128(&self, i: i128) -> i64 {
        (self.start as i128 + i * self.step as i128) as i64
    }
}

impl fmt::Display for RangeVal {
    /// `range(start, stop)` or `range(start, stop, step)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step == 1 {
            write!(f, "range({}, {})", self.start, self.stop)
        } else {
            write!(f, "range({}, {}, {})", self.start, self.stop, self.step)
        }
    }
}

/// A module: an `import`ed file or a built-in module such as `math`.
#[derive(Debug)]
pub struct Module {
    /// The module's name (last path segment, or the built-in's name).
    pub name: String,
    /// Its exported top-level `let`s and `fn`s.
    pub fields: Map,
}

/// A Weft value.
#[derive(Clone, Default)]
pub enum Value {
    /// `nil`
    #[default]
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// 64-bit signed integer.
    Int(i64),
    /// 64-bit float.
    Float(f64),
    /// Immutable UTF-8 string (in-place append only when uniquely held).
    Str(Str),
    /// List with value semantics.
    List(List),
    /// Map with value semantics, insertion-ordered.
    Map(MapRef),
    /// Lazy integer range.
    Range(Arc<RangeVal>),
    /// A Weft closure.
    Func(Arc<Closure>),
    /// A native function.
    Native(&'static NativeFn),
    /// A module.
    Module(Arc<Module>),
    /// A caught error.
    Error(Arc<ErrorValue>),
    /// A spawned task (a shared handle).
    Task(Arc<crate::stdlib::task::TaskObj>),
    /// A channel (a shared handle).
    Channel(Arc<crate::stdlib::channel::ChannelObj>),
    /// An atom (a shared handle).
    Atom(Arc<crate::stdlib::atom::AtomObj>),
    /// A `scope`'s handle (`s.spawn(...)`; a shared handle).
    Scope(Arc<crate::stdlib::scope::ScopeObj>),
}

impl Value {
    /// The name `type(x)` returns.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Range(_) => "range",
            Value::Func(_) | Value::Native(_) => "function",
            Value::Module(_) => "module",
            Value::Error(_) => "error",
            Value::Task(_) => "task",
            Value::Channel(_) => "channel",
            Value::Atom(_) => "atom",
            Value::Scope(_) => "scope",
        }
    }

    /// Truthiness: only `false` and `nil` are false.
    #[inline]
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// A new string value.
    #[inline]
    pub fn str(s: impl IntoStr) -> Value {
        Value::Str(s.into_str())
    }

    /// A new list value (the items are moved into one allocation; build a
    /// [`List`] directly to skip the `Vec`).
    #[inline]
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(List::from(items))
    }

    /// A new map value.
    #[inline]
    pub fn map(m: Map) -> Value {
        Value::Map(MapRef::new(m))
    }

    /// Makes this value, and every string, list and map inside it,
    /// *immortal*: never freed, and cloned or dropped without touching its
    /// reference count, so that threads reading it do not contend on that
    /// count's cache line. Only for values that live until the process
    /// exits anyway (constants, module variables, module fields): the
    /// caller's reference is leaked. Copy-on-write stays correct: an
    /// immortal value is never uniquely held, so changing one copies it.
    pub fn make_immortal(&self) {
        release::make_immortal(self);
    }

    /// The string form used inside containers: strings quoted and escaped,
    /// everything else as [`fmt::Display`].
    pub fn repr(&self) -> String {
        let mut s = String::new();
        self.write_repr(&mut s)
            .expect("writing to a String cannot fail");
        s
    }

    fn write_repr(&self, out: &mut impl fmt::Write) -> fmt::Result {
        deep::write(self, out, false)
    }
}

fn write_quoted(out: &mut (impl fmt::Write + ?Sized), s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            c if c.is_control() => write!(out, "\\u{{{:X}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// Formats a float as Python's `repr` does: the shortest digits that read
/// back to the same float; positional for exponents in `-4..16` (always with
/// a `.`), otherwise `d.ddde±XX`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "1.5e16", "-2e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= n {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

impl fmt::Display for Value {
    /// The `print`/`str` form: a top-level string prints bare. Containers
    /// are walked without recursion ([`deep`]), at any depth.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::List(_) | Value::Map(_) | Value::Atom(_) => deep::write(self, f, true),
            other => write_flat(other, f),
        }
    }
}

/// Writes a value that contains no other value (not a string, list, map or
/// atom).
fn write_flat(v: &Value, f: &mut dyn fmt::Write) -> fmt::Result {
    match v {
        Value::Nil => f.write_str("nil"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => f.write_str(&format_float(*x)),
        Value::Range(r) => write!(f, "{r}"),
        Value::Func(c) => match c.name() {
            Some(name) => write!(f, "<fn {name}>"),
            None => f.write_str("<fn>"),
        },
        Value::Native(n) => write!(f, "<fn {}>", n.name),
        Value::Module(m) => write!(f, "<module {}>", m.name),
        Value::Error(e) => write!(f, "<error {}: {}>", e.kind, e.message),
        Value::Task(t) => write!(f, "<task {}>", t.id()),
        Value::Scope(s) => write!(f, "<scope {}>", s.id()),
        Value::Channel(_) => f.write_str("<channel>"),
        Value::Str(_) | Value::List(_) | Value::Map(_) | Value::Atom(_) => deep::write(v, f, false),
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr())
    }
}

impl PartialEq for Value {
    /// Structural equality for data (`1 == 1.0`; maps ignore order, as
    /// Python's dicts do), at any depth ([`deep`]); identity for functions,
    /// modules, errors and handles.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_)) => {
                deep::eq(self, other)
            }
            _ => flat_eq(self, other),
        }
    }
}

/// `==` of two values that are not both lists or both maps.
fn flat_eq(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Nil, Nil) => true,
        (Bool(a), Bool(b)) => a == b,
        (Int(a), Int(b)) => a == b,
        (Float(a), Float(b)) => a == b,
        (Int(a), Float(b)) | (Float(b), Int(a)) => int_eq_float(*a, *b),
        (Str(a), Str(b)) => a == b,
        (List(_), List(_)) | (Map(_), Map(_)) => deep::eq(a, b),
        (Range(a), Range(b)) => {
            let (n, m) = (a.len_i128(), b.len_i128());
            n == m && (n == 0 || (a.start == b.start && (n == 1 || a.step == b.step)))
        }
        (Func(a), Func(b)) => Arc::ptr_eq(a, b),
        (Native(a), Native(b)) => std::ptr::eq(*a, *b),
        (Module(a), Module(b)) => Arc::ptr_eq(a, b),
        (Error(a), Error(b)) => Arc::ptr_eq(a, b),
        (Task(a), Task(b)) => Arc::ptr_eq(a, b),
        (Channel(a), Channel(b)) => Arc::ptr_eq(a, b),
        (Atom(a), Atom(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

pub(crate) use deep::compare as deep_compare;

/// `i == f` without the rounding of `i as f64`.
fn int_eq_float(i: i64, f: f64) -> bool {
    float_as_int(f) == Some(i)
}

/// `f` as an int when it is integral and in `i64`'s range.
pub fn float_as_int(f: f64) -> Option<i64> {
    // -2^63 is exact as a float; 2^63 is the first float past i64::MAX.
    const BOUND: f64 = -(i64::MIN as f64);
    (f.fract() == 0.0 && (-BOUND..BOUND).contains(&f)).then_some(f as i64)
}

/// A map key: nil, bool, int, float or string. Equal keys hash equally, so
/// `m[1]` and `m[1.0]` find the same entry.
#[derive(Clone)]
pub struct Key(pub Value);

impl Key {
    /// Wraps `v` as a key, or `TypeError` if its type cannot be a key.
    pub fn new(v: Value) -> Result<Key> {
        match v {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {
                Ok(Key(v))
            }
            other => Err(crate::error::Error::type_error(format!(
                "a {} cannot be a map key (keys are nil, bool, int, float or string)",
                other.type_name()
            ))),
        }
    }

    /// A string key.
    pub fn str(s: &str) -> Key {
        Key(Value::str(s))
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        // Ints and strings (nearly every key) compared inline.
        match (&self.0, &other.0) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (a, b) => a == b,
        }
    }
}

impl Eq for Key {}

impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_key(&self.0, h)
    }
}

/// Hashes a value that can be a key ([`Key`], and borrowed keys that must
/// hash the same). Always inlined: called once per map lookup, and as a
/// call it cost more than the hashing.
#[inline(always)]
pub(crate) fn hash_key<H: Hasher>(v: &Value, h: &mut H) {
    match v {
        Value::Nil => h.write_u8(0),
        Value::Bool(b) => h.write_u8(1 + *b as u8),
        Value::Int(i) => h.write_i64(*i),
        Value::Float(f) => match float_as_int(*f) {
            Some(i) => h.write_i64(i),
            None => h.write_u64(f.to_bits()),
        },
        Value::Str(s) => h.write_u64(s.hash_code()),
        // Key::new admits nothing else.
        other => other.type_name().hash(h),
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::Str(s)
    }
}

impl From<List> for Value {
    fn from(l: List) -> Value {
        Value::List(l)
    }
}

/// What [`Value::str`] accepts: anything a `String` could be made from
/// (`&str`, `String`, `&String`, `char`, `Box<str>`, `Cow<str>`) and [`Str`].
pub trait IntoStr {
    /// The string payload.
    fn into_str(self) -> Str;
}

impl IntoStr for &str {
    #[inline]
    fn into_str(self) -> Str {
        Str::new(self)
    }
}

impl IntoStr for &mut str {
    fn into_str(self) -> Str {
        Str::new(self)
    }
}

impl IntoStr for String {
    #[inline]
    fn into_str(self) -> Str {
        Str::new(&self)
    }
}

impl IntoStr for &String {
    fn into_str(self) -> Str {
        Str::new(self)
    }
}

impl IntoStr for char {
    fn into_str(self) -> Str {
        Str::from_char(self)
    }
}

impl IntoStr for Box<str> {
    fn into_str(self) -> Str {
        Str::new(&self)
    }
}

impl IntoStr for std::borrow::Cow<'_, str> {
    fn into_str(self) -> Str {
        Str::new(&self)
    }
}

impl IntoStr for Str {
    fn into_str(self) -> Str {
        self
    }
}

impl IntoStr for &Str {
    fn into_str(self) -> Str {
        self.clone()
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::list(v)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn value_is_at_most_16_bytes() {
        assert!(
            std::mem::size_of::<Value>() <= 16,
            "{}",
            std::mem::size_of::<Value>()
        );
        assert_eq!(std::mem::size_of::<Option<Value>>(), 16);
    }

    #[test]
    fn value_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Value>();
    }

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (3.0, "3.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (1e-9, "1e-09"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(f), want, "formatting {f:?}");
        }
    }

    #[test]
    fn containers_quote_strings() {
        let v = Value::list(vec![Value::Int(1), Value::from("a\"b"), Value::Float(2.0)]);
        assert_eq!(v.to_string(), r#"[1, "a\"b", 2.0]"#);
        assert_eq!(Value::from("hi").to_string(), "hi");
        let mut m = Map::default();
        m.insert(Key::str("a"), Value::Int(1));
        assert_eq!(Value::map(m).to_string(), r#"{"a": 1}"#);
    }

    #[test]
    fn int_and_float_keys_collide() {
        let mut m = Map::default();
        m.insert(Key::new(Value::Int(1)).unwrap(), Value::from("one"));
        assert_eq!(m.get(&Key(Value::Float(1.0))), Some(&Value::from("one")));
        assert!(Key::new(Value::list(vec![])).is_err());
    }

    #[test]
    fn equality_is_structural() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Int(1), Value::from("1"));
        let r = |a, b, c| {
            Value::Range(Arc::new(RangeVal {
                start: a,
                stop: b,
                step: c,
            }))
        };
        assert_eq!(r(0, 0, 1), r(5, 2, 1));
        assert_eq!(r(0, 10, 3), r(0, 11, 3));
        assert_eq!(r(0, 10, 3).to_string(), "range(0, 10, 3)");
        assert_eq!(r(10, 0, -2).to_string(), "range(10, 0, -2)");
        assert_eq!(
            RangeVal {
                start: 10,
                stop: 0,
                step: -2
            }
            .len(),
            5
        );
    }
}
