//! Import resolution at compile time. `import "p"` looks for `p.weft` in the
//! importing file's directory, then in each `WEFT_PATH` entry, then among
//! the standard library modules embedded in the binary (`stdlib/*.weft`).
//! Each module file is compiled once per process (a registry keyed by its
//! canonical path) and its body runs once, the first time an `import` of it
//! executes (see [`ModuleUnit::value`]).

use super::{compile, import_binding, CompileError, Unit};
use crate::ast::Pos;
use crate::bytecode::ModuleUnit;
use crate::diagnostic::Diagnostic;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

include!(concat!(env!("OUT_DIR"), "/stdlib_embedded.rs"));

/// The source of the embedded standard library module `name`, if any.
pub fn embedded_module(name: &str) -> Option<&'static str> {
    EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

fn registry() -> &'static Mutex<HashMap<String, Arc<ModuleUnit>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<ModuleUnit>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Tracks the chain of files being compiled, to report import cycles.
#[derive(Default)]
pub struct Loader {
    /// `(registry key, display name)` of each file being compiled, outermost first.
    stack: Vec<(String, String)>,
}

/// Where a module was found.
struct Found {
    key: String,
    display: String,
    dir: PathBuf,
    source: Result<String, String>,
}

impl Loader {
    /// A loader with nothing in progress.
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Records that `path` (the main script) is being compiled, so that a
    /// module importing it back is reported as a cycle.
    pub fn enter_root(&mut self, path: &Path, display: &str) {
        let key = std::fs::canonicalize(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| display.to_string());
        self.stack.push((key, display.to_string()));
    }

    fn find(path: &str, dir: &Path) -> Option<Found> {
        let rel = if path.ends_with(".weft") {
            path.to_string()
        } else {
            format!("{path}.weft")
        };
        let mut dirs = vec![dir.to_path_buf()];
        if let Some(wp) = std::env::var_os("WEFT_PATH") {
            dirs.extend(std::env::split_paths(&wp).filter(|p| !p.as_os_str().is_empty()));
        }
        for d in dirs {
            let candidate = d.join(&rel);
            if candidate.is_file() {
                let key = std::fs::canonicalize(&candidate)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| candidate.display().to_string());
                let source = std::fs::read_to_string(&candidate).map_err(|e| e.to_string());
                let dir = candidate
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                return Some(Found {
                    key,
                    display: candidate.display().to_string(),
                    dir,
                    source,
                });
            }
        }
        let name = path.strip_suffix(".weft").unwrap_or(path);
        embedded_module(name).map(|src| Found {
            key: format!("<stdlib>/{name}.weft"),
            display: format!("<stdlib>/{name}.weft"),
            dir: PathBuf::from("."),
            source: Ok(src.to_string()),
        })
    }

    /// Finds, compiles (once per process) and returns the module `path`
    /// imported at `pos` of `file`.
    pub fn load(
        &mut self,
        path: &str,
        dir: &Path,
        pos: Pos,
        file: &str,
        file_source: &Arc<str>,
    ) -> Result<Arc<ModuleUnit>, Box<CompileError>> {
        let here = |msg: String| {
            Box::new(CompileError {
                file: file.to_string(),
                source: file_source.clone(),
                diag: Diagnostic::new(pos, msg),
            })
        };
        let Some(found) = Self::find(path, dir) else {
            return Err(here(format!(
                "module '{path}' not found (looked in {}, WEFT_PATH and the standard library)",
                dir.display()
            )));
        };
        if let Some(i) = self.stack.iter().position(|(k, _)| *k == found.key) {
            let mut chain: Vec<&str> = self.stack[i..].iter().map(|(_, d)| d.as_str()).collect();
            chain.push(&found.display);
            return Err(here(format!("import cycle: {}", chain.join(" -> "))));
        }
        if let Some(unit) = registry().lock().get(&found.key) {
            return Ok(unit.clone());
        }
        let source: Arc<str> = match found.source {
            Ok(s) => Arc::from(s),
            Err(e) => return Err(here(format!("cannot read module '{path}': {e}"))),
        };
        let program = crate::parser::parse(&source).map_err(|diag| {
            Box::new(CompileError {
                file: found.display.clone(),
                source: source.clone(),
                diag,
            })
        })?;
        self.stack.push((found.key.clone(), found.display.clone()));
        let compiled = compile(
            &program,
            &found.display,
            source,
            found.dir,
            self,
            Unit::File,
        );
        self.stack.pop();
        let main = compiled?;
        let unit = Arc::new(ModuleUnit {
            name: import_binding(path),
            path: found.display,
            main,
            value: OnceLock::new(),
        });
        let mut reg = registry().lock();
        Ok(reg.entry(found.key).or_insert(unit).clone())
    }
}
