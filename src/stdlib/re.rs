//! The built-in module `re` (STDLIB.md): `test match find_all replace
//! split` on the `regex` crate (RE2-like syntax, linear time, no
//! backtracking).
//!
//! # The pattern cache
//! Compiled patterns live in one process-wide map from pattern text to
//! `Arc<Regex>` behind a `parking_lot::RwLock` (readers in parallel; a
//! writer only when a new pattern is compiled), capped at
//! [`CACHE_CAPACITY`] patterns: when it is full the map is cleared and
//! refilled by the patterns in use (a script cycling through more distinct
//! patterns than that recompiles, it never grows without bound). So a
//! pattern is compiled once per process. Compiling happens outside the
//! lock; two threads compiling the same new pattern at once both succeed
//! and one result is kept.
//!
//! Each thread keeps its own copies (`Regex::clone`) of the patterns it
//! used, at most [`LOCAL_CAPACITY`], behind `Rc` (a non-atomic count), and
//! remembers the last one: a loop or a `parallel_map` item using one
//! pattern takes no lock and writes no shared cache line. A copy shares the
//! compiled program but has its own pool of scratch space, whose fast path
//! belongs to the first thread using it: workers sharing one `Regex` went
//! through the pool's slow path (a mutex per search) and bounced the
//! `Arc`'s count between cores on every call, which cost 2 workers ~18%
//! more CPU than one thread for `re.find_all` per line (BENCHMARKS.md,
//! issue 11).
//!
//! # Decisions (STDLIB.md is silent)
//! - Positions (`start`, `end`) count characters, as every string position
//!   in Weft does; `end` is exclusive (`s.slice(m.start, m.end) == m.text`).
//! - `find_all` of a pattern with capture groups gives, for each match, the
//!   list of its groups (even for one group), `nil` for a group that did not
//!   take part; without groups, the matched texts.
//! - `replace` with a string uses the crate's syntax: `$1`, `${1}`,
//!   `${name}`, `$$` for a dollar (`$1a` means the group named `1a`: write
//!   `${1}a`). With a function, it is called with each match map and must
//!   return a string (`TypeError` otherwise).
//! - `split` does not include capture groups in the pieces (Python does);
//!   empty pieces are kept (`re.split(",", "a,,b")` is `["a", "", "b"]`).
//! - An invalid pattern is a `ValueError` naming the character offset in
//!   the pattern: `re: invalid pattern "(a" at offset 0: unclosed group`.

use super::args::{self, arity};
use super::data;
use crate::error::{Error, Result};
use crate::value::{Key, Map, NativeFn, Value};
use crate::vm::Vm;
use parking_lot::RwLock;
use regex::{Captures, Regex};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "test",
        f: test_fn,
    },
    NativeFn {
        name: "match",
        f: match_fn,
    },
    NativeFn {
        name: "find_all",
        f: find_all,
    },
    NativeFn {
        name: "replace",
        f: replace,
    },
    NativeFn {
        name: "split",
        f: split,
    },
];

/// The module value `re`.
pub(crate) fn make_module() -> Value {
    data::module("re", FUNCTIONS)
}

// ---------------------------------------------------------------------------
// The cache

/// At most this many compiled patterns are kept.
pub const CACHE_CAPACITY: usize = 512;

/// At most this many patterns are kept by each thread (copies of the
/// shared ones: cheap to make again).
pub const LOCAL_CAPACITY: usize = 64;

fn cache() -> &'static RwLock<FxHashMap<Arc<str>, Arc<Regex>>> {
    static CACHE: OnceLock<RwLock<FxHashMap<Arc<str>, Arc<Regex>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A thread's own copies of the patterns it used.
