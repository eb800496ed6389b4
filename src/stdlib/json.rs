//! The built-in module `json` (STDLIB.md): `parse stringify read write`.
//!
//! # Parsing
//! serde_json's [`Deserializer`](serde_json::Deserializer) drives our own
//! [`DeserializeSeed`] ([`ValueSeed`]): every JSON value becomes a Weft value
//! as it is read, with no intermediate `serde_json::Value` tree. Objects
//! become maps in document order (a repeated key keeps its first place and
//! takes the last value, as Python's `json`); integers that fit in `i64` are
//! ints, every other number a float (serde_json reads an integer too large
//! for 64 bits as a float, with `float_roundtrip` so floats are exact);
//! `null` is `nil`. Object keys repeat from record to record, so a
//! per-call cache shares one string value among equal keys (fewer
//! allocations, as CPython's key memo). Nesting depth is unbounded: the
//! recursion limit of serde_json is off and each array or object level runs
//! inside `stacker::maybe_grow`, so a deep document grows the stack on the
//! heap instead of overflowing it.
//!
//! Errors are `ValueError`s that name the line and the column (in
//! characters, as string positions count): `json.parse(): expected value
//! at line 1 column 5`.
//!
//! # Writing
//! [`stringify`] walks the value with an explicit stack (no recursion, so
//! any depth a script can build is written), using serde_json's writers for
//! strings (escaping) and numbers (itoa, ryu: a float always shows a `.` or
//! an exponent and reads back to the same float). Compact output has no
//! spaces (`{"a":1,"b":[1,2]}`); with `indent` it is Python's
//! `json.dumps(v, indent=n)` layout. Decisions where STDLIB.md is silent:
//! - map keys that are not strings are written as strings: `nil` → `"null"`,
//!   bools `"true"`/`"false"`, ints in decimal, floats in their printed
//!   form (`"1.5"`), as Python does;
//! - a range is written as the list of its ints;
//! - functions, tasks, channels, atoms, modules, errors, NaN and the
//!   infinities (as values or keys) are a `ValueError` naming the path of
//!   the first one: `$.a[3]` (`$["odd key"]` for a key that is not an
//!   identifier);
//! - `indent` is an int from 0 to 1024 (`nil` means compact).

use super::args::{self, arity};
use super::data;
use crate::error::{Error, Result};
use crate::ops::memory;
use crate::value::{format_float, Key, Map, NativeFn, Value};
use crate::vm::Vm;
use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "parse",
        f: parse,
    },
    NativeFn {
        name: "stringify",
        f: stringify,
    },
    NativeFn {
        name: "read",
        f: read,
    },
    NativeFn {
        name: "write",
        f: write,
    },
];

/// The module value `json`.
pub(crate) fn make_module() -> Value {
    data::module("json", FUNCTIONS)
}

// ---------------------------------------------------------------------------
// Script functions

/// `json.parse(s)`.
fn parse(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("json.parse", args, 1, 1)?;
    let text = args::string("json.parse", "text", &args[0])?;
    parse_str(text).map_err(|e| Error::value_error(format!("json.parse(): {e}")))
}

/// `json.stringify(v)` / `json.stringify(v, indent)`.
fn stringify(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("json.stringify", args, 1, 2)?;
    let indent = indent_arg("json.stringify", args.get(1))?;
    let out = to_json("json.stringify", &args[0], indent)?;
    Ok(Value::str(out))
}

/// `json.read(path)`.
fn read(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("json.read", args, 1, 1)?;
    let path = args::string("json.read", "path", &args[0])?;
    let text = crate::pool::blocking(|| std::fs::read_to_string(path))
        .map_err(|e| data::io_error("json.read", "read", path, &e))?;
    parse_str(&text)
        .map_err(|e| Error::value_error(format!("json.read(): {}: {e}", Value::str(path).repr())))
}

