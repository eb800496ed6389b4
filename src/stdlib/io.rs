//! Terminal and file I/O: `print eprint input read_file write_file`.

use super::args::{self, arity};
use crate::error::{Error, ErrorKind, Result};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use std::fmt::Write as _;
use std::io::{BufRead, Write};

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "print",
        f: print,
    },
    NativeFn {
        name: "eprint",
        f: eprint,
    },
    NativeFn {
        name: "input",
        f: input,
    },
    NativeFn {
        name: "read_file",
        f: read_file,
    },
    NativeFn {
        name: "write_file",
        f: write_file,
    },
];

/// The line `print(args)` writes: the values' printed forms separated by
/// spaces, and a newline.
pub(crate) fn print_line(args: &[Value]) -> String {
    let mut line = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        match v {
            Value::Str(s) => line.push_str(s),
            other => {
                let _ = write!(line, "{other}");
            }
        }
    }
    line.push('\n');
    line
}

/// `print(...)`. The whole line is written under one lock of stdout, so
/// lines printed by several threads never interleave; while a parallel
/// call's progress bar is shown, the line goes above it.
fn print(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let line = print_line(args);
    if let Err(e) =
        super::parallel::above_bar(|| std::io::stdout().lock().write_all(line.as_bytes()))
    {
        return Err(stdout_error("print", &e));
    }
    Ok(Value::Nil)
}

/// A failed write to stdout. If the reader has gone away (`weft script |
/// head -1`), the process ends here, quietly and with status 0, as ripgrep
/// and other command-line tools do: the reader has what it wanted, and
/// nobody is left to read. (Python prints a `BrokenPipeError` and a Go
/// program dies of `SIGPIPE`, which a shell reports as status 141; an error
/// the script could catch would let a loop keep printing into the void.)
/// Any other failure is an `IOError`.
#[cold]
fn stdout_error(func: &str, e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        crate::runtime::finish();
        std::process::exit(0);
    }
    Error::new(ErrorKind::IOError, format!("{func}(): {}", os_reason(e)))
}

/// `eprint(...)`: like `print`, to stderr (one write per line too). Stdout
/// is flushed first, so the two streams stay in order on a terminal.
fn eprint(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let line = print_line(args);
    let _ = std::io::stdout().flush();
    let mut err = std::io::stderr().lock();
    err.write_all(line.as_bytes())
        .map_err(|e| Error::new(ErrorKind::IOError, format!("eprint(): {}", os_reason(&e))))?;
    Ok(Value::Nil)
}

/// `input(prompt?)`: one line of stdin without its line ending; `nil` at the
/// end of input.
fn input(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("input", args, 0, 1)?;
    let io_err =
        |e: std::io::Error| Error::new(ErrorKind::IOError, format!("input(): {}", os_reason(&e)));
    if let Some(prompt) = args.first() {
        let text = match prompt {
            Value::Str(s) => s.to_string(),
            other => other.to_string(),
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            drop(out);
            return Err(stdout_error("input", &e));
        }
    }
    let mut line = String::new();
    let n =
        crate::pool::blocking(|| std::io::stdin().lock().read_line(&mut line)).map_err(io_err)?;
    if n == 0 {
        return Ok(Value::Nil);
    }
    Ok(Value::str(strip_line_ending(line)))
}

/// Removes one trailing `\n` or `\r\n`.
pub(crate) fn strip_line_ending(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// `read_file(path)`: the file's text (UTF-8).
fn read_file(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("read_file", args, 1, 1)?;
    let path = args::string("read_file", "path", &args[0])?;
    let mut file = std::fs::File::open(path).map_err(|e| file_error("read", path, &e))?;
    let size = file
        .metadata()
        .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        .unwrap_or(0);
    crate::ops::memory::check(size, || {
        format!("the contents of {}", Value::str(path).repr())
    })?;
    // Straight into the string's own buffer: one copy of the text in
    // memory, not a `String` and then a copy of it.
    crate::value::Str::read_from(&mut file, size)
        .map(Value::Str)
        .map_err(|e| file_error("read", path, &e))
}

/// `write_file(path, text)`: creates or truncates the file.
fn write_file(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("write_file", args, 2, 2)?;
    let path = args::string("write_file", "path", &args[0])?;
    let text = args::string("write_file", "contents", &args[1])?;
    std::fs::write(path, text).map_err(|e| file_error("write", path, &e))?;
    Ok(Value::Nil)
}

#[cold]
fn file_error(verb: &str, path: &str, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::IOError,
        format!(
            "cannot {verb} {}: {}",
            Value::str(path).repr(),
            os_reason(e)
        ),
    )
}

/// The OS's description of `e`, without Rust's ` (os error N)` suffix.
pub(crate) fn os_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
