//! The compiler: AST → register bytecode ([`crate::bytecode`]). Everything
//! that can be checked before running is checked here and reported as a
//! [`CompileError`]: undefined names, assignments to captured or module
//! variables inside functions, mutating methods on temporaries, bad
//! assignment targets, `break`/`continue` outside loops, `return` outside
//! functions, and import problems (missing modules, cycles).
//!
//! # Scoping
//! Scopes are lexical, per block. A `let` is visible from the statement
//! after it to the end of its block; redeclaring a name shadows it.
//! Names resolve to: locals of the current function, then variables of
//! enclosing functions (captured *by value* when the closure is created),
//! then the file's module variables, then the builtins
//! ([`stdlib::lookup_global`]).
//!
//! # Hoisting
//! Named `fn` declarations are visible in their whole block. At the top of
//! a file they are module variables, created before any statement runs. In
//! an inner block, the block's functions form a *group* that is created
//! together, just before the first statement that mentions one of them
//! (or at the end of the block): they capture the variables declared up to
//! that point. Members of a group refer to each other (and to themselves)
//! through the group rather than by capture, so mutually recursive local
//! functions work without reference cycles: a member's closure shares its
//! captured values with its siblings and re-creates a sibling's closure
//! when it names it.
//!
//! # Module variables
//! The top-level code of a file is compiled twice. The first pass finds
//! which module variables functions read and how often top-level code
//! writes each; the second places each variable: in a register of the
//! top-level frame if no function reads it (fast loops at the top level),
//! else in a write-once slot if it is written once (every `fn`, most
//! `let`s), else in a locked cell.
//!
//! # Decisions where LANGUAGE.md is silent
//! - `return` outside a function is a compile error (as in Python).
//! - Top-level code sees a module variable from its `let` on (block
//!   scoping); functions see every module variable of their file, even one
//!   declared further down: reading it before its `let` ran is a runtime
//!   `NameError`. Redeclaring a module variable with `let` reuses it.
//! - A hoisted local function sees the variables declared before its group
//!   is created (see *Hoisting*); naming a later one is an undefined name.
//! - A function must be called with between its number of parameters
//!   without a default and its number of parameters (`TypeError`
//!   otherwise), as in Python. A default value is evaluated at each call
//!   that leaves it out and sees the parameters before it (see
//!   `default_values`).
//! - `try ... finally`: the `finally` block is compiled inline on the normal
//!   path and before each `break`/`continue`/`return` that leaves the `try`,
//!   and once more for the error path (see `try_finally`), so code without
//!   `finally` pays nothing; `return`, `break` and `continue` may not leave
//!   a `finally` block (as in C#: they would drop the error in flight).
//! - `for k, v in m.items()`, and the two-name form over `enumerate(...)`
//!   or `zip(...)`, is a compile error: it would bind the position and the
//!   pair (write `for [k, v] in ...`).
//! - An undefined name is reported with the closest visible name, if one is
//!   close (`undefined name 'totl' (did you mean 'total'?)`).
//! - Mutating methods (`push`, `set`, ...) need a variable, field or index
//!   chain as receiver (`f().push(1)` and `f().set(k, v)` are compile
//!   errors). Names that concurrency handles also use (`set`, `send`,
//!   `close`, ...) are accepted on captured and module variables inside
//!   functions (an atom captured by a closure can be `set`), and throw a
//!   `TypeError` at run time if the variable holds a list, map or string.
//! - `import "p"` resolves built-in native modules (`math`) first, then
//!   `p.weft` next to the importing file, in `WEFT_PATH`, and in the
//!   embedded standard library. A module's fields are the values of its
//!   top-level `let`s and `fn`s when its body finished. If its body throws,
//!   every `import` of it throws that error. A module body that waits for a
//!   task which imports the same module deadlocks (as in Python).
//! - In the REPL, every top-level variable lives in a cell so later inputs
//!   can reassign it; names must exist when an input is compiled (a
//!   function cannot refer to a function defined in a later input).
//! - Compiled code lives until the process exits (prototypes are leaked
//!   into `&'static` references so frames and closures need no reference
//!   counting); compiling the same source repeatedly in one process grows
//!   memory accordingly.

mod dead;
mod import;

pub use import::{embedded_module, Loader};

use crate::ast::*;
use crate::bytecode::*;
use crate::diagnostic::Diagnostic;
use crate::stdlib;
use crate::value::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

/// A compile-time error with the file it happened in.
#[derive(Clone, Debug)]
pub struct CompileError {
    /// The file name as shown to the user.
    pub file: String,
    /// The file's source text (for the caret line).
    pub source: Arc<str>,
    /// What went wrong, and where.
    pub diag: Diagnostic,
}

impl CompileError {
    /// `FILE:LINE:COL: error: MESSAGE`, then the source line and a caret
    /// under the column.
    pub fn render(&self) -> String {
        self.diag.render(&self.file, &self.source)
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.diag.pos.line, self.diag.pos.col, self.diag.message
        )
    }
}

impl std::error::Error for CompileError {}

type CResult<T> = Result<T, Box<CompileError>>;

/// The module variables of a REPL session, kept between inputs.
#[derive(Default)]
pub struct ReplGlobals {
    names: Vec<String>,
    slots: Vec<Arc<Slot>>,
    index: HashMap<String, usize>,
}

impl ReplGlobals {
    /// The current value of a session variable, if it is defined and set.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.index.get(name).and_then(|&i| self.slots[i].get())
    }

    /// The names defined so far, in definition order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// What kind of chunk is compiled.
pub enum Unit<'a> {
    /// A script or module file: its top level returns the exports map.
    File,
    /// One REPL input: its top level returns the value of its last
    /// expression statement; module variables persist in `globals`.
    Repl(&'a mut ReplGlobals),
}

/// Compiles a parsed file. `file` is the name shown in messages, `dir` the
/// directory `import` paths are resolved against.
pub fn compile(
    program: &Program,
    file: &str,
    source: Arc<str>,
    dir: PathBuf,
    loader: &mut Loader,
    unit: Unit<'_>,
) -> Result<&'static Proto, Box<CompileError>> {
    match unit {
        Unit::File => {
            let info = {
                let mut pass1 =
                    Compiler::new(file, source.clone(), dir.clone(), loader, Mode::Analyze);
                pass1.program(program)?;
                pass1.info
            };
            let mut pass2 = Compiler::new(file, source, dir, loader, Mode::Final(info));
            pass2.program(program)
        }
        Unit::Repl(globals) => {
            let mut c = Compiler::new(file, source, dir, loader, Mode::Repl);
            for (i, name) in globals.names.iter().enumerate() {
                c.modvars.push(ModVar {
                    name: name.clone(),
                    slot: Some(i as u16),
                    reg: None,
                });
                c.modindex.insert(name.clone(), i);
                c.slots.push(globals.slots[i].clone());
            }
            let known = globals.names.len();
            let proto = c.program(program)?;
            for v in &c.modvars[known..] {
                let slot = v.slot.expect("REPL variables always live in slots") as usize;
                globals.index.insert(v.name.clone(), globals.names.len());
                globals.names.push(v.name.clone());
                globals.slots.push(c.slots[slot].clone());
            }
            Ok(proto)
        }
    }
}

/// Pass-1 findings about module variables.
#[derive(Default)]
struct ModInfo {
    fn_reads: HashSet<String>,
    writes: HashMap<String, u32>,
}

enum Mode {
    Analyze,
    Final(ModInfo),
    Repl,
}

struct ModVar {
    name: String,
    /// `Some` if the variable lives in a slot; `None` if in a register.
    slot: Option<u16>,
    /// For a register variable, its register once its first `let` ran.
    reg: Option<Reg>,
}

/// What makes two assignment paths the same: the slot of a global root,
/// depth, field bits, operator and method site.
type PathKeyOf = (Option<u16>, u8, u32, Option<BinOp>, Option<u16>);

/// What makes two constants the same, for reusing a constant's index.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ConstKey {
    Str(String),
    Int(i64),
    /// A float by its bits (so `0.0` and `-0.0` stay apart).
    Float(u64),
    /// A builtin function or module, by address.
    Ptr(usize),
}

impl ConstKey {
    fn of(v: &Value) -> Option<ConstKey> {
        Some(match v {
            Value::Str(s) => ConstKey::Str(s.to_string()),
            Value::Int(i) => ConstKey::Int(*i),
            Value::Float(f) => ConstKey::Float(f.to_bits()),
            Value::Native(n) => ConstKey::Ptr(*n as *const crate::value::NativeFn as usize),
            Value::Module(m) => ConstKey::Ptr(Arc::as_ptr(m) as usize),
            _ => return None,
        })
    }
}

/// The most items a list literal of constants may have to be compiled to
/// one constant list (longer literals build from registers as before).
const CONSTANT_LIST_MAX: usize = 16;

/// The value of a non-empty list literal whose items are all literal
/// scalars or strings (`[nil, nil]`, `[0, 0, 0]`, `["a", 1]`), or `None`.
fn constant_list(items: &[Expr]) -> Option<Value> {
    if items.is_empty() || items.len() > CONSTANT_LIST_MAX {
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for e in items {
        out.push(match &e.kind {
            ExprKind::Nil => Value::Nil,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(x) => Value::Float(*x),
            ExprKind::Str(s) => Value::from(s.as_str()),
            _ => return None,
        });
    }
    Some(Value::list(out))
}

/// How many module variables at most live in registers of the top-level
/// frame; further ones get slots, leaving registers for temporaries.
const MODULE_REGISTER_BUDGET: usize = 128;

/// Where a name resolves to.
#[derive(Clone, Debug)]
enum Res {
    /// A register of the current function (or a register-resident module
    /// variable, in top-level code).
    Local(Reg),
    /// A register of an enclosing function that belongs to a hoisting group.
    GroupLocal(Reg, u32, u16),
    Capture(u16),
    SelfFn,
    Sibling(u16),
    /// A module variable slot.
    Global(u16),
    Builtin(Value),
}

#[derive(Clone, Debug)]
enum LocalKind {
    Reg(Reg, Option<(u32, u16)>),
    Module(usize),
}

struct Local {
    name: String,
    kind: LocalKind,
    /// May hold a string, list, map, function or handle (so its register
    /// is cleared where it dies: see `compiler/dead.rs`).
    heap: bool,
}

struct LoopCtx {
    continue_target: usize,
    breaks: Vec<usize>,
    try_depth: u32,
    /// The number of open scopes outside the loop's body.
    scopes: usize,
}

/// A `finally` block around the code being compiled: its handler is the
/// one at depth `level` (counting from 1), and `break`, `continue` and
/// `return` leaving that handler run a copy of `block` first.
struct FinallyCtx {
    level: u32,
    block: Block,
}

type CapTable = Rc<RefCell<Vec<(String, CaptureSrc)>>>;

struct FnState {
    name: Option<String>,
    is_main: bool,
    nparams: u8,
    code: Vec<Instr>,
    pos: Vec<Pos>,
    consts: Vec<Value>,
    /// Constants already in `consts`, to reuse their index.
    const_index: HashMap<ConstKey, u32>,
    /// Method sites already in `methods` (name, readonly, temp_recv).
    site_index: HashMap<(Box<str>, bool, bool), u16>,
    /// Paths already in `paths` (global root, depth, fields, op, site).
    path_index: HashMap<PathKeyOf, u16>,
    protos: Vec<&'static Proto>,
    captures: CapTable,
    uses_callee: bool,
    methods: Vec<MethodSite>,
    paths: Vec<PathDesc>,
    imports: Vec<Arc<ModuleUnit>>,
    blocks: Vec<Vec<Local>>,
    next_reg: usize,
    max_reg: usize,
    loops: Vec<LoopCtx>,
    try_depth: u32,
    /// The `finally` blocks whose handlers are installed, innermost last.
    finallies: Vec<FinallyCtx>,
    /// While a `finally` block is compiled: how many loops were open when
    /// it started (a `break`/`continue` may not leave it, nor `return`).
    finally_barriers: Vec<usize>,
    /// Entry points of the default-value code (see [`Proto::default_entries`]).
    default_entries: Vec<u32>,
    self_name: Option<String>,
    group: Option<(u32, u16)>,
}

impl FnState {
    fn new(name: Option<String>, is_main: bool) -> FnState {
        FnState {
            name,
            is_main,
            nparams: 0,
            code: Vec::new(),
            pos: Vec::new(),
            consts: Vec::new(),
            const_index: HashMap::new(),
            site_index: HashMap::new(),
            path_index: HashMap::new(),
            protos: Vec::new(),
            captures: Rc::new(RefCell::new(Vec::new())),
            uses_callee: false,
            methods: Vec::new(),
            paths: Vec::new(),
            imports: Vec::new(),
            blocks: Vec::new(),
            next_reg: 0,
            max_reg: 0,
            loops: Vec::new(),
            try_depth: 0,
            finallies: Vec::new(),
            finally_barriers: Vec::new(),
            default_entries: Vec::new(),
            self_name: None,
            group: None,
        }
    }
}

/// Where an expression's value goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Out {
    Discard,
    To(Reg),
    /// Return it from the function.
    Tail,
}