/// `json.write(path, v)` / `json.write(path, v, indent)`.
fn write(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("json.write", args, 2, 3)?;
    let path = args::string("json.write", "path", &args[0])?;
    let indent = indent_arg("json.write", args.get(2))?;
    let mut out = to_json("json.write", &args[1], indent)?;
    out.push('\n');
    crate::pool::blocking(|| std::fs::write(path, out))
        .map_err(|e| data::io_error("json.write", "write", path, &e))?;
    Ok(Value::Nil)
}

/// The largest `indent` accepted.
const MAX_INDENT: i64 = 1024;

fn indent_arg(func: &str, v: Option<&Value>) -> Result<Option<usize>> {
    match v {
        None | Some(Value::Nil) => Ok(None),
        Some(v) => {
            let n = args::int(func, "indent", v)?;
            if !(0..=MAX_INDENT).contains(&n) {
                return Err(Error::value_error(format!(
                    "{func}() indent must be from 0 to {MAX_INDENT} (got {n})"
                )));
            }
            Ok(Some(n as usize))
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing

/// Parses a whole JSON document into a value. The error's text names the
/// line and the (character) column.
pub fn parse_str(text: &str) -> std::result::Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let mut keys = KeyCache::default();
    let value = ValueSeed { keys: &mut keys }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| describe(text, &e))?;
    Ok(value)
}

/// serde_json's message with a character column instead of a byte column.
fn describe(text: &str, e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let (line, col) = (e.line(), e.column());
    if line == 0 {
        return msg;
    }
    let suffix = format!(" at line {line} column {col}");
    let base = msg.strip_suffix(&suffix).unwrap_or(&msg);
    format!(
        "{base} at line {line} column {}",
        data::char_column(text, line, col)
    )
}

/// Object keys seen so far in one document, so equal keys share one string;
/// and the sizes of the last object and array read, as the capacity of the
/// next ones (records in a file tend to have the same shape, and a map or
/// list built at its final size is allocated once instead of regrown).
#[derive(Default)]
struct KeyCache {
    map: FxHashMap<Box<str>, Value>,
    last_object: usize,
    last_array: usize,
}

/// The capacity hints stay below this (a huge array does not make every
/// later one start huge).
const MAX_HINT: usize = 64;

/// Keys longer than this are not cached.
const MAX_CACHED_KEY: usize = 64;
/// The cache stops growing at this many keys.
const MAX_CACHED_KEYS: usize = 4096;

impl KeyCache {
    fn key(&mut self, s: &str) -> Value {
        if s.len() > MAX_CACHED_KEY {
            return Value::str(s);
        }
        if let Some(v) = self.map.get(s) {
            return v.clone();
        }
        let v = Value::str(s);
        if self.map.len() < MAX_CACHED_KEYS {
            self.map.insert(s.into(), v.clone());
        }
        v
    }
}

/// Stack room kept free before an array or object level grows the stack.
const RED_ZONE: usize = 64 * 1024;
/// Size of each stack segment added for deep documents.
const STACK_SEGMENT: usize = 1024 * 1024;

/// Deserializes one JSON value into a Weft value.
struct ValueSeed<'c> {
    keys: &'c mut KeyCache,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    #[inline]
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> std::result::Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> std::result::Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        })
    }

    fn visit_f64<E>(self, f: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(Value::str(s))
    }

    fn visit_string<E>(self, s: String) -> std::result::Result<Value, E> {
        Ok(Value::str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let keys = self.keys;
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, move || {
            let mut items = Vec::with_capacity(keys.last_array);
            while let Some(v) = seq.next_element_seed(ValueSeed { keys: &mut *keys })? {
                items.push(v);
            }
            keys.last_array = items.len().min(MAX_HINT);
            Ok(Value::list(items))
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Value, A::Error> {
        let keys = self.keys;
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, move || {
            let mut map = Map::with_capacity(keys.last_object);
            while let Some(k) = access.next_key_seed(KeySeed { keys: &mut *keys })? {
                let v = access.next_value_seed(ValueSeed { keys: &mut *keys })?;
                map.insert(Key(k), v);
            }
            keys.last_object = map.len().min(MAX_HINT);
            Ok(Value::map(map))
        })
    }
}

/// Deserializes an object key into a (shared) string value.
struct KeySeed<'c> {
    keys: &'c mut KeyCache,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Value;

    #[inline]
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(self.keys.key(s))
    }
}

