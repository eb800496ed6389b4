//! String methods: `len() upper() lower() trim() split(sep?) lines()
//! contains(s) starts_with(s) ends_with(s) replace(a, b) find(s)
//! slice(a, b?) chars() bytes_len()`. Positions and lengths count
//! characters (Unicode scalar values), except `bytes_len`.

use super::args::{self, arity};
use super::{no_method, Method};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{memory, str_len};
use crate::value::{List, Str, Value};
use memchr::memmem;

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
            match s.ascii_case(true) {
                Some(u) => Value::Str(u),
                None => Value::str(text.to_uppercase()),
            }
        }
        Method::Lower => {
            arity("string.lower", args, 0, 0)?;
            match s.ascii_case(false) {
                Some(l) => Value::Str(l),
                None => Value::str(text.to_lowercase()),
            }
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
                None | Some(Value::Nil) => strings(text, text.split_whitespace())?,
                Some(sep) => {
                    let sep = args::string("string.split", "separator", sep)?;
                    if sep.is_empty() {
                        return Err(Error::value_error("string.split() separator is empty"));
                    }
                    split(text, sep)?
                }
            }
        }
        Method::Lines => {
            arity("string.lines", args, 0, 0)?;
            strings(text, text.lines())?
        }
        Method::Chars => {
            arity("string.chars", args, 0, 0)?;
            check_parts(text.len(), || s.char_count())?;
            Value::list(
                text.chars()
                    .map(|c| Value::Str(Str::from_char(c)))
                    .collect(),
            )
        }
        Method::Contains => {
            arity("string.contains", args, 1, 1)?;
            let needle = args::string("string.contains", "argument", &args[0])?;
            Value::Bool(memmem::find(text.as_bytes(), needle.as_bytes()).is_some())
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
            if from.is_empty() {
                check_replace(text, from, to)?;
                Value::str(text.replace(from, to))
            } else {
                replace(s, from, to)?
            }
        }
        Method::Find => {
            arity("string.find", args, 1, 1)?;
            let needle = args::string("string.find", "argument", &args[0])?;
            match memmem::find(text.as_bytes(), needle.as_bytes()) {
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

/// `text.split(sep)` for a non-empty `sep`: the parts between the matches
/// (found with [`Matches`]; a match of a UTF-8 needle in UTF-8 text always
/// starts and ends on character boundaries), in a list of exactly the
/// right size.
fn split(text: &str, sep: &str) -> Result<Value> {
    let hay = text.as_bytes();
    let n = Matches::new(hay, sep.as_bytes()).count() + 1;
    check_parts(n, || n)?;
    let mut parts = List::try_with_capacity(n).map_err(|_| {
        Error::new(
            ErrorKind::MemoryError,
            format!("cannot allocate a list of {n} strings"),
        )
    })?;
    let out = parts.make_mut();
    let mut at = 0;
    for m in Matches::new(hay, sep.as_bytes()) {
        out.push(Value::str(&text[at..m]));
        at = m + sep.len();
    }
    out.push(Value::str(&text[at..]));
    Ok(Value::List(parts))
}

/// The start of every non-overlapping match of a non-empty `needle` in
/// `hay`, left to right. A one-byte needle (a split on `","`, a replace of
/// `"1"`) is looked for with [`find_byte`] and counted with `memchr`'s
/// vectorised count; a longer one with `memmem`. Both give the same
/// positions: only the cost differs.
// The `memmem` searcher is large (320 bytes) and the byte scan small; the
// value lives on the stack for one `split`/`replace` call, so boxing the
// searcher would only add an allocation to every call with a long needle.
#[allow(clippy::large_enum_variant)]
enum Matches<'a> {
    /// A one-byte needle: the bytes left to search and their offset in
    /// the whole haystack.
    Byte { rest: &'a [u8], at: usize, b: u8 },
    /// A longer needle.
    Bytes(memmem::FindIter<'a, 'a>),
}

impl<'a> Matches<'a> {
    fn new(hay: &'a [u8], needle: &'a [u8]) -> Matches<'a> {
        match needle {
            [b] => Matches::Byte {
                rest: hay,
                at: 0,
                b: *b,
            },
            _ => Matches::Bytes(memmem::find_iter(hay, needle)),
        }
    }
}

impl Iterator for Matches<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            Matches::Byte { rest, at, b } => {
                let i = find_byte(rest, *b)?;
                let m = *at + i;
                *rest = &rest[i + 1..];
                *at = m + 1;
                Some(m)
            }
            Matches::Bytes(it) => it.next(),
        }
    }

    fn count(self) -> usize {
        match self {
            Matches::Byte { rest, b, .. } => memchr::memchr_iter(b, rest).count(),
            Matches::Bytes(it) => it.count(),
        }
    }
}

/// The first `b` in `hay`. The parts between separators are mostly short
/// (a number, a word), and for those a plain scan of the first bytes costs
/// less than starting a SIMD search, which takes over after 16 bytes.
#[inline]
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    const HEAD: usize = 16;
    let head = hay.len().min(HEAD);
    if let Some(i) = hay[..head].iter().position(|&c| c == b) {
        return Some(i);
    }
    memchr::memchr(b, &hay[head..]).map(|i| i + head)
}

