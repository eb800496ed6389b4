//! The parser: turns source text into a [`Program`].
//!
//! A hand-written recursive-descent parser over the tokens of
//! [`crate::lexer`], with precedence climbing for binary operators (as in
//! Lua 5.4's `lparser.c`). Each parse function carries its grammar rule as a
//! comment. It stops at the first error.
//!
//! # Decisions where LANGUAGE.md is silent
//!
//! Newlines (statements end at a newline or `;`):
//! - a newline does not end anything inside `( )`, `[ ]` or a map literal
//!   `{k: v}`, nor after a binary operator, `=`, `op=`, a comma, a unary
//!   operator or any other token after which an expression must follow;
//! - `else` and `catch` may start the line after the `}` they follow, and a
//!   line starting with `.` continues a method chain (`xs\n  .map(f)`);
//! - a `(` or `[` at the start of a line starts a new statement rather than
//!   calling or indexing the previous line's value, and a binary operator at
//!   the start of a line is not a continuation (as in Go, Lua and JavaScript);
//! - the `{` of a body (`if`, `else`, `while`, `for`, `fn`, `try`, `catch`)
//!   may sit on the next line;
//! - a statement must be followed by a newline, `;`, `}` or the end of the
//!   file: `if x { a } b` on one line is an error.
//!
//! Braces:
//! - a `{` that begins a statement opens a block unless a map entry follows:
//!   precisely, unless a `:` comes at its top level before its matching `}`.
//!   This covers the spec's `{STRING :` and `{IDENT :`, and also keys such
//!   as `{1: ...}` or `{"a" + b: ...}`; since a block can never contain a
//!   top-level `:`, it never turns a valid block into a map;
//! - `{}` at the start of a statement is an **empty block**, not a map;
//! - elsewhere (after `=`, as an argument, ...) the same rule applies, except
//!   that `{}` is an empty map; `{ stmts }` there is a block expression;
//! - in the head of `if`, `while` and `for`, a `{` always starts the body:
//!   write a map literal there in parentheses (as in Go and Rust);
//! - map keys: a bare name means that string (`{a: 1}` is `{"a": 1}`), and so
//!   does a bare keyword other than `true`, `false` and `nil` (`{for: 1}`);
//!   any other expression is evaluated (`{1: "x"}`, `{-1: "y"}`,
//!   `{"a" + b: 2}`; `{(name): 3}` uses the variable `name`);
//! - likewise a keyword may follow `.` as a field or method name
//!   (`m.import`, since `m.name` is `m["name"]`).
//!
//! Other forms:
//! - `let x` without a value declares `x` as `nil` (as Lua's `local x`);
//! - a statement-level `{ ... }` block is a complete statement: no operator
//!   or call continues it on the same line (as in Rust);
//! - `not` may not appear as the operand of a tighter operator: `a == not b`
//!   is an error that suggests parentheses (as in Python);
//! - comparisons do not chain: `a < b < c` is an error that suggests `and`;
//! - `-9223372036854775808` is the smallest int; the literal
//!   `9223372036854775808` is an error anywhere else;
//! - `import "path"` without `as` needs a last path segment (less any
//!   `.weft`) that is a valid name; the `as` must be on the same line;
//! - duplicate parameter names are an error;
//! - nesting is limited to [`MAX_DEPTH`] levels, counting both the parser's
//!   own recursion (brackets, blocks, unary operators) and the depth of the
//!   tree it builds (call, index and field chains), and the error points at
//!   the opening (or node) that went past the limit. Chains of binary
//!   operators are built with an explicit operator stack and do not count:
//!   `1 + 1 + ... + 1` may have any number of terms (so passes that recurse
//!   over the tree grow their stack on demand along such chains, and the
//!   tree is dropped without recursion: see [`crate::ast::Expr`]);
//! - `let [a, ...rest] = xs` and `for [k, v] in ...` take list patterns
//!   (a name bound twice is an error, except `_`); `[a, b] = ...` is an
//!   assignment to a list of targets;
//! - a parameter may have a default (`fn f(a, b = 1)`); one without a
//!   default may not follow one with a default;
//! - `finally` is a keyword only after the block of a `try` or `catch`
//!   (followed by `{`), so it stays a valid name elsewhere.

use crate::ast::{
    BinOp, Block, Expr, ExprKind, FnDef, Ident, ListPattern, Param, Pattern, Pos, Program, Stmt,
    StmtKind, UnOp,
};
use crate::diagnostic::Diagnostic;
use crate::lexer::{tokenize, LexError, Token, TokenKind};

#[cfg(test)]
mod test;

/// The deepest nesting the parser accepts: levels of brackets, blocks and
/// operators, and levels of the syntax tree it returns.
pub const MAX_DEPTH: u32 = 200;

/// A syntax error, with whether the input simply ended too early.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// What is wrong and where.
    pub diagnostic: Diagnostic,
    /// True when the error is that the input ended inside something unclosed
    /// (a bracket, a block, a string) or right after a token that needs more
    /// (`x = `, `a +`): a REPL should read another line and try again.
    pub incomplete: bool,
}

/// Parses a whole source file. Returns the first syntax error.
///
/// Never panics and never overflows the stack, whatever the input.
pub fn parse(source: &str) -> Result<Program, Diagnostic> {
    parse_for_repl(source).map_err(|e| e.diagnostic)
}

/// Parses like [`parse`], but says whether an error only means the input
/// ended early (see [`SyntaxError::incomplete`]).
pub fn parse_for_repl(source: &str) -> Result<Program, SyntaxError> {
    let lexed = tokenize(source);
    let mut p = Parser {
        src: source,
        toks: lexed.tokens,
        i: 0,
        lex_error: lexed.error,
        nl_ends: true,
        in_head: false,
        nesting: 0,
    };
    p.program().map_err(|e| *e)
}

/// Whether `source` is an unfinished program (an unclosed bracket, block or
/// string, or a trailing operator) that a REPL should extend with more lines.
pub fn is_incomplete(source: &str) -> bool {
    matches!(parse_for_repl(source), Err(e) if e.incomplete)
}

type PResult<T> = Result<T, Box<SyntaxError>>;