#[derive(Default)]
struct Local {
    /// The last pattern this thread used.
    last: Option<(Arc<str>, Rc<Regex>)>,
    copies: FxHashMap<Arc<str>, Rc<Regex>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// This thread's copy of the compiled `pattern` (compiled now if no
/// thread has compiled it yet).
pub fn compiled(pattern: &str) -> std::result::Result<Rc<Regex>, String> {
    let hit = LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if let Some((p, re)) = &local.last {
            if **p == *pattern {
                return Some(Rc::clone(re));
            }
        }
        let (p, re) = local.copies.get_key_value(pattern)?;
        let found = (p.clone(), Rc::clone(re));
        local.last = Some(found.clone());
        Some(found.1)
    });
    if let Some(re) = hit {
        return Ok(re);
    }
    let (key, shared) = shared(pattern)?;
    // A copy with this thread's own scratch pool.
    let re = Rc::new(Regex::clone(&shared));
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.copies.len() >= LOCAL_CAPACITY {
            local.copies.clear();
        }
        local.copies.insert(key.clone(), Rc::clone(&re));
        local.last = Some((key, Rc::clone(&re)));
    });
    Ok(re)
}

/// The process-wide compiled `pattern`, from the cache or compiled now,
/// with its key in the cache.
pub fn shared(pattern: &str) -> std::result::Result<(Arc<str>, Arc<Regex>), String> {
    let found = cache()
        .read()
        .get_key_value(pattern)
        .map(|(k, v)| (k.clone(), v.clone()));
    match found {
        Some(entry) => Ok(entry),
        None => {
            let re = Arc::new(compile(pattern)?);
            let key: Arc<str> = pattern.into();
            let mut map = cache().write();
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
            let re = map.entry(key.clone()).or_insert(re).clone();
            Ok((key, re))
        }
    }
}

/// How many patterns the cache holds (for tests).
#[cfg(test)]
pub fn cached_patterns() -> usize {
    cache().read().len()
}

/// How many patterns this thread keeps copies of (for tests).
#[cfg(test)]
pub fn local_patterns() -> usize {
    LOCAL.with(|local| local.borrow().copies.len())
}

/// Compiles `pattern`; the error names the character offset of the problem.
fn compile(pattern: &str) -> std::result::Result<Regex, String> {
    Regex::new(pattern).map_err(|e| describe_error(pattern, &e))
}

#[cold]
fn describe_error(pattern: &str, e: &regex::Error) -> String {
    let at = |byte: usize, what: &dyn std::fmt::Display| {
        let byte = byte.min(pattern.len());
        let offset = pattern
            .char_indices()
            .take_while(|(i, _)| *i < byte)
            .count();
        format!(
            "invalid pattern {} at offset {offset}: {what}",
            Value::str(pattern).repr()
        )
    };
    match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Err(err) => at(err.span().start.offset, err.kind()),
        Ok(ast) => match regex_syntax::hir::translate::Translator::new().translate(pattern, &ast) {
            Err(err) => at(err.span().start.offset, err.kind()),
            Ok(_) => match e {
                regex::Error::CompiledTooBig(limit) => format!(
                    "pattern {} is too large (compiled size over {limit} bytes)",
                    Value::str(pattern).repr()
                ),
                other => format!(
                    "invalid pattern {}: {}",
                    Value::str(pattern).repr(),
                    other.to_string().lines().last().unwrap_or("")
                ),
            },
        },
    }
}

/// The compiled pattern argument of `func`.
fn pattern_arg(func: &str, v: &Value) -> Result<Rc<Regex>> {
    let p = args::string(func, "pattern", v)?;
    compiled(p).map_err(|e| Error::value_error(format!("{func}(): {e}")))
}

// ---------------------------------------------------------------------------
// Positions

/// Converts increasing byte offsets of one string into character offsets,
/// counting only the characters between one offset and the next.
struct CharPos<'s> {
    s: &'s str,
    byte: usize,
    chars: usize,
}

impl<'s> CharPos<'s> {
    fn new(s: &'s str) -> Self {
        CharPos {
            s,
            byte: 0,
            chars: 0,
        }
    }

    /// The character offset of byte offset `b` (`b` never decreases between
    /// calls, except to restart from 0).
    fn at(&mut self, b: usize) -> i64 {
        if b < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += count_chars(&self.s.as_bytes()[self.byte..b]);
        self.byte = b;
        self.chars as i64
    }
}

