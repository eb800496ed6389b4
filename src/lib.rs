//! Weft: a small scripting language built for parallel work.
//!
//! Every Weft value can cross threads and no two threads can race on the same
//! data: lists, maps and strings are copy-on-write values, closures capture by
//! value, and there is no global interpreter lock.

#![warn(missing_docs)]

pub mod alloc;
pub mod ast;
pub mod bytecode;
pub mod channel;
pub mod compiler;
pub mod diagnostic;
pub mod envvars;
pub mod error;
pub mod function;
pub mod interp;
pub mod lexer;
pub mod map;
pub mod mpi;
pub mod ops;
pub mod parser;
pub mod pool;
pub mod repl;
pub mod runtime;
pub mod signal;
pub mod stdlib;
pub mod value;
pub mod vm;
