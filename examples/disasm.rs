//! Prints the bytecode the compiler makes of a script (a developer aid for
//! work on the compiler and the VM):
//!
//! ```sh
//! cargo run --release --example disasm benches/compare/fib.weft
//! ```

use std::path::Path;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: disasm FILE.weft");
        std::process::exit(2);
    };
    match weft::interp::Script::compile_file(Path::new(&path)) {
        Ok(script) => print!("{}", script.disassemble()),
        Err(e) => {
            eprintln!("{}", e.render());
            std::process::exit(1);
        }
    }
}
