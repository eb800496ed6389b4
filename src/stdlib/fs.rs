//! The built-in module `fs` (STDLIB.md): files and directories, path
//! helpers, and `fs.lines(path)`, a stream of a file's lines.
//!
//! Every failure of the OS is an `IOError` naming the path and the OS's
//! reason (`fs.size(): cannot stat "x": No such file or directory`); a bad
//! argument type is a `TypeError`.
//!
//! # Decisions (STDLIB.md is silent; Python's `os.path` unless noted)
//! - `exists`, `is_file`, `is_dir` follow symbolic links and are `false`
//!   for a broken link or a path that cannot be examined (Python).
//! - `list_dir(p)`: names only, sorted by code point, including hidden
//!   ones; `.` and `..` are not listed.
//! - `glob(pattern)`: `*`, `?` and `[...]` do not match a leading `.` of a
//!   name (hidden files need an explicit `.`), as in the shell and Python;
//!   `**` matches any number of directories. Results are sorted. An invalid
//!   pattern is a `ValueError` naming the offset; a directory that cannot
//!   be read while matching is an `IOError` (never skipped silently).
//! - `walk(p)`: does not descend into symbolic links to directories (no
//!   cycles); a link to a file is listed. A missing `p`, or a `p` that is
//!   not a directory, is an `IOError`.
//! - `mkdir(p)` creates missing parents and succeeds if the directory
//!   exists (Python's `makedirs(p, exist_ok=True)`); `remove(p)` removes a
//!   file, a link or an empty directory (`IOError` otherwise).
//! - `append_file(p, s)` creates the file if needed; `s` must be a string.
//! - `join(a, b, ...)`: a part that starts with `/` restarts the path;
//!   `basename`/`dirname` split at the last `/` (`basename("a/b/")` is
//!   `""`); `ext(p)` is the last `.suffix` of the name including the dot
//!   (`".gz"` for `a.tar.gz`, `""` for `.bashrc` or `README`).
//! - Names that are not valid UTF-8 are shown with U+FFFD in their place.
//! - `lines(p)`: a stream (channel) of the lines without `\n` / `\r\n`; the
//!   file is opened at the call (a missing file is an `IOError` there). A
//!   line that is not UTF-8 ends the stream with a `ValueError` naming the
//!   line, a read failure with an `IOError`, each thrown by the receive
//!   after the last good line (see `stream/README.md`).

use super::args::{self, arity};
use super::data::{self, io_error};
use super::stream;
use crate::error::{Error, Result};
use crate::pool::blocking;
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "exists",
        f: exists,
    },
    NativeFn {
        name: "is_file",
        f: is_file,
    },
    NativeFn {
        name: "is_dir",
        f: is_dir,
    },
    NativeFn {
        name: "size",
        f: size,
    },
    NativeFn {
        name: "list_dir",
        f: list_dir,
    },
    NativeFn {
        name: "glob",
        f: glob_fn,
    },
    NativeFn {
        name: "walk",
        f: walk,
    },
    NativeFn {
        name: "mkdir",
        f: mkdir,
    },
    NativeFn {
        name: "remove",
        f: remove,
    },
    NativeFn {
        name: "append_file",
        f: append_file,
    },
    NativeFn {
        name: "lines",
        f: lines,
    },
    NativeFn {
        name: "join",
        f: join,
    },
    NativeFn {
        name: "basename",
        f: basename,
    },
    NativeFn {
        name: "dirname",
        f: dirname,
    },
    NativeFn {
        name: "ext",
        f: ext,
    },
];

/// The module value `fs`.
pub(crate) fn make_module() -> Value {
    data::module("fs", FUNCTIONS)
}

/// The one path argument of `func`.
fn path_arg<'a>(func: &str, args: &'a [Value]) -> Result<&'a str> {
    arity(func, args, 1, 1)?;
    args::string(func, "path", &args[0])
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------
// Queries

fn exists(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.exists", args)?;
    Ok(Value::Bool(Path::new(p).exists()))
}