/// A parsed node with the depth of the tree under it (itself included).
type Deep<T> = (T, u32);

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    /// Index of the current token. `toks` always ends with `Eof`, and `i`
    /// never moves past it.
    i: usize,
    lex_error: Option<LexError>,
    /// Whether a newline ends the current expression: true in blocks, false
    /// inside `( )`, `[ ]` and map literals.
    nl_ends: bool,
    /// Whether we are in the head of `if`/`while`/`for`, where `{` starts
    /// the body rather than an expression.
    in_head: bool,
    /// Current recursion depth of the parse functions that nest.
    nesting: u32,
}

// Binary operator priorities (left, right), loosest first; right-associative
// `**` has a right priority lower than its left one.
const PRIO_OR: u8 = 1;
const PRIO_AND: u8 = 2;
const PRIO_NOT: u8 = 3;
const PRIO_CMP: u8 = 4;
const PRIO_BIT_OR: u8 = 5;
const PRIO_BIT_XOR: u8 = 6;
const PRIO_BIT_AND: u8 = 7;
const PRIO_SHIFT: u8 = 8;
const PRIO_ADD: u8 = 9;
const PRIO_MUL: u8 = 10;
const PRIO_UNARY: u8 = 11;
const PRIO_POW: (u8, u8) = (13, 12);

#[derive(Clone, Copy)]
enum Bin {
    Or,
    And,
    Op(BinOp),
}

fn binary_op(kind: &TokenKind) -> Option<(Bin, u8, u8)> {
    use TokenKind as T;
    let op = |op, p| (Bin::Op(op), p, p);
    Some(match kind {
        T::Or => (Bin::Or, PRIO_OR, PRIO_OR),
        T::And => (Bin::And, PRIO_AND, PRIO_AND),
        T::EqEq => op(BinOp::Eq, PRIO_CMP),
        T::NotEq => op(BinOp::Ne, PRIO_CMP),
        T::Lt => op(BinOp::Lt, PRIO_CMP),
        T::Le => op(BinOp::Le, PRIO_CMP),
        T::Gt => op(BinOp::Gt, PRIO_CMP),
        T::Ge => op(BinOp::Ge, PRIO_CMP),
        T::Pipe => op(BinOp::BitOr, PRIO_BIT_OR),
        T::Caret => op(BinOp::BitXor, PRIO_BIT_XOR),
        T::Amp => op(BinOp::BitAnd, PRIO_BIT_AND),
        T::Shl => op(BinOp::Shl, PRIO_SHIFT),
        T::Shr => op(BinOp::Shr, PRIO_SHIFT),
        T::Plus => op(BinOp::Add, PRIO_ADD),
        T::Minus => op(BinOp::Sub, PRIO_ADD),
        T::Star => op(BinOp::Mul, PRIO_MUL),
        T::Slash => op(BinOp::Div, PRIO_MUL),
        T::SlashSlash => op(BinOp::FloorDiv, PRIO_MUL),
        T::Percent => op(BinOp::Mod, PRIO_MUL),
        T::StarStar => (Bin::Op(BinOp::Pow), PRIO_POW.0, PRIO_POW.1),
        _ => return None,
    })
}

fn compound_op(kind: &TokenKind) -> Option<Option<BinOp>> {
    use TokenKind as T;
    Some(match kind {
        T::Assign => None,
        T::PlusEq => Some(BinOp::Add),
        T::MinusEq => Some(BinOp::Sub),
        T::StarEq => Some(BinOp::Mul),
        T::SlashEq => Some(BinOp::Div),
        T::SlashSlashEq => Some(BinOp::FloorDiv),
        T::PercentEq => Some(BinOp::Mod),
        T::AmpEq => Some(BinOp::BitAnd),
        T::PipeEq => Some(BinOp::BitOr),
        T::CaretEq => Some(BinOp::BitXor),
        T::ShlEq => Some(BinOp::Shl),
        T::ShrEq => Some(BinOp::Shr),
        _ => return None,
    })
}

fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
    )
}

/// Whether `e` is a binary operator node (the links of a chain do not count
/// towards the tree depth: see [`Parser::subexpr_inner`]).
fn is_binary(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Binary(..) | ExprKind::And(..) | ExprKind::Or(..)
    )
}

fn is_closer(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace | TokenKind::Eof
    )
}

const SMALLEST_INT_MAGNITUDE: u64 = 1 << 63;

fn fmt_pos(pos: Pos) -> String {
    format!("{}:{}", pos.line, pos.col)
}

impl<'s> Parser<'s> {
    // ----- token access -------------------------------------------------

    fn tok(&self) -> &Token {
        &self.toks[self.i]
    }

    fn peek(&self) -> &TokenKind {
        &self.toks[self.i].kind
    }

    fn peek_at(&self, k: usize) -> &TokenKind {
        let last = self.toks.len() - 1;
        &self.toks[(self.i + k).min(last)].kind
    }

    fn pos(&self) -> Pos {
        self.toks[self.i].pos
    }

    /// Consumes the current token and returns its kind (taking any string out
    /// of it) and position. At the end of the input it stays on `Eof`.
    fn bump(&mut self) -> (TokenKind, Pos) {
        let last = self.toks.len() - 1;
        let tok = &mut self.toks[self.i];
        let pos = tok.pos;
        let kind = match &mut tok.kind {
            TokenKind::Str(s) => TokenKind::Str(std::mem::take(s)),
            TokenKind::Ident(s) => TokenKind::Ident(std::mem::take(s)),
            other => other.clone(),
        };
        if self.i < last {
            self.i += 1;
        }
        (kind, pos)
    }

