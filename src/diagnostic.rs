//! Compile-time diagnostics (syntax and compile errors), printed as
//! `FILE:LINE:COL: error: MESSAGE`, then the source line and a caret.
//!
//! Placeholder owned by the parser work: it renders the format.

use crate::ast::Pos;

/// One compile-time error at a source position.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Where the error is.
    pub pos: Pos,
    /// What is wrong, e.g. `undefined name 'x'`.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `pos`.
    pub fn new(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos,
            message: message.into(),
        }
    }
}
