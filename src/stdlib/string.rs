//! String methods: `len() upper() lower() trim() split(sep?) lines()
//! contains(s) starts_with(s) ends_with(s) replace(a, b) find(s)
//! slice(a, b?) chars() bytes_len()`. Positions and lengths count
//! characters (Unicode scalar values), except `bytes_len`.

use super::args::{self, arity};
use super::{no_method, Method};
use crate::error::{Error, Result};
use crate::ops::str_len;
use crate::value::{Str, Value};

/// Calls string method `m` on `s`.
pub(crate) fn call(s: &Str, m: Method, args: &[Value]) -> Result<Value> {
    let text = s.as_str();
    Ok(match m {
        Method::Len => {
            arity("string.len", args, 0, 0)?;
            Value::Int(s.char_count() as i64)
        }
        Method::BytesLen => {
            arity("string.bytes_len", args, 0, 0)?;
            Value::Int(text.len() as i64)
        }
        Method::Upper => {
            arity("string.upper", args, 0, 0)?;
            Value::str(text.to_uppercase())
        }
        Method::Lower => {
            arity("string.lower", args, 0, 0)?;
            Value::str(text.to_lowercase())
        }
        Method::Trim => {
            arity("string.trim", args, 0, 0)?;
            let t = text.trim();
            if t.len() == text.len() {
                Value::Str(s.clone())
            } else {
                Value::str(t)
            }
        }
        Method::Split => {
            arity("string.split", args, 0, 1)?;
            match args.first() {
                None | Some(Value::Nil) => strings(text.split_whitespace()),
                Some(sep) => {
                    let sep = args::string("string.split", "separator", sep)?;
                    if sep.is_empty() {
                        return Err(Error::value_error("string.split() separator is empty"));
                    }
                    strings(text.split(sep))
                }
            }
        }
        Method::Lines => {
            arity("string.lines", args, 0, 0)?;
            strings(text.lines())
        }
        Method::Chars => {
            arity("string.chars", args, 0, 0)?;
            Value::list(
                text.chars()
                    .map(|c| Value::Str(Str::from_char(c)))
                    .collect(),
            )
        }
        Method::Contains => {
            arity("string.contains", args, 1, 1)?;
            Value::Bool(text.contains(args::string("string.contains", "argument", &args[0])?))
        }
        Method::StartsWith => {
            arity("string.starts_with", args, 1, 1)?;
            let p = args::string("string.starts_with", "argument", &args[0])?;
            Value::Bool(text.starts_with(p))
        }
        Method::EndsWith => {
            arity("string.ends_with", args, 1, 1)?;
            let p = args::string("string.ends_with", "argument", &args[0])?;
            Value::Bool(text.ends_with(p))
        }
        Method::Replace => {
            arity("string.replace", args, 2, 2)?;
            let from = args::string("string.replace", "pattern", &args[0])?;
            let to = args::string("string.replace", "replacement", &args[1])?;
            if !from.is_empty() && !text.contains(from) {
                Value::Str(s.clone())
            } else {
                Value::str(text.replace(from, to))
            }
        }
        Method::Find => {
            arity("string.find", args, 1, 1)?;
            let needle = args::string("string.find", "argument", &args[0])?;
            match text.find(needle) {
                Some(b) if s.is_ascii() => Value::Int(b as i64),
                Some(b) => Value::Int(str_len(&text[..b]) as i64),
                None => Value::Int(-1),
            }
        }
        Method::Slice => {
            arity("string.slice", args, 1, 2)?;
            let n = s.char_count();
            let (a, b) = args::slice_bounds("string.slice", n, &args[0], args.get(1))?;
            if a == 0 && b == n {
                Value::Str(s.clone())
            } else if n == text.len() {
                Value::str(&text[a..b]) // ASCII: characters are bytes
            } else {
                let start = s.byte_offset(a);
                let end = s.byte_offset(b);
                Value::str(&text[start..end])
            }
        }
        other => return Err(no_method(&Value::Str(s.clone()), other.name())),
    })
}

fn strings<'a>(parts: impl Iterator<Item = &'a str>) -> Value {
    Value::list(parts.map(Value::str).collect())
}