    fn check(&self, kind: &TokenKind) -> bool {
        self.peek() == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> Option<Pos> {
        if self.check(kind) {
            Some(self.bump().1)
        } else {
            None
        }
    }

    /// Whether the current token starts a new line where newlines end
    /// expressions.
    fn at_line_break(&self) -> bool {
        self.nl_ends && self.tok().newline_before
    }

    /// Whether the current token ends a statement (without consuming it).
    fn at_statement_end(&self) -> bool {
        self.tok().newline_before
            || matches!(
                self.peek(),
                TokenKind::Semicolon | TokenKind::RBrace | TokenKind::Eof
            )
    }

    fn describe(&self) -> String {
        self.tok().describe(self.src)
    }

    // ----- errors ------------------------------------------------------

    /// An error at the current token. At the end of the tokens, a lexical
    /// error (which is what ended them) wins.
    #[cold]
    fn error(&self, message: String) -> Box<SyntaxError> {
        let at_eof = matches!(self.peek(), TokenKind::Eof);
        if at_eof {
            if let Some(e) = &self.lex_error {
                return Box::new(SyntaxError {
                    diagnostic: e.diagnostic.clone(),
                    incomplete: e.incomplete,
                });
            }
        }
        Box::new(SyntaxError {
            diagnostic: Diagnostic::new(self.pos(), message),
            incomplete: at_eof,
        })
    }

    #[cold]
    fn error_at(&self, pos: Pos, message: String) -> Box<SyntaxError> {
        Box::new(SyntaxError {
            diagnostic: Diagnostic::new(pos, message),
            incomplete: false,
        })
    }

    /// `expected WHAT, found <current token>`.
    #[cold]
    fn expected(&self, what: &str) -> Box<SyntaxError> {
        self.error(format!("expected {what}, found {}", self.describe()))
    }

    fn expect_closer(&mut self, kind: &TokenKind, open_pos: Pos, what: &str) -> PResult<Pos> {
        match self.eat(kind) {
            Some(pos) => Ok(pos),
            None => Err(self.unclosed(kind, open_pos, what)),
        }
    }

    #[cold]
    fn unclosed(&self, kind: &TokenKind, open_pos: Pos, what: &str) -> Box<SyntaxError> {
        let close = kind.symbol().unwrap_or("?");
        self.expected(&format!(
            "'{close}' to close the {what} opened at {}",
            fmt_pos(open_pos)
        ))
    }

    #[cold]
    fn too_deep(&self, pos: Pos) -> Box<SyntaxError> {
        self.error_at(
            pos,
            format!(
                "too deeply nested: more than {MAX_DEPTH} levels of nested expressions and blocks \
                 (split it up with intermediate variables or functions)"
            ),
        )
    }

    // ----- depth accounting ----------------------------------------------

    /// Enters one nesting level opened at `open` (a bracket, a block, an
    /// operand). Going past [`MAX_DEPTH`] is an error pointing there: at the
    /// innermost opening, where the nesting became too deep.
    fn enter_at(&mut self, open: Pos) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.too_deep(open));
        }
        Ok(())
    }

    fn enter(&mut self) -> PResult<()> {
        self.enter_at(self.pos())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// Builds an expression node one level above children of depth `depth`.
    fn node(&self, kind: ExprKind, pos: Pos, depth: u32) -> PResult<Deep<Expr>> {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(self.too_deep(pos));
        }
        Ok((Expr { kind, pos }, depth))
    }

    /// Runs `f` with the newline and head flags set for the inside of a
    /// bracket pair (`nl_ends` given, never in a head), restoring them after.
    fn nested<T>(&mut self, nl_ends: bool, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved = (self.nl_ends, self.in_head);
        self.nl_ends = nl_ends;
        self.in_head = false;
        let r = f(self);
        (self.nl_ends, self.in_head) = saved;
        r
    }

    // ----- statements ----------------------------------------------------

    // program ::= { stat [';'] } EOF
    fn program(&mut self) -> PResult<Program> {
        let pos = if matches!(self.peek(), TokenKind::Eof) && self.lex_error.is_none() {
            Pos { line: 1, col: 1 }
        } else {
            self.pos()
        };
        let (stmts, _) = self.statements(None)?;
        if let Some(e) = &self.lex_error {
            return Err(Box::new(SyntaxError {
                diagnostic: e.diagnostic.clone(),
                incomplete: e.incomplete,
            }));
        }
        Ok(Program {
            body: Block { stmts, pos },
        })
    }

    // block ::= '{' { stat [';'] } '}'
    fn block(&mut self) -> PResult<Deep<Block>> {
        with_stack(|| self.block_inner())
    }

    fn block_inner(&mut self) -> PResult<Deep<Block>> {
        let open = self.pos();
        debug_assert!(self.check(&TokenKind::LBrace));
        self.bump();
        self.enter_at(open)?;
        let (stmts, depth) = self.nested(true, |p| p.statements(Some(open)))?;
        self.leave();
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(self.too_deep(open));
        }
        Ok((Block { stmts, pos: open }, depth))
    }

    /// The statements of a block (`open` is its `{`) or of the whole file,
    /// consuming the closing `}`.
    fn statements(&mut self, open: Option<Pos>) -> PResult<Deep<Vec<Stmt>>> {
        let mut stmts = Vec::new();
        let mut depth = 0;
        loop {
            match self.peek() {
                TokenKind::Semicolon => {
                    self.bump();
                    continue;
                }
                TokenKind::RBrace if open.is_some() => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => match open {
                    Some(open) => {
                        return Err(self.expected(&format!(
                            "'}}' to close the block opened at {}",
                            fmt_pos(open)
                        )))
                    }
                    None => break,
                },
                TokenKind::RBrace => {
                    return Err(self.error("unexpected '}' (no block is open)".to_string()))
                }
                TokenKind::RParen | TokenKind::RBracket => {
                    return Err(self.error(format!("unexpected {}", self.describe())))
                }
                _ => {}
            }
            let (stmt, d) = self.statement()?;
            depth = depth.max(d);
            self.end_of_statement()?;
            stmts.push(stmt);
        }
        Ok((stmts, depth))
    }

    fn end_of_statement(&mut self) -> PResult<()> {
        if self.eat(&TokenKind::Semicolon).is_some() || self.at_statement_end() {
            return Ok(());
        }
        Err(match self.peek() {
            TokenKind::RParen | TokenKind::RBracket => {
                self.error(format!("unexpected {}", self.describe()))
            }
            _ => self.expected("a newline or ';' after the statement"),
        })
    }

    // stat ::= 'let' NAME ['=' expr]
    //        | 'fn' NAME funcbody
    //        | 'while' headexpr body
    //        | 'for' NAME [',' NAME] 'in' headexpr body
    //        | 'break' | 'continue' | 'return' [expr] | 'throw' expr
    //        | 'import' STRING ['as' NAME]
    //        | block
    //        | expr [('=' | '+=' | '-=' | '*=' | '/=' | '//=' | '%=') expr]
    fn statement(&mut self) -> PResult<Deep<Stmt>> {
        let pos = self.pos();
        let (kind, depth) = match self.peek() {
            TokenKind::Let => self.let_stat()?,
            TokenKind::Fn if matches!(self.peek_at(1), TokenKind::Ident(_)) => {
                self.bump();
                let name = self.name("a function name")?;
                let (def, d) = self.funcbody(pos, Some(name))?;
                (StmtKind::FnDecl(Box::new(def)), d)
            }
            TokenKind::While => self.while_stat()?,
            TokenKind::For => self.for_stat()?,
            TokenKind::Break => {
                self.bump();
                (StmtKind::Break, 0)
            }
            TokenKind::Continue => {
                self.bump();
                (StmtKind::Continue, 0)
            }
            TokenKind::Return => {
                self.bump();
                if self.at_statement_end() {
                    (StmtKind::Return(None), 0)
                } else {
                    let (e, d) = self.expr()?;
                    (StmtKind::Return(Some(e)), d)
                }
            }
            TokenKind::Throw => {
                self.bump();
                let (e, d) = self.expr()?;
                (StmtKind::Throw(e), d)
            }
            TokenKind::Import => self.import_stat()?,
            TokenKind::LBrace if !self.looks_like_map() => {
                let (block, d) = self.block()?;
                (
                    StmtKind::Expr(Expr {
                        kind: ExprKind::Block(block),
                        pos,
                    }),
                    d + 1,
                )
            }
            _ => self.expr_stat()?,
        };
        // Depth errors are raised where the depth is created (an opening,
        // or the node that is one level too many), never here at the
        // statement's start.
        Ok((Stmt { kind, pos }, depth + 1))
    }

    // letstat ::= 'let' NAME ['=' expr] | 'let' listpattern '=' expr
    fn let_stat(&mut self) -> PResult<Deep<StmtKind>> {
        self.bump();
        if self.check(&TokenKind::LBracket) {
            let pattern = self.list_pattern()?;
            if self.eat(&TokenKind::Assign).is_none() {
                return Err(self.expected("'=' after the destructuring pattern"));
            }
            let (value, d) = self.expr()?;
            return Ok((StmtKind::LetPattern { pattern, value }, d));
        }
        let name = self.name("a variable name or '[' after 'let'")?;
        if self.eat(&TokenKind::Assign).is_some() {
            let (value, d) = self.expr()?;
            return Ok((StmtKind::Let { name, value }, d));
        }
        if self.at_statement_end() {
            let value = Expr {
                kind: ExprKind::Nil,
                pos: name.pos,
            };
            return Ok((StmtKind::Let { name, value }, 1));
        }
        Err(self.expected(&format!("'=' after 'let {}'", name.name)))
    }

    // pattern ::= NAME | listpattern
    fn pattern(&mut self) -> PResult<Pattern> {
        if self.check(&TokenKind::LBracket) {
            return Ok(Pattern::List(self.list_pattern()?));
        }
        Ok(Pattern::Name(self.name("a name or '['")?))
    }

    // listpattern ::= '[' [patitem {',' patitem} [',']] ']'
    // patitem ::= pattern | '...' NAME      (at most one '...' per list)
    fn list_pattern(&mut self) -> PResult<ListPattern> {
        let open = self.pos();
        self.enter_at(open)?;
        self.bump();
        let r = with_stack(|| {
            self.nested(false, |p| {
                let mut items = Vec::new();
                let mut rest: Option<(usize, Ident)> = None;
                loop {
                    if p.eat(&TokenKind::RBracket).is_some() {
                        break;
                    }
                    if matches!(p.peek(), TokenKind::Eof) {
                        return Err(p.unclosed(&TokenKind::RBracket, open, "pattern"));
                    }
                    if let Some(dots) = p.eat(&TokenKind::Ellipsis) {
                        let name = p.name("a name after '...'")?;
                        if rest.is_some() {
                            return Err(p.error_at(
                                dots,
                                "only one '...name' is allowed in a pattern".to_string(),
                            ));
                        }
                        rest = Some((items.len(), name));
                    } else {
                        items.push(p.pattern()?);
                    }
                    if p.eat(&TokenKind::Comma).is_some() {
                        continue;
                    }
                    if p.eat(&TokenKind::RBracket).is_some() {
                        break;
                    }
                    if is_closer(p.peek()) {
                        return Err(p.unclosed(&TokenKind::RBracket, open, "pattern"));
                    }
                    return Err(p.expected("',' or ']' in the pattern"));
                }
                Ok(ListPattern {
                    items,
                    rest,
                    pos: open,
                })
            })
        });
        self.leave();
        let pattern = r?;
        // A name bound twice would silently keep the last item.
        let names = pattern.names();
        for (i, id) in names.iter().enumerate() {
            if id.name != "_" && names[..i].iter().any(|o| o.name == id.name) {
                return Err(self.error_at(
                    id.pos,
                    format!("'{}' is bound twice in this pattern", id.name),
                ));
            }
        }
        Ok(pattern)
    }

    // whilestat ::= 'while' headexpr body
    fn while_stat(&mut self) -> PResult<Deep<StmtKind>> {
        self.bump();
        let (cond, d1) = self.head_expr("while")?;
        let (body, d2) = self.body("the body of 'while'")?;
        Ok((StmtKind::While { cond, body }, d1.max(d2)))
    }

    // forstat ::= 'for' NAME [',' pattern] 'in' headexpr body
    //           | 'for' listpattern 'in' headexpr body
    fn for_stat(&mut self) -> PResult<Deep<StmtKind>> {
        self.bump();
        let (index, var) = if self.check(&TokenKind::LBracket) {
            (None, Pattern::List(self.list_pattern()?))
        } else {
            let first = self.name("a loop variable name or '[' after 'for'")?;
            if self.eat(&TokenKind::Comma).is_some() {
                let second = if self.check(&TokenKind::LBracket) {
                    Pattern::List(self.list_pattern()?)
                } else {
                    Pattern::Name(self.name("a second loop variable name after ','")?)
                };
                if let Some(dup) = second.names().into_iter().find(|n| n.name == first.name) {
                    return Err(self.error_at(
                        dup.pos,
                        format!("'{}' is bound twice in this loop", dup.name),
                    ));
                }
                (Some(first), second)
            } else {
                (None, Pattern::Name(first))
            }
        };
        if self.eat(&TokenKind::In).is_none() {
            return Err(self.expected("'in' after the loop variables"));
        }
        let (iter, d1) = self.head_expr("for")?;
        let (body, d2) = self.body("the body of 'for'")?;
        Ok((
            StmtKind::For {
                index,
                var,
                iter,
                body,
            },
            d1.max(d2),
        ))
    }

    // importstat ::= 'import' STRING ['as' NAME]
    fn import_stat(&mut self) -> PResult<Deep<StmtKind>> {
        self.bump();
        let path_pos = self.pos();
        let path = match self.peek() {
            TokenKind::Str(_) => match self.bump().0 {
                TokenKind::Str(s) => s,
                _ => unreachable!("checked above"),
            },
            _ => return Err(self.expected("a module path string after 'import'")),
        };
        if path.is_empty() {
            return Err(self.error_at(path_pos, "empty module path in 'import'".to_string()));
        }
        let has_as =
            matches!(self.peek(), TokenKind::Ident(w) if w == "as") && !self.tok().newline_before;
        let alias = if has_as {
            self.bump();
            Some(self.name("a name after 'as'")?)
        } else {
            let segment = path.rsplit('/').next().unwrap_or("");
            let segment = segment.strip_suffix(".weft").unwrap_or(segment);
            if !is_valid_name(segment) {
                return Err(self.error_at(
                    path_pos,
                    format!(
                        "cannot bind module \"{path}\" to a name: '{segment}' is not a valid name; \
                         write 'import \"{path}\" as NAME'"
                    ),
                ));
            }
            None
        };
        Ok((StmtKind::Import { path, alias }, 0))
    }

    // exprstat ::= expr [assignop expr]
    fn expr_stat(&mut self) -> PResult<Deep<StmtKind>> {
        let (target, d1) = self.expr()?;
        let Some(op) = compound_op(self.peek()) else {
            return Ok((StmtKind::Expr(target), d1));
        };
        if self.tok().newline_before {
            return Ok((StmtKind::Expr(target), d1));
        }
        self.bump();
        let (value, d2) = self.expr()?;
        Ok((StmtKind::Assign { target, op, value }, d1.max(d2)))
    }

    /// A name or any keyword, as a field name after `.` or a bare map key
    /// (`m.import`, `{for: 1}`); `None` if the current token is neither.
    fn word(&mut self) -> Option<Ident> {
        let is_word = match self.peek() {
            TokenKind::Ident(_) => true,
            kind => kind
                .symbol()
                .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_alphabetic())),
        };
        if !is_word {
            return None;
        }
        let (kind, pos) = self.bump();
        let name = match kind {
            TokenKind::Ident(name) => name,
            kind => kind.symbol().unwrap_or_default().to_string(),
        };
        Some(Ident { name, pos })
    }

    fn name(&mut self, what: &str) -> PResult<Ident> {
        match self.peek() {
            TokenKind::Ident(_) => match self.bump() {
                (TokenKind::Ident(name), pos) => Ok(Ident { name, pos }),
                _ => unreachable!("checked above"),
            },
            kind if kind
                .symbol()
                .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_alphabetic())) =>
            {
                Err(self.error(format!(
                    "expected {what}, found keyword {}",
                    self.describe()
                )))
            }
            _ => Err(self.expected(what)),
        }
    }

    // headexpr ::= expr    (where '{' cannot start a primary expression)
    fn head_expr(&mut self, keyword: &str) -> PResult<Deep<Expr>> {
        if self.check(&TokenKind::LBrace) {
            let what = if keyword == "for" {
                "something to iterate over"
            } else {
                "a condition"
            };
            return Err(self.expected(&format!("{what} after '{keyword}'")));
        }
        let saved = self.in_head;
        self.in_head = true;
        let r = self.expr();
        self.in_head = saved;
        r
    }

    // body ::= block    (the '{' may start the next line)
    fn body(&mut self, what: &str) -> PResult<Deep<Block>> {
        if !self.check(&TokenKind::LBrace) {
            let mut e = self.expected(&format!("'{{' to start {what}"));
            if self.check(&TokenKind::Assign) {
                e.diagnostic.message.push_str(" (use '==' to compare)");
            }
            return Err(e);
        }
        self.block()
    }

    // ----- expressions ---------------------------------------------------

    // expr ::= subexpr(0)
    fn expr(&mut self) -> PResult<Deep<Expr>> {
        self.subexpr(0)
    }

    // subexpr ::= ('-' subexpr | 'not' subexpr | suffixedexp) { binop subexpr }
    // where a binop is taken only while its left priority is above `limit`,
    // and its right operand is a subexpr limited by its right priority.
    fn subexpr(&mut self, limit: u8) -> PResult<Deep<Expr>> {
        with_stack(|| self.subexpr_inner(limit))
    }

    fn subexpr_inner(&mut self, limit: u8) -> PResult<Deep<Expr>> {
        let open = self.pos();
        self.enter_at(open)?;
        // Operators whose right operand is being parsed, outermost first.
        // A chain `a + b + c ...` is built here without recursion, so its
        // length is unlimited (only nesting counts against MAX_DEPTH).
        struct Pending {
            left: Expr,
            depth: u32,
            op: Bin,
            op_pos: Pos,
            right_prio: u8,
        }
        let mut stack: Vec<Pending> = Vec::new();
        let (mut e, mut depth) = self.operand(limit)?;
        // Whether `e` is a comparison built at this level (not one in
        // parentheses): another comparison may not follow it.
        let mut e_cmp: Option<BinOp> = None;
        loop {
            let cur_limit = stack.last().map_or(limit, |p| p.right_prio);
            let next = if self.at_line_break() {
                None
            } else {
                binary_op(self.peek())
            };
            match next {
                Some((op, left_prio, right_prio)) if left_prio > cur_limit => {
                    let op_pos = self.pos();
                    if let (Bin::Op(op), Some(prev)) = (op, e_cmp) {
                        if is_comparison(op) {
                            return Err(self.error_at(
                                op_pos,
                                format!(
                                    "comparisons cannot be chained: write 'a {p} b and b {o} c' instead of \
                                     'a {p} b {o} c'",
                                    p = prev.symbol(),
                                    o = op.symbol()
                                ),
                            ));
                        }
                    }
                    self.bump();
                    stack.push(Pending {
                        left: e,
                        depth,
                        op,
                        op_pos,
                        right_prio,
                    });
                    (e, depth) = self.operand(right_prio)?;
                    e_cmp = None;
                }
                _ => {
                    let Some(p) = stack.pop() else { break };
                    let binary_child = is_binary(&p.left) || is_binary(&e);
                    let d = p.depth.max(depth) + u32::from(!binary_child);
                    let (l, r) = (Box::new(p.left), Box::new(e));
                    let kind = match p.op {
                        Bin::Or => ExprKind::Or(l, r),
                        Bin::And => ExprKind::And(l, r),
                        Bin::Op(op) => ExprKind::Binary(op, l, r),
                    };
                    e_cmp = match p.op {
                        Bin::Op(op) if is_comparison(op) => Some(op),
                        _ => None,
                    };
                    e = Expr {
                        kind,
                        pos: p.op_pos,
                    };
                    depth = d;
                }
            }
        }
        self.leave();
        Ok((e, depth))
    }

    // operand ::= '-' subexpr(UNARY) | '~' subexpr(UNARY) | 'not' subexpr(NOT)
    //           | suffixedexp
    // (`limit` is the priority of the operator the operand belongs to)
    fn operand(&mut self, limit: u8) -> PResult<Deep<Expr>> {
        match self.peek() {
            TokenKind::Minus => self.negation(),
            TokenKind::Tilde => {
                let (_, pos) = self.bump();
                let (operand, d) = self.subexpr(PRIO_UNARY)?;
                self.node(ExprKind::Unary(UnOp::BitNot, Box::new(operand)), pos, d)
            }
            TokenKind::Not => {
                if limit > PRIO_NOT {
                    return Err(self.error(
                        "unexpected 'not': here it needs parentheses, as in 'a == (not b)'"
                            .to_string(),
                    ));
                }
                let (_, pos) = self.bump();
                let (operand, d) = self.subexpr(PRIO_NOT)?;
                self.node(ExprKind::Unary(UnOp::Not, Box::new(operand)), pos, d)
            }
            _ => self.suffixedexp(),
        }
    }

    // negation ::= '-' subexpr(UNARY)
    // (`-9223372036854775808` is folded to the smallest int here)
    fn negation(&mut self) -> PResult<Deep<Expr>> {
        let (_, pos) = self.bump();
        if self.peek() == &TokenKind::Int(SMALLEST_INT_MAGNITUDE)
            && !matches!(
                self.peek_at(1),
                TokenKind::StarStar | TokenKind::LParen | TokenKind::LBracket | TokenKind::Dot
            )
        {
            self.bump();
            return Ok((
                Expr {
                    kind: ExprKind::Int(i64::MIN),
                    pos,
                },
                1,
            ));
        }
        let (operand, d) = self.subexpr(PRIO_UNARY)?;
        self.node(ExprKind::Unary(UnOp::Neg, Box::new(operand)), pos, d)
    }

    // suffixedexp ::= primaryexp { '.' NAME [args] | '[' expr ']' | args }
    fn suffixedexp(&mut self) -> PResult<Deep<Expr>> {
        let (mut e, mut depth) = self.primaryexp()?;
        loop {
            match self.peek() {
                TokenKind::Dot => {
                    let (_, dot) = self.bump();
                    let Some(name) = self.word() else {
                        return Err(self.expected("a field or method name after '.'"));
                    };
                    if self.check(&TokenKind::LParen) && !self.at_line_break() {
                        let paren = self.pos();
                        let (args, d) = self.args()?;
                        let recv = Box::new(e);
                        (e, depth) = self.node(
                            ExprKind::MethodCall { recv, name, args },
                            paren,
                            depth.max(d),
                        )?;
                    } else {
                        (e, depth) = self.node(ExprKind::Field(Box::new(e), name), dot, depth)?;
                    }
                }
                TokenKind::LParen if !self.at_line_break() => {
                    let paren = self.pos();
                    let (args, d) = self.args()?;
                    let callee = Box::new(e);
                    (e, depth) = self.node(ExprKind::Call { callee, args }, paren, depth.max(d))?;
                }
                TokenKind::LBracket if !self.at_line_break() => {
                    let (_, open) = self.bump();
                    let (index, d) = self.nested(false, |p| {
                        if p.check(&TokenKind::RBracket) {
                            return Err(p.expected("an index expression"));
                        }
                        let r = p.expr()?;
                        p.expect_closer(&TokenKind::RBracket, open, "index")?;
                        Ok(r)
                    })?;
                    (e, depth) = self.node(
                        ExprKind::Index(Box::new(e), Box::new(index)),
                        open,
                        depth.max(d),
                    )?;
                }
                _ => break,
            }
        }
        Ok((e, depth))
    }

    // args ::= '(' [expr {',' expr} [',']] ')'
    fn args(&mut self) -> PResult<Deep<Vec<Expr>>> {
        let (_, open) = self.bump();
        self.nested(false, |p| {
            p.expr_list(&TokenKind::RParen, open, "argument list", "argument")
        })
    }

    /// `item {',' item} [',']` up to and including `close`.
    fn expr_list(
        &mut self,
        close: &TokenKind,
        open: Pos,
        what: &str,
        item: &str,
    ) -> PResult<Deep<Vec<Expr>>> {
        let mut items = Vec::new();
        let mut depth = 0;
        loop {
            if self.eat(close).is_some() {
                break;
            }
            if matches!(self.peek(), TokenKind::Eof) {
                return Err(self.unclosed(close, open, what));
            }
            let (e, d) = self.expr()?;
            depth = depth.max(d);
            items.push(e);
            if self.eat(&TokenKind::Comma).is_some() {
                continue;
            }
            if self.eat(close).is_some() {
                break;
            }
            if is_closer(self.peek()) {
                return Err(self.unclosed(close, open, what));
            }
            let close = close.symbol().unwrap_or("?");
            return Err(self.expected(&format!("',' or '{close}' after the {item}")));
        }
        Ok((items, depth))
    }

    // primaryexp ::= NUMBER | STRING | 'nil' | 'true' | 'false' | NAME
    //              | '(' expr ')' | list | mapexp | block | funcexp | ifexp | tryexp
    fn primaryexp(&mut self) -> PResult<Deep<Expr>> {
        let pos = self.pos();
        let kind = match self.peek() {
            TokenKind::Int(v) => {
                let v = *v;
                if v >= SMALLEST_INT_MAGNITUDE {
                    let text = self
                        .src
                        .get(self.tok().start as usize..self.tok().end as usize)
                        .unwrap_or("");
                    return Err(self.error(format!(
                        "integer literal {text} is too large (the largest int is {})",
                        i64::MAX
                    )));
                }
                ExprKind::Int(v as i64)
            }
            TokenKind::Float(v) => ExprKind::Float(*v),
            TokenKind::Str(_) => match self.bump().0 {
                TokenKind::Str(s) => {
                    return Ok((
                        Expr {
                            kind: ExprKind::Str(s),
                            pos,
                        },
                        1,
                    ))
                }
                _ => unreachable!("checked above"),
            },
            TokenKind::Ident(_) => {
                let name = self.name("a name")?;
                return Ok((
                    Expr {
                        kind: ExprKind::Name(name),
                        pos,
                    },
                    1,
                ));
            }
            TokenKind::Nil => ExprKind::Nil,
            TokenKind::True => ExprKind::Bool(true),
            TokenKind::False => ExprKind::Bool(false),
            TokenKind::LParen => {
                let (_, open) = self.bump();
                return self.nested(false, |p| {
                    if p.check(&TokenKind::RParen) {
                        return Err(p.expected("an expression inside '( )'"));
                    }
                    let r = p.expr()?;
                    p.expect_closer(&TokenKind::RParen, open, "'('")?;
                    Ok(r)
                });
            }
            TokenKind::LBracket => {
                let (_, open) = self.bump();
                let (items, d) = self.nested(false, |p| {
                    p.expr_list(&TokenKind::RBracket, open, "list", "list item")
                })?;
                return self.node(ExprKind::List(items), open, d);
            }
            TokenKind::LBrace => {
                if self.in_head {
                    return Err(self.error(
                        "expected an expression, found '{' (in the head of 'if', 'while' or 'for', \
                         '{' starts the body; put a map literal in parentheses)"
                            .to_string(),
                    ));
                }
                if matches!(self.peek_at(1), TokenKind::RBrace) || self.looks_like_map() {
                    return self.mapexp();
                }
                let (block, d) = self.block()?;
                return self.node(ExprKind::Block(block), pos, d);
            }
            TokenKind::Fn => {
                self.bump();
                let name = if matches!(self.peek(), TokenKind::Ident(_)) {
                    Some(self.name("a function name")?)
                } else {
                    None
                };
                let (def, d) = self.funcbody(pos, name)?;
                return self.node(ExprKind::Fn(Box::new(def)), pos, d);
            }
            TokenKind::If => return self.ifexp(),
            TokenKind::Try => return self.tryexp(),
            TokenKind::Else => {
                return Err(self.error(
                    "unexpected 'else': it must follow the '}' of an 'if' block".to_string(),
                ))
            }
            TokenKind::Catch => {
                return Err(self.error(
                    "unexpected 'catch': it must follow the '}' of a 'try' block".to_string(),
                ))
            }
            TokenKind::Let
            | TokenKind::While
            | TokenKind::For
            | TokenKind::Return
            | TokenKind::Break
            | TokenKind::Continue
            | TokenKind::Throw
            | TokenKind::Import => {
                return Err(self.error(format!(
                    "expected an expression, found {} (which starts a statement)",
                    self.describe()
                )))
            }
            _ => return Err(self.expected("an expression")),
        };
        self.bump();
        Ok((Expr { kind, pos }, 1))
    }

    /// At a `{`: whether it opens a map literal, that is whether a `:` comes
    /// at its top level before its matching `}`. A block never has a `:` at
    /// its top level (only map entries use `:`), so this only decides between
    /// a map and a syntax error. The scan also stops at tokens a map cannot
    /// hold at its top level (`;`, `=`, `+=`, ...).
    fn looks_like_map(&self) -> bool {
        use TokenKind as T;
        let mut depth = 0usize;
        for tok in &self.toks[self.i + 1..] {
            match tok.kind {
                T::Colon if depth == 0 => return true,
                T::LParen | T::LBracket | T::LBrace => depth += 1,
                T::RParen | T::RBracket | T::RBrace => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                }
                T::Semicolon
                | T::Assign
                | T::PlusEq
                | T::MinusEq
                | T::StarEq
                | T::SlashEq
                | T::SlashSlashEq
                | T::PercentEq
                | T::AmpEq
                | T::PipeEq
                | T::CaretEq
                | T::ShlEq
                | T::ShrEq
                    if depth == 0 =>
                {
                    return false
                }
                T::Eof => return false,
                _ => {}
            }
        }
        false
    }

    // mapexp ::= '{' [field {',' field} [',']] '}'
    // field ::= NAME ':' expr | expr ':' expr
    fn mapexp(&mut self) -> PResult<Deep<Expr>> {
        let (_, open) = self.bump();
        let (entries, d) = self.nested(false, |p| {
            let mut entries = Vec::new();
            let mut depth = 0;
            loop {
                if p.eat(&TokenKind::RBrace).is_some() {
                    break;
                }
                if matches!(p.peek(), TokenKind::Eof) {
                    return Err(p.unclosed(&TokenKind::RBrace, open, "map"));
                }
                let bare = !matches!(
                    p.peek(),
                    TokenKind::True | TokenKind::False | TokenKind::Nil
                ) && p.peek_at(1) == &TokenKind::Colon;
                let word = if bare { p.word() } else { None };
                let (key, d1) = if let Some(name) = word {
                    (
                        Expr {
                            kind: ExprKind::Str(name.name),
                            pos: name.pos,
                        },
                        1,
                    )
                } else {
                    p.expr()?
                };
                if p.eat(&TokenKind::Colon).is_none() {
                    return Err(p.expected("':' after the map key"));
                }
                let (value, d2) = p.expr()?;
                depth = depth.max(d1).max(d2);
                entries.push((key, value));
                if p.eat(&TokenKind::Comma).is_some() {
                    continue;
                }
                if p.eat(&TokenKind::RBrace).is_some() {
                    break;
                }
                if is_closer(p.peek()) {
                    return Err(p.unclosed(&TokenKind::RBrace, open, "map"));
                }
                return Err(p.expected("',' or '}' after the map entry"));
            }
            Ok((entries, depth))
        })?;
        self.node(ExprKind::Map(entries), open, d)
    }

    // funcbody ::= '(' [param {',' param} [',']] ')' body
    // param ::= NAME ['=' expr]     (no default may come before a non-default)
    fn funcbody(&mut self, pos: Pos, name: Option<Ident>) -> PResult<Deep<FnDef>> {
        let open = match self.eat(&TokenKind::LParen) {
            Some(open) => open,
            None => {
                return Err(self.expected(if name.is_some() {
                    "'(' to start the parameter list"
                } else {
                    "a function name or '(' after 'fn'"
                }))
            }
        };
        let (params, d1) = self.nested(false, |p| {
            let mut params: Vec<Param> = Vec::new();
            let mut depth = 0;
            loop {
                if p.eat(&TokenKind::RParen).is_some() {
                    break;
                }
                if matches!(p.peek(), TokenKind::Eof) {
                    return Err(p.unclosed(&TokenKind::RParen, open, "parameter list"));
                }
                let param = p.name("a parameter name")?;
                if params.iter().any(|q| q.name.name == param.name) {
                    return Err(
                        p.error_at(param.pos, format!("duplicate parameter '{}'", param.name))
                    );
                }
                let default = if p.eat(&TokenKind::Assign).is_some() {
                    let (e, d) = p.expr()?;
                    depth = depth.max(d);
                    Some(e)
                } else {
                    if let Some(prev) = params.last().filter(|q| q.default.is_some()) {
                        return Err(p.error_at(
                            param.pos,
                            format!(
                                "parameter '{}' needs a default value: it follows '{}', which has one",
                                param.name, prev.name.name
                            ),
                        ));
                    }
                    None
                };
                params.push(Param {
                    name: param,
                    default,
                });
                if p.eat(&TokenKind::Comma).is_some() {
                    continue;
                }
                if p.eat(&TokenKind::RParen).is_some() {
                    break;
                }
                if is_closer(p.peek()) {
                    return Err(p.unclosed(&TokenKind::RParen, open, "parameter list"));
                }
                return Err(p.expected("',' or ')' after the parameter"));
            }
            Ok((params, depth))
        })?;
        let (body, d) = self.body("the function body")?;
        Ok((
            FnDef {
                name,
                params,
                body,
                pos,
            },
            d.max(d1),
        ))
    }

    // ifexp ::= 'if' headexpr body ['else' (ifexp | body)]
    fn ifexp(&mut self) -> PResult<Deep<Expr>> {
        let (_, pos) = self.bump();
        let (cond, d1) = self.head_expr("if")?;
        let (then, d2) = self.body("the body of 'if'")?;
        let mut depth = d1.max(d2);
        let else_ = if self.eat(&TokenKind::Else).is_some() {
            let (e, d) = if self.check(&TokenKind::If) {
                self.enter()?;
                let r = with_stack(|| self.ifexp())?;
                self.leave();
                r
            } else if self.check(&TokenKind::LBrace) {
                let block_pos = self.pos();
                let (block, d) = self.block()?;
                self.node(ExprKind::Block(block), block_pos, d)?
            } else {
                return Err(self.expected("'{' or 'if' after 'else'"));
            };
            depth = depth.max(d);
            Some(Box::new(e))
        } else {
            None
        };
        self.node(
            ExprKind::If {
                cond: Box::new(cond),
                then,
                else_,
            },
            pos,
            depth,
        )
    }

    // tryexp ::= 'try' body ['catch' [NAME] body] ['finally' body]
    // (at least one of 'catch' and 'finally'; `finally` is a keyword only here)
    fn tryexp(&mut self) -> PResult<Deep<Expr>> {
        let (_, pos) = self.bump();
        let (body, d1) = self.body("the 'try' block")?;
        let mut depth = d1;
        let mut var = None;
        let mut handler = None;
        if self.eat(&TokenKind::Catch).is_some() {
            var = if matches!(self.peek(), TokenKind::Ident(_)) && !self.at_finally() {
                Some(self.name("a name")?)
            } else {
                None
            };
            let (h, d2) = if self.check(&TokenKind::LBrace) {
                self.block()?
            } else if var.is_none() {
                return Err(self.expected("a name or '{' after 'catch'"));
            } else {
                return Err(self.expected("'{' to start the 'catch' block"));
            };
            depth = depth.max(d2);
            handler = Some(h);
        }
        let finally = if self.at_finally() {
            self.bump();
            let (f, d3) = self.block()?;
            depth = depth.max(d3);
            Some(f)
        } else {
            None
        };
        if handler.is_none() && finally.is_none() {
            return Err(self.expected("'catch' or 'finally' after the 'try' block"));
        }
        self.node(
            ExprKind::Try {
                body,
                var,
                handler,
                finally,
            },
            pos,
            depth,
        )
    }

    /// Whether the current token is the contextual keyword `finally`
    /// followed by its block (`finally` stays a valid name elsewhere).
    fn at_finally(&self) -> bool {
        matches!(self.peek(), TokenKind::Ident(w) if w == "finally")
            && self.peek_at(1) == &TokenKind::LBrace
    }
}

/// Runs `f`, first moving to a fresh stack segment if little stack is left.
///
/// [`MAX_DEPTH`] bounds the recursion, but a debug build spends several
/// kilobytes of stack per level and the parser may run on a thread with a
/// small stack (a pool worker importing a module), so each nesting level
/// checks the room left. The check is a comparison of the stack pointer.
#[inline]
fn with_stack<T>(f: impl FnOnce() -> T) -> T {
    const RED_ZONE: usize = 128 * 1024;
    const NEW_SEGMENT: usize = 2 * 1024 * 1024;
    stacker::maybe_grow(RED_ZONE, NEW_SEGMENT, f)
}

/// Whether `s` is a valid Weft name: `[A-Za-z_][A-Za-z0-9_]*` and not a
/// keyword.
fn is_valid_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && TokenKind::keyword(s).is_none()
}
