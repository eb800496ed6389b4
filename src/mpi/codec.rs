//! Values on the wire: an explicit walk over [`Value`]s (no recursion, so
//! no nesting depth can overflow the Rust stack), writing one tag byte and
//! the payload per value, children after their container (pre-order).
//!
//! | tag | value | payload |
//! |---|---|---|
//! | 0, 1, 2 | nil, false, true | — |
//! | 3 | int | zigzag varint |
//! | 4 | float | 8 bytes, the exact bits |
//! | 5 | string | length, UTF-8 bytes |
//! | 6 | list | count, then the items |
//! | 7 | map | count, then key, value, key, value... in insertion order |
//! | 8 | range | start, stop, step (zigzag) |
//! | 9 | function | module, index ([`FnId`]), capture count, the captures |
//! | 10 | native function | its registry key (`len`, `math.sqrt`) |
//! | 11 | built-in module | its name (`math`) |
//! | 12 | script module | name, field count, then name, value... |
//! | 13 | error | kind name, message, trace count, trace lines, then `value` |
//! | 14 | back-reference | the number of an earlier container |
//!
//! Sharing is kept: every list, map, function, script module, error and
//! string of [`MEMO_MIN_STR`] bytes or more gets a number in the order it
//! is written; meeting the same one again (the same allocation) writes a
//! back-reference instead. So `[t, t, t]` with a large `t` costs one `t`,
//! and a value that doubles by sharing (`a = [a, a]`, 60 times) stays
//! small. Values are acyclic (they are built bottom-up and copied on
//! write), so a back-reference always names a finished value.
//!
//! Handles (task, channel, atom) cannot cross: the encoder stops at the
//! first one with a [`Refusal`]; [`find_refusal`] then walks again, slowly,
//! to say where it was (`captured 'cache'[2] is an atom`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::program::{FnId, Natives, Program};
use super::wire::{Reader, WireError, WireResult, Writer};
use crate::bytecode::Proto;
use crate::error::{ErrorKind, ErrorValue};
use crate::function::Closure;
use crate::value::{Key, Map, Module, RangeVal, Value};

const NIL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const LIST: u8 = 6;
const MAP: u8 = 7;
const RANGE: u8 = 8;
const FUNC: u8 = 9;
const NATIVE: u8 = 10;
const BUILTIN_MODULE: u8 = 11;
const MODULE: u8 = 12;
const ERROR: u8 = 13;
const BACKREF: u8 = 14;

/// Strings at least this long are shared by back-reference (shorter ones
/// cost less to write again than to look up).
pub const MEMO_MIN_STR: usize = 32;

/// What cannot cross ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A task, channel or atom (its type name).
    Handle(&'static str),
    /// A native function the registry does not know.
    Native(String),
    /// A function that is not part of the compiled program.
    Foreign(String),
}

impl Refusal {
    /// `is an atom`, as the end of a sentence naming where it was.
    pub fn describe(&self) -> String {
        match self {
            Refusal::Handle(t) => format!("is {}", article(t)),
            Refusal::Native(n) => {
                format!("is the native function <fn {n}>, unknown to other ranks")
            }
            Refusal::Foreign(n) => {
                format!("is the function <fn {n}>, which is not part of the script's compiled code")
            }
        }
    }
}

fn article(t: &str) -> String {
    match t.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {t}"),
        _ => format!("a {t}"),
    }
}

fn addr<T: ?Sized>(p: &T) -> usize {
    p as *const T as *const u8 as usize
}

/// Writes values into one message, sharing repeated containers.
#[derive(Debug)]
pub struct Encoder<'p> {
    prog: &'p Program,
    natives: &'static Natives,
    /// The message so far.
    pub w: Writer,
    memo: HashMap<(u8, usize), u32>,
    next_id: u32,
    /// Every value written is kept alive until the message is done, so an
    /// address in `memo` can never be reused by another allocation.
    keep: Vec<Value>,
    seen_protos: HashSet<usize>,
    found: Vec<&'static Proto>,
}

impl<'p> Encoder<'p> {
    /// An empty message for `prog`.
    pub fn new(prog: &'p Program) -> Encoder<'p> {
        Encoder {
            prog,
            natives: Natives::get(),
            w: Writer::new(),
            memo: HashMap::new(),
            next_id: 0,
            keep: Vec::new(),
            seen_protos: HashSet::new(),
            found: Vec::new(),
        }
    }

    /// The functions met since the last call (each once per message).
    pub fn take_found(&mut self) -> Vec<&'static Proto> {
        std::mem::take(&mut self.found)
    }

