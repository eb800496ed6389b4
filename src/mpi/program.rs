//! The compiled program as every rank sees it: stable function ids, the
//! module variables each function may read, the registry of native
//! functions, and the fingerprint ranks compare at start-up.
//!
//! Every rank compiles the same script, so every rank builds the same
//! table: modules in the order a depth-first walk from the script's
//! top-level code meets them (the script is module 0; an `import` adds the
//! imported file the first time the walk meets it), and in each module its
//! functions in the same walk order (the module's top-level code is index
//! 0, then each function's nested functions right after it). A function
//! crosses ranks as its [`FnId`] — module number and index — plus its
//! captured values; the receiver looks the id up in its own table.
//!
//! The fingerprint hashes (FNV-1a, 64 bits) what the compiler produced for
//! every function: names, parameter and register counts, the instructions,
//! the source positions, the constants, the capture lists and the module
//! variables' names. File paths are left out on purpose: the same script
//! checked out in different directories on different machines is still
//! the same program. Ranks whose fingerprints differ would run different
//! code under the same ids, so a mismatch stops the job before anything
//! runs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::bytecode::{Instr, ModuleEnv, PathRoot, Proto};
use crate::value::{Module, NativeFn, Value};

/// A function's stable id: which module, which function in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FnId {
    /// The module's number in [`Program`]'s table.
    pub module: u32,
    /// The function's number in its module.
    pub index: u32,
}

/// One compiled file of the program.
#[derive(Debug)]
pub struct ModuleEntry {
    /// Where it came from, for messages (`<main>` for the script).
    pub name: String,
    /// Its module variables.
    pub env: Arc<ModuleEnv>,
    /// Its functions in walk order (index 0: its top-level code).
    pub protos: Vec<&'static Proto>,
}

/// The table of a compiled program (see the module docs).
#[derive(Debug)]
pub struct Program {
    modules: Vec<ModuleEntry>,
    ids: HashMap<usize, FnId>,
    /// Slots each function may read (computed on first use).
    reads: Mutex<HashMap<usize, Arc<[u16]>>>,
    fingerprint: u64,
}

fn addr<T: ?Sized>(p: &T) -> usize {
    p as *const T as *const u8 as usize
}

impl Program {
    /// The table of the program whose top-level code is `main`.
    pub fn new(main: &'static Proto) -> Program {
        let mut modules: Vec<ModuleEntry> = Vec::new();
        let mut ids = HashMap::new();
        let mut module_of_main: HashMap<usize, u32> = HashMap::new();
        let mut queue = vec![main];
        module_of_main.insert(addr(main), 0);
        let mut next = 0;
        while next < queue.len() {
            let root = queue[next];
            let m = next as u32;
            next += 1;
            let name = if m == 0 {
                "<main>".to_string()
            } else {
                root.file.to_string()
            };
            let mut protos = Vec::new();
            let mut stack = vec![root];
            while let Some(p) = stack.pop() {
                if ids.contains_key(&addr(p)) {
                    continue;
                }
                ids.insert(
                    addr(p),
                    FnId {
                        module: m,
                        index: protos.len() as u32,
                    },
                );
                protos.push(p);
                for unit in p.imports.iter() {
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        module_of_main.entry(addr(unit.main))
                    {
                        e.insert(queue.len() as u32);
                        queue.push(unit.main);
                    }
                }
                // Reversed so that children are numbered in source order.
                for child in p.protos.iter().rev() {
                    stack.push(child);
                }
            }
            modules.push(ModuleEntry {
                name,
                env: root.env.clone(),
                protos,
            });
        }
        let fingerprint = fingerprint(&modules);
        Program {
            modules,
            ids,
            reads: Mutex::new(HashMap::new()),
            fingerprint,
        }
    }

    /// A program with no functions (to read start-up messages before, or
    /// without, a compiled script).
    pub fn empty() -> Program {
        Program {
            modules: Vec::new(),
            ids: HashMap::new(),
            reads: Mutex::new(HashMap::new()),
            fingerprint: 0,
        }
    }

    /// The fingerprint ranks compare at start-up.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The modules, in table order.
    pub fn modules(&self) -> &[ModuleEntry] {
        &self.modules
    }

    /// The id of `proto`, if it belongs to this program.
    pub fn id_of(&self, proto: &Proto) -> Option<FnId> {
        self.ids.get(&addr(proto)).copied()
    }

    /// The function with id `id`, if there is one.
    pub fn proto(&self, id: FnId) -> Option<&'static Proto> {
        self.modules
            .get(id.module as usize)?
            .protos
            .get(id.index as usize)
            .copied()
    }

    /// The module variable slots of `proto`'s module that running `proto`
    /// may read: its own reads, those of the functions it creates, and
    /// those of its hoisting group (which it can reach by name).
    pub fn reads(&self, proto: &'static Proto) -> Arc<[u16]> {
        if let Some(r) = self.reads.lock().get(&addr(proto)) {
            return r.clone();
        }
        let mut seen: HashMap<usize, ()> = HashMap::new();
        let mut slots: Vec<u16> = Vec::new();
        let mut stack = vec![proto];
        while let Some(p) = stack.pop() {
            if seen.insert(addr(p), ()).is_some() {
                continue;
            }
            direct_reads(p, &mut slots);
            stack.extend(p.protos.iter().copied());
            if let Some(group) = p.siblings.get() {
                stack.extend(group.iter().copied());
            }
        }
        slots.sort_unstable();
        slots.dedup();
        let r: Arc<[u16]> = slots.into();
        self.reads.lock().insert(addr(proto), r.clone());
        r
    }
}