fn is_file(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.is_file", args)?;
    Ok(Value::Bool(Path::new(p).is_file()))
}

fn is_dir(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.is_dir", args)?;
    Ok(Value::Bool(Path::new(p).is_dir()))
}

fn size(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.size", args)?;
    let meta = std::fs::metadata(p).map_err(|e| io_error("fs.size", "stat", p, &e))?;
    Ok(Value::Int(i64::try_from(meta.len()).unwrap_or(i64::MAX)))
}

fn list_dir(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.list_dir", args)?;
    let mut names = blocking(|| -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(p)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    })
    .map_err(|e| io_error("fs.list_dir", "list", p, &e))?;
    names.sort_unstable();
    Ok(Value::list(names.into_iter().map(Value::str).collect()))
}

fn glob_fn(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let pattern = path_arg("fs.glob", args)?;
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, opts).map_err(|e| {
        let offset = pattern
            .char_indices()
            .take_while(|(i, _)| *i < e.pos)
            .count();
        Error::value_error(format!(
            "fs.glob(): invalid pattern {} at offset {offset}: {}",
            Value::str(pattern).repr(),
            e.msg
        ))
    })?;
    let mut out = blocking(|| -> Result<Vec<String>> {
        let mut out = Vec::new();
        for p in paths {
            match p {
                Ok(p) => out.push(lossy(&p)),
                Err(e) => return Err(io_error("fs.glob", "read", &lossy(e.path()), e.error())),
            }
        }
        Ok(out)
    })?;
    out.sort_unstable();
    Ok(Value::list(out.into_iter().map(Value::str).collect()))
}

fn walk(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let root = path_arg("fs.walk", args)?;
    let mut files = blocking(|| -> Result<Vec<String>> {
        let mut files = Vec::new();
        let mut dirs = vec![PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| io_error("fs.walk", "list", &lossy(&dir), &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io_error("fs.walk", "list", &lossy(&dir), &e))?;
                let path = dir.join(entry.file_name());
                let kind = entry
                    .file_type()
                    .map_err(|e| io_error("fs.walk", "stat", &lossy(&path), &e))?;
                if kind.is_dir() {
                    dirs.push(path);
                } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                    files.push(lossy(&path));
                }
            }
        }
        Ok(files)
    })?;
    files.sort_unstable();
    Ok(Value::list(files.into_iter().map(Value::str).collect()))
}

// ---------------------------------------------------------------------------
// Changes

fn mkdir(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.mkdir", args)?;
    std::fs::create_dir_all(p).map_err(|e| io_error("fs.mkdir", "create directory", p, &e))?;
    Ok(Value::Nil)
}

fn remove(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.remove", args)?;
    let meta = std::fs::symlink_metadata(p).map_err(|e| io_error("fs.remove", "remove", p, &e))?;
    if meta.is_dir() {
        std::fs::remove_dir(p)
    } else {
        std::fs::remove_file(p)
    }
    .map_err(|e| io_error("fs.remove", "remove", p, &e))?;
    Ok(Value::Nil)
}

fn append_file(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("fs.append_file", args, 2, 2)?;
    let p = args::string("fs.append_file", "path", &args[0])?;
    let text = args::string("fs.append_file", "text", &args[1])?;
    use std::io::Write;
    blocking(|| {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)?
            .write_all(text.as_bytes())
    })
    .map_err(|e| io_error("fs.append_file", "append to", p, &e))?;
    Ok(Value::Nil)
}

// ---------------------------------------------------------------------------
// Streams

/// Bytes read from the file at a time.
const READ_BUFFER: usize = 64 * 1024;