    /// The message's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Whether `(tag, address)` was written before; if so writes the
    /// back-reference, else numbers it.
    #[inline]
    fn shared(&mut self, tag: u8, at: usize) -> bool {
        match self.memo.get(&(tag, at)) {
            Some(&id) => {
                self.w.u8(BACKREF);
                self.w.varint(u64::from(id));
                true
            }
            None => {
                self.memo.insert((tag, at), self.next_id);
                self.next_id += 1;
                false
            }
        }
    }

    /// Appends `root`. On a refusal the message is left incomplete (the
    /// caller drops it).
    pub fn value(&mut self, root: &Value) -> Result<(), Refusal> {
        self.keep.push(root.clone());
        let mut stack: Vec<&Value> = vec![root];
        while let Some(v) = stack.pop() {
            match v {
                Value::Nil => self.w.u8(NIL),
                Value::Bool(false) => self.w.u8(FALSE),
                Value::Bool(true) => self.w.u8(TRUE),
                Value::Int(i) => {
                    self.w.u8(INT);
                    self.w.zigzag(*i);
                }
                Value::Float(x) => {
                    self.w.u8(FLOAT);
                    self.w.f64(*x);
                }
                Value::Str(s) => {
                    let s: &str = s;
                    if s.len() >= MEMO_MIN_STR && self.shared(STR, s.as_ptr() as usize) {
                        continue;
                    }
                    self.w.u8(STR);
                    self.w.str(s);
                }
                Value::List(xs) => {
                    let xs: &[Value] = xs;
                    if self.shared(LIST, xs.as_ptr() as usize) {
                        continue;
                    }
                    self.w.u8(LIST);
                    self.w.len_of(xs.len());
                    stack.extend(xs.iter().rev());
                }
                Value::Map(m) => {
                    let m: &Map = m;
                    if self.shared(MAP, addr(m)) {
                        continue;
                    }
                    self.w.u8(MAP);
                    self.w.len_of(m.len());
                    let entries: Vec<(&Key, &Value)> = m.iter().collect();
                    for (k, v) in entries.into_iter().rev() {
                        stack.push(v);
                        stack.push(&k.0);
                    }
                }
                Value::Range(r) => {
                    self.w.u8(RANGE);
                    self.w.zigzag(r.start);
                    self.w.zigzag(r.stop);
                    self.w.zigzag(r.step);
                }
                Value::Func(c) => {
                    let c: &Closure = c;
                    let Some(id) = self.prog.id_of(c.proto) else {
                        return Err(Refusal::Foreign(c.proto.display_name().to_string()));
                    };
                    if self.shared(FUNC, addr(c)) {
                        continue;
                    }
                    if self.seen_protos.insert(addr(c.proto)) {
                        self.found.push(c.proto);
                    }
                    self.w.u8(FUNC);
                    self.w.varint(u64::from(id.module));
                    self.w.varint(u64::from(id.index));
                    self.w.len_of(c.captures.len());
                    stack.extend(c.captures.iter().rev());
                }
                Value::Native(f) => match self.natives.key_of(f) {
                    Some(key) => {
                        self.w.u8(NATIVE);
                        self.w.str(key);
                    }
                    None => return Err(Refusal::Native(f.name.to_string())),
                },
                Value::Module(m) => {
                    let m: &Module = m;
                    if let Some(key) = self.natives.module_key(m) {
                        self.w.u8(BUILTIN_MODULE);
                        self.w.str(key);
                        continue;
                    }
                    if self.shared(MODULE, addr(m)) {
                        continue;
                    }
                    self.w.u8(MODULE);
                    self.w.str(&m.name);
                    self.w.len_of(m.fields.len());
                    let entries: Vec<(&Key, &Value)> = m.fields.iter().collect();
                    for (k, v) in entries.into_iter().rev() {
                        stack.push(v);
                        stack.push(&k.0);
                    }
                }
                Value::Error(e) => {
                    let e: &ErrorValue = e;
                    if self.shared(ERROR, addr(e)) {
                        continue;
                    }
                    self.w.u8(ERROR);
                    self.w.str(e.kind.as_str());
                    self.w.str(&e.message);
                    self.w.len_of(e.trace.len());
                    for line in &e.trace {
                        self.w.str(line);
                    }
                    stack.push(&e.value);
                }
                Value::Task(_) | Value::Channel(_) | Value::Atom(_) | Value::Scope(_) => {
                    return Err(Refusal::Handle(v.type_name()));
                }
            }
        }
        Ok(())
    }
}

