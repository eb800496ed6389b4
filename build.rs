//! Embeds the standard library modules written in Weft (`stdlib/*.weft`)
//! into the binary, as a table of `(name, source)` pairs.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("stdlib");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(rd) = fs::read_dir(&dir) {
        for entry in rd.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("weft") {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    println!("cargo:rerun-if-changed={}", path.display());
                    entries.push((stem.to_string(), path));
                }
            }
        }
    }
    entries.sort();
    let mut out =
        String::from("/// The standard library modules written in Weft: `(name, source)`.\n");
    out.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for (name, path) in &entries {
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib_embedded.rs");
    fs::write(dest, out).expect("writing the embedded stdlib table");
}
