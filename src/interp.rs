//! Running Weft code: files and snippets for the CLI ([`run_file`],
//! [`run_source`]), an embeddable [`Script`] (compile once, run, call its
//! functions) and a REPL [`Session`] that keeps top-level variables between
//! inputs.
//!
//! Exit codes: 0 success; 1 a syntax/compile error or an uncaught runtime
//! error; 2 a usage problem (such as an unreadable script file); 130 an
//! uncaught `Interrupted` (Ctrl-C, see [`crate::signal`]); `exit(n)` exits
//! with `n` directly.

use crate::compiler::{self, CompileError, Loader, ReplGlobals, Unit};
use crate::error::Error;
use crate::value::{Key, Value};
use crate::vm::with_vm;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Exit status for success.
pub const EXIT_OK: i32 = 0;
/// Exit status for a failed script (syntax, compile or uncaught error).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status for a usage or configuration error.
pub const EXIT_USAGE: i32 = 2;

/// A compiled file: run its top level with [`Script::run`], then fetch its
/// top-level variables and functions with [`Script::get`].
#[derive(Debug)]
pub struct Script {
    main: &'static crate::bytecode::Proto,
    exports: Option<Value>,
}

/// Why a [`Session`] input or a [`Script`] failed.
#[derive(Debug)]
pub enum RunError {
    /// A syntax or compile error (nothing ran).
    Compile(Box<CompileError>),
    /// An uncaught runtime error.
    Runtime(Error),
}

impl RunError {
    /// The message printed for this error (a rendered diagnostic, or
    /// `error: KIND: MESSAGE` and the trace), without a trailing newline.
    pub fn render(&self) -> String {
        match self {
            RunError::Compile(c) => c.render(),
            RunError::Runtime(e) => render_runtime_error(e),
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for RunError {}

/// Parses and compiles `source`; `name` is the file name shown in messages
/// and traces, `dir` the directory imports are resolved against.
fn compile_in(
    name: &str,
    source: &str,
    dir: PathBuf,
    root: Option<&Path>,
) -> Result<Script, Box<CompileError>> {
    let source: Arc<str> = Arc::from(source);
    let program = crate::parser::parse(&source).map_err(|diag| {
        Box::new(CompileError {
            file: name.to_string(),
            source: source.clone(),
            diag,
        })
    })?;
    let mut loader = Loader::new();
    if let Some(root) = root {
        loader.enter_root(root, name);
    }
    let main = compiler::compile(&program, name, source, dir, &mut loader, Unit::File)?;
    Ok(Script {
        main,
        exports: None,
    })
}

impl Script {
    /// Compiles source text. Imports resolve against the current directory.
    pub fn compile(name: &str, source: &str) -> Result<Script, Box<CompileError>> {
        compile_in(name, source, PathBuf::from("."), None)
    }

    /// Compiles a file. Reading failures are reported as a compile error
    /// at line 0; text that is not UTF-8 at the line and column of its
    /// first bad byte.
    pub fn compile_file(path: &Path) -> Result<Script, Box<CompileError>> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            Box::new(CompileError {
                file: name.clone(),
                source: Arc::from(""),
                diag: crate::diagnostic::Diagnostic::new(
                    Default::default(),
                    format!("cannot read file: {e}"),
                ),
            })
        })?;
        let source = decode_source(&name, bytes)?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(".".into());
        compile_in(&name, &source, dir, Some(path))
    }

    /// The compiled top-level code (the root of the program's functions;
    /// `--mpi` numbers every function from it).
    pub fn main_proto(&self) -> &'static crate::bytecode::Proto {
        self.main
    }

    /// Runs the top-level code on this thread. Returns the module value
    /// (its fields are the top-level `let`s and `fn`s).
    pub fn run(&mut self) -> Result<Value, Error> {
        let main = self.main;
        let _main = crate::runtime::enter_main_script();
        let exports = run_main(main)?;
        let module = match &exports {
            Value::Map(m) => Value::Module(Arc::new(crate::value::Module {
                name: "<main>".into(),
                fields: (**m).clone(),
            })),
            other => other.clone(),
        };
        self.exports = Some(exports);
        Ok(module)
    }

    /// The bytecode of every function of the script, for developers
    /// (`cargo run --release --example disasm FILE.weft`).
    pub fn disassemble(&self) -> String {
        self.main.disassemble_all()
    }

    /// A top-level variable or function after [`Script::run`].
    pub fn get(&self, name: &str) -> Option<Value> {
        match &self.exports {
            Some(Value::Map(m)) => m.get(&Key::str(name)).cloned(),
            _ => None,
        }
    }

    /// Calls the top-level function `name` (after [`Script::run`]) on this
    /// thread.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        match self.get(name) {
            Some(f) => crate::vm::call_value(&f, args),
            None => Err(Error::new(
                crate::error::ErrorKind::NameError,
                format!("no top-level '{name}'"),
            )),
        }
    }
}

/// A REPL session: each input is compiled and run at once; top-level
/// variables and functions persist between inputs. Inputs are numbered
/// from 1 in messages and traces: `<stdin#3>:2:5` is line 2 of the third.
pub struct Session {
    globals: ReplGlobals,
    name: String,
    inputs: usize,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// An empty session whose inputs are named `<stdin>` in messages.
    pub fn new() -> Session {
        Session {
            globals: ReplGlobals::default(),
            name: "<stdin>".into(),
            inputs: 0,
        }
    }

    /// Whether `source` is an unfinished input the REPL should extend.
    pub fn is_incomplete(source: &str) -> bool {
        crate::parser::is_incomplete(source)
    }

