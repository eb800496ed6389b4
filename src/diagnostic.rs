//! Compile-time diagnostics (syntax and compile errors), printed as
//! `FILE:LINE:COL: error: MESSAGE`, then the source line and a caret.
//!
//! The rendering is written by hand: LANGUAGE.md fixes this gcc-like
//! three-line format exactly, and diagnostics crates (codespan, ariadne,
//! miette) draw their own boxed or labelled layouts instead.

use crate::ast::Pos;

#[cfg(test)]
mod test;

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

    /// Renders the diagnostic for `file_name` whose text is `source`:
    ///
    /// ```text
    /// FILE:LINE:COL: error: MESSAGE
    ///     <the source line>
    ///     <spaces>^
    /// ```
    ///
    /// The source line is indented four spaces and the caret sits under the
    /// column (counted in characters); tabs before the column are kept in the
    /// caret line so the caret lines up however tabs are displayed. A column
    /// past the end of the line puts the caret just after it. When the line
    /// does not exist in `source`, only the first line is produced. There is
    /// no trailing newline.
    pub fn render(&self, file_name: &str, source: &str) -> String {
        let Pos { line, col } = self.pos;
        let mut out = format!("{file_name}:{line}:{col}: error: {}", self.message);
        let Some(text) = source_line(source, line) else {
            return out;
        };
        out.push_str("\n    ");
        out.push_str(text);
        out.push_str("\n    ");
        let mut chars = text.chars();
        for _ in 1..col.max(1) {
            out.push(if chars.next() == Some('\t') {
                '\t'
            } else {
                ' '
            });
        }
        out.push('^');
        out
    }
}

/// The candidate closest to `name`, if one is close enough to be a typo of
/// it (for "did you mean" hints): Jaro-Winkler similarity of at least 0.8,
/// or `name` contained in the candidate (or the reverse) for names of four
/// characters or more. Ties go to the first candidate.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let mut score = strsim::jaro_winkler(name, c);
        if name.len() >= 4 && c.len() >= 4 && (c.contains(name) || name.contains(c)) {
            score = score.max(0.85);
        }
        if score >= 0.8 && best.map_or(true, |(_, b)| score > b) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

impl std::fmt::Display for Diagnostic {
    /// `LINE:COL: MESSAGE` (without a file name or source line).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Line `line` (1-based) of `source`, without its line break (`\n` or
/// `\r\n`); `None` when there is no such line.
fn source_line(source: &str, line: u32) -> Option<&str> {
    if line == 0 {
        return None;
    }
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let text = source.split('\n').nth(line as usize - 1)?;
    Some(text.strip_suffix('\r').unwrap_or(text))
}