/// Checks that `root` can cross ranks and collects the functions in it
/// (each once, into `protos`), writing nothing.
pub fn scan(
    prog: &Program,
    root: &Value,
    protos: &mut Vec<&'static Proto>,
    seen: &mut HashSet<usize>,
) -> Result<(), Refusal> {
    let natives = Natives::get();
    let mut stack: Vec<&Value> = vec![root];
    while let Some(v) = stack.pop() {
        match v {
            Value::Nil
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Range(_) => {}
            Value::List(xs) => {
                let xs: &[Value] = xs;
                stack.extend(xs.iter());
            }
            Value::Map(m) => stack.extend(m.values()),
            Value::Func(c) => {
                if prog.id_of(c.proto).is_none() {
                    return Err(Refusal::Foreign(c.proto.display_name().to_string()));
                }
                if seen.insert(addr(c.proto)) {
                    protos.push(c.proto);
                }
                stack.extend(c.captures.iter());
            }
            Value::Native(f) => {
                if natives.key_of(f).is_none() {
                    return Err(Refusal::Native(f.name.to_string()));
                }
            }
            Value::Module(m) => {
                if natives.module_key(m).is_none() {
                    stack.extend(m.fields.values());
                }
            }
            Value::Error(e) => stack.push(&e.value),
            Value::Task(_) | Value::Channel(_) | Value::Atom(_) | Value::Scope(_) => {
                return Err(Refusal::Handle(v.type_name()));
            }
        }
    }
    Ok(())
}

/// Where in `root` the first value that cannot cross is (depth-first, in
/// the order the encoder writes): the path appended to `label`, and what it
/// is. Slow (it builds a path string per value); only for error messages.
#[cold]
pub fn find_refusal(prog: &Program, root: &Value, label: &str) -> Option<(String, Refusal)> {
    let natives = Natives::get();
    let mut stack: Vec<(&Value, String)> = vec![(root, label.to_string())];
    while let Some((v, path)) = stack.pop() {
        match v {
            Value::List(xs) => {
                let xs: &[Value] = xs;
                for (i, x) in xs.iter().enumerate().rev() {
                    stack.push((x, format!("{path}[{i}]")));
                }
            }
            Value::Map(m) => {
                let entries: Vec<(&Key, &Value)> = m.iter().collect();
                for (k, x) in entries.into_iter().rev() {
                    stack.push((x, format!("{path}[{}]", k.0.repr())));
                }
            }
            Value::Func(c) => {
                if prog.id_of(c.proto).is_none() {
                    return Some((path, Refusal::Foreign(c.proto.display_name().to_string())));
                }
                for (i, x) in c.captures.iter().enumerate().rev() {
                    let name = c.proto.capture_names.get(i).map_or("?", |n| n);
                    stack.push((x, format!("{path} → captured '{name}'")));
                }
            }
            Value::Native(f) if natives.key_of(f).is_none() => {
                return Some((path, Refusal::Native(f.name.to_string())));
            }
            Value::Module(m) if natives.module_key(m).is_none() => {
                let entries: Vec<(&Key, &Value)> = m.fields.iter().collect();
                for (k, x) in entries.into_iter().rev() {
                    stack.push((x, format!("{path}.{}", k.0)));
                }
            }
            Value::Error(e) => stack.push((&e.value, format!("{path}.value"))),
            Value::Task(_) | Value::Channel(_) | Value::Atom(_) | Value::Scope(_) => {
                return Some((path, Refusal::Handle(v.type_name())));
            }
            _ => {}
        }
    }
    None
}

/// Every error kind, for decoding a kind by name.
const KINDS: [ErrorKind; 16] = [
    ErrorKind::TypeError,
    ErrorKind::ValueError,
    ErrorKind::IndexError,
    ErrorKind::KeyError,
    ErrorKind::ZeroDivisionError,
    ErrorKind::OverflowError,
    ErrorKind::MemoryError,
    ErrorKind::StackOverflow,
    ErrorKind::IOError,
    ErrorKind::Timeout,
    ErrorKind::Cancelled,
    ErrorKind::AssertionError,
    ErrorKind::NameError,
    ErrorKind::Deadlock,
    ErrorKind::Interrupted,
    ErrorKind::Error,
];

