//! Weft: a small scripting language built for parallel work.
//!
//! Every Weft value can cross threads and no two threads can race on the same
//! data: lists, maps and strings are copy-on-write values, closures capture by
//! value, and there is no global interpreter lock.

#![warn(missing_docs)]

pub mod ast;
pub mod channel;
pub mod error;
pub mod function;
pub mod ops;
pub mod value;
pub mod vm;
pub mod diagnostic;
pub mod pool;
pub mod stdlib;