// ---------------------------------------------------------------------------
// Writing

/// One container being written: where the walk is inside it.
enum Frame<'a> {
    /// A list; `next` is the index of the next item to write.
    List { items: &'a [Value], next: usize },
    /// A range being written as a list of ints.
    Range {
        r: crate::value::RangeVal,
        next: i64,
    },
    /// A map: its remaining entries and the key being written.
    Map {
        entries: crate::map::Iter<'a>,
        key: Option<&'a Key>,
        first: bool,
    },
}

/// Writes `v` as JSON: compact for `None`, else pretty with `indent`
/// spaces. The error's text names the path of the value that cannot be
/// written.
#[cfg(test)]
pub fn to_string(v: &Value, indent: Option<usize>) -> std::result::Result<String, String> {
    write_text(v, indent).map_err(|e| match e {
        Stop::Unwritable(e) => e,
        Stop::Memory(e) => e.message().to_string(),
    })
}

/// [`to_string`] for the script functions named `func`: a value JSON
/// cannot hold is a `ValueError`, output too big for the machine a
/// `MemoryError`.
///
/// The output can be far bigger than the value: values share what they
/// hold (`x = [x, x]` doubles the text at each step) and indentation grows
/// with the depth. So once the output passes 64 MiB, the writer checks
/// before each growth of its buffer that the doubled buffer fits in the
/// memory the process can get (`ops::memory`), instead of growing until
/// the OOM killer (or, under `ulimit -v`, a failed allocation) ends the
/// process.
fn to_json(func: &str, v: &Value, indent: Option<usize>) -> Result<String> {
    write_text(v, indent).map_err(|e| match e {
        Stop::Unwritable(e) => Error::value_error(format!("{func}(): {e}")),
        Stop::Memory(e) => Error::new(e.kind(), format!("{func}(): {}", e.message())),
    })
}

fn write_text(v: &Value, indent: Option<usize>) -> std::result::Result<String, Stop> {
    let mut w = Writer {
        out: Vec::new(),
        indent,
        stack: Vec::new(),
        // Checked from the last growth that could stay below the threshold.
        next_check: memory::CHECK_FROM / 2,
    };
    w.run(v)?;
    Ok(String::from_utf8(w.out).expect("JSON output is built from UTF-8 pieces"))
}

/// Why writing stopped.
enum Stop {
    /// A value JSON cannot hold (the text names its path).
    Unwritable(String),
    /// The output would not fit in memory.
    Memory(Error),
}

impl From<String> for Stop {
    fn from(e: String) -> Stop {
        Stop::Unwritable(e)
    }
}

struct Writer<'a> {
    out: Vec<u8>,
    indent: Option<usize>,
    stack: Vec<Frame<'a>>,
    /// The output length at which memory is checked next.
    next_check: usize,
}

impl<'a> Writer<'a> {
    fn run(&mut self, root: &'a Value) -> std::result::Result<(), Stop> {
        self.value(root)?;
        while let Some(top) = self.stack.last_mut() {
            if self.out.len() >= self.next_check {
                // The buffer's next growth doubles it.
                let (len, cap) = (self.out.len(), self.out.capacity());
                memory::check(cap.max(len).saturating_mul(2), || {
                    format!("its output (more than {len} bytes so far)")
                })
                .map_err(Stop::Memory)?;
                self.next_check = cap.max(len + 1);
                continue;
            }
            match top {
                Frame::List { items, next } => {
                    let items: &'a [Value] = items;
                    if *next < items.len() {
                        let i = *next;
                        *next += 1;
                        self.item_sep(i == 0);
                        self.value(&items[i])?;
                    } else {
                        self.stack.pop();
                        self.close(b']', !items.is_empty());
                    }
                }
                Frame::Range { r, next } => {
                    if *next < r.len() {
                        let (i, x) = (*next, r.get(*next));
                        *next += 1;
                        self.item_sep(i == 0);
                        self.scalar(&x);
                    } else {
                        let nonempty = !r.is_empty();
                        self.stack.pop();
                        self.close(b']', nonempty);
                    }
                }
                Frame::Map {
                    entries,
                    key,
                    first,
                } => match entries.next() {
                    Some((k, v)) => {
                        *key = Some(k);
                        let was_first = std::mem::replace(first, false);
                        self.item_sep(was_first);
                        self.key(k)?;
                        self.out.push(b':');
                        if self.indent.is_some() {
                            self.out.push(b' ');
                        }
                        self.value(v)?;
                    }
                    None => {
                        let nonempty = !*first;
                        self.stack.pop();
                        self.close(b'}', nonempty);
                    }
                },
            }
        }
        Ok(())
    }