/// Compile-time check that [`KINDS`] lists every kind: this match has no
/// wildcard, so a new `ErrorKind` fails to compile here until it is added
/// to the match and to `KINDS`.
#[allow(dead_code)]
fn kinds_are_complete(k: ErrorKind) {
    match k {
        ErrorKind::TypeError
        | ErrorKind::ValueError
        | ErrorKind::IndexError
        | ErrorKind::KeyError
        | ErrorKind::ZeroDivisionError
        | ErrorKind::OverflowError
        | ErrorKind::MemoryError
        | ErrorKind::StackOverflow
        | ErrorKind::IOError
        | ErrorKind::Timeout
        | ErrorKind::Cancelled
        | ErrorKind::AssertionError
        | ErrorKind::NameError
        | ErrorKind::Deadlock
        | ErrorKind::Interrupted
        | ErrorKind::Error => {}
    }
}

/// The kind called `name`.
pub fn kind_named(name: &str) -> Option<ErrorKind> {
    KINDS.iter().copied().find(|k| k.as_str() == name)
}

/// A container being decoded: what it has so far and how many children
/// it still expects.
enum Partial {
    List {
        id: usize,
        items: Vec<Value>,
        left: usize,
    },
    Map {
        id: usize,
        map: Map,
        key: Option<Key>,
        left: usize,
    },
    Func {
        id: usize,
        proto: &'static Proto,
        caps: Vec<Value>,
        left: usize,
    },
    Module {
        id: usize,
        name: String,
        fields: Map,
        key: Option<Key>,
        left: usize,
    },
    Error {
        id: usize,
        kind: ErrorKind,
        message: String,
        trace: Vec<String>,
    },
}

impl Partial {
    /// Adds child `v`; the finished value and its number once complete.
    fn push(&mut self, v: Value) -> WireResult<Option<(usize, Value)>> {
        match self {
            Partial::List { id, items, left } => {
                items.push(v);
                *left -= 1;
                Ok((*left == 0).then(|| (*id, Value::list(std::mem::take(items)))))
            }
            Partial::Map { id, map, key, left }
            | Partial::Module {
                id,
                fields: map,
                key,
                left,
                ..
            } => match key.take() {
                None => {
                    let k = Key::new(v).map_err(|e| WireError(e.message().to_string()))?;
                    *key = Some(k);
                    Ok(None)
                }
                Some(k) => {
                    map.insert(k, v);
                    *left -= 1;
                    if *left > 0 {
                        return Ok(None);
                    }
                    let map = std::mem::take(map);
                    let id = *id;
                    Ok(Some(match self {
                        Partial::Module { name, .. } => (
                            id,
                            Value::Module(Arc::new(Module {
                                name: std::mem::take(name),
                                fields: map,
                            })),
                        ),
                        _ => (id, Value::map(map)),
                    }))
                }
            },
            Partial::Func {
                id,
                proto,
                caps,
                left,
            } => {
                caps.push(v);
                *left -= 1;
                Ok((*left == 0).then(|| {
                    (
                        *id,
                        Value::Func(Arc::new(Closure {
                            proto,
                            captures: std::mem::take(caps).into_boxed_slice(),
                        })),
                    )
                }))
            }
            Partial::Error {
                id,
                kind,
                message,
                trace,
            } => Ok(Some((
                *id,
                Value::Error(Arc::new(ErrorValue {
                    kind: *kind,
                    message: std::mem::take(message),
                    value: v,
                    trace: std::mem::take(trace),
                    errors: None,
                })),
            ))),
        }
    }
}

/// Reads values written by an [`Encoder`] (one message's worth).
#[derive(Debug)]
pub struct Decoder<'p, 'a> {
    prog: &'p Program,
    natives: &'static Natives,
    /// The message being read.
    pub r: Reader<'a>,
    table: Vec<Option<Value>>,
}

impl<'p, 'a> Decoder<'p, 'a> {
    /// A decoder over `bytes` for `prog`.
    pub fn new(prog: &'p Program, bytes: &'a [u8]) -> Decoder<'p, 'a> {
        Decoder {
            prog,
            natives: Natives::get(),
            r: Reader::new(bytes),
            table: Vec::new(),
        }
    }

    /// Numbers a container about to be read.
    fn number(&mut self) -> usize {
        self.table.push(None);
        self.table.len() - 1
    }

