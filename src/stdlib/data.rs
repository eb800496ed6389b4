//! Helpers shared by the data modules (`json csv re fs os date`): building a
//! module value from a table, file errors that name the path and the OS's
//! reason, and option maps (`{header: true}`) whose unknown keys are errors.

use super::args;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{Key, Map, Module, NativeFn, Value};
use std::sync::Arc;

/// The module value `name` whose fields are the functions of `fns`.
pub(crate) fn module(name: &str, fns: &'static [NativeFn]) -> Value {
    let mut fields = Map::with_capacity(fns.len());
    for f in fns {
        fields.insert(Key::str(f.name), Value::Native(f));
    }
    Value::Module(Arc::new(Module {
        name: name.to_string(),
        fields,
    }))
}

/// `IOError: func(): cannot VERB "path": REASON`.
#[cold]
pub(crate) fn io_error(func: &str, verb: &str, path: &str, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::IOError,
        format!(
            "{func}(): cannot {verb} {}: {}",
            Value::str(path).repr(),
            super::io::os_reason(e)
        ),
    )
}

/// The options map of a call (`opts` may be absent or `nil`): every key must
/// be one of `allowed` (a `ValueError` naming the unknown one otherwise), and
/// `opts` itself a map (`TypeError`).
pub(crate) struct Options<'a> {
    func: &'static str,
    map: Option<&'a Map>,
}

impl<'a> Options<'a> {
    /// Checks `opts` against `allowed`.
    pub(crate) fn new(
        func: &'static str,
        opts: Option<&'a Value>,
        allowed: &[&str],
    ) -> Result<Options<'a>> {
        let map = match opts {
            None | Some(Value::Nil) => None,
            Some(Value::Map(m)) => Some(&**m),
            Some(other) => return Err(args::type_error(func, "options", "a map", other)),
        };
        if let Some(m) = map {
            for (k, _) in m.iter() {
                let known = matches!(&k.0, Value::Str(s) if allowed.contains(&s.as_str()));
                if !known {
                    return Err(Error::value_error(format!(
                        "{func}() has no option {} (options: {})",
                        k.0.repr(),
                        allowed.join(", ")
                    )));
                }
            }
        }
        Ok(Options { func, map })
    }

    /// The value of option `name`, if given and not `nil`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .and_then(|m| m.get(&crate::ops::StrKey(name)))
            .filter(|v| !matches!(v, Value::Nil))
    }

    /// A bool option (default `false`).
    pub(crate) fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.type_error(name, "a bool", other)),
        }
    }

    /// A string option.
    pub(crate) fn string(&self, name: &str) -> Result<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.type_error(name, "a string", other)),
        }
    }

    /// A `TypeError` saying option `name` must be `want`.
    #[cold]
    pub(crate) fn type_error(&self, name: &str, want: &str, v: &Value) -> Error {
        Error::type_error(format!(
            "{}() option '{name}' must be {want}, not {}",
            self.func,
            args::article(v.type_name())
        ))
    }
}

/// A list of strings argument (`argv`), as borrowed strings.
pub(crate) fn string_list<'a>(func: &str, what: &str, v: &'a Value) -> Result<Vec<&'a str>> {
    let Value::List(items) = v else {
        return Err(args::type_error(func, what, "a list of strings", v));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::Str(s) => Ok(s.as_str()),
            other => Err(Error::type_error(format!(
                "{func}() {what}[{i}] must be a string, not {}",
                args::article(other.type_name())
            ))),
        })
        .collect()
}

/// The 1-based character column of byte column `byte_col` (1-based) on line
/// `line` (1-based) of `text`: error positions from byte-oriented parsers,
/// counted the way scripts count string positions.
pub(crate) fn char_column(text: &str, line: usize, byte_col: usize) -> usize {
    let start = if line <= 1 {
        0
    } else {
        match text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1) {
            Some(i) => i,
            None => return byte_col,
        }
    };
    let rest = &text[start..];
    let mut end = byte_col.saturating_sub(1).min(rest.len());
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    rest[..end].chars().count() + 1
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn char_columns_count_characters() {
        assert_eq!(char_column("abc", 1, 3), 3);
        assert_eq!(char_column("é\nxéy", 2, 4), 3);
        assert_eq!(char_column("a\nb", 5, 2), 2);
        assert_eq!(char_column("ééé", 1, 7), 4);
    }

    #[test]
    fn options_reject_unknown_keys_and_types() {
        let mut m = Map::new();
        m.insert(Key::str("header"), Value::Bool(true));
        let v = Value::map(m.clone());
        let o = Options::new("csv.parse", Some(&v), &["header", "delimiter"]).unwrap();
        assert!(o.bool("header").unwrap());
        assert_eq!(o.string("delimiter").unwrap(), None);
        m.insert(Key::str("headr"), Value::Bool(true));
        let bad = Value::map(m);
        let e = Options::new("csv.parse", Some(&bad), &["header"])
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::ValueError);
        assert!(e.message().contains("\"headr\""), "{}", e.message());
        let e = Options::new("csv.parse", Some(&Value::Int(1)), &["header"])
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::TypeError);
    }
}