/// The number of characters in UTF-8 bytes (bytes that do not continue a
/// character).
#[inline]
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// The match map `{"text", "start", "end", "groups", "named"}`.
fn match_map(re: &Regex, caps: &Captures, pos: &mut CharPos) -> Value {
    let whole = caps.get(0).expect("group 0 always takes part in a match");
    let mut m = Map::with_capacity(5);
    let start = pos.at(whole.start());
    let end = pos.at(whole.end());
    m.insert(Key::str("text"), Value::str(whole.as_str()));
    m.insert(Key::str("start"), Value::Int(start));
    m.insert(Key::str("end"), Value::Int(end));
    m.insert(Key::str("groups"), groups(caps));
    let mut named = Map::new();
    for (i, name) in re.capture_names().enumerate() {
        if let Some(name) = name {
            named.insert(Key::str(name), group(caps, i));
        }
    }
    m.insert(Key::str("named"), Value::map(named));
    Value::map(m)
}

fn group(caps: &Captures, i: usize) -> Value {
    caps.get(i).map_or(Value::Nil, |g| Value::str(g.as_str()))
}

/// The capture groups (not the whole match) as a list.
fn groups(caps: &Captures) -> Value {
    Value::list((1..caps.len()).map(|i| group(caps, i)).collect())
}

// ---------------------------------------------------------------------------
// Script functions

/// `re.test(pattern, s)`.
fn test_fn(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("re.test", args, 2, 2)?;
    let re = pattern_arg("re.test", &args[0])?;
    let s = args::string("re.test", "string", &args[1])?;
    Ok(Value::Bool(re.is_match(s)))
}

/// `re.match(pattern, s)`.
fn match_fn(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("re.match", args, 2, 2)?;
    let re = pattern_arg("re.match", &args[0])?;
    let s = args::string("re.match", "string", &args[1])?;
    Ok(match re.captures(s) {
        Some(caps) => match_map(&re, &caps, &mut CharPos::new(s)),
        None => Value::Nil,
    })
}

/// `re.find_all(pattern, s)`.
fn find_all(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("re.find_all", args, 2, 2)?;
    let re = pattern_arg("re.find_all", &args[0])?;
    let s = args::string("re.find_all", "string", &args[1])?;
    let out: Vec<Value> = if re.captures_len() > 1 {
        re.captures_iter(s).map(|caps| groups(&caps)).collect()
    } else {
        re.find_iter(s).map(|m| Value::str(m.as_str())).collect()
    };
    Ok(Value::list(out))
}

/// `re.replace(pattern, s, repl)`.
fn replace(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("re.replace", args, 3, 3)?;
    let re = pattern_arg("re.replace", &args[0])?;
    let s = args::string("re.replace", "string", &args[1])?;
    match &args[2] {
        Value::Str(repl) => Ok(Value::str(re.replace_all(s, repl.as_str()).into_owned())),
        f @ (Value::Func(_) | Value::Native(_)) => {
            let mut out = String::with_capacity(s.len());
            let mut last = 0;
            let mut pos = CharPos::new(s);
            for caps in re.captures_iter(s) {
                let whole = caps.get(0).expect("group 0 always takes part in a match");
                out.push_str(&s[last..whole.start()]);
                let m = match_map(&re, &caps, &mut pos);
                match args::call(vm, f, &[m])? {
                    Value::Str(r) => out.push_str(&r),
                    other => {
                        return Err(Error::type_error(format!(
                            "re.replace() function must return a string, not {}",
                            args::article(other.type_name())
                        )))
                    }
                }
                last = whole.end();
            }
            out.push_str(&s[last..]);
            Ok(Value::str(out))
        }
        other => Err(args::type_error(
            "re.replace",
            "replacement",
            "a string or a function",
            other,
        )),
    }
}

/// `re.split(pattern, s)`.
fn split(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("re.split", args, 2, 2)?;
    let re = pattern_arg("re.split", &args[0])?;
    let s = args::string("re.split", "string", &args[1])?;
    Ok(Value::list(re.split(s).map(Value::str).collect()))
}

#[cfg(test)]
#[path = "test/re.rs"]
mod test;