/// The slots `p`'s own instructions read.
///
/// MAINTENANCE: an instruction that reads a module variable slot must be
/// listed here, or a function using it would find the variable unset on
/// the other ranks (a `NameError` there).
fn direct_reads(p: &Proto, out: &mut Vec<u16>) {
    for ins in p.code.iter() {
        match *ins {
            Instr::GetGlobal { slot, .. }
            | Instr::CallGlobal { slot, .. }
            | Instr::CallGlobalSubI { slot, .. } => out.push(slot),
            Instr::SetPath { desc, .. } | Instr::CallMethodPath { desc, .. } => {
                if let Some(PathRoot::Global(slot)) = p.paths.get(desc as usize).map(|d| d.root) {
                    out.push(slot);
                }
            }
            _ => {}
        }
    }
}

/// 64-bit FNV-1a.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Fnv {
    /// The FNV offset basis.
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Mixes in `bytes`.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Mixes in a length-prefixed string (so `"ab","c"` differs from
    /// `"a","bc"`).
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    /// Mixes in a number.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

fn fingerprint(modules: &[ModuleEntry]) -> u64 {
    let mut h = Fnv::new();
    h.str("weft --mpi program");
    h.u64(u64::from(super::message::PROTOCOL_VERSION));
    h.str(env!("CARGO_PKG_VERSION"));
    h.u64(modules.len() as u64);
    let mut text = String::new();
    for m in modules {
        h.u64(m.protos.len() as u64);
        h.u64(m.env.names.len() as u64);
        for name in m.env.names.iter() {
            h.str(name);
        }
        for p in &m.protos {
            h.str(p.name.as_deref().unwrap_or(""));
            h.u64(u64::from(p.nparams));
            h.u64(p.nregs as u64);
            h.u64(u64::from(p.is_main));
            text.clear();
            let _ = write!(
                text,
                "{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{}",
                p.code,
                p.captures,
                p.capture_names,
                p.paths,
                p.methods.iter().map(|s| &s.name).collect::<Vec<_>>(),
                p.protos.len(),
                p.imports.len(),
                p.siblings.get().map_or(0, |g| g.len()),
            );
            h.str(&text);
            for pos in p.pos.iter() {
                h.u64(u64::from(pos.line) << 32 | u64::from(pos.col));
            }
            for k in p.consts.iter() {
                const_hash(&mut h, k);
            }
        }
    }
    h.finish()
}

/// Constants are scalars, strings, natives and built-in modules.
fn const_hash(h: &mut Fnv, v: &Value) {
    match v {
        Value::Nil => h.str("nil"),
        Value::Bool(b) => h.str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            h.str("int");
            h.u64(*i as u64);
        }
        Value::Float(f) => {
            h.str("float");
            h.u64(f.to_bits());
        }
        Value::Str(s) => {
            h.str("str");
            h.str(s);
        }
        Value::Native(n) => {
            h.str("native");
            h.str(n.name);
        }
        Value::Module(m) => {
            h.str("module");
            h.str(&m.name);
        }
        other => {
            h.str("other");
            h.str(other.type_name());
            h.str(&other.repr());
        }
    }
}

/// Every native function and built-in module a script can name, by a
/// stable key (`len`, `math.sqrt`), so they cross ranks by name.
#[derive(Debug)]
pub struct Natives {
    fn_keys: HashMap<usize, String>,
    fns: HashMap<String, &'static NativeFn>,
    module_keys: HashMap<usize, String>,
    modules: HashMap<String, Value>,
}

impl Natives {
    /// The process's registry (built on first use from the stdlib tables).
    pub fn get() -> &'static Natives {
        static NATIVES: OnceLock<Natives> = OnceLock::new();
        NATIVES.get_or_init(Natives::build)
    }

    fn build() -> Natives {
        let mut n = Natives {
            fn_keys: HashMap::new(),
            fns: HashMap::new(),
            module_keys: HashMap::new(),
            modules: HashMap::new(),
        };
        for name in crate::stdlib::global_names() {
            match crate::stdlib::lookup_global(name) {
                Some(Value::Native(f)) => n.add_fn(name.to_string(), f),
                Some(Value::Module(m)) => {
                    n.module_keys
                        .entry(addr(&*m))
                        .or_insert_with(|| name.to_string());
                    for (k, v) in m.fields.iter() {
                        if let (Value::Str(field), Value::Native(f)) = (&k.0, v) {
                            n.add_fn(format!("{name}.{}", field.as_str()), f);
                        }
                    }
                    n.modules.insert(name.to_string(), Value::Module(m.clone()));
                }
                _ => {}
            }
        }
        n
    }

    fn add_fn(&mut self, key: String, f: &'static NativeFn) {
        self.fn_keys.entry(addr(f)).or_insert_with(|| key.clone());
        self.fns.entry(key).or_insert(f);
    }

    /// The key of native `f`, if it is registered.
    pub fn key_of(&self, f: &NativeFn) -> Option<&str> {
        self.fn_keys.get(&addr(f)).map(String::as_str)
    }

    /// The native registered under `key`.
    pub fn by_key(&self, key: &str) -> Option<&'static NativeFn> {
        self.fns.get(key).copied()
    }

    /// The name of built-in module `m`, if it is one.
    pub fn module_key(&self, m: &Module) -> Option<&str> {
        self.module_keys.get(&addr(m)).map(String::as_str)
    }

    /// The built-in module called `name`.
    pub fn module(&self, name: &str) -> Option<Value> {
        self.modules.get(name).cloned()
    }

    /// The native called `name` as a value (`parallel_map`...).
    pub fn value(&self, key: &str) -> Option<Value> {
        self.by_key(key).map(Value::Native)
    }
}