/// `s.replace(from, to)` for a non-empty `from`: the string itself when
/// nothing matches, else one allocation of the exact result size.
fn replace(s: &Str, from: &str, to: &str) -> Result<Value> {
    let text = s.as_str();
    let hay = text.as_bytes();
    let Some(first) = Matches::new(hay, from.as_bytes()).next() else {
        return Ok(Value::Str(s.clone()));
    };
    let n = 1 + Matches::new(&hay[first + from.len()..], from.as_bytes()).count();
    let total = if to.len() >= from.len() {
        n.checked_mul(to.len() - from.len())
            .and_then(|grow| text.len().checked_add(grow))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::OverflowError,
                    "cannot allocate a string: more than the address space",
                )
            })?
    } else {
        text.len() - n * (from.len() - to.len())
    };
    let mut out = memory::str_builder(total)?;
    let mut at = 0;
    for m in Matches::new(&hay[first..], from.as_bytes()) {
        let m = first + m;
        out.push_str(&text[at..m]);
        out.push_str(to);
        at = m + from.len();
    }
    out.push_str(&text[at..]);
    Ok(Value::Str(out.finish()))
}

/// A list of the `parts` of `text` (a split: at most one part per byte,
/// plus one).
fn strings<'a>(text: &str, parts: impl Iterator<Item = &'a str> + Clone) -> Result<Value> {
    check_parts(text.len().saturating_add(1), || parts.clone().count())?;
    Ok(Value::list(parts.map(Value::str).collect()))
}

/// Bytes a list of small strings takes per item: the value, the string's
/// shared header and its smallest heap block.
const BYTES_PER_PART: usize = 64;

/// Checks that a list of `count()` small strings fits in memory; `bound`
/// is an upper bound on the count, so short inputs are not counted twice.
fn check_parts(bound: usize, count: impl FnOnce() -> usize) -> Result<()> {
    if bound.saturating_mul(BYTES_PER_PART) < memory::CHECK_FROM {
        return Ok(());
    }
    let n = count();
    memory::check(n.saturating_mul(BYTES_PER_PART), || {
        format!("a list of {n} strings")
    })
}

/// Checks that `text.replace(from, to)` fits in memory before building it
/// (a short text with a long replacement can grow a thousandfold).
fn check_replace(text: &str, from: &str, to: &str) -> Result<()> {
    if to.len() <= from.len() {
        return Ok(());
    }
    let grow = to.len() - from.len();
    // An empty pattern matches before every character and at the end.
    let bound = match text.len().checked_div(from.len()) {
        Some(n) => n,
        None => text.len() + 1,
    };
    if text.len().saturating_add(bound.saturating_mul(grow)) < memory::CHECK_FROM {
        return Ok(());
    }
    let n = if from.is_empty() {
        str_len(text) + 1
    } else {
        text.matches(from).count()
    };
    let total = text.len().saturating_add(n.saturating_mul(grow));
    memory::check(total, || format!("a string of {total} bytes"))
}

#[cfg(test)]
mod test {
    use super::*;

    /// What `Matches` must give: `str::match_indices`' starts.
    fn reference(hay: &str, needle: &str) -> Vec<usize> {
        hay.match_indices(needle).map(|(i, _)| i).collect()
    }

    fn check(hay: &str, needle: &str) {
        let got: Vec<usize> = Matches::new(hay.as_bytes(), needle.as_bytes()).collect();
        let want = reference(hay, needle);
        assert_eq!(got, want, "matches of {needle:?} in {hay:?}");
        assert_eq!(
            Matches::new(hay.as_bytes(), needle.as_bytes()).count(),
            want.len(),
            "count of {needle:?} in {hay:?}"
        );
    }

    #[test]
    fn one_byte_needles_match_as_str_does() {
        let long = "x".repeat(40);
        let cases = [
            String::new(),
            ",".into(),
            ",,".into(),
            "a,b,,c".into(),
            ",a,".into(),
            "no separator here".into(),
            format!("{long},{long},"),
            format!(",{long}"),
            format!("short,{long},s,{long}{long},"),
            "héllo,wörld,ñ".into(),
            "x".repeat(15) + "," + &"y".repeat(16) + "," + &"z".repeat(17),
        ];
        for hay in &cases {
            check(hay, ",");
        }
    }

    #[test]
    fn longer_needles_take_the_memmem_path() {
        // A multi-byte character is one char but several bytes: memmem.
        check("aéb", "é");
        check("a::b::::c", "::");
        check("ONEONEXONE", "ONE");
        check("aaaa", "aa");
        check("", "ab");
        check("ab", "abc");
    }

    #[test]
    fn split_and_replace_give_the_same_results_on_both_paths() {
        let long = "7".repeat(33);
        let text = format!("1,{long},,12,{long}1");
        let Value::List(parts) = split(&text, ",").unwrap() else {
            panic!("split gives a list")
        };
        let want: Vec<&str> = text.split(',').collect();
        let got: Vec<&str> = parts
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.as_str(),
                other => panic!("a part is {other:?}"),
            })
            .collect();
        assert_eq!(got, want);
        for (from, to) in [
            ("1", "one"),
            ("7", ""),
            (",", ";;"),
            ("12", "x"),
            ("9", "z"),
        ] {
            let Value::Str(out) = replace(&Str::new(&text), from, to).unwrap() else {
                panic!("replace gives a string")
            };
            assert_eq!(out.as_str(), text.replace(from, to), "replace {from:?}");
        }
    }
}