/// How a function being compiled relates to its parent.
enum FnKind {
    /// A top-level `fn` (a module variable).
    TopLevel,
    /// A member of a hoisting group in an inner block.
    Member { gid: u32, idx: u16, caps: CapTable },
    /// A function expression (its name, if any, is visible inside it).
    Expr,
}

/// Method names that the concurrency handles (atoms, channels, tasks) also
/// use: calling one of these on a captured variable or a temporary is
/// allowed at compile time, and checked at run time for lists/maps/strings.
const HANDLE_METHODS: &[&str] = &[
    "set",
    "get",
    "update",
    "add",
    "send",
    "recv",
    "try_recv",
    "send_batch",
    "recv_batch",
    "close",
    "cancel",
];

struct Compiler<'l> {
    file: Arc<str>,
    source: Arc<str>,
    dir: PathBuf,
    loader: &'l mut Loader,
    mode: Mode,
    info: ModInfo,
    env: Option<Arc<ModuleEnv>>,
    slots: Vec<Arc<Slot>>,
    modvars: Vec<ModVar>,
    modindex: HashMap<String, usize>,
    /// Names bound by an `import` anywhere in this file (see `names_module`).
    import_names: HashSet<String>,
    fns: Vec<FnState>,
    next_gid: u32,
    pos: Pos,
}

fn leak(p: Proto) -> &'static Proto {
    Box::leak(Box::new(p))
}

/// The name an `import "path"` binds: the last path segment without `.weft`.
pub fn import_binding(path: &str) -> String {
    let last = path.rsplit(['/', '\\']).next().unwrap_or(path);
    last.strip_suffix(".weft").unwrap_or(last).to_string()
}

