//! The lexer: turns UTF-8 source text into [`Token`]s.
//!
//! Tokens carry their 1-based line and column (in characters, not bytes), the
//! byte span of their text, and whether a line break came before them. The
//! parser uses that flag to end statements at newlines (see `parser.rs`), so
//! the lexer emits no newline tokens of its own.
//!
//! Lexical decisions where LANGUAGE.md is silent:
//! - a UTF-8 byte-order mark at the very start is skipped; a first line
//!   starting `#!` is a comment like any other `#` line;
//! - `\r\n` counts as one line break, and a string literal that spans lines
//!   keeps `\n` for it; a lone `\r` is whitespace outside strings;
//! - besides `\n \t \\ \" \u{...}`, string escapes `\r` and `\0` are accepted;
//!   any other escape is an error naming it;
//! - besides decimal and `0x` (hex), integer literals may be written `0o`
//!   (octal) and `0b` (binary), as in Python; an `_` may separate two digits;
//! - a decimal integer may not start with `0` unless it is zero (`0123` is
//!   an error, as in Python: C users would read it as octal);
//! - a number running straight into letters (`12abc`, `1e`) is one bad token,
//!   not a number followed by a name;
//! - `'`, `!`, `&&` and `||` are errors that point at the Weft spelling
//!   (`&` and `|` alone are the bitwise operators).

use crate::ast::Pos;
use crate::diagnostic::Diagnostic;

#[cfg(test)]
mod test;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// An integer literal. The lexer accepts values up to 2^63 so that
    /// `-9223372036854775808` can be written; the parser rejects 2^63 anywhere
    /// but directly after a unary minus.
    Int(u64),
    /// A float literal.
    Float(f64),
    /// A string literal with its escapes decoded.
    Str(String),
    /// An identifier (including `as`, which is a keyword only after
    /// `import "..."`: the parser checks for it there).
    Ident(String),
    /// `let`
    Let,
    /// `fn`
    Fn,
    /// `return`
    Return,
    /// `if`
    If,
    /// `else`
    Else,
    /// `while`
    While,
    /// `for`
    For,
    /// `in`
    In,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `true`
    True,
    /// `false`
    False,
    /// `nil`
    Nil,
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
    /// `try`
    Try,
    /// `catch`
    Catch,
    /// `throw`
    Throw,
    /// `import`
    Import,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `//`
    SlashSlash,
    /// `%`
    Percent,
    /// `**`
    StarStar,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Assign,
    /// `+=`
    PlusEq,
    /// `-=`
    MinusEq,
    /// `*=`
    StarEq,
    /// `/=`
    SlashEq,
    /// `//=`
    SlashSlashEq,
    /// `%=`
    PercentEq,
    /// `&`
    Amp,
    /// `|`
    Pipe,
    /// `^`
    Caret,
    /// `~`
    Tilde,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `&=`
    AmpEq,
    /// `|=`
    PipeEq,
    /// `^=`
    CaretEq,
    /// `<<=`
    ShlEq,
    /// `>>=`
    ShrEq,
    /// `...` (the rest of a destructuring pattern)
    Ellipsis,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `;`
    Semicolon,
    /// The end of the input (always the last token).
    Eof,
}

impl TokenKind {
    /// The fixed spelling of a keyword or operator token; `None` for literals,
    /// identifiers and the end of file.
    pub fn symbol(&self) -> Option<&'static str> {
        use TokenKind::*;
        Some(match self {
            Int(_) | Float(_) | Str(_) | Ident(_) | Eof => return None,
            Let => "let",
            Fn => "fn",
            Return => "return",
            If => "if",
            Else => "else",
            While => "while",
            For => "for",
            In => "in",
            Break => "break",
            Continue => "continue",
            True => "true",
            False => "false",
            Nil => "nil",
            And => "and",
            Or => "or",
            Not => "not",
            Try => "try",
            Catch => "catch",
            Throw => "throw",
            Import => "import",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            SlashSlash => "//",
            Percent => "%",
            StarStar => "**",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Assign => "=",
            PlusEq => "+=",
            MinusEq => "-=",
            StarEq => "*=",
            SlashEq => "/=",
            SlashSlashEq => "//=",
            PercentEq => "%=",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Tilde => "~",
            Shl => "<<",
            Shr => ">>",
            AmpEq => "&=",
            PipeEq => "|=",
            CaretEq => "^=",
            ShlEq => "<<=",
            ShrEq => ">>=",
            Ellipsis => "...",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Comma => ",",
            Dot => ".",
            Colon => ":",
            Semicolon => ";",
        })
    }

    /// The keyword spelled `word`, if it is one (`as` is not: see
    /// [`TokenKind::Ident`]).
    pub fn keyword(word: &str) -> Option<TokenKind> {
        use TokenKind::*;
        Some(match word {
            "let" => Let,
            "fn" => Fn,
            "return" => Return,
            "if" => If,
            "else" => Else,
            "while" => While,
            "for" => For,
            "in" => In,
            "break" => Break,
            "continue" => Continue,
            "true" => True,
            "false" => False,
            "nil" => Nil,
            "and" => And,
            "or" => Or,
            "not" => Not,
            "try" => Try,
            "catch" => Catch,
            "throw" => Throw,
            "import" => Import,
            _ => return None,
        })
    }
}

