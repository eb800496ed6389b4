//! The abstract syntax tree produced by the parser and consumed by the compiler.
//!
//! Every node carries the source position of its first token ([`Pos`]); the
//! compiler copies positions into side tables so they are formatted only when
//! an error is shown.

/// A 1-based source position: line, and column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters (not bytes), starting at 1.
    pub col: u32,
}

/// An identifier with the position where it appears.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The identifier's text.
    pub name: String,
    /// Where it appears.
    pub pos: Pos,
}

/// A whole source file: its top-level statements.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Top-level statements in order.
    pub body: Block,
}

/// `{ stmt* }`. Its value is the value of its last statement when that
/// statement is an expression statement, else `nil`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// Position of the opening `{` (or of the first token of a file).
    pub pos: Pos,
}

/// A statement with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What kind of statement.
    pub kind: StmtKind,
    /// Position of its first token.
    pub pos: Pos,
}

/// Statement kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let name = value`
    Let {
        /// The declared name.
        name: Ident,
        /// Its initial value.
        value: Expr,
    },
    /// `let [a, b, ...rest] = value`: destructuring (the names are
    /// declared after `value` is evaluated).
    LetPattern {
        /// The pattern.
        pattern: ListPattern,
        /// The value taken apart.
        value: Expr,
    },
    /// `target = value`, or `target op= value` when `op` is set.
    /// `target` is a [`ExprKind::Name`], [`ExprKind::Index`] or
    /// [`ExprKind::Field`] chain; the compiler rejects anything else.
    Assign {
        /// What is assigned.
        target: Expr,
        /// The operator of a compound assignment (`+=` gives `Some(Add)`).
        op: Option<BinOp>,
        /// The right-hand side.
        value: Expr,
    },
    /// `fn name(params) { body }` at statement level: a hoisted declaration.
    FnDecl(Box<FnDef>),
    /// `while cond { body }`
    While {
        /// Loop condition.
        cond: Expr,
        /// Loop body.
        body: Block,
    },
    /// `for var in iter { body }` or `for index, var in iter { body }`;
    /// `var` may be a destructuring pattern (`for [k, v] in m.items()`).
    For {
        /// The first name of the two-name form (index, or key over a map).
        index: Option<Ident>,
        /// The item name or pattern (or value over a map in the two-name form).
        var: Pattern,
        /// What is iterated.
        iter: Expr,
        /// Loop body.
        body: Block,
    },
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `return` or `return value`
    Return(Option<Expr>),
    /// `throw value`
    Throw(Expr),
    /// `import "path"` or `import "path" as alias`
    Import {
        /// The path string as written.
        path: String,
        /// The name bound: the alias, else the last path segment.
        alias: Option<Ident>,
    },
    /// An expression used as a statement.
    Expr(Expr),
}

/// What a binding statement (`let`, `for`) binds: a name, or a list
/// pattern that takes a list apart.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// A plain name.
    Name(Ident),
    /// `[a, [b, c], ...rest]`
    List(ListPattern),
}

impl Pattern {
    /// Every name the pattern binds, in source order.
    pub fn names(&self) -> Vec<&Ident> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<&'a Ident>) {
        match self {
            Pattern::Name(id) => out.push(id),
            Pattern::List(p) => p.collect_names(out),
        }
    }
}

/// `[p1, p2, ...rest, p3]`: the items of a list (or range or string) bound
/// to sub-patterns, at most one `...name` taking what is left as a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPattern {
    /// The sub-patterns, without the rest name.
    pub items: Vec<Pattern>,
    /// `...name` and how many of `items` come before it.
    pub rest: Option<(usize, Ident)>,
    /// Position of the `[`.
    pub pos: Pos,
}

impl ListPattern {
    /// Every name the pattern binds, in source order.
    pub fn names(&self) -> Vec<&Ident> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<&'a Ident>) {
        for (i, p) in self.items.iter().enumerate() {
            if let Some((at, id)) = &self.rest {
                if *at == i {
                    out.push(id);
                }
            }
            p.collect_names(out);
        }
        if let Some((at, id)) = &self.rest {
            if *at == self.items.len() {
                out.push(id);
            }
        }
    }
}

/// A function parameter: `name` or `name = default`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: Ident,
    /// Its default value, evaluated at each call that does not pass it.
    pub default: Option<Expr>,
}

/// A function literal or declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// The name, for `fn name(...)`; `None` for `fn(...)`.
    pub name: Option<Ident>,
    /// Parameters; the ones with defaults come after the ones without.
    pub params: Vec<Param>,
    /// The body; the function returns its value unless `return` runs first.
    pub body: Block,
    /// Position of the `fn` keyword.
    pub pos: Pos,
}