    /// Compiles and runs one input; returns the value of its last
    /// expression statement (`nil` if it has none).
    pub fn eval(&mut self, source: &str) -> Result<Value, RunError> {
        self.inputs += 1;
        let name = format!("{}#{}>", self.name.trim_end_matches('>'), self.inputs);
        let src: Arc<str> = Arc::from(source);
        let program = crate::parser::parse(&src).map_err(|diag| {
            RunError::Compile(Box::new(CompileError {
                file: name.clone(),
                source: src.clone(),
                diag,
            }))
        })?;
        let mut loader = Loader::new();
        let main = compiler::compile(
            &program,
            &name,
            src.clone(),
            PathBuf::from("."),
            &mut loader,
            Unit::Repl(&mut self.globals),
        )
        .map_err(RunError::Compile)?;
        let _main = crate::runtime::enter_main_script();
        run_main(main).map_err(RunError::Runtime)
    }

    /// The current value of a session variable.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.globals.get(name)
    }
}

/// Runs compiled top-level code on this thread's VM as the main script:
/// Ctrl-C reaches it (`crate::signal`) when the handler is installed.
fn run_main(main: &'static crate::bytecode::Proto) -> Result<Value, Error> {
    crate::signal::main_script(|flag| {
        with_vm(|vm| {
            let outer = flag.map(|f| vm.set_cancel_flag(Some(f)));
            let r = vm.run_main(main);
            if let Some(outer) = outer {
                vm.set_cancel_flag(outer);
            }
            r
        })
    })
}

/// `error: KIND: MESSAGE` and one `  at ...` line per trace frame
/// (consecutive repeats are collapsed, as deep recursion makes thousands).
pub fn render_runtime_error(e: &Error) -> String {
    let mut out = format!("error: {}: {}", e.kind(), e.message());
    let trace = &e.0.trace;
    let mut i = 0;
    while i < trace.len() {
        let mut j = i + 1;
        while j < trace.len() && trace[j] == trace[i] {
            j += 1;
        }
        out.push_str("\n  ");
        out.push_str(&trace[i]);
        let repeats = j - i - 1;
        if repeats > 2 {
            out.push_str(&format!(
                "\n  ... (the line above repeated {repeats} more times)"
            ));
        } else {
            for _ in 0..repeats {
                out.push_str("\n  ");
                out.push_str(&trace[i]);
            }
        }
        i = j;
    }
    out
}

fn report(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

fn flush_stdout() {
    let _ = std::io::stdout().flush();
}

fn run_script(script: Result<Script, Box<CompileError>>, script_args: Vec<String>) -> i32 {
    crate::stdlib::set_script_args(script_args);
    let mut script = match script {
        Ok(s) => s,
        Err(e) => {
            report(&e.render());
            return EXIT_FAILURE;
        }
    };
    let r = script.run();
    flush_stdout();
    match r {
        Ok(_) => EXIT_OK,
        Err(e) if e.kind() == crate::error::ErrorKind::Interrupted => {
            report(&render_runtime_error(&e));
            for line in crate::signal::running_tasks_report() {
                report(&line);
            }
            crate::signal::EXIT_INTERRUPTED
        }
        Err(e) => {
            report(&render_runtime_error(&e));
            EXIT_FAILURE
        }
    }
}

/// Runs a script file with `script_args` (what `args()` returns). Prints
/// compile and uncaught runtime errors to stderr; returns the exit code.
pub fn run_file(path: &Path, script_args: Vec<String>) -> i32 {
    if let Err(e) = std::fs::metadata(path).and_then(|m| {
        if m.is_dir() {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory",
            ))
        } else {
            Ok(())
        }
    }) {
        report(&format!("weft: cannot open '{}': {e}", path.display()));
        return EXIT_USAGE;
    }
    run_script(Script::compile_file(path), script_args)
}

/// Source bytes as text, or a compile error at the line and column (in
/// characters) of the first byte that is not valid UTF-8.
pub fn decode_source(name: &str, bytes: Vec<u8>) -> Result<String, Box<CompileError>> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let good = std::str::from_utf8(&bytes[..at]).unwrap_or("");
            let line = good.matches('\n').count() as u32 + 1;
            let line_start = good.rfind('\n').map_or(0, |i| i + 1);
            let col = good[line_start..].chars().count() as u32 + 1;
            let shown = String::from_utf8_lossy(&bytes).into_owned();
            Err(Box::new(CompileError {
                file: name.to_string(),
                source: Arc::from(shown),
                diag: crate::diagnostic::Diagnostic::new(
                    crate::ast::Pos { line, col },
                    format!(
                        "invalid UTF-8 (byte 0x{:02X}): source files must be UTF-8",
                        bytes[at]
                    ),
                ),
            }))
        }
    }
}

/// Runs standard input, read whole, as a script named `<stdin>` (for a
/// piped or redirected stdin: as a file, not as a REPL).
pub fn run_stdin(script_args: Vec<String>) -> i32 {
    use std::io::Read;
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        report(&format!("weft: cannot read the script from stdin: {e}"));
        return EXIT_USAGE;
    }
    let name = "<stdin>";
    let script =
        decode_source(name, bytes).and_then(|src| compile_in(name, &src, PathBuf::from("."), None));
    run_script(script, script_args)
}

/// Runs source text named `name` (e.g. `<eval>`) with `script_args`.
pub fn run_source(name: &str, source: &str, script_args: Vec<String>) -> i32 {
    run_script(
        compile_in(name, source, PathBuf::from("."), None),
        script_args,
    )
}