impl<'l> Compiler<'l> {
    fn new(
        file: &str,
        source: Arc<str>,
        dir: PathBuf,
        loader: &'l mut Loader,
        mode: Mode,
    ) -> Compiler<'l> {
        Compiler {
            file: Arc::from(file),
            source,
            dir,
            loader,
            mode,
            info: ModInfo::default(),
            env: None,
            slots: Vec::new(),
            modvars: Vec::new(),
            modindex: HashMap::new(),
            import_names: HashSet::new(),
            fns: Vec::new(),
            next_gid: 0,
            pos: Pos::default(),
        }
    }

    #[cold]
    fn err(&self, pos: Pos, msg: impl Into<String>) -> Box<CompileError> {
        Box::new(CompileError {
            file: self.file.to_string(),
            source: self.source.clone(),
            diag: Diagnostic::new(pos, msg),
        })
    }

    fn f(&mut self) -> &mut FnState {
        self.fns.last_mut().expect("a function is being compiled")
    }

    fn level(&self) -> usize {
        self.fns.len() - 1
    }

    // ----- emitting -----

    fn emit(&mut self, ins: Instr) -> usize {
        let pos = self.pos;
        let f = self.f();
        f.code.push(ins);
        f.pos.push(pos);
        f.code.len() - 1
    }

    fn here(&mut self) -> usize {
        self.f().code.len()
    }

    fn jump_off(&self, from: usize, to: usize) -> i32 {
        to as i32 - (from as i32 + 1)
    }

    /// Points the jump at `at` to `target`.
    fn patch_to(&mut self, at: usize, target: usize) {
        let off = self.jump_off(at, target);
        match &mut self.f().code[at] {
            Instr::Jump { off: o }
            | Instr::Loop { off: o }
            | Instr::JumpIfFalse { off: o, .. }
            | Instr::JumpIfTrue { off: o, .. }
            | Instr::JumpIfNot { off: o, .. }
            | Instr::JumpIfNotLtI { off: o, .. }
            | Instr::JumpIfNotLtK { off: o, .. }
            | Instr::JumpIfNotLeI { off: o, .. }
            | Instr::JumpIfNotGtI { off: o, .. }
            | Instr::JumpIfNotGeI { off: o, .. }
            | Instr::JumpIfNotEqI { off: o, .. }
            | Instr::JumpIfNotNeI { off: o, .. }
            | Instr::JumpIfNotNil { off: o, .. }
            | Instr::JumpIfNil { off: o, .. }
            | Instr::IterNext { off: o, .. }
            | Instr::IterNext2 { off: o, .. }
            | Instr::RangeNext { off: o, .. }
            | Instr::TryBegin { off: o, .. } => *o = off,
            other => unreachable!("patching a non-jump {other:?}"),
        }
    }

    fn patch_here(&mut self, at: usize) {
        let h = self.here();
        self.patch_to(at, h);
    }

    fn emit_loop_to(&mut self, target: usize) {
        let at = self.here();
        let off = self.jump_off(at, target);
        self.emit(Instr::Loop { off });
    }

    fn alloc(&mut self) -> CResult<Reg> {
        let f = self.f();
        let r = f.next_reg;
        if r >= 255 {
            let pos = self.pos;
            return Err(self.err(
                pos,
                "this function keeps more than 255 values live at once (local variables \
                 and intermediate results): split it into smaller functions, or keep \
                 the values in a list or a map",
            ));
        }
        f.next_reg += 1;
        f.max_reg = f.max_reg.max(f.next_reg);
        Ok(r as Reg)
    }

    fn mark(&mut self) -> usize {
        self.f().next_reg
    }

    fn free_to(&mut self, mark: usize) {
        self.f().next_reg = mark;
    }

    /// The index of constant `v` (an equal constant is reused). There is
    /// no practical limit: past the first 65,536, loads use `ConstWide`
    /// ([`Compiler::emit_const`]) and field names `GetFieldR`/`SetFieldR`.
    fn konst(&mut self, v: Value) -> CResult<u32> {
        let key = ConstKey::of(&v);
        if let Some(key) = &key {
            if let Some(&k) = self.f().const_index.get(key) {
                return Ok(k);
            }
        }
        // String constants are interned and immortal: threads reading the
        // same constant do not contend on its reference count, and map
        // lookups by a constant compare pointers first.
        let v = match v {
            Value::Str(s) => Value::Str(crate::value::intern(&s)),
            other => {
                other.make_immortal();
                other
            }
        };
        let f = self.f();
        let Ok(k) = u32::try_from(f.consts.len()) else {
            let pos = self.pos;
            return Err(self.err(
                pos,
                "this function has more than 4 billion different constants",
            ));
        };
        if let Some(key) = key {
            f.const_index.insert(key, k);
        }
        f.consts.push(v);
        Ok(k)
    }

    fn str_const(&mut self, s: &str) -> CResult<u32> {
        self.konst(Value::from(s))
    }

    /// `R[dst] = K[k]`, in the narrow form when `k` fits it.
    fn emit_const(&mut self, dst: Reg, k: u32) -> usize {
        match u16::try_from(k) {
            Ok(k) => self.emit(Instr::Const { dst, k }),
            Err(_) => self.emit(Instr::ConstWide { dst, k }),
        }
    }

    fn push_scope(&mut self) {
        self.f().blocks.push(Vec::new());
    }

    fn pop_scope(&mut self) {
        self.f().blocks.pop();
    }

    fn declare(&mut self, name: &str, kind: LocalKind) {
        self.f()
            .blocks
            .last_mut()
            .expect("a scope is open")
            .push(Local {
                name: name.to_string(),
                kind,
                heap: true,
            });
    }

    fn is_top_level_code(&self) -> bool {
        self.fns.len() == 1
    }

    // ----- module variables -----

    fn note_write(&mut self, name: &str) {
        if matches!(self.mode, Mode::Analyze) {
            *self.info.writes.entry(name.to_string()).or_insert(0) += 1;
        }
    }

    fn note_fn_read(&mut self, var: usize) {
        if matches!(self.mode, Mode::Analyze) {
            let name = self.modvars[var].name.clone();
            self.info.fn_reads.insert(name);
        }
    }

    /// Creates the module variables of the top-level statements.
    fn declare_modvars(&mut self, stmts: &[Stmt]) -> CResult<()> {
        // Names in first-declaration order, and whether any declaration of
        // the name is a `fn` (those always live in slots).
        let mut names: Vec<(String, bool, Pos)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut in_registers = 0;
        for s in stmts {
            let declared: Vec<(String, bool)> = match &s.kind {
                StmtKind::Let { name, .. } => vec![(name.name.clone(), false)],
                StmtKind::LetPattern { pattern, .. } => pattern
                    .names()
                    .into_iter()
                    .map(|n| (n.name.clone(), false))
                    .collect(),
                StmtKind::FnDecl(def) => match &def.name {
                    Some(n) => vec![(n.name.clone(), true)],
                    None => continue,
                },
                StmtKind::Import { path, alias } => {
                    let bind = alias
                        .as_ref()
                        .map(|a| a.name.clone())
                        .unwrap_or_else(|| import_binding(path));
                    self.import_names.insert(bind.clone());
                    vec![(bind, false)]
                }
                _ => continue,
            };
            for (name, is_fn) in declared {
                match seen.get(&name) {
                    Some(&i) => names[i].1 |= is_fn,
                    None => {
                        seen.insert(name.clone(), names.len());
                        names.push((name, is_fn, s.pos));
                    }
                }
            }
        }
        for (name, is_fn, pos) in names {
            if self.modindex.contains_key(&name) {
                continue;
            }
            let slot = match &self.mode {
                Mode::Analyze | Mode::Repl => true,
                Mode::Final(info) => {
                    is_fn || info.fn_reads.contains(&name) || in_registers >= MODULE_REGISTER_BUDGET
                }
            };
            if !slot {
                in_registers += 1;
            }
            let slot = if slot {
                let once = match &self.mode {
                    Mode::Repl => false,
                    Mode::Analyze => true,
                    Mode::Final(info) => info.writes.get(&name).copied().unwrap_or(0) <= 1,
                };
                if self.slots.len() > u16::MAX as usize {
                    return Err(self.err(
                        pos,
                        "too many top-level variables and functions in one file (at most \
                         65,536): keep data in a list or a map",
                    ));
                }
                self.slots
                    .push(if once { Slot::once() } else { Slot::cell() });
                Some((self.slots.len() - 1) as u16)
            } else {
                None
            };
            self.modindex.insert(name.clone(), self.modvars.len());
            self.modvars.push(ModVar {
                name,
                slot,
                reg: None,
            });
        }
        Ok(())
    }

    // ----- name resolution -----

    fn resolve(&mut self, name: &str) -> Option<Res> {
        let level = self.level();
        self.resolve_at(level, name)
    }

    fn resolve_at(&mut self, level: usize, name: &str) -> Option<Res> {
        let found = self.fns[level]
            .blocks
            .iter()
            .rev()
            .flat_map(|b| b.iter().rev())
            .find(|l| l.name == name)
            .map(|l| l.kind.clone());
        match found {
            Some(LocalKind::Reg(r, None)) => return Some(Res::Local(r)),
            Some(LocalKind::Reg(r, Some((gid, idx)))) => return Some(Res::GroupLocal(r, gid, idx)),
            Some(LocalKind::Module(v)) => {
                if level != self.level() {
                    self.note_fn_read(v);
                }
                return Some(match self.modvars[v].slot {
                    Some(s) => Res::Global(s),
                    // Only reachable in top-level code: pass 1 saw every
                    // function read and gave those variables slots.
                    None => unreachable!("register module variable read from a function"),
                });
            }
            None => {}
        }
        if self.fns[level].self_name.as_deref() == Some(name) {
            self.fns[level].uses_callee = true;
            return Some(Res::SelfFn);
        }
        if level == 0 {
            // Functions see every module variable, even one declared later
            // (reading it before its `let` ran is a NameError at run time).
            if self.level() > 0 {
                if let Some(&v) = self.modindex.get(name) {
                    self.note_fn_read(v);
                    if let Some(s) = self.modvars[v].slot {
                        return Some(Res::Global(s));
                    }
                }
            }
            return None;
        }
        let outer = self.resolve_at(level - 1, name)?;
        let group = self.fns[level].group;
        let src = match outer {
            Res::Global(_) | Res::Builtin(_) => return Some(outer),
            Res::GroupLocal(r, gid, idx) => match group {
                Some((g, me)) if g == gid => {
                    self.fns[level].uses_callee = true;
                    return Some(if idx == me {
                        Res::SelfFn
                    } else {
                        Res::Sibling(idx)
                    });
                }
                _ => CaptureSrc::Local(r),
            },
            Res::Local(r) => CaptureSrc::Local(r),
            Res::Capture(i) => CaptureSrc::Capture(i),
            Res::SelfFn => CaptureSrc::SelfFn,
            Res::Sibling(i) => CaptureSrc::Sibling(i),
        };
        let caps = self.fns[level].captures.clone();
        let mut caps = caps.borrow_mut();
        let idx = match caps.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                caps.push((name.to_string(), src));
                caps.len() - 1
            }
        };
        Some(Res::Capture(idx as u16))
    }

    /// Resolves a name for reading, falling back to the builtins.
    fn resolve_read(&mut self, id: &Ident) -> CResult<Res> {
        if let Some(r) = self.resolve(&id.name) {
            return Ok(r);
        }
        if let Some(v) =
            stdlib::lookup_global(&id.name).or_else(|| stdlib::builtin_module(&id.name))
        {
            return Ok(Res::Builtin(v));
        }
        Err(self.undefined(id))
    }

    /// `undefined name 'totl' (did you mean 'total'?)`: the hint is the
    /// closest name visible here (a variable of this or an enclosing
    /// function, a module variable, a builtin).
    #[cold]
    fn undefined(&self, id: &Ident) -> Box<CompileError> {
        let mut names: Vec<&str> = self
            .fns
            .iter()
            .flat_map(|f| f.blocks.iter().flatten().map(|l| l.name.as_str()))
            .collect();
        names.extend(self.modindex.keys().map(String::as_str));
        names.extend(self.fns.iter().filter_map(|f| f.self_name.as_deref()));
        let builtins = stdlib::global_names();
        names.extend(builtins.iter().copied());
        // A fixed order, so a tie is broken the same way every time.
        names.sort_unstable();
        names.dedup();
        let hint = crate::diagnostic::closest(&id.name, names)
            .map(|n| format!(" (did you mean '{n}'?)"))
            .unwrap_or_default();
        self.err(id.pos, format!("undefined name '{}'{hint}", id.name))
    }

    /// Resolves the root of an assignment or in-place mutation.
    fn resolve_write(&mut self, id: &Ident, what: &str) -> CResult<Res> {
        let res = self.resolve_read(id)?;
        let name = &id.name;
        match res {
            Res::Local(_) | Res::GroupLocal(..) => {
                if self.is_top_level_code() {
                    self.note_write(name);
                }
                Ok(res)
            }
            Res::Global(_) if self.is_top_level_code() => {
                self.note_write(name);
                Ok(res)
            }
            Res::Global(_) => Err(self.err(
                id.pos,
                format!(
                    "cannot {what} module variable '{name}' inside a function: module variables are read-only \
                     in functions (share mutable state through an atom: `let {name} = atom(...)`)"
                ),
            )),
            Res::Capture(_) | Res::SelfFn | Res::Sibling(_) => Err(self.err(
                id.pos,
                format!(
                    "cannot {what} captured variable '{name}' inside a closure: closures capture by value \
                     (share mutable state through an atom: `let {name} = atom(...)`)"
                ),
            )),
            Res::Builtin(_) => Err(self.err(id.pos, format!("cannot {what} built-in '{name}'"))),
        }
    }

    // ----- programs and functions -----

    fn program(&mut self, program: &Program) -> CResult<&'static Proto> {
        let repl = matches!(self.mode, Mode::Repl);
        self.fns.push(FnState::new(None, true));
        self.push_scope();
        let stmts = &program.body.stmts;
        self.declare_modvars(stmts)?;
        self.env = Some(Arc::new(ModuleEnv {
            slots: self.slots.clone().into_boxed_slice(),
            names: self.slots_names(),
        }));
        // REPL: every earlier session variable is visible.
        if repl {
            let known: Vec<(String, usize)> = self
                .modvars
                .iter()
                .enumerate()
                .map(|(i, v)| (v.name.clone(), i))
                .collect();
            for (name, i) in known {
                self.declare(&name, LocalKind::Module(i));
            }
        }
        // Hoist the top-level functions: declare them all, then create them.
        for s in stmts {
            if let StmtKind::FnDecl(def) = &s.kind {
                if let Some(n) = &def.name {
                    let v = self.modindex[&n.name];
                    self.declare(&n.name, LocalKind::Module(v));
                }
            }
        }
        for s in stmts {
            if let StmtKind::FnDecl(def) = &s.kind {
                let Some(n) = &def.name else { continue };
                self.pos = s.pos;
                self.note_write(&n.name);
                let proto = self.function(def, FnKind::TopLevel)?;
                let idx = self.add_proto(leak(proto))?;
                let mark = self.mark();
                let t = self.alloc()?;
                self.emit(Instr::Closure { dst: t, proto: idx });
                let slot = self.modvars[self.modindex[&n.name]]
                    .slot
                    .expect("functions live in slots");
                self.emit(Instr::SetGlobal { slot, src: t });
                self.free_to(mark);
            }
        }
        let result = if repl { Some(self.alloc()?) } else { None };
        if let Some(r) = result {
            self.emit(Instr::Nil { dst: r });
        }
        let n = stmts.len();
        for (i, s) in stmts.iter().enumerate() {
            self.pos = s.pos;
            match &s.kind {
                StmtKind::FnDecl(_) => {}
                StmtKind::Let { name, value } => {
                    self.top_let(&name.name, |c, dst| c.expr_to(value, dst))?
                }
                StmtKind::LetPattern { pattern, value } => self.top_let_pattern(pattern, value)?,
                StmtKind::Import { path, alias } => {
                    let bind = alias
                        .as_ref()
                        .map(|a| a.name.clone())
                        .unwrap_or_else(|| import_binding(path));
                    let pos = s.pos;
                    self.top_let(&bind, |c, dst| c.import_to(path, dst, pos))?;
                }
                StmtKind::Expr(e) if i + 1 == n && result.is_some() => {
                    let r = result.expect("checked");
                    self.expr_to(e, r)?;
                }
                _ => self.stmt(s)?,
            }
        }
        match result {
            Some(r) => {
                self.emit(Instr::Return { src: r });
            }
            None => self.emit_exports()?,
        }
        let f = self.fns.pop().expect("main function state");
        Ok(leak(self.build_proto(f, Vec::new())?))
    }

    fn slots_names(&self) -> Box<[Box<str>]> {
        let mut names: Vec<Box<str>> = vec!["?".into(); self.slots.len()];
        for v in &self.modvars {
            if let Some(s) = v.slot {
                names[s as usize] = v.name.as_str().into();
            }
        }
        names.into_boxed_slice()
    }

    /// `let name = ...` at the top of a file.
    fn top_let(
        &mut self,
        name: &str,
        value: impl FnOnce(&mut Self, Reg) -> CResult<()>,
    ) -> CResult<()> {
        self.note_write(name);
        let v = self.modindex[name];
        match self.modvars[v].slot {
            Some(slot) => {
                let mark = self.mark();
                let t = self.alloc()?;
                value(self, t)?;
                self.emit(Instr::SetGlobal { slot, src: t });
                self.free_to(mark);
                self.declare(name, LocalKind::Module(v));
            }
            None => match self.modvars[v].reg {
                // Redeclared: same register (the old value may be read by
                // the new one's expression, so compute it aside first).
                Some(r) => {
                    let mark = self.mark();
                    let t = self.alloc()?;
                    value(self, t)?;
                    self.emit(Instr::Move { dst: r, src: t });
                    self.free_to(mark);
                    self.declare(name, LocalKind::Reg(r, None));
                }
                None => {
                    let r = self.alloc()?;
                    value(self, r)?;
                    self.modvars[v].reg = Some(r);
                    self.declare(name, LocalKind::Reg(r, None));
                }
            },
        }
        Ok(())
    }

    /// `let [a, b, ...] = value` at the top of a file: the value is taken
    /// apart in temporaries, then each name is set like a `let`.
    fn top_let_pattern(&mut self, pattern: &ListPattern, value: &Expr) -> CResult<()> {
        // Registers of new register-resident module variables go below the
        // temporaries, so the temporaries can be freed after.
        for id in pattern.names() {
            let v = self.modindex[&id.name];
            if self.modvars[v].slot.is_none() && self.modvars[v].reg.is_none() {
                let r = self.alloc()?;
                self.emit(Instr::Nil { dst: r });
                self.modvars[v].reg = Some(r);
            }
        }
        let mark = self.mark();
        let t = self.alloc()?;
        self.expr_to(value, t)?;
        let bindings = self.destructure(pattern, t)?;
        for (id, r) in bindings {
            self.pos = id.pos;
            self.top_let(&id.name, |c, dst| {
                c.emit(Instr::Move { dst, src: r });
                Ok(())
            })?;
        }
        self.free_to(mark);
        Ok(())
    }

    /// Takes the value in `src` apart by `pattern` into fresh registers
    /// (which stay allocated); returns each bound name with its register,
    /// in source order.
    fn destructure<'p>(
        &mut self,
        pattern: &'p ListPattern,
        src: Reg,
    ) -> CResult<Vec<(&'p Ident, Reg)>> {
        let n = pattern.items.len() + usize::from(pattern.rest.is_some());
        if n > 250 {
            return Err(self.err(pattern.pos, "too many names in one pattern (at most 250)"));
        }
        let base = self.mark() as Reg;
        for _ in 0..n {
            self.alloc()?;
        }
        let (before, after) = match &pattern.rest {
            Some((at, _)) => (*at, pattern.items.len() - at),
            None => (pattern.items.len(), 0),
        };
        self.pos = pattern.pos;
        self.emit(Instr::Unpack {
            src,
            dst: base,
            before: before as u8,
            after: after as u8,
            rest: pattern.rest.is_some(),
        });
        let mut out = Vec::new();
        let mut reg = base;
        for (i, item) in pattern.items.iter().enumerate() {
            if let Some((at, id)) = &pattern.rest {
                if *at == i {
                    out.push((id, reg));
                    reg += 1;
                }
            }
            match item {
                Pattern::Name(id) => out.push((id, reg)),
                Pattern::List(p) => {
                    out.extend(self.destructure(p, reg)?);
                    // The inner list is not a binding: keeping it would
                    // keep its items shared (see `compiler/dead.rs`).
                    self.emit(Instr::Nil { dst: reg });
                }
            }
            reg += 1;
        }
        if let Some((at, id)) = &pattern.rest {
            if *at == pattern.items.len() {
                out.push((id, reg));
            }
        }
        Ok(out)
    }

    /// Builds the exports map of a file and returns it.
    fn emit_exports(&mut self) -> CResult<()> {
        let names: Vec<String> = self.modvars.iter().map(|v| v.name.clone()).collect();
        // The last binding of each name in the top-level block.
        let last: HashMap<String, LocalKind> = self.fns[0].blocks[0]
            .iter()
            .map(|l| (l.name.clone(), l.kind.clone()))
            .collect();
        let acc = self.alloc()?;
        let mut first = true;
        for chunk in names.chunks(32) {
            let mark = self.mark();
            let start = self.mark() as Reg;
            for name in chunk {
                let k = self.alloc()?;
                let kc = self.str_const(name)?;
                self.emit_const(k, kc);
                let v = self.alloc()?;
                let found = last.get(name.as_str()).cloned();
                match found {
                    Some(LocalKind::Reg(r, _)) => {
                        self.emit(Instr::Move { dst: v, src: r });
                    }
                    Some(LocalKind::Module(i)) => {
                        let slot = self.modvars[i].slot.expect("module local with a slot");
                        self.emit(Instr::GetGlobal { dst: v, slot });
                    }
                    None => {
                        self.emit(Instr::Nil { dst: v });
                    }
                }
            }
            let count = chunk.len() as u8;
            if first {
                self.emit(Instr::Map {
                    dst: acc,
                    start,
                    count,
                });
                first = false;
            } else {
                self.emit(Instr::MapAppend {
                    map: acc,
                    start,
                    count,
                });
            }
            self.free_to(mark);
        }
        if first {
            self.emit(Instr::Map {
                dst: acc,
                start: acc,
                count: 0,
            });
        }
        self.emit(Instr::Return { src: acc });
        Ok(())
    }

    fn add_proto(&mut self, p: &'static Proto) -> CResult<u16> {
        let f = self.f();
        f.protos.push(p);
        let idx = f.protos.len() - 1;
        if idx > u16::MAX as usize {
            let pos = self.pos;
            return Err(self.err(
                pos,
                "too many function definitions inside one function (at most 65,536): \
                 split it into smaller functions",
            ));
        }
        Ok(idx as u16)
    }

    fn build_proto(&self, f: FnState, captures: Vec<(String, CaptureSrc)>) -> CResult<Proto> {
        let (capture_names, captures): (Vec<Box<str>>, Vec<CaptureSrc>) = captures
            .into_iter()
            .map(|(n, s)| (n.into_boxed_str(), s))
            .unzip();
        let needs_callee = f.uses_callee || !captures.is_empty();
        let call_cache = f.code.iter().map(|_| OnceLock::new()).collect();
        let code = Code::new(f.code.into_boxed_slice())
            .map_err(|why| self.err(self.pos, format!("internal compiler error: {why}")))?;
        Ok(Proto {
            call_cache,
            name: f.name.map(|n| n.into_boxed_str()),
            is_main: f.is_main,
            file: self.file.clone(),
            nparams: f.nparams,
            default_entries: f.default_entries.into_boxed_slice(),
            nregs: f.max_reg.max(f.nparams as usize).max(1),
            code,
            pos: f.pos.into_boxed_slice(),
            consts: f.consts.into_boxed_slice(),
            protos: f.protos.into_boxed_slice(),
            captures: captures.into_boxed_slice(),
            capture_names: capture_names.into_boxed_slice(),
            needs_callee,
            siblings: OnceLock::new(),
            env: self.env.clone().expect("module environment is built first"),
            methods: f.methods.into_boxed_slice(),
            paths: f.paths.into_boxed_slice(),
            imports: f.imports.into_boxed_slice(),
        })
    }

    /// Compiles a function body into an (unleaked) prototype.
    fn function(&mut self, def: &FnDef, kind: FnKind) -> CResult<Proto> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.function_inner(def, kind))
    }

    fn function_inner(&mut self, def: &FnDef, kind: FnKind) -> CResult<Proto> {
        let saved_pos = self.pos;
        self.pos = def.pos;
        let name = def.name.as_ref().map(|n| n.name.clone());
        let mut st = FnState::new(name.clone(), false);
        let shared = match kind {
            FnKind::TopLevel => false,
            FnKind::Member { gid, idx, caps } => {
                st.group = Some((gid, idx));
                st.captures = caps;
                true
            }
            FnKind::Expr => {
                st.self_name = name;
                false
            }
        };
        if def.params.len() > 200 {
            return Err(self.err(def.pos, "too many parameters (at most 200)"));
        }
        st.nparams = def.params.len() as u8;
        self.fns.push(st);
        self.push_scope();
        let mut seen = HashSet::new();
        for p in &def.params {
            if !seen.insert(p.name.name.as_str()) {
                return Err(self.err(p.name.pos, format!("duplicate parameter '{}'", p.name.name)));
            }
            let r = self.alloc()?;
            self.declare(&p.name.name, LocalKind::Reg(r, None));
        }
        self.block(&def.body, Out::Tail)?;
        self.pop_scope();
        if def.params.iter().any(|p| p.default.is_some()) {
            self.default_values(&def.params)?;
        }
        let f = self.fns.pop().expect("function state");
        let captures: Vec<(String, CaptureSrc)> = if shared {
            Vec::new()
        } else {
            f.captures.borrow().clone()
        };
        self.pos = saved_pos;
        self.build_proto(f, captures)
    }

    /// The code that fills in missing arguments, placed after the body
    /// (the body never falls through: it ends with a return). A call that
    /// leaves out parameters `k..` starts at the default of parameter `k`
    /// and runs every later default, then jumps to the body at 0; a call
    /// with every argument starts at 0 and never runs this code. A default
    /// sees the parameters before it (as in JavaScript); it is evaluated at
    /// each call.
    fn default_values(&mut self, params: &[Param]) -> CResult<()> {
        self.push_scope();
        for (k, p) in params.iter().enumerate() {
            if let Some(d) = &p.default {
                let at = self.here() as u32;
                self.f().default_entries.push(at);
                self.expr_to(d, k as Reg)?;
            }
            self.declare(&p.name.name, LocalKind::Reg(k as Reg, None));
        }
        self.pop_scope();
        let at = self.here();
        let off = self.jump_off(at, 0);
        self.emit(Instr::Jump { off });
        Ok(())
    }

    // ----- blocks and statements -----

    fn block(&mut self, b: &Block, out: Out) -> CResult<()> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.block_inner(b, out))
    }

    fn block_inner(&mut self, b: &Block, out: Out) -> CResult<()> {
        let mark = self.mark();
        self.push_scope();
        let stmts = &b.stmts;
        // Hoisting group.
        let decls: Vec<(usize, &FnDef)> = stmts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.kind {
                StmtKind::FnDecl(d) if d.name.is_some() => Some((i, &**d)),
                _ => None,
            })
            .collect();
        let mut group: Option<(u32, Vec<Reg>)> = None;
        let mut create_at = stmts.len();
        if !decls.is_empty() {
            let gid = self.next_gid;
            self.next_gid += 1;
            let mut regs = Vec::new();
            for (i, (_, d)) in decls.iter().enumerate() {
                let r = self.alloc()?;
                let name = &d.name.as_ref().expect("filtered to named").name;
                self.declare(name, LocalKind::Reg(r, Some((gid, i as u16))));
                regs.push(r);
            }
            let names: HashSet<&str> = decls
                .iter()
                .map(|(_, d)| d.name.as_ref().expect("named").name.as_str())
                .collect();
            create_at = stmts
                .iter()
                .position(|s| !matches!(s.kind, StmtKind::FnDecl(_)) && stmt_mentions(s, &names))
                .unwrap_or(stmts.len());
            group = Some((gid, regs));
        }
        let n = stmts.len();
        let mut produced = false;
        for (i, s) in stmts.iter().enumerate() {
            if i == create_at {
                if let Some((gid, regs)) = &group {
                    self.emit_group(&decls, regs, *gid)?;
                }
            }
            self.pos = s.pos;
            match &s.kind {
                StmtKind::FnDecl(d) if d.name.is_some() => {}
                StmtKind::Expr(e) if i + 1 == n => {
                    self.expr_out(e, out)?;
                    produced = true;
                }
                _ => self.stmt(s)?,
            }
        }
        if create_at == n {
            if let Some((gid, regs)) = &group {
                self.emit_group(&decls, regs, *gid)?;
            }
        }
        if !produced {
            match out {
                Out::Discard => {}
                Out::To(r) => {
                    self.emit(Instr::Nil { dst: r });
                }
                Out::Tail => {
                    self.emit(Instr::ReturnNil);
                }
            }
        }
        if out != Out::Tail {
            self.clear_scope_locals();
        }
        self.pop_scope();
        self.free_to(mark);
        Ok(())
    }

    /// Creates a block's hoisted functions together.
    fn emit_group(&mut self, decls: &[(usize, &FnDef)], regs: &[Reg], gid: u32) -> CResult<()> {
        let caps: CapTable = Rc::new(RefCell::new(Vec::new()));
        let mut protos = Vec::new();
        for (i, (_, def)) in decls.iter().enumerate() {
            let p = self.function(
                def,
                FnKind::Member {
                    gid,
                    idx: i as u16,
                    caps: caps.clone(),
                },
            )?;
            protos.push(p);
        }
        let captures: Vec<CaptureSrc> = caps.borrow().iter().map(|(_, s)| *s).collect();
        let names: Vec<Box<str>> = caps
            .borrow()
            .iter()
            .map(|(n, _)| n.as_str().into())
            .collect();
        let mut leaked: Vec<&'static Proto> = Vec::new();
        for mut p in protos {
            p.captures = captures.clone().into_boxed_slice();
            p.capture_names = names.clone().into_boxed_slice();
            p.needs_callee = p.needs_callee || !captures.is_empty();
            leaked.push(leak(p));
        }
        let group: &'static [&'static Proto] = Box::leak(leaked.clone().into_boxed_slice());
        for (i, p) in leaked.iter().enumerate() {
            let _ = p.siblings.set(group);
            let idx = self.add_proto(p)?;
            self.pos = decls[i].1.pos;
            self.emit(Instr::Closure {
                dst: regs[i],
                proto: idx,
            });
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> CResult<()> {
        self.pos = s.pos;
        let mark = self.mark();
        match &s.kind {
            StmtKind::Let { name, value } => {
                let r = self.alloc()?;
                self.expr_to(value, r)?;
                self.declare(&name.name, LocalKind::Reg(r, None));
                self.note_let(value);
                // The register stays allocated until the block ends.
                return Ok(());
            }
            StmtKind::LetPattern { pattern, value } => {
                let t = self.alloc()?;
                self.expr_to(value, t)?;
                let bindings = self.destructure(pattern, t)?;
                // Declared only now: the value may use the old names
                // (`let [a, b] = [b, a]`). The registers stay allocated
                // until the block ends.
                for (id, r) in bindings {
                    self.declare(&id.name, LocalKind::Reg(r, None));
                }
                // The whole value is not a binding (see `compiler/dead.rs`).
                self.emit(Instr::Nil { dst: t });
                return Ok(());
            }
            StmtKind::Import { path, alias } => {
                let r = self.alloc()?;
                self.import_to(path, r, s.pos)?;
                let bind = alias
                    .as_ref()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| import_binding(path));
                self.import_names.insert(bind.clone());
                self.declare(&bind, LocalKind::Reg(r, None));
                return Ok(());
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value)?,
            StmtKind::FnDecl(def) => {
                // An anonymous declaration is just an expression statement.
                let p = self.function(def, FnKind::Expr)?;
                let idx = self.add_proto(leak(p))?;
                let t = self.alloc()?;
                self.emit(Instr::Closure { dst: t, proto: idx });
            }
            StmtKind::While { cond, body } => {
                let top = self.here();
                let exits = self.cond_false(cond)?;
                let td = self.f().try_depth;
                let scopes = self.f().blocks.len();
                self.f().loops.push(LoopCtx {
                    continue_target: top,
                    breaks: Vec::new(),
                    try_depth: td,
                    scopes,
                });
                self.block(body, Out::Discard)?;
                self.emit_loop_to(top);
                let lp = self.f().loops.pop().expect("loop context");
                for j in exits.into_iter().chain(lp.breaks) {
                    self.patch_here(j);
                }
            }
            StmtKind::For {
                index,
                var,
                iter,
                body,
            } => self.for_loop(index.as_ref(), var, iter, body)?,
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                let word = if is_break { "break" } else { "continue" };
                let Some(lp) = self.f().loops.last() else {
                    return Err(self.err(s.pos, format!("'{word}' outside a loop")));
                };
                let (target, ltd, scopes) = (lp.continue_target, lp.try_depth, lp.scopes);
                let nloops = self.f().loops.len();
                if self.f().finally_barriers.last() == Some(&nloops) {
                    return Err(self.err(
                        s.pos,
                        format!("'{word}' cannot leave a 'finally' block (it would drop the error being handled)"),
                    ));
                }
                // The `finally` blocks run first: they may read the locals
                // that are cleared next.
                self.leave_handlers(ltd)?;
                self.clear_scopes_from(scopes);
                self.pos = s.pos;
                if is_break {
                    let j = self.emit(Instr::Jump { off: 0 });
                    self.f()
                        .loops
                        .last_mut()
                        .expect("loop context")
                        .breaks
                        .push(j);
                } else {
                    self.emit_loop_to(target);
                }
            }
            StmtKind::Return(value) => {
                if self.is_top_level_code() {
                    return Err(self.err(s.pos, "'return' outside a function"));
                }
                if !self.f().finally_barriers.is_empty() {
                    return Err(self.err(
                        s.pos,
                        "'return' cannot leave a 'finally' block (it would drop the error being handled)",
                    ));
                }
                if self.f().finallies.is_empty() {
                    match value {
                        Some(e) => self.expr_out(e, Out::Tail)?,
                        None => {
                            self.emit(Instr::ReturnNil);
                        }
                    }
                } else {
                    // The value is computed first (a `finally` that changes
                    // the variable does not change what is returned), then
                    // the `finally` blocks run, innermost first.
                    let t = self.alloc()?;
                    match value {
                        Some(e) => self.expr_to(e, t)?,
                        None => {
                            self.emit(Instr::Nil { dst: t });
                        }
                    }
                    self.leave_handlers(0)?;
                    self.pos = s.pos;
                    self.emit(Instr::Return { src: t });
                }
            }
            StmtKind::Throw(e) => {
                let r = self.expr_any(e)?;
                self.pos = s.pos;
                self.emit(Instr::Throw { src: r });
            }
            StmtKind::Expr(e) => self.expr_out(e, Out::Discard)?,
        }
        self.free_to(mark);
        Ok(())
    }

    fn import_to(&mut self, path: &str, dst: Reg, pos: Pos) -> CResult<()> {
        if let Some(m) = stdlib::builtin_module(path) {
            let k = self.konst(m)?;
            self.emit_const(dst, k);
            return Ok(());
        }
        let dir = self.dir.clone();
        let file = self.file.clone();
        let source = self.source.clone();
        let unit = self.loader.load(path, &dir, pos, &file, &source)?;
        let f = self.f();
        f.imports.push(unit);
        let idx = f.imports.len() - 1;
        if idx > u16::MAX as usize {
            return Err(self.err(pos, "too many imports in one function (at most 65,536)"));
        }
        let idx = idx as u16;
        self.emit(Instr::Import { dst, idx });
        Ok(())
    }

    fn for_loop(
        &mut self,
        index: Option<&Ident>,
        var: &Pattern,
        iter: &Expr,
        body: &Block,
    ) -> CResult<()> {
        if let Some(ix) = index {
            self.check_pair_trap(ix, var, iter)?;
        }
        // `for x in range(...)` with the builtin range: a numeric loop.
        if let (None, Pattern::Name(var)) = (index, var) {
            if let ExprKind::Call { callee, args } = &iter.kind {
                if let ExprKind::Name(id) = &callee.kind {
                    if id.name == "range"
                        && (1..=3).contains(&args.len())
                        && self.resolve(&id.name).is_none()
                        && stdlib::lookup_global("range").is_some()
                    {
                        let base = self.alloc()?;
                        self.alloc()?;
                        self.alloc()?;
                        for (i, a) in args.iter().enumerate() {
                            self.expr_to(a, base + i as Reg)?;
                        }
                        self.pos = iter.pos;
                        self.emit(Instr::RangeInit {
                            base,
                            argc: args.len() as u8,
                        });
                        let v = self.alloc()?;
                        let top = self.emit(Instr::RangeNext {
                            base,
                            var: v,
                            off: 0,
                        });
                        return self.loop_body(top, None, (&Pattern::Name(var.clone()), v), body);
                    }
                }
            }
        }
        let it = self.alloc()?;
        self.alloc()?;
        self.alloc()?;
        self.expr_to(iter, it)?;
        self.pos = iter.pos;
        self.emit(Instr::IterInit { it });
        match index {
            None => {
                let v = self.alloc()?;
                let top = self.emit(Instr::IterNext { it, var: v, off: 0 });
                self.loop_body(top, None, (var, v), body)
            }
            Some(ix) => {
                let a = self.alloc()?;
                let b = self.alloc()?;
                let top = self.emit(Instr::IterNext2 { it, a, b, off: 0 });
                self.loop_body(top, Some((ix, a)), (var, b), body)
            }
        }
    }

    /// `for k, v in m.items()` (or over `enumerate(...)` / `zip(...)`)
    /// would bind an index and a pair, which is never what is meant: a
    /// compile error that shows the two ways to write it.
    fn check_pair_trap(&mut self, ix: &Ident, var: &Pattern, iter: &Expr) -> CResult<()> {
        let Pattern::Name(v) = var else {
            return Ok(());
        };
        let what = match &iter.kind {
            ExprKind::MethodCall { name, args, .. } if name.name == "items" && args.is_empty() => {
                Some("m.items()")
            }
            ExprKind::Call { callee, .. } => match &callee.kind {
                ExprKind::Name(id)
                    if matches!(id.name.as_str(), "enumerate" | "zip")
                        && self.resolve(&id.name).is_none() =>
                {
                    Some(if id.name == "zip" {
                        "zip(...)"
                    } else {
                        "enumerate(...)"
                    })
                }
                _ => None,
            },
            _ => None,
        };
        let Some(what) = what else {
            return Ok(());
        };
        let (i, x) = (&ix.name, &v.name);
        let hint = match what {
            "m.items()" => format!(
                "write 'for [{i}, {x}] in m.items()', or 'for {i}, {x} in m' to get each key and value"
            ),
            "enumerate(...)" => format!(
                "write 'for {i}, {x} in xs' (the two-name form already counts from 0), \
                 or 'for [{i}, {x}] in enumerate(...)'"
            ),
            _ => format!("write 'for [{i}, {x}] in {what}' to take each pair apart"),
        };
        Err(self.err(
            ix.pos,
            format!(
                "'for {i}, {x} in {what}' would bind the position and the whole [a, b] pair: {hint}"
            ),
        ))
    }

    /// The body of a loop whose head `top` puts the item in `item.1` (and
    /// the index or key in `index.1`): binds the names (taking the item
    /// apart first for a pattern, at each iteration), then the block.
    fn loop_body(
        &mut self,
        top: usize,
        index: Option<(&Ident, Reg)>,
        item: (&Pattern, Reg),
        body: &Block,
    ) -> CResult<()> {
        self.push_scope();
        if let Some((id, r)) = index {
            self.declare(&id.name, LocalKind::Reg(r, None));
        }
        match item.0 {
            Pattern::Name(id) => self.declare(&id.name, LocalKind::Reg(item.1, None)),
            Pattern::List(p) => {
                let bindings = self.destructure(p, item.1)?;
                for (id, r) in bindings {
                    self.declare(&id.name, LocalKind::Reg(r, None));
                }
            }
        }
        let td = self.f().try_depth;
        let scopes = self.f().blocks.len();
        self.f().loops.push(LoopCtx {
            continue_target: top,
            breaks: Vec::new(),
            try_depth: td,
            scopes,
        });
        self.block(body, Out::Discard)?;
        self.emit_loop_to(top);
        let lp = self.f().loops.pop().expect("loop context");
        self.patch_here(top);
        for j in lp.breaks {
            self.patch_here(j);
        }
        self.pop_scope();
        Ok(())
    }

    // ----- assignment -----

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr) -> CResult<()> {
        if let (ExprKind::List(items), None) = (&target.kind, op) {
            // `[a, b] = [b, a]`: every value is computed before any
            // target is written.
            let t = self.alloc()?;
            self.expr_to(value, t)?;
            return self.assign_items(items, t, target.pos);
        }
        self.assign_from(target, op, Src::Expr(value))
    }

    /// `[t1, [t2, t3]] = R[src]`: each target is a variable, an index or
    /// field of one, or a nested list of targets.
    fn assign_items(&mut self, items: &[Expr], src: Reg, pos: Pos) -> CResult<()> {
        if items.len() > 250 {
            return Err(self.err(pos, "too many targets in one assignment (at most 250)"));
        }
        let base = self.mark() as Reg;
        for _ in items {
            self.alloc()?;
        }
        self.pos = pos;
        self.emit(Instr::Unpack {
            src,
            dst: base,
            before: items.len() as u8,
            after: 0,
            rest: false,
        });
        for (i, item) in items.iter().enumerate() {
            let r = base + i as Reg;
            match &item.kind {
                ExprKind::List(sub) => self.assign_items(sub, r, item.pos)?,
                _ => self.assign_from(item, None, Src::Reg(r))?,
            }
        }
        Ok(())
    }

    /// The register holding an assigned value.
    fn src_any(&mut self, v: Src<'_>) -> CResult<Reg> {
        match v {
            Src::Expr(e) => self.expr_any(e),
            Src::Reg(r) => Ok(r),
        }
    }

    fn assign_from(&mut self, target: &Expr, op: Option<BinOp>, value: Src<'_>) -> CResult<()> {
        match &target.kind {
            ExprKind::Name(id) => {
                let res = self.resolve_write(id, "assign to")?;
                self.pos = target.pos;
                match res {
                    Res::Local(r) | Res::GroupLocal(r, ..) => match (op, value) {
                        (_, Src::Reg(v)) => {
                            self.note_assign_unknown(&id.name);
                            self.emit(Instr::Move { dst: r, src: v });
                        }
                        (None, Src::Expr(value)) => {
                            self.note_assign(&id.name, None, value);
                            if writes_dst_once(value) {
                                self.expr_to(value, r)?;
                            } else {
                                let t = self.alloc()?;
                                self.expr_to(value, t)?;
                                self.emit(Instr::Move { dst: r, src: t });
                            }
                        }
                        (Some(op), Src::Expr(value)) => {
                            self.note_assign(&id.name, Some(op), value);
                            if let (Some(imm), BinOp::Add | BinOp::Sub) = (small_int(value), op) {
                                self.emit(if op == BinOp::Add {
                                    Instr::AddI { dst: r, a: r, imm }
                                } else {
                                    Instr::SubI { dst: r, a: r, imm }
                                });
                            } else {
                                let v = self.expr_any(value)?;
                                self.pos = target.pos;
                                self.emit(Instr::OpAssign { dst: r, src: v, op });
                            }
                        }
                    },
                    Res::Global(slot) => {
                        let v = self.src_any(value)?;
                        self.pos = target.pos;
                        match op {
                            None => self.emit(Instr::SetGlobal { slot, src: v }),
                            Some(op) => self.emit(Instr::OpGlobal { slot, src: v, op }),
                        };
                    }
                    _ => unreachable!("resolve_write admits only writable roots"),
                }
                Ok(())
            }
            ExprKind::Index(..) | ExprKind::Field(..) => {
                let Some((root, keys)) = place_of(target) else {
                    return Err(self.err(
                        target.pos,
                        "invalid assignment target: assign to a variable, or to an index or field of one",
                    ));
                };
                let res = self.resolve_write(root, "modify")?;
                let (root_reg, path_root) = match res {
                    Res::Local(r) | Res::GroupLocal(r, ..) => (r, PathRoot::Reg),
                    Res::Global(s) => (0, PathRoot::Global(s)),
                    _ => unreachable!("resolve_write admits only writable roots"),
                };
                if keys.len() == 1 && op.is_none() && path_root == PathRoot::Reg {
                    match &keys[0] {
                        PathKey::Index(k) => {
                            let k = self.expr_any(k)?;
                            let v = self.src_any(value)?;
                            self.pos = target.pos;
                            self.emit(Instr::SetIndex {
                                obj: root_reg,
                                key: k,
                                val: v,
                            });
                        }
                        PathKey::Field(name) => {
                            let v = self.src_any(value)?;
                            let name = self.str_const(name)?;
                            self.pos = target.pos;
                            match u16::try_from(name) {
                                Ok(name) => self.emit(Instr::SetField {
                                    obj: root_reg,
                                    val: v,
                                    name,
                                }),
                                Err(_) => {
                                    let r = self.alloc()?;
                                    self.emit(Instr::ConstWide { dst: r, k: name });
                                    self.emit(Instr::SetFieldR {
                                        obj: root_reg,
                                        val: v,
                                        name: r,
                                    })
                                }
                            };
                        }
                    }
                    return Ok(());
                }
                // Superinstruction (speed only): `root[k][imm] (op)= value`
                // on a local, with `k` read in place.
                if let (PathRoot::Reg, [PathKey::Index(k1), PathKey::Index(k2)]) =
                    (path_root, keys.as_slice())
                {
                    if let Some(imm) = small_int(k2) {
                        let key = if matches!(value, Src::Expr(e) if may_mutate(e)) {
                            self.expr_any_safe(k1)?
                        } else {
                            self.expr_any(k1)?
                        };
                        let v = self.src_any(value)?;
                        self.pos = target.pos;
                        self.emit(Instr::SetIndex2I {
                            root: root_reg,
                            key,
                            val: v,
                            op,
                            imm,
                        });
                        return Ok(());
                    }
                }
                let (kreg, fields) = self.path_keys(&keys)?;
                let v = self.src_any(value)?;
                let desc = self.add_path(PathDesc {
                    root: path_root,
                    depth: keys.len() as u8,
                    fields,
                    op,
                    site: None,
                })?;
                self.pos = target.pos;
                self.emit(Instr::SetPath {
                    root: root_reg,
                    keys: kreg,
                    val: v,
                    desc,
                });
                Ok(())
            }
            _ => Err(self.err(
                target.pos,
                "invalid assignment target: assign to a variable, an index or field of one, \
                 or a list of those ([a, b] = [b, a])",
            )),
        }
    }

    /// Evaluates path keys into consecutive fresh registers.
    fn path_keys(&mut self, keys: &[PathKey<'_>]) -> CResult<(Reg, u32)> {
        if keys.len() > 32 {
            let pos = self.pos;
            return Err(self.err(pos, "assignment path too deep (at most 32 levels)"));
        }
        let start = self.mark() as Reg;
        let mut fields = 0u32;
        let regs: Vec<Reg> = (0..keys.len())
            .map(|_| self.alloc())
            .collect::<CResult<_>>()?;
        for (i, k) in keys.iter().enumerate() {
            match k {
                PathKey::Index(e) => self.expr_to(e, regs[i])?,
                PathKey::Field(name) => {
                    fields |= 1 << i;
                    let kc = self.str_const(name)?;
                    self.emit_const(regs[i], kc);
                }
            }
        }
        Ok((start, fields))
    }

    /// The index of path `d` (an identical one is shared: a long script
    /// of `m.k = v` lines uses a handful).
    fn add_path(&mut self, d: PathDesc) -> CResult<u16> {
        let root = match d.root {
            PathRoot::Reg => None,
            PathRoot::Global(s) => Some(s),
        };
        let key = (root, d.depth, d.fields, d.op, d.site);
        if let Some(&i) = self.f().path_index.get(&key) {
            return Ok(i);
        }
        let f = self.f();
        let Ok(i) = u16::try_from(f.paths.len()) else {
            let pos = self.pos;
            return Err(self.err(
                pos,
                "too many different kinds of assignment in one function (at most 65,536): \
                 split it into smaller functions",
            ));
        };
        f.paths.push(d);
        f.path_index.insert(key, i);
        Ok(i)
    }

    /// The index of method site `site` (an identical one is shared).
    fn add_site(&mut self, site: MethodSite) -> CResult<u16> {
        let key = (site.name.clone(), site.readonly, site.temp_recv);
        if let Some(&i) = self.f().site_index.get(&key) {
            return Ok(i);
        }
        let f = self.f();
        let Ok(i) = u16::try_from(f.methods.len()) else {
            let pos = self.pos;
            return Err(self.err(
                pos,
                "too many different methods called in one function (at most 65,536): \
                 split it into smaller functions",
            ));
        };
        f.methods.push(site);
        f.site_index.insert(key, i);
        Ok(i)
    }

    // ----- expressions -----

    fn expr_out(&mut self, e: &Expr, out: Out) -> CResult<()> {
        match out {
            Out::To(r) => self.expr_to(e, r),
            Out::Discard => match &e.kind {
                ExprKind::If { cond, then, else_ } => {
                    self.if_expr(cond, then, else_.as_deref(), Out::Discard)
                }
                ExprKind::Block(b) => self.block(b, Out::Discard),
                ExprKind::Try {
                    body,
                    var,
                    handler,
                    finally,
                } => self.try_any(
                    body,
                    var.as_ref(),
                    handler.as_ref(),
                    finally.as_ref(),
                    Out::Discard,
                ),
                _ => {
                    let mark = self.mark();
                    if let ExprKind::Call { callee, args } = &e.kind {
                        // The result goes to the first argument's register
                        // (`call` allocates the callee's, then the
                        // arguments'), which the next call made there
                        // overwrites before it runs (compiler/dead.rs).
                        if !args.is_empty() && mark + 1 < 255 {
                            self.call(callee, args, (mark + 1) as Reg, e.pos)?;
                            self.free_to(mark);
                            return Ok(());
                        }
                    }
                    let t = self.alloc()?;
                    self.expr_to(e, t)?;
                    if Self::discarded_result_may_be_shared(e) {
                        self.emit(Instr::Nil { dst: t });
                    }
                    self.free_to(mark);
                    Ok(())
                }
            },
            Out::Tail => match &e.kind {
                ExprKind::If { cond, then, else_ } => {
                    self.if_expr(cond, then, else_.as_deref(), Out::Tail)
                }
                ExprKind::Block(b) => self.block(b, Out::Tail),
                ExprKind::Try {
                    body,
                    var,
                    handler,
                    finally,
                } => self.try_any(
                    body,
                    var.as_ref(),
                    handler.as_ref(),
                    finally.as_ref(),
                    Out::Tail,
                ),
                _ => {
                    let mark = self.mark();
                    let r = self.expr_any(e)?;
                    self.emit(Instr::Return { src: r });
                    self.free_to(mark);
                    Ok(())
                }
            },
        }
    }

    /// The register holding `e`'s value: a local's own register, or a
    /// fresh temporary.
    fn expr_any(&mut self, e: &Expr) -> CResult<Reg> {
        if let ExprKind::Name(id) = &e.kind {
            if let Some(Res::Local(r) | Res::GroupLocal(r, ..)) = self.resolve(&id.name) {
                return Ok(r);
            }
        }
        let t = self.alloc()?;
        self.expr_to(e, t)?;
        Ok(t)
    }

    /// Like [`Self::expr_any`], but copies a local into a temporary (used
    /// for a left operand whose right operand may mutate the local).
    fn expr_any_safe(&mut self, e: &Expr) -> CResult<Reg> {
        let t = self.alloc()?;
        self.expr_to(e, t)?;
        Ok(t)
    }

    fn expr_to(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_to_inner(e, dst))
    }

    fn expr_to_inner(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        self.pos = e.pos;
        let mark = self.mark();
        match &e.kind {
            ExprKind::Nil => {
                self.emit(Instr::Nil { dst });
            }
            ExprKind::Bool(b) => {
                self.emit(Instr::Bool { dst, val: *b });
            }
            ExprKind::Int(i) => self.load_int(dst, *i)?,
            ExprKind::Float(x) => {
                let k = self.konst(Value::Float(*x))?;
                self.emit_const(dst, k);
            }
            ExprKind::Str(s) => {
                let k = self.str_const(s)?;
                self.emit_const(dst, k);
            }
            ExprKind::Name(id) => {
                let res = self.resolve_read(id)?;
                self.pos = e.pos;
                match res {
                    Res::Local(r) | Res::GroupLocal(r, ..) => {
                        if r != dst {
                            self.emit(Instr::Move { dst, src: r });
                        }
                    }
                    Res::Capture(i) => {
                        self.emit(Instr::GetCapture { dst, idx: i });
                    }
                    Res::SelfFn => {
                        self.emit(Instr::GetSelf { dst });
                    }
                    Res::Sibling(i) => {
                        self.emit(Instr::GetSibling { dst, idx: i });
                    }
                    Res::Global(slot) => {
                        self.emit(Instr::GetGlobal { dst, slot });
                    }
                    Res::Builtin(v) => {
                        let k = self.konst(v)?;
                        self.emit_const(dst, k);
                    }
                }
            }
            ExprKind::List(items) => match constant_list(items) {
                // A literal of constants only (binary-trees' `[nil, nil]`)
                // is one immortal constant list (speed only): loading it
                // allocates nothing, and copy-on-write gives every use its
                // own copy at the first change, as a fresh list would be.
                Some(l) => {
                    let k = self.konst(l)?;
                    self.emit_const(dst, k);
                }
                None => self.seq_literal(items.iter().map(|x| (x, None)).collect(), dst, false)?,
            },
            ExprKind::Map(pairs) => {
                self.seq_literal(pairs.iter().map(|(k, v)| (k, Some(v))).collect(), dst, true)?
            }
            ExprKind::Unary(op, x) => match (op, &x.kind) {
                (UnOp::Neg, ExprKind::Int(i)) if *i != i64::MIN => self.load_int(dst, -*i)?,
                (UnOp::Neg, ExprKind::Float(f)) => {
                    let k = self.konst(Value::Float(-*f))?;
                    self.emit_const(dst, k);
                }
                _ => {
                    let r = self.expr_any(x)?;
                    self.pos = e.pos;
                    self.emit(match op {
                        UnOp::Neg => Instr::Neg { dst, src: r },
                        UnOp::Not => Instr::Not { dst, src: r },
                        UnOp::BitNot => Instr::BitNot { dst, src: r },
                    });
                }
            },
            ExprKind::Binary(op, l, r) => {
                if let (BinOp::Add | BinOp::Sub, Some(imm)) = (op, small_int(r)) {
                    let a = self.operand(l, dst, false)?;
                    self.pos = e.pos;
                    self.emit(if *op == BinOp::Add {
                        Instr::AddI { dst, a, imm }
                    } else {
                        Instr::SubI { dst, a, imm }
                    });
                } else if let Some(imm) = small_int(r) {
                    let a = self.operand(l, dst, false)?;
                    self.pos = e.pos;
                    self.emit(Instr::BinaryI {
                        dst,
                        a,
                        op: *op,
                        imm,
                    });
                } else {
                    let a = self.operand(l, dst, may_mutate(r))?;
                    let b = self.expr_any(r)?;
                    self.pos = e.pos;
                    self.emit(match op {
                        BinOp::Add => Instr::Add { dst, a, b },
                        BinOp::Sub => Instr::Sub { dst, a, b },
                        BinOp::Mul => Instr::Mul { dst, a, b },
                        _ => Instr::Binary { dst, a, b, op: *op },
                    });
                }
            }
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                self.expr_to(l, dst)?;
                self.pos = e.pos;
                let j = if matches!(e.kind, ExprKind::And(..)) {
                    self.emit(Instr::JumpIfFalse { cond: dst, off: 0 })
                } else {
                    self.emit(Instr::JumpIfTrue { cond: dst, off: 0 })
                };
                self.expr_to(r, dst)?;
                self.patch_here(j);
            }
            ExprKind::Call { callee, args } => self.call(callee, args, dst, e.pos)?,
            ExprKind::MethodCall { recv, name, args } => {
                self.method_call(recv, name, args, dst, e.pos)?
            }
            ExprKind::Index(o, k) => self.index_expr(o, k, dst, e.pos)?,
            ExprKind::Field(o, name) => {
                let obj = self.container_operand(o, dst, false)?;
                let k = self.str_const(&name.name)?;
                self.pos = e.pos;
                match u16::try_from(k) {
                    Ok(k) => self.emit(Instr::GetField { dst, obj, name: k }),
                    Err(_) => {
                        let r = self.alloc()?;
                        self.emit(Instr::ConstWide { dst: r, k });
                        self.emit(Instr::GetFieldR { dst, obj, name: r })
                    }
                };
            }
            ExprKind::Fn(def) => {
                let p = self.function(def, FnKind::Expr)?;
                let idx = self.add_proto(leak(p))?;
                self.pos = e.pos;
                self.emit(Instr::Closure { dst, proto: idx });
            }
            ExprKind::If { cond, then, else_ } => {
                self.if_expr(cond, then, else_.as_deref(), Out::To(dst))?
            }
            ExprKind::Block(b) => self.block(b, Out::To(dst))?,
            ExprKind::Try {
                body,
                var,
                handler,
                finally,
            } => self.try_any(
                body,
                var.as_ref(),
                handler.as_ref(),
                finally.as_ref(),
                Out::To(dst),
            )?,
        }
        self.free_to(mark);
        Ok(())
    }

    /// `o[k]` into `dst`, with the superinstructions for constant indexes
    /// and two-level chains (`pair[0]`, `bodies[i][0]`, `grid[i][j]`).
    fn index_expr(&mut self, o: &Expr, k: &Expr, dst: Reg, pos: Pos) -> CResult<()> {
        if let ExprKind::Index(o2, k1) = &o.kind {
            // `o2[k1][k]`: evaluated in the same order as the general
            // sequence, since `k` is a literal or a local (no side effects
            // between the two indexing steps).
            let k2 = match small_int(k) {
                Some(imm) => Some(Ok(imm)),
                None => self.local_reg(k).map(Err),
            };
            if let Some(k2) = k2 {
                let obj = self.container_operand(o2, dst, may_mutate(k1))?;
                let key = self.expr_any(k1)?;
                self.pos = pos;
                self.emit(match k2 {
                    Ok(imm) => Instr::Index2I { dst, obj, key, imm },
                    Err(k2) => Instr::Index2 {
                        dst,
                        obj,
                        k1: key,
                        k2,
                    },
                });
                return Ok(());
            }
        }
        if let ExprKind::Name(id) = &o.kind {
            if let Some(Res::Capture(idx)) = self.resolve(&id.name) {
                // A captured container is read in place (captures never
                // change, so reading it after the key is the same).
                let key = self.expr_any(k)?;
                self.pos = pos;
                self.emit(Instr::IndexCapture { dst, idx, key });
                return Ok(());
            }
        }
        if let Some(imm) = small_int(k) {
            let obj = self.container_operand(o, dst, false)?;
            self.pos = pos;
            self.emit(Instr::IndexI { dst, obj, imm });
            return Ok(());
        }
        let obj = self.container_operand(o, dst, may_mutate(k))?;
        let key = self.expr_any(k)?;
        self.pos = pos;
        self.emit(Instr::Index { dst, obj, key });
        Ok(())
    }

    /// The register of `e` if it is a local variable.
    fn local_reg(&mut self, e: &Expr) -> Option<Reg> {
        match &e.kind {
            ExprKind::Name(id) => match self.resolve(&id.name) {
                Some(Res::Local(r) | Res::GroupLocal(r, ..)) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether `r` is a temporary (no variable lives in it).
    fn is_temp(&self, r: Reg) -> bool {
        let f = self.fns.last().expect("a function is being compiled");
        !f.blocks
            .iter()
            .flatten()
            .any(|l| matches!(l.kind, LocalKind::Reg(x, _) if x == r))
    }

    /// The register holding a left operand: a local's own register (or a
    /// copy when `copy_local`, because the right operand may change it), or
    /// the destination itself when that is a temporary, so that chains like
    /// `a + b + c + ...` need no register per level.
    fn operand(&mut self, l: &Expr, dst: Reg, copy_local: bool) -> CResult<Reg> {
        self.container_operand(l, dst, copy_local)
    }

    /// The register holding the container of `o[k]` / `o.k`. When the
    /// result goes to a temporary, the container is computed into that same
    /// register, so that the intermediate value (`grid[i]` in
    /// `grid[i][j]`) is overwritten by the result instead of lingering in a
    /// register, where it would make a later in-place update copy it.
    fn container_operand(&mut self, o: &Expr, dst: Reg, copy_local: bool) -> CResult<Reg> {
        if let ExprKind::Name(id) = &o.kind {
            if let Some(Res::Local(r) | Res::GroupLocal(r, ..)) = self.resolve(&id.name) {
                return if copy_local {
                    self.expr_any_safe(o)
                } else {
                    Ok(r)
                };
            }
        }
        if self.is_temp(dst) {
            self.expr_to(o, dst)?;
            Ok(dst)
        } else {
            self.expr_any_safe(o)
        }
    }

    fn load_int(&mut self, dst: Reg, i: i64) -> CResult<()> {
        if let Ok(v) = i32::try_from(i) {
            self.emit(Instr::Int { dst, val: v });
        } else {
            let k = self.konst(Value::Int(i))?;
            self.emit_const(dst, k);
        }
        Ok(())
    }

    /// List (`pairs` with `None` values) and map literals.
    fn seq_literal(
        &mut self,
        items: Vec<(&Expr, Option<&Expr>)>,
        dst: Reg,
        is_map: bool,
    ) -> CResult<()> {
        let per = if is_map { 2 } else { 1 };
        let chunk_len = 100;
        if items.len() <= chunk_len {
            let start = self.mark() as Reg;
            for (k, v) in &items {
                let r = self.alloc()?;
                self.expr_to(k, r)?;
                if let Some(v) = v {
                    let r = self.alloc()?;
                    self.expr_to(v, r)?;
                }
            }
            let count = items.len() as u8;
            let _ = per;
            self.emit(if is_map {
                Instr::Map { dst, start, count }
            } else {
                Instr::List { dst, start, count }
            });
            return Ok(());
        }
        let acc = self.alloc()?;
        for (ci, chunk) in items.chunks(chunk_len).enumerate() {
            let mark = self.mark();
            let start = mark as Reg;
            for (k, v) in chunk {
                let r = self.alloc()?;
                self.expr_to(k, r)?;
                if let Some(v) = v {
                    let r = self.alloc()?;
                    self.expr_to(v, r)?;
                }
            }
            let count = chunk.len() as u8;
            self.emit(match (ci == 0, is_map) {
                (true, false) => Instr::List {
                    dst: acc,
                    start,
                    count,
                },
                (true, true) => Instr::Map {
                    dst: acc,
                    start,
                    count,
                },
                (false, false) => Instr::ListAppend {
                    list: acc,
                    start,
                    count,
                },
                (false, true) => Instr::MapAppend {
                    map: acc,
                    start,
                    count,
                },
            });
            self.free_to(mark);
        }
        self.emit(Instr::Move { dst, src: acc });
        Ok(())
    }

    fn call(&mut self, callee: &Expr, args: &[Expr], dst: Reg, pos: Pos) -> CResult<()> {
        if args.len() > 250 {
            return Err(self.err(pos, "too many arguments (at most 250)"));
        }
        if self.select_call(callee, args, dst, pos)? {
            return Ok(());
        }
        let f = self.alloc()?;
        let mut global = None;
        match &callee.kind {
            ExprKind::Name(id) => match self.resolve_read(id)? {
                Res::Global(slot) => global = Some(slot),
                _ => self.expr_to(callee, f)?,
            },
            _ => self.expr_to(callee, f)?,
        }
        let before = self.f().code.len();
        for a in args {
            let r = self.alloc()?;
            self.expr_to(a, r)?;
        }
        self.pos = pos;
        let argc = args.len() as u8;
        match global {
            Some(slot) => {
                // `g(x - k)`: when the argument compiled to exactly one
                // `SubI` (so no jump lands between it and the call), the
                // two become one `CallGlobalSubI` (speed only).
                let code = &mut self.f().code;
                match code[before..] {
                    [Instr::SubI { dst: r, a, imm }]
                        if argc == 1 && r as usize == f as usize + 1 =>
                    {
                        let at = code.len() - 1;
                        code[at] = Instr::CallGlobalSubI {
                            dst,
                            f,
                            a,
                            slot,
                            imm,
                        };
                        self.f().pos[at] = pos;
                    }
                    _ => {
                        self.emit(Instr::CallGlobal { dst, f, argc, slot });
                    }
                }
            }
            None => {
                self.emit(Instr::Call { dst, f, argc });
            }
        };
        Ok(())
    }

    /// `select([c0, [c1, v], ...])`, `select([...], seconds)`: the builtin
    /// `select` with its case list written out (1 to 8 cases) compiles to
    /// [`Instr::Select`], which reads the cases from registers: no list is
    /// built for the cases nor for the send pairs written `[ch, v]`. The
    /// same evaluation order and errors as the call. False: not this shape,
    /// nothing emitted.
    fn select_call(&mut self, callee: &Expr, args: &[Expr], dst: Reg, pos: Pos) -> CResult<bool> {
        let ExprKind::Name(id) = &callee.kind else {
            return Ok(false);
        };
        if id.name != "select" || args.is_empty() || args.len() > 2 {
            return Ok(false);
        }
        let ExprKind::List(items) = &args[0].kind else {
            return Ok(false);
        };
        if items.is_empty() || items.len() > 8 {
            return Ok(false);
        }
        match self.resolve_read(id)? {
            Res::Builtin(Value::Native(n)) if n.name == "select" => {}
            _ => return Ok(false),
        }
        let mark = self.mark();
        let start = mark as Reg;
        let mut pairs = 0u8;
        for (i, item) in items.iter().enumerate() {
            match &item.kind {
                ExprKind::List(pair) if pair.len() == 2 => {
                    pairs |= 1 << i;
                    for e in pair {
                        let r = self.alloc()?;
                        self.expr_to(e, r)?;
                    }
                }
                _ => {
                    let r = self.alloc()?;
                    self.expr_to(item, r)?;
                }
            }
        }
        if let Some(t) = args.get(1) {
            let r = self.alloc()?;
            self.expr_to(t, r)?;
        }
        self.pos = pos;
        self.emit(Instr::Select {
            dst,
            start,
            count: items.len() as u8,
            pairs,
            timeout: args.len() == 2,
        });
        self.free_to(mark);
        Ok(true)
    }

    fn method_call(
        &mut self,
        recv: &Expr,
        name: &Ident,
        args: &[Expr],
        dst: Reg,
        pos: Pos,
    ) -> CResult<()> {
        if args.len() > 250 {
            return Err(self.err(pos, "too many arguments (at most 250)"));
        }
        let id = stdlib::method_id(&name.name);
        let mutating = id.is_some_and(stdlib::is_mutating);
        // A module's function (`fs.remove(p)`) is a plain call: the rule on
        // mutating methods is for values (STDLIB.md), so a receiver that
        // names a module takes the handle path (checked at run time).
        let handle_name =
            HANDLE_METHODS.contains(&name.name.as_str()) || (mutating && self.names_module(recv));
        let place = place_of(recv);
        if mutating && place.is_none() {
            return Err(self.err(
                name.pos,
                format!(
                    "'{}' changes the value it is called on, but this is a temporary value: \
                     call it on a variable (or an index or field of one)",
                    name.name
                ),
            ));
        }
        if mutating {
            if let Some((root, keys)) = &place {
                // A writable root mutates in place; a captured or module
                // variable read in a function is an error (or, for handle
                // method names, a run-time check).
                let res = if handle_name {
                    match self.resolve_write_quiet(root) {
                        Some(r) => Ok(r),
                        None => Err(()),
                    }
                } else {
                    Ok(self.resolve_write(root, "modify")?)
                };
                if let Ok(res) = res {
                    let (root_reg, path_root) = match res {
                        Res::Local(r) | Res::GroupLocal(r, ..) => (r, PathRoot::Reg),
                        Res::Global(s) => (0, PathRoot::Global(s)),
                        _ => unreachable!("writable roots only"),
                    };
                    let site = self.add_site(MethodSite {
                        id,
                        name: name.name.as_str().into(),
                        readonly: false,
                        temp_recv: false,
                    })?;
                    if keys.is_empty() && path_root == PathRoot::Reg {
                        let fscratch = self.alloc()?;
                        self.method_args(args)?;
                        self.pos = pos;
                        self.emit(Instr::CallMethod {
                            dst,
                            recv: root_reg,
                            args: fscratch + 1,
                            argc: args.len() as u8,
                            site,
                        });
                        return Ok(());
                    }
                    let (kreg, fields) = self.path_keys(keys)?;
                    self.method_args(args)?;
                    let desc = self.add_path(PathDesc {
                        root: path_root,
                        depth: keys.len() as u8,
                        fields,
                        op: None,
                        site: Some(site),
                    })?;
                    self.pos = pos;
                    self.emit(Instr::CallMethodPath {
                        dst,
                        root: root_reg,
                        keys: kreg,
                        argc: args.len() as u8,
                        desc,
                    });
                    return Ok(());
                }
            }
        }
        // `math.sqrt(x)`: a function of a built-in module (immutable) is a
        // constant, called directly instead of looked up by name at run time.
        if let ExprKind::Name(nm) = &recv.kind {
            if self.resolve(&nm.name).is_none() {
                if let Some(Value::Module(m)) = stdlib::builtin_module(&nm.name) {
                    if let Some(f @ Value::Native(_)) =
                        m.fields.get(&crate::ops::StrKey(&name.name))
                    {
                        let f = f.clone();
                        let fr = self.alloc()?;
                        let k = self.konst(f)?;
                        self.emit_const(fr, k);
                        self.method_args(args)?;
                        self.pos = pos;
                        self.emit(Instr::Call {
                            dst,
                            f: fr,
                            argc: args.len() as u8,
                        });
                        return Ok(());
                    }
                }
            }
        }
        // Non-mutating (or handle) method: the receiver's register is taken
        // and put back, so a local is used in place.
        let (r, temp_recv) = match &recv.kind {
            ExprKind::Name(nm) => match self.resolve(&nm.name) {
                Some(Res::Local(r) | Res::GroupLocal(r, ..)) => (r, false),
                _ => (self.expr_any_safe(recv)?, true),
            },
            _ => (self.expr_any_safe(recv)?, true),
        };
        let site = self.add_site(MethodSite {
            id,
            name: name.name.as_str().into(),
            readonly: mutating,
            temp_recv,
        })?;
        let fscratch = self.alloc()?;
        self.method_args(args)?;
        self.pos = pos;
        self.emit(Instr::CallMethod {
            dst,
            recv: r,
            args: fscratch + 1,
            argc: args.len() as u8,
            site,
        });
        Ok(())
    }

    /// Whether `recv` is a name bound to a module: a built-in one (`fs`) or
    /// an `import` of this file (`import "fs" as f`).
    fn names_module(&mut self, recv: &Expr) -> bool {
        let ExprKind::Name(id) = &recv.kind else {
            return false;
        };
        match self.resolve(&id.name) {
            Some(Res::Builtin(Value::Module(_))) => true,
            None => stdlib::builtin_module(&id.name).is_some(),
            Some(Res::Global(_) | Res::Capture(_) | Res::Local(_) | Res::GroupLocal(..)) => {
                self.import_names.contains(&id.name)
            }
            _ => false,
        }
    }

    /// Like `resolve_write` but returns `None` instead of an error for a
    /// root that may not be written here.
    fn resolve_write_quiet(&mut self, id: &Ident) -> Option<Res> {
        match self.resolve(&id.name) {
            Some(r @ (Res::Local(_) | Res::GroupLocal(..))) => {
                if self.is_top_level_code() {
                    self.note_write(&id.name);
                }
                Some(r)
            }
            Some(r @ Res::Global(_)) if self.is_top_level_code() => {
                self.note_write(&id.name);
                Some(r)
            }
            _ => None,
        }
    }

    fn method_args(&mut self, args: &[Expr]) -> CResult<()> {
        for a in args {
            let r = self.alloc()?;
            self.expr_to(a, r)?;
        }
        Ok(())
    }

    fn if_expr(
        &mut self,
        cond: &Expr,
        then: &Block,
        else_: Option<&Expr>,
        out: Out,
    ) -> CResult<()> {
        let jf = self.cond_false(cond)?;
        self.block(then, out)?;
        match else_ {
            Some(e) => {
                let j_end = if out == Out::Tail {
                    None
                } else {
                    Some(self.emit(Instr::Jump { off: 0 }))
                };
                for j in jf {
                    self.patch_here(j);
                }
                match &e.kind {
                    ExprKind::If { cond, then, else_ } => {
                        self.if_expr(cond, then, else_.as_deref(), out)?
                    }
                    ExprKind::Block(b) => self.block(b, out)?,
                    _ => self.expr_out(e, out)?,
                }
                if let Some(j) = j_end {
                    self.patch_here(j);
                }
            }
            None => match out {
                Out::To(r) => {
                    let j_end = self.emit(Instr::Jump { off: 0 });
                    for j in jf {
                        self.patch_here(j);
                    }
                    self.emit(Instr::Nil { dst: r });
                    self.patch_here(j_end);
                }
                Out::Tail => {
                    for j in jf {
                        self.patch_here(j);
                    }
                    self.emit(Instr::ReturnNil);
                }
                Out::Discard => {
                    for j in jf {
                        self.patch_here(j);
                    }
                }
            },
        }
        Ok(())
    }

    /// `try` with any of `catch` and `finally`.
    fn try_any(
        &mut self,
        body: &Block,
        var: Option<&Ident>,
        handler: Option<&Block>,
        finally: Option<&Block>,
        out: Out,
    ) -> CResult<()> {
        match (handler, finally) {
            (Some(h), None) => self.try_expr(body, var, h, out),
            (h, Some(f)) => self.try_finally(body, var, h, f, out),
            (None, None) => Err(self.err(self.pos, "'try' needs 'catch' or 'finally'")),
        }
    }

    /// `try { body } [catch e { handler }] finally { cleanup }`:
    ///
    /// ```text
    ///     TryBegin fe -> ERR        ; the finally handler catches everything
    ///     <body, or try/catch>      ; value to `res`
    ///     TryEnd
    ///     <cleanup>                 ; normal path
    ///     Jump END                  ; (or Return res in tail position)
    /// ERR:
    ///     FinallyEnter fe           ; shields a cancelled task's cleanup
    ///     <cleanup>
    ///     Rethrow fe
    /// END:
    /// ```
    ///
    /// `break`, `continue` and `return` inside run a copy of the cleanup
    /// before they leave (see [`Self::leave_handlers`]), so code without
    /// `finally` pays nothing.
    fn try_finally(
        &mut self,
        body: &Block,
        var: Option<&Ident>,
        handler: Option<&Block>,
        cleanup: &Block,
        out: Out,
    ) -> CResult<()> {
        let mark = self.mark();
        let res = match out {
            Out::To(r) => Some(r),
            Out::Tail => Some(self.alloc()?),
            Out::Discard => None,
        };
        let inner = res.map_or(Out::Discard, Out::To);
        let fe = self.alloc()?;
        let tb = self.emit(Instr::TryBegin { err: fe, off: 0 });
        self.f().try_depth += 1;
        let level = self.f().try_depth;
        self.f().finallies.push(FinallyCtx {
            level,
            block: cleanup.clone(),
        });
        let r = match handler {
            Some(h) => self.try_expr(body, var, h, inner),
            None => self.block(body, inner),
        };
        self.f().finallies.pop();
        self.f().try_depth -= 1;
        r?;
        self.emit(Instr::TryEnd);
        self.finally_block(cleanup)?;
        let j_end = match (out, res) {
            (Out::Tail, Some(r)) => {
                self.emit(Instr::Return { src: r });
                None
            }
            _ => Some(self.emit(Instr::Jump { off: 0 })),
        };
        self.patch_here(tb);
        self.pos = cleanup.pos;
        self.emit(Instr::FinallyEnter { err: fe });
        self.finally_block(cleanup)?;
        self.pos = cleanup.pos;
        self.emit(Instr::Rethrow { src: fe });
        if let Some(j) = j_end {
            self.patch_here(j);
        }
        self.free_to(mark);
        Ok(())
    }

    /// A copy of a `finally` block: its value is dropped, and `break`,
    /// `continue` and `return` may not leave it.
    fn finally_block(&mut self, b: &Block) -> CResult<()> {
        let nloops = self.f().loops.len();
        self.f().finally_barriers.push(nloops);
        let r = self.block(b, Out::Discard);
        self.f().finally_barriers.pop();
        r
    }

    /// Before a jump out of the `try` blocks deeper than `to` (a `break`,
    /// `continue` or `return`): removes their handlers, innermost first,
    /// running each `finally` block on the way, as it is compiled at its
    /// own level (its own handler and the ones inside it are gone).
    fn leave_handlers(&mut self, to: u32) -> CResult<()> {
        let td = self.f().try_depth;
        for level in (to + 1..=td).rev() {
            self.emit(Instr::TryEnd);
            let Some(i) = self.f().finallies.iter().position(|c| c.level == level) else {
                continue;
            };
            let saved = self.f().finallies.split_off(i);
            self.f().try_depth = level - 1;
            let r = self.finally_block(&saved[0].block);
            self.f().try_depth = td;
            self.f().finallies.extend(saved);
            r?;
        }
        Ok(())
    }

    fn try_expr(
        &mut self,
        body: &Block,
        var: Option<&Ident>,
        handler: &Block,
        out: Out,
    ) -> CResult<()> {
        let mark = self.mark();
        let e = self.alloc()?;
        let tb = self.emit(Instr::TryBegin { err: e, off: 0 });
        self.f().try_depth += 1;
        self.block(body, out)?;
        self.f().try_depth -= 1;
        self.emit(Instr::TryEnd);
        let j_end = if out == Out::Tail {
            None
        } else {
            Some(self.emit(Instr::Jump { off: 0 }))
        };
        self.patch_here(tb);
        self.push_scope();
        if let Some(v) = var {
            self.declare(&v.name, LocalKind::Reg(e, None));
        }
        self.block(handler, out)?;
        self.pop_scope();
        if let Some(j) = j_end {
            self.patch_here(j);
        }
        self.free_to(mark);
        Ok(())
    }

    /// Compiles a condition; returns the jumps to patch to the false branch.
    fn cond_false(&mut self, cond: &Expr) -> CResult<Vec<usize>> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.cond_false_inner(cond))
    }

    fn cond_false_inner(&mut self, cond: &Expr) -> CResult<Vec<usize>> {
        let mark = self.mark();
        let jumps = match &cond.kind {
            ExprKind::Bool(true) => Vec::new(),
            ExprKind::And(l, r) => {
                let mut j = self.cond_false(l)?;
                j.extend(self.cond_false(r)?);
                j
            }
            ExprKind::Unary(UnOp::Not, x) => {
                let r = self.expr_any(x)?;
                self.pos = cond.pos;
                vec![self.emit(Instr::JumpIfTrue { cond: r, off: 0 })]
            }
            ExprKind::Binary(
                op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne),
                l,
                r,
            ) => {
                let nil_side = match (&l.kind, &r.kind) {
                    (_, ExprKind::Nil) => Some(l),
                    (ExprKind::Nil, _) => Some(r),
                    _ => None,
                };
                if let (Some(x), BinOp::Eq | BinOp::Ne) = (nil_side, op) {
                    // `x == nil` / `x != nil`: one test of the tag, no
                    // register loaded with nil (speed only).
                    let a = self.expr_any(x)?;
                    self.pos = cond.pos;
                    let off = 0;
                    vec![self.emit(if *op == BinOp::Eq {
                        Instr::JumpIfNotNil { a, off }
                    } else {
                        Instr::JumpIfNil { a, off }
                    })]
                } else if let Some(imm) = small_int(r) {
                    let a = self.expr_any(l)?;
                    self.pos = cond.pos;
                    let off = 0;
                    vec![self.emit(match op {
                        BinOp::Lt => Instr::JumpIfNotLtI { a, imm, off },
                        BinOp::Le => Instr::JumpIfNotLeI { a, imm, off },
                        BinOp::Gt => Instr::JumpIfNotGtI { a, imm, off },
                        BinOp::Ge => Instr::JumpIfNotGeI { a, imm, off },
                        BinOp::Eq => Instr::JumpIfNotEqI { a, imm, off },
                        _ => Instr::JumpIfNotNeI { a, imm, off },
                    })]
                } else if let (BinOp::Lt, ExprKind::Int(big)) = (op, &r.kind) {
                    let a = self.expr_any(l)?;
                    let k = self.konst(Value::Int(*big))?;
                    self.pos = cond.pos;
                    match u16::try_from(k) {
                        Ok(k) => vec![self.emit(Instr::JumpIfNotLtK { a, k, off: 0 })],
                        Err(_) => {
                            let b = self.alloc()?;
                            self.emit(Instr::ConstWide { dst: b, k });
                            vec![self.emit(Instr::JumpIfNot {
                                op: BinOp::Lt,
                                a,
                                b,
                                off: 0,
                            })]
                        }
                    }
                } else {
                    let a = if may_mutate(r) {
                        self.expr_any_safe(l)?
                    } else {
                        self.expr_any(l)?
                    };
                    let b = self.expr_any(r)?;
                    self.pos = cond.pos;
                    vec![self.emit(Instr::JumpIfNot {
                        op: *op,
                        a,
                        b,
                        off: 0,
                    })]
                }
            }
            _ => {
                let r = self.expr_any(cond)?;
                self.pos = cond.pos;
                vec![self.emit(Instr::JumpIfFalse { cond: r, off: 0 })]
            }
        };
        self.free_to(mark);
        Ok(jumps)
    }
}