/// An expression with its position.
///
/// Flat chains of binary operators (`1 + 1 + ... + 1`) may be arbitrarily
/// long, so the tree may be arbitrarily deep along them: dropping and
/// cloning an expression work without recursion along such chains (see the
/// `Drop` and `Clone` impls), and every pass that recurses over the tree
/// grows its stack on demand.
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Position of its first token (for binary operators and calls: the
    /// operator or the opening parenthesis, which is where errors point).
    pub pos: Pos,
}

/// Expression kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal (already range-checked by the lexer).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal with escapes already decoded.
    Str(String),
    /// A variable reference.
    Name(Ident),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `{k: v, "k2": v2, (expr): v3}`; a bare identifier key is already a
    /// [`ExprKind::Str`].
    Map(Vec<(Expr, Expr)>),
    /// `-x`, `not x`
    Unary(UnOp, Box<Expr>),
    /// Arithmetic and comparison.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a and b` (short-circuit, returns the deciding operand)
    And(Box<Expr>, Box<Expr>),
    /// `a or b` (short-circuit, returns the deciding operand)
    Or(Box<Expr>, Box<Expr>),
    /// `callee(args)`
    Call {
        /// What is called.
        callee: Box<Expr>,
        /// Arguments in order.
        args: Vec<Expr>,
    },
    /// `recv.name(args)`
    MethodCall {
        /// The receiver.
        recv: Box<Expr>,
        /// The method name.
        name: Ident,
        /// Arguments in order.
        args: Vec<Expr>,
    },
    /// `x[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `x.name` (for maps, `x["name"]`; for modules and errors, a field)
    Field(Box<Expr>, Ident),
    /// `fn(params) { body }` or a named function in expression position
    /// (the name is visible inside its own body).
    Fn(Box<FnDef>),
    /// `if cond { then } else ...`; `else_` is a [`ExprKind::Block`] or
    /// another [`ExprKind::If`].
    If {
        /// The condition.
        cond: Box<Expr>,
        /// The block run when the condition is truthy.
        then: Block,
        /// The `else` branch, if any.
        else_: Option<Box<Expr>>,
    },
    /// `{ stmts }` as an expression.
    Block(Block),
    /// `try { body } catch name { handler } finally { cleanup }` (`name`
    /// may be omitted; at least one of `catch` and `finally` is present).
    Try {
        /// The guarded block.
        body: Block,
        /// The name bound to the error value in the handler.
        var: Option<Ident>,
        /// The handler block, if there is a `catch`.
        handler: Option<Block>,
        /// The `finally` block, if any.
        finally: Option<Block>,
    },
}

impl Expr {
    /// A `nil` literal at `pos` (a placeholder when taking a tree apart).
    fn placeholder(pos: Pos) -> Expr {
        Expr {
            kind: ExprKind::Nil,
            pos,
        }
    }

    /// Moves the operands of a binary node into `out`, leaving
    /// placeholders; other nodes are left alone.
    fn take_operands(&mut self, out: &mut Vec<Expr>) {
        match &mut self.kind {
            ExprKind::Binary(_, l, r) | ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                for side in [l, r] {
                    if matches!(
                        side.kind,
                        ExprKind::Binary(..) | ExprKind::And(..) | ExprKind::Or(..)
                    ) {
                        let pos = side.pos;
                        out.push(std::mem::replace(&mut **side, Expr::placeholder(pos)));
                    }
                }
            }
            _ => {}
        }
    }
}

impl Drop for Expr {
    /// Drops a chain of binary operators iteratively (the default drop
    /// would recurse once per operator and could overflow the stack on a
    /// 100,000-term sum).
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_operands(&mut pending);
        while let Some(mut e) = pending.pop() {
            e.take_operands(&mut pending);
        }
    }
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || {
            f.debug_struct("Expr")
                .field("kind", &self.kind)
                .field("pos", &self.pos)
                .finish()
        })
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || {
            self.pos == other.pos && self.kind == other.kind
        })
    }
}

impl Clone for Expr {
    /// Clones with on-demand stack growth, as chains may be deep.
    fn clone(&self) -> Expr {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || Expr {
            kind: self.kind.clone(),
            pos: self.pos,
        })
    }
}

/// Binary operators (short-circuit `and`/`or` are separate expression kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (always a float)
    Div,
    /// `//` (floor division)
    FloorDiv,
    /// `%` (sign of the divisor)
    Mod,
    /// `**`
    Pow,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&` (bitwise and)
    BitAnd,
    /// `|` (bitwise or)
    BitOr,
    /// `^` (bitwise exclusive or)
    BitXor,
    /// `<<`
    Shl,
    /// `>>` (arithmetic: the sign is kept)
    Shr,
}

impl BinOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
    /// `~x` (bitwise not)
    BitNot,
}