    /// Reads one value.
    pub fn value(&mut self) -> WireResult<Value> {
        let mut stack: Vec<Partial> = Vec::new();
        loop {
            let at = self.r.pos();
            let tag = self.r.u8()?;
            let mut done = match tag {
                NIL => Value::Nil,
                FALSE => Value::Bool(false),
                TRUE => Value::Bool(true),
                INT => Value::Int(self.r.zigzag()?),
                FLOAT => Value::Float(self.r.f64()?),
                STR => {
                    // Long strings were numbered by the encoder.
                    let s = self.r.str()?;
                    let v = Value::str(s);
                    if s.len() >= MEMO_MIN_STR {
                        self.table.push(Some(v.clone()));
                    }
                    v
                }
                RANGE => {
                    let (start, stop, step) =
                        (self.r.zigzag()?, self.r.zigzag()?, self.r.zigzag()?);
                    if step == 0 {
                        return Err(WireError(format!("range with step 0 at byte {at}")));
                    }
                    Value::Range(Arc::new(RangeVal { start, stop, step }))
                }
                NATIVE => {
                    let key = self.r.str()?;
                    match self.natives.by_key(key) {
                        Some(f) => Value::Native(f),
                        None => return Err(WireError(format!("unknown native function '{key}'"))),
                    }
                }
                BUILTIN_MODULE => {
                    let key = self.r.str()?;
                    match self.natives.module(key) {
                        Some(m) => m,
                        None => return Err(WireError(format!("unknown built-in module '{key}'"))),
                    }
                }
                BACKREF => {
                    let id = self.r.varint()?;
                    match usize::try_from(id).ok().and_then(|i| self.table.get(i)) {
                        Some(Some(v)) => v.clone(),
                        _ => {
                            return Err(WireError(format!("bad back-reference {id} at byte {at}")))
                        }
                    }
                }
                LIST => {
                    let id = self.number();
                    let n = self.r.count(1)?;
                    if n == 0 {
                        let v = Value::list(Vec::new());
                        self.table[id] = Some(v.clone());
                        v
                    } else {
                        stack.push(Partial::List {
                            id,
                            items: Vec::with_capacity(n),
                            left: n,
                        });
                        continue;
                    }
                }
                MAP => {
                    let id = self.number();
                    let n = self.r.count(2)?;
                    if n == 0 {
                        let v = Value::map(Map::default());
                        self.table[id] = Some(v.clone());
                        v
                    } else {
                        stack.push(Partial::Map {
                            id,
                            map: Map::with_capacity(n),
                            key: None,
                            left: n,
                        });
                        continue;
                    }
                }
                MODULE => {
                    let id = self.number();
                    let name = self.r.str()?.to_string();
                    let n = self.r.count(2)?;
                    if n == 0 {
                        let v = Value::Module(Arc::new(Module {
                            name,
                            fields: Map::default(),
                        }));
                        self.table[id] = Some(v.clone());
                        v
                    } else {
                        stack.push(Partial::Module {
                            id,
                            name,
                            fields: Map::with_capacity(n),
                            key: None,
                            left: n,
                        });
                        continue;
                    }
                }
                FUNC => {
                    let id = self.number();
                    let fid = FnId {
                        module: self.r.u32()?,
                        index: self.r.u32()?,
                    };
                    let proto = self.prog.proto(fid).ok_or_else(|| {
                        WireError(format!(
                            "unknown function {}:{} (the ranks run different programs?)",
                            fid.module, fid.index
                        ))
                    })?;
                    let n = self.r.count(1)?;
                    if n != proto.captures.len() {
                        return Err(WireError(format!(
                            "function {} has {} captures, not {n}",
                            proto.display_name(),
                            proto.captures.len()
                        )));
                    }
                    if n == 0 {
                        let v = Value::Func(Arc::new(Closure {
                            proto,
                            captures: Box::new([]),
                        }));
                        self.table[id] = Some(v.clone());
                        v
                    } else {
                        stack.push(Partial::Func {
                            id,
                            proto,
                            caps: Vec::with_capacity(n),
                            left: n,
                        });
                        continue;
                    }
                }
                ERROR => {
                    let id = self.number();
                    let kind_name = self.r.str()?;
                    let kind = kind_named(kind_name)
                        .ok_or_else(|| WireError(format!("unknown error kind '{kind_name}'")))?;
                    let message = self.r.str()?.to_string();
                    let n = self.r.count(1)?;
                    let mut trace = Vec::with_capacity(n);
                    for _ in 0..n {
                        trace.push(self.r.str()?.to_string());
                    }
                    stack.push(Partial::Error {
                        id,
                        kind,
                        message,
                        trace,
                    });
                    continue;
                }
                other => return Err(WireError(format!("unknown value tag {other} at byte {at}"))),
            };
            // Hand the finished value to its container, finishing those
            // that are now complete.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(done);
                };
                match top.push(done)? {
                    None => break,
                    Some((id, v)) => {
                        stack.pop();
                        self.table[id] = Some(v.clone());
                        done = v;
                    }
                }
            }
        }
    }
}