/// One token with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Line and column of its first character.
    pub pos: Pos,
    /// Byte offset of its first byte in the source.
    pub start: u32,
    /// Byte offset just past its last byte.
    pub end: u32,
    /// Whether a line break (possibly after a comment) comes between it and
    /// the previous token, or the start of the input.
    pub newline_before: bool,
}

impl Token {
    /// The token as a human reads it in "found ..." messages: `'}'`,
    /// `'count'`, `'42'`, `string "abc"`, `end of file`.
    pub fn describe(&self, source: &str) -> String {
        match &self.kind {
            TokenKind::Eof => "end of file".to_string(),
            TokenKind::Str(s) => {
                let mut shown: String = s.chars().take(20).collect();
                if s.chars().count() > 20 {
                    shown.push_str("...");
                }
                format!("string {shown:?}")
            }
            kind => match kind.symbol() {
                Some(sym) => format!("'{sym}'"),
                None => {
                    let text = source
                        .get(self.start as usize..self.end as usize)
                        .unwrap_or("?");
                    format!("'{text}'")
                }
            },
        }
    }
}

/// The result of lexing: the tokens, and the first error if there was one.
#[derive(Clone, Debug)]
pub struct Lexed {
    /// Every token up to the first error (or the end of the input), followed
    /// by one [`TokenKind::Eof`] token. When there is an error, the `Eof`
    /// token sits at the error's position.
    pub tokens: Vec<Token>,
    /// The first lexical error, if any.
    pub error: Option<LexError>,
}

/// A lexical error.
#[derive(Clone, Debug, PartialEq)]
pub struct LexError {
    /// What is wrong and where.
    pub diagnostic: Diagnostic,
    /// True when the input ended inside a token (an unterminated string): a
    /// REPL should read another line rather than report it.
    pub incomplete: bool,
}

/// Lexes all of `source`. Never panics; stops at the first error.
pub fn tokenize(source: &str) -> Lexed {
    let mut lx = Lexer {
        src: source,
        bytes: source.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        tokens: Vec::with_capacity(source.len() / 4 + 1),
        newline_before: false,
    };
    // A UTF-8 byte-order mark is not part of the program.
    if lx.bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        lx.i = 3;
    }
    let error = lx.run().err();
    let eof_pos = match &error {
        Some(e) => e.diagnostic.pos,
        None => lx.end_of_last_token(),
    };
    let at = lx.i.min(source.len()) as u32;
    lx.tokens.push(Token {
        kind: TokenKind::Eof,
        pos: eof_pos,
        start: at,
        end: at,
        newline_before: lx.newline_before,
    });
    Lexed {
        tokens: lx.tokens,
        error,
    }
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    /// Byte offset of the next unread byte.
    i: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
    newline_before: bool,
}