    /// Writes a scalar, or opens a container (its items follow in `run`).
    fn value(&mut self, v: &'a Value) -> std::result::Result<(), String> {
        match v {
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(i) => self.scalar(i),
            Value::Float(f) if f.is_finite() => self.scalar(f),
            Value::Float(f) => return Err(self.unwritable(&format_float(*f))),
            Value::Str(s) => self.scalar(s.as_str()),
            Value::List(items) => {
                self.out.push(b'[');
                self.stack.push(Frame::List { items, next: 0 });
            }
            Value::Range(r) => {
                self.out.push(b'[');
                self.stack.push(Frame::Range { r: **r, next: 0 });
            }
            Value::Map(m) => {
                self.out.push(b'{');
                self.stack.push(Frame::Map {
                    entries: m.iter(),
                    key: None,
                    first: true,
                });
            }
            other => return Err(self.unwritable(&args::article(other.type_name()))),
        }
        Ok(())
    }

    /// A map key, as a string.
    fn key(&mut self, k: &Key) -> std::result::Result<(), String> {
        match &k.0 {
            Value::Str(s) => self.scalar(s.as_str()),
            Value::Nil => self.out.extend_from_slice(b"\"null\""),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }),
            Value::Int(i) => self.scalar(&i.to_string()),
            Value::Float(f) if f.is_finite() => self.scalar(&format_float(*f)),
            Value::Float(f) => {
                return Err(self.unwritable(&format!("the key {}", format_float(*f))))
            }
            other => return Err(self.unwritable(&args::article(other.type_name()))),
        }
        Ok(())
    }

    #[inline]
    fn scalar<T: serde::Serialize + ?Sized>(&mut self, x: &T) {
        serde_json::to_writer(&mut self.out, x).expect("writing JSON to a Vec cannot fail");
    }

    /// What comes before an item of a list or an entry of a map.
    #[inline]
    fn item_sep(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        self.newline(self.stack.len());
    }

    /// Closes a container; `nonempty` puts the bracket on its own line.
    fn close(&mut self, bracket: u8, nonempty: bool) {
        if nonempty {
            self.newline(self.stack.len());
        }
        self.out.push(bracket);
    }

    fn newline(&mut self, depth: usize) {
        if let Some(n) = self.indent {
            self.out.push(b'\n');
            let width = n * depth;
            self.out.resize(self.out.len() + width, b' ');
        }
    }

    /// The error for a value that JSON cannot hold, naming its path.
    #[cold]
    fn unwritable(&self, what: &str) -> String {
        let mut path = String::from("$");
        for frame in &self.stack {
            match frame {
                Frame::List { next, .. } => path.push_str(&format!("[{}]", next - 1)),
                Frame::Range { next, .. } => path.push_str(&format!("[{}]", next - 1)),
                Frame::Map { key: Some(k), .. } => match &k.0 {
                    Value::Str(s) if is_identifier(s) => {
                        path.push('.');
                        path.push_str(s);
                    }
                    other => path.push_str(&format!("[{}]", other.repr())),
                },
                Frame::Map { key: None, .. } => {}
            }
        }
        format!("cannot write {what} as JSON (at {path})")
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
#[path = "test/json.rs"]
mod test;