fn lines(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.lines", args)?;
    let file = open_file("fs.lines", p)?;
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let path = p.to_string();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    stream::spawn("lines", move || {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_error("fs.lines", "read", &path, &e))?;
        if n == 0 {
            return Ok(None);
        }
        line_no += 1;
        let line = strip_line_end(&buf);
        match std::str::from_utf8(line) {
            Ok(s) => Ok(Some(Value::str(s))),
            Err(e) => Err(Error::value_error(format!(
                "fs.lines(): {} line {line_no}: invalid UTF-8 at byte {}",
                Value::str(path.as_str()).repr(),
                e.valid_up_to() + 1
            ))),
        }
    })
}

/// Opens `p` for reading; a directory is an `IOError` here rather than at
/// the first read.
pub(crate) fn open_file(func: &str, p: &str) -> Result<std::fs::File> {
    let file = std::fs::File::open(p).map_err(|e| io_error(func, "open", p, &e))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err(io_error(
            func,
            "open",
            p,
            &std::io::Error::other("Is a directory"),
        )),
        _ => Ok(file),
    }
}

/// `line` without one trailing `\n` or `\r\n`.
pub(crate) fn strip_line_end(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r', b'\n'] => rest,
        [rest @ .., b'\n'] => rest,
        _ => line,
    }
}

// ---------------------------------------------------------------------------
// Path helpers

fn join(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("fs.join", args, 1, usize::MAX)?;
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let part = match a {
            Value::Str(s) => s.as_str(),
            other => {
                return Err(Error::type_error(format!(
                    "fs.join() argument {} must be a string, not {}",
                    i + 1,
                    args::article(other.type_name())
                )))
            }
        };
        if part.starts_with('/') {
            out.clear();
        } else if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    Ok(Value::str(out))
}

/// `(head, tail)` split at the last `/`, as Python's `os.path.split`.
fn split_path(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            (if trimmed.is_empty() { head } else { trimmed }, &p[i + 1..])
        }
        None => ("", p),
    }
}

fn basename(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.basename", args)?;
    Ok(Value::str(split_path(p).1))
}

fn dirname(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.dirname", args)?;
    Ok(Value::str(split_path(p).0))
}

fn ext(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let p = path_arg("fs.ext", args)?;
    let name = split_path(p).1;
    let stem = name.trim_start_matches('.');
    Ok(Value::str(match stem.rfind('.') {
        Some(i) => &stem[i..],
        None => "",
    }))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn path_helpers_follow_python() {
        let call = |f: fn(&mut Vm, &[Value]) -> Result<Value>, a: &[&str]| {
            let args: Vec<Value> = a.iter().map(|s| Value::str(*s)).collect();
            f(&mut Vm::new(), &args).unwrap().to_string()
        };
        assert_eq!(call(join, &["a", "b", "c.txt"]), "a/b/c.txt");
        assert_eq!(call(join, &["a/", "b"]), "a/b");
        assert_eq!(call(join, &["a", "/abs", "x"]), "/abs/x");
        assert_eq!(call(join, &["", "b"]), "b");
        assert_eq!(call(join, &["a", ""]), "a/");
        assert_eq!(call(basename, &["a/b/c.txt"]), "c.txt");
        assert_eq!(call(basename, &["a/b/"]), "");
        assert_eq!(call(basename, &["c"]), "c");
        assert_eq!(call(dirname, &["a/b/c.txt"]), "a/b");
        assert_eq!(call(dirname, &["/a"]), "/");
        assert_eq!(call(dirname, &["a//b"]), "a");
        assert_eq!(call(dirname, &["c"]), "");
        assert_eq!(call(ext, &["a/b.tar.gz"]), ".gz");
        assert_eq!(call(ext, &[".bashrc"]), "");
        assert_eq!(call(ext, &["a.d/README"]), "");
        assert_eq!(call(ext, &["x."]), ".");
    }

    #[test]
    fn line_ends_are_stripped() {
        assert_eq!(strip_line_end(b"a\r\n"), b"a");
        assert_eq!(strip_line_end(b"a\n"), b"a");
        assert_eq!(strip_line_end(b"a"), b"a");
        assert_eq!(strip_line_end(b"a\r"), b"a\r");
        assert_eq!(strip_line_end(b"\n"), b"");
    }
}