type LexResult<T> = Result<T, LexError>;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'s> Lexer<'s> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> u8 {
        self.bytes.get(self.i).copied().unwrap_or(0)
    }

    fn peek_at(&self, k: usize) -> u8 {
        self.bytes.get(self.i + k).copied().unwrap_or(0)
    }

    /// Consumes one byte, keeping line and column (in characters) current.
    fn bump(&mut self) {
        let b = self.bytes[self.i];
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.col += 1;
        }
    }

    /// Consumes `n` bytes that contain no line break.
    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// Where the end-of-file token goes: just after the last token, so a
    /// caret for "found end of file" points where the missing text belongs.
    fn end_of_last_token(&self) -> Pos {
        match self.tokens.last() {
            None => Pos { line: 1, col: 1 },
            Some(t) => {
                let mut pos = t.pos;
                for c in self.src[t.start as usize..t.end as usize].chars() {
                    if c == '\n' {
                        pos.line += 1;
                        pos.col = 1;
                    } else {
                        pos.col += 1;
                    }
                }
                pos
            }
        }
    }

    #[cold]
    fn error(&self, pos: Pos, message: String) -> LexError {
        LexError {
            diagnostic: Diagnostic::new(pos, message),
            incomplete: false,
        }
    }

    fn push(&mut self, kind: TokenKind, pos: Pos, start: usize) {
        self.tokens.push(Token {
            kind,
            pos,
            start: start as u32,
            end: self.i as u32,
            newline_before: self.newline_before,
        });
        self.newline_before = false;
    }

    fn run(&mut self) -> LexResult<()> {
        loop {
            self.skip_space_and_comments();
            if self.i >= self.bytes.len() {
                return Ok(());
            }
            self.token()?;
        }
    }

    fn skip_space_and_comments(&mut self) {
        while self.i < self.bytes.len() {
            match self.bytes[self.i] {
                b'\n' => {
                    self.newline_before = true;
                    self.bump();
                }
                b' ' | b'\t' | b'\r' => self.bump(),
                b'#' => {
                    while self.i < self.bytes.len() && self.bytes[self.i] != b'\n' {
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    fn token(&mut self) -> LexResult<()> {
        let start = self.i;
        let pos = self.pos();
        let b = self.peek();
        if is_ident_start(b) {
            while is_ident_char(self.peek()) {
                self.bump();
            }
            let word = &self.src[start..self.i];
            let kind =
                TokenKind::keyword(word).unwrap_or_else(|| TokenKind::Ident(word.to_string()));
            self.push(kind, pos, start);
            return Ok(());
        }
        if b.is_ascii_digit() {
            let kind = self.number(pos)?;
            self.push(kind, pos, start);
            return Ok(());
        }
        if b == b'"' {
            let kind = self.string(pos)?;
            self.push(kind, pos, start);
            return Ok(());
        }
        use TokenKind::*;
        let (kind, len) = match (b, self.peek_at(1), self.peek_at(2)) {
            (b'/', b'/', b'=') => (SlashSlashEq, 3),
            (b'/', b'/', _) => (SlashSlash, 2),
            (b'/', b'=', _) => (SlashEq, 2),
            (b'/', _, _) => (Slash, 1),
            (b'*', b'*', _) => (StarStar, 2),
            (b'*', b'=', _) => (StarEq, 2),
            (b'*', _, _) => (Star, 1),
            (b'+', b'=', _) => (PlusEq, 2),
            (b'+', _, _) => (Plus, 1),
            (b'-', b'=', _) => (MinusEq, 2),
            (b'-', _, _) => (Minus, 1),
            (b'%', b'=', _) => (PercentEq, 2),
            (b'%', _, _) => (Percent, 1),
            (b'=', b'=', _) => (EqEq, 2),
            (b'=', _, _) => (Assign, 1),
            (b'!', b'=', _) => (NotEq, 2),
            (b'<', b'<', b'=') => (ShlEq, 3),
            (b'<', b'<', _) => (Shl, 2),
            (b'<', b'=', _) => (Le, 2),
            (b'<', _, _) => (Lt, 1),
            (b'>', b'>', b'=') => (ShrEq, 3),
            (b'>', b'>', _) => (Shr, 2),
            (b'>', b'=', _) => (Ge, 2),
            (b'>', _, _) => (Gt, 1),
            // `&&` and `||` are not Weft: `bad_char` points at `and`/`or`.
            (b'&', b'&', _) | (b'|', b'|', _) => return Err(self.bad_char(pos)),
            (b'&', b'=', _) => (AmpEq, 2),
            (b'&', _, _) => (Amp, 1),
            (b'|', b'=', _) => (PipeEq, 2),
            (b'|', _, _) => (Pipe, 1),
            (b'^', b'=', _) => (CaretEq, 2),
            (b'^', _, _) => (Caret, 1),
            (b'~', _, _) => (Tilde, 1),
            (b'.', b'.', b'.') => (Ellipsis, 3),
            (b'(', _, _) => (LParen, 1),
            (b')', _, _) => (RParen, 1),
            (b'[', _, _) => (LBracket, 1),
            (b']', _, _) => (RBracket, 1),
            (b'{', _, _) => (LBrace, 1),
            (b'}', _, _) => (RBrace, 1),
            (b',', _, _) => (Comma, 1),
            (b'.', _, _) => (Dot, 1),
            (b':', _, _) => (Colon, 1),
            (b';', _, _) => (Semicolon, 1),
            _ => return Err(self.bad_char(pos)),
        };
        self.bump_n(len);
        self.push(kind, pos, start);
        Ok(())
    }

    #[cold]
    fn bad_char(&self, pos: Pos) -> LexError {
        let c = self.src[self.i..].chars().next().unwrap_or('?');
        let next = self.src[self.i + c.len_utf8()..].chars().next();
        let hint = match (c, next) {
            ('!', _) => " (use 'not' for negation, '!=' for inequality)",
            ('&', Some('&')) => " (use 'and')",
            ('|', Some('|')) => " (use 'or')",
            ('\'', _) => " (strings use double quotes)",
            _ => "",
        };
        let shown = if c.is_control() || c.is_whitespace() {
            format!("U+{:04X}", c as u32)
        } else {
            format!("'{c}'")
        };
        self.error(pos, format!("unexpected character {shown}{hint}"))
    }

    // number ::= DIGITS ['.' DIGITS] [('e'|'E') ['+'|'-'] DIGITS]
    //          | '0' ('x'|'X'|'o'|'O'|'b'|'B') RADIXDIGITS
    // where an '_' may separate two digits.
    fn number(&mut self, pos: Pos) -> LexResult<TokenKind> {
        let start = self.i;
        let radix = match (self.peek(), self.peek_at(1)) {
            (b'0', b'x' | b'X') => 16,
            (b'0', b'o' | b'O') => 8,
            (b'0', b'b' | b'B') => 2,
            _ => 10,
        };
        if radix != 10 {
            self.bump_n(2);
            let digits_start = self.i;
            while is_ident_char(self.peek()) {
                self.bump();
            }
            let text = &self.src[start..self.i];
            let digits = &self.src[digits_start..self.i];
            if digits.is_empty()
                || !digits
                    .bytes()
                    .all(|b| b == b'_' || (b as char).is_digit(radix))
                || !underscores_ok(digits, |b| (b as char).is_digit(radix))
            {
                return Err(self.error(pos, format!("invalid number literal '{text}'")));
            }
            let clean: String = digits.chars().filter(|&c| c != '_').collect();
            return match u64::from_str_radix(&clean, radix) {
                Ok(v) if v <= 1 << 63 => Ok(TokenKind::Int(v)),
                _ => Err(self.error(pos, too_large(text))),
            };
        }
        let mut is_float = false;
        self.digits();
        if self.peek() == b'.' && self.peek_at(1).is_ascii_digit() {
            is_float = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek(), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek_at(1), b'+' | b'-'));
            if self.peek_at(1 + sign).is_ascii_digit() {
                is_float = true;
                self.bump_n(1 + sign);
                self.digits();
            }
        }
        // A number running straight into a name (`12abc`, `1e`, `3_`) is one
        // malformed literal, not two tokens.
        let clean_end = self.i;
        while is_ident_char(self.peek()) {
            self.bump();
        }
        let text = &self.src[start..self.i];
        if clean_end != self.i || !underscores_ok(text, |b| b.is_ascii_digit()) {
            return Err(self.error(pos, format!("invalid number literal '{text}'")));
        }
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        if is_float {
            return match clean.parse::<f64>() {
                Ok(v) => Ok(TokenKind::Float(v)),
                Err(_) => Err(self.error(pos, format!("invalid number literal '{text}'"))),
            };
        }
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return Err(self.error(
                pos,
                format!(
                    "leading zeros are not allowed in the integer literal '{text}' \
                     (write 0o... for an octal number)"
                ),
            ));
        }
        match clean.parse::<u64>() {
            Ok(v) if v <= 1 << 63 => Ok(TokenKind::Int(v)),
            _ => Err(self.error(pos, too_large(text))),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_ascii_digit() || self.peek() == b'_' {
            self.bump();
        }
    }

    // string ::= '"' { CHAR | ESCAPE } '"'
    // ESCAPE ::= '\n' | '\t' | '\r' | '\0' | '\\' | '\"' | '\u{' HEX{1,6} '}'
    fn string(&mut self, pos: Pos) -> LexResult<TokenKind> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            // Copy the run of plain bytes up to the next quote or backslash.
            let run_start = self.i;
            while self.i < self.bytes.len() && !matches!(self.bytes[self.i], b'"' | b'\\' | b'\r') {
                self.bump();
            }
            out.push_str(&self.src[run_start..self.i]);
            if self.i >= self.bytes.len() {
                return Err(LexError {
                    diagnostic: Diagnostic::new(
                        pos,
                        format!(
                            "unterminated string: the '\"' opened at {}:{} is never closed",
                            pos.line, pos.col
                        ),
                    ),
                    incomplete: true,
                });
            }
            match self.bytes[self.i] {
                b'"' => {
                    self.bump();
                    return Ok(TokenKind::Str(out));
                }
                b'\r' => {
                    // A raw `\r\n` inside a multi-line string is one `\n`.
                    self.bump();
                    if self.peek() != b'\n' {
                        out.push('\r');
                    }
                }
                _ => self.escape(&mut out)?,
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> LexResult<()> {
        let pos = self.pos();
        self.bump(); // the backslash
        let c = match self.peek() {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'\\' => '\\',
            b'"' => '"',
            b'u' => return self.unicode_escape(pos, out),
            _ => {
                if self.i >= self.bytes.len() {
                    return Err(LexError {
                        diagnostic: Diagnostic::new(
                            pos,
                            "unterminated string: the input ends after '\\'",
                        ),
                        incomplete: true,
                    });
                }
                let c = self.src[self.i..].chars().next().unwrap_or('?');
                let shown = if c == '\n' {
                    "'\\' at the end of a line".to_string()
                } else if c.is_control() {
                    format!("'\\' followed by U+{:04X}", c as u32)
                } else {
                    format!("'\\{c}'")
                };
                return Err(self.error(
                    pos,
                    format!(
                        "invalid escape {shown} in string (valid escapes: \\n \\t \\r \\0 \\\\ \\\" \\u{{...}})"
                    ),
                ));
            }
        };
        self.bump();
        out.push(c);
        Ok(())
    }

    // '\u{' HEX{1,6} '}' naming a Unicode scalar value
    fn unicode_escape(&mut self, pos: Pos, out: &mut String) -> LexResult<()> {
        self.bump(); // the 'u'
        if self.peek() != b'{' {
            return Err(self.error(
                pos,
                "invalid escape '\\u': write '\\u{...}' with 1 to 6 hex digits".to_string(),
            ));
        }
        self.bump();
        let start = self.i;
        while self.peek().is_ascii_hexdigit() {
            self.bump();
        }
        let hex = &self.src[start..self.i];
        if self.peek() != b'}' || hex.is_empty() || hex.len() > 6 {
            return Err(self.error(
                pos,
                format!("invalid escape '\\u{{{hex}': write '\\u{{...}}' with 1 to 6 hex digits"),
            ));
        }
        self.bump();
        let code = u32::from_str_radix(hex, 16).unwrap_or(u32::MAX);
        match char::from_u32(code) {
            Some(c) => {
                out.push(c);
                Ok(())
            }
            None => Err(self.error(
                pos,
                format!(
                    "invalid escape '\\u{{{hex}}}': U+{code:04X} is not a Unicode scalar value"
                ),
            )),
        }
    }
}

/// Whether every `_` in `text` sits between two digits.
fn underscores_ok(text: &str, is_digit: impl Fn(u8) -> bool) -> bool {
    let b = text.as_bytes();
    (0..b.len()).all(|k| {
        b[k] != b'_' || (k > 0 && k + 1 < b.len() && is_digit(b[k - 1]) && is_digit(b[k + 1]))
    })
}

#[cold]
fn too_large(text: &str) -> String {
    format!(
        "integer literal {text} is too large (the largest int is {})",
        i64::MAX
    )
}
