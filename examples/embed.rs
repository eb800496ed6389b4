//! Embedding Weft in a Rust program: compile a script once, run its top
//! level, then call one of its functions from several OS threads at once.
//! Weft values are `Send + Sync` and compiled code is shared, so no lock is
//! needed around the calls.
//!
//! Run it: `cargo run --release --example embed`

use std::thread;
use weft::interp::Script;
use weft::value::Value;

const SOURCE: &str = r#"
let greeting = "hello"

fn score(word) {
    let total = 0
    for c in word.chars() {
        total += len(c) * (if "aeiou".contains(c) { 3 } else { 1 })
    }
    total
}
"#;

fn main() {
    let mut script = match Script::compile("embedded.weft", SOURCE) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = script.run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!("greeting = {}", script.get("greeting").unwrap_or_default());

    let words = ["weft", "warp", "shuttle", "selvedge"];
    let script = &script;
    thread::scope(|s| {
        let handles: Vec<_> = words
            .iter()
            .map(|w| s.spawn(move || (w, script.call("score", &[Value::from(*w)]))))
            .collect();
        for h in handles {
            match h.join().expect("a scoring thread panicked") {
                (w, Ok(v)) => println!("score({w}) = {v}"),
                (w, Err(e)) => println!("score({w}) failed: {e}"),
            }
        }
    });
}