/// Where an assigned value comes from.
#[derive(Clone, Copy)]
enum Src<'a> {
    /// An expression still to compute.
    Expr(&'a Expr),
    /// A register that already holds it (destructuring).
    Reg(Reg),
}

/// One step of an assignment path.
enum PathKey<'a> {
    Index(&'a Expr),
    Field(&'a str),
}

/// Splits `a[i].b[j]` into its root name and keys; `None` if the expression
/// is not a variable, index or field chain.
fn place_of(e: &Expr) -> Option<(&Ident, Vec<PathKey<'_>>)> {
    let mut keys = Vec::new();
    let mut cur = e;
    loop {
        match &cur.kind {
            ExprKind::Name(id) => {
                keys.reverse();
                return Some((id, keys));
            }
            ExprKind::Index(o, k) => {
                keys.push(PathKey::Index(k));
                cur = o;
            }
            ExprKind::Field(o, name) => {
                keys.push(PathKey::Field(&name.name));
                cur = o;
            }
            _ => return None,
        }
    }
}

/// An int literal that fits an `i16` immediate.
fn small_int(e: &Expr) -> Option<i16> {
    match &e.kind {
        ExprKind::Int(i) => i16::try_from(*i).ok(),
        ExprKind::Unary(UnOp::Neg, x) => match &x.kind {
            ExprKind::Int(i) => i16::try_from(-*i).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Whether compiling `e` straight into a variable's register is safe: the
/// expression reads all its operands before its one final write.
fn writes_dst_once(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Nil
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Name(_)
            | ExprKind::List(_)
            | ExprKind::Map(_)
            | ExprKind::Unary(..)
            | ExprKind::Binary(..)
            | ExprKind::Call { .. }
            | ExprKind::MethodCall { .. }
            | ExprKind::Index(..)
            | ExprKind::Field(..)
            | ExprKind::Fn(_)
    )
}

/// Whether evaluating `e` may change a local variable (only a mutating
/// method can: it changes its receiver in place; other methods, and calls
/// of functions stored in maps and modules, leave the receiver as it was).
fn may_mutate(e: &Expr) -> bool {
    let mut found = false;
    visit_expr(e, &mut |x| {
        if let ExprKind::MethodCall { name, .. } = &x.kind {
            if stdlib::method_id(&name.name).is_some_and(stdlib::is_mutating) {
                found = true;
            }
        }
    });
    found
}

fn stmt_mentions(s: &Stmt, names: &HashSet<&str>) -> bool {
    let mut found = false;
    visit_stmt(s, &mut |x| {
        if let ExprKind::Name(id) = &x.kind {
            if names.contains(id.name.as_str()) {
                found = true;
            }
        }
    });
    found
}

fn visit_block(b: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &b.stmts {
        visit_stmt(s, f);
    }
}

fn visit_stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Let { value, .. } | StmtKind::LetPattern { value, .. } => visit_expr(value, f),
        StmtKind::Assign { target, value, .. } => {
            visit_expr(target, f);
            visit_expr(value, f);
        }
        StmtKind::FnDecl(d) => visit_fn(d, f),
        StmtKind::While { cond, body } => {
            visit_expr(cond, f);
            visit_block(body, f);
        }
        StmtKind::For { iter, body, .. } => {
            visit_expr(iter, f);
            visit_block(body, f);
        }
        StmtKind::Return(Some(e)) | StmtKind::Throw(e) | StmtKind::Expr(e) => visit_expr(e, f),
        StmtKind::Return(None) | StmtKind::Break | StmtKind::Continue | StmtKind::Import { .. } => {
        }
    }
}

fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    // Chains of binary operators may be arbitrarily deep.
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || visit_expr_inner(e, f))
}

fn visit_expr_inner(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Nil
        | ExprKind::Bool(_)
        | ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_) => {}
        ExprKind::List(xs) => xs.iter().for_each(|x| visit_expr(x, f)),
        ExprKind::Map(ps) => ps.iter().for_each(|(k, v)| {
            visit_expr(k, f);
            visit_expr(v, f);
        }),
        ExprKind::Unary(_, x) | ExprKind::Field(x, _) => visit_expr(x, f),
        ExprKind::Binary(_, a, b)
        | ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Index(a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Call { callee, args } => {
            visit_expr(callee, f);
            args.iter().for_each(|x| visit_expr(x, f));
        }
        ExprKind::MethodCall { recv, args, .. } => {
            visit_expr(recv, f);
            args.iter().for_each(|x| visit_expr(x, f));
        }
        ExprKind::Fn(d) => visit_fn(d, f),
        ExprKind::If { cond, then, else_ } => {
            visit_expr(cond, f);
            visit_block(then, f);
            if let Some(e) = else_ {
                visit_expr(e, f);
            }
        }
        ExprKind::Block(b) => visit_block(b, f),
        ExprKind::Try {
            body,
            handler,
            finally,
            ..
        } => {
            visit_block(body, f);
            for b in [handler, finally].into_iter().flatten() {
                visit_block(b, f);
            }
        }
    }
}

fn visit_fn(d: &FnDef, f: &mut dyn FnMut(&Expr)) {
    for p in &d.params {
        if let Some(e) = &p.default {
            visit_expr(e, f);
        }
    }
    visit_block(&d.body, f);
}

#[cfg(test)]
mod test;
