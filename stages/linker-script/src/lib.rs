//! GNU ld linker scripts: the parts that decide which symbols a link defines.
//!
//! [`Script::parse`] reads a script such as the kernel's preprocessed
//! `arch/*/kernel/vmlinux.lds` into [`Statement`]s in script order: symbol assignments
//! (`NAME = expr;`, `PROVIDE`, `PROVIDE_HIDDEN`, `HIDDEN`), output section descriptions
//! with their input section patterns, and `ASSERT`s. Commands that cannot change the
//! symbols (`OUTPUT_FORMAT`, `OUTPUT_ARCH`, `ENTRY`, `PHDRS`, `MEMORY`, program headers,
//! fill patterns, load addresses) are read and dropped. Commands that would change them in
//! ways this crate does not follow (`INCLUDE`, `INPUT`, `GROUP`, `OVERLAY`, `INSERT`,
//! `CREATE_OBJECT_SYMBOLS`) are errors, as is anything else the parser does not know: every
//! error says `file:line: what`.
//!
//! The grammar and the lexer states follow binutils 2.40's `ldgram.y` and `ldlex.l`.

mod glob;
mod lexer;
mod parser;

use std::fmt;

pub use glob::Glob;

/// A parsed linker script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The file it was read from, for messages.
    pub file: String,
    /// The statements that matter for symbols, in script order (those inside `SECTIONS`
    /// and those outside it, as ld keeps them: one list).
    pub statements: Vec<Statement>,
    /// Whether the script says `LD_FEATURE("SANE_EXPR")`, which changes how numbers in
    /// expressions outside output sections are treated.
    pub sane_expr: bool,
}

/// Why a script could not be read: `file:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The script file.
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ScriptError {}

impl Script {
    /// Parses the script `text`, read from `file`.
    pub fn parse(text: &[u8], file: &str) -> Result<Script, ScriptError> {
        parser::parse(text, file)
    }

    /// Calls `visit` with every expression of the script, in script order: assignments,
    /// `ASSERT`s, output section headers and the commands inside.
    pub fn for_each_expr<'s>(&'s self, mut visit: impl FnMut(&'s Expr)) {
        for statement in &self.statements {
            match statement {
                Statement::Assignment(a) => visit(&a.expr),
                Statement::Assert { expr, .. } => visit(expr),
                Statement::Extern(_) => {}
                Statement::Section(section) => {
                    section
                        .address
                        .iter()
                        .chain(&section.other_exprs)
                        .for_each(&mut visit);
                    for command in &section.commands {
                        match command {
                            SectionCommand::Assignment(a) => visit(&a.expr),
                            SectionCommand::Data { expr, .. }
                            | SectionCommand::Fill { expr, .. }
                            | SectionCommand::Assert { expr, .. } => visit(expr),
                            SectionCommand::Input(_) => {}
                        }
                    }
                }
            }
        }
    }

    /// Every symbol an expression names, and every `EXTERN` symbol: what lld takes as
    /// undefined references (`LinkerScript::referencedSymbols`), whether or not the
    /// expression is ever evaluated.
    pub fn referenced_symbols(&self) -> Vec<&[u8]> {
        let mut names = Vec::new();
        for statement in &self.statements {
            if let Statement::Extern(externs) = statement {
                names.extend(externs.iter().map(Vec::as_slice));
            }
        }
        self.for_each_expr(|expr| expr.for_each_symbol(&mut |name| names.push(name)));
        names
    }
}

/// A statement at the top level of the script or directly inside `SECTIONS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// A symbol or location counter assignment.
    Assignment(Assignment),
    /// An output section description.
    Section(OutputSection),
    /// `ASSERT(expr, "message")`.
    Assert {
        /// The condition.
        expr: Expr,
        /// The line of the statement.
        line: u32,
    },
    /// `EXTERN(sym ...)`: the symbols are undefined references, as with `-u`.
    Extern(Vec<Vec<u8>>),
}

/// `NAME = expr;` and its variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// What is assigned.
    pub target: Target,
    /// The value: for `a += b` the expression `a + b`.
    pub expr: Expr,
    /// Plain, `HIDDEN`, `PROVIDE` or `PROVIDE_HIDDEN`.
    pub kind: AssignKind,
    /// The line of the statement.
    pub line: u32,
}

/// The left side of an assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `.`, the location counter.
    Dot,
    /// A symbol.
    Symbol(Vec<u8>),
}

/// How a symbol is assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignKind {
    /// `NAME = expr`: always defined.
    Plain,
    /// `HIDDEN(NAME = expr)`: always defined, hidden.
    Hidden,
    /// `PROVIDE(NAME = expr)`: defined only if referenced and not defined by an input.
    Provide,
    /// `PROVIDE_HIDDEN(NAME = expr)`: like `PROVIDE`, hidden.
    ProvideHidden,
}

impl AssignKind {
    /// True for `PROVIDE` and `PROVIDE_HIDDEN`.
    pub fn is_provide(self) -> bool {
        matches!(self, AssignKind::Provide | AssignKind::ProvideHidden)
    }

    /// True for `HIDDEN` and `PROVIDE_HIDDEN`.
    pub fn is_hidden(self) -> bool {
        matches!(self, AssignKind::Hidden | AssignKind::ProvideHidden)
    }
}

/// `NAME [ADDRESS] [(TYPE)] : [AT(LMA)] [ALIGN(A)] [SUBALIGN(A)] [CONSTRAINT] { ... } ...`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSection {
    /// The section name; `/DISCARD/` discards what it matches.
    pub name: Vec<u8>,
    /// The address expression, if any.
    pub address: Option<Expr>,
    /// The section type.
    pub kind: SectionKind,
    /// The other expressions of the description (load address, alignments, fill), for the
    /// symbols they refer to.
    pub other_exprs: Vec<Expr>,
    /// `ALIGN(expr)` after the colon: the section's least alignment.
    pub align: Option<Expr>,
    /// `SUBALIGN(expr)`: the alignment that replaces every input section's.
    pub subalign: Option<Expr>,
    /// `ONLY_IF_RO` / `ONLY_IF_RW`.
    pub constraint: Option<Constraint>,
    /// The commands inside the braces.
    pub commands: Vec<SectionCommand>,
    /// Where those commands are in the script's text: the bytes between the braces, so that
    /// a tool can copy a statement's contents into a script of its own.
    pub body: std::ops::Range<usize>,
    /// The line of the section name.
    pub line: u32,
}

impl OutputSection {
    /// True for `/DISCARD/`.
    pub fn is_discard(&self) -> bool {
        self.name == b"/DISCARD/"
    }
}

/// An output section type (`(NOLOAD)` and the like), as ld's `sectype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// No type given.
    Normal,
    /// `(NOLOAD)`: allocated, no contents.
    NoLoad,
    /// `(DSECT)`, `(COPY)`, `(INFO)`, `(OVERLAY)`: not allocated.
    NoAlloc,
    /// `(READONLY)`, also with a `TYPE`: read-only.
    ReadOnly,
    /// `(TYPE = ...)`: a given ELF section type.
    Typed,
}

/// A constraint that turns an output section description off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// `ONLY_IF_RO`: used only if every input section it matches is read-only.
    OnlyIfReadOnly,
    /// `ONLY_IF_RW`: used only if some input section it matches is writable.
    OnlyIfWritable,
}

/// A command inside an output section's braces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionCommand {
    /// A symbol or location counter assignment.
    Assignment(Assignment),
    /// An input section description.
    Input(InputSpec),
    /// `BYTE(expr)`, `SHORT`, `LONG`, `QUAD`, `SQUAD`, `ASCIZ`: data in the section.
    Data {
        /// The value.
        expr: Expr,
        /// Its size in bytes (`None` for `ASCIZ`).
        size: Option<u64>,
        /// The line of the command.
        line: u32,
    },
    /// `FILL(expr)`.
    Fill {
        /// The fill pattern.
        expr: Expr,
        /// The line of the command.
        line: u32,
    },
    /// `ASSERT(expr, "message")`.
    Assert {
        /// The condition.
        expr: Expr,
        /// The line of the command.
        line: u32,
    },
}

/// `[KEEP(] FILE-PATTERN ( SECTION-PATTERN ... ) [)]`, with `EXCLUDE_FILE`,
/// `INPUT_SECTION_FLAGS` and the `SORT` forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The file name pattern (`*` for every file).
    pub file: Glob,
    /// `EXCLUDE_FILE(...)` before the file pattern.
    pub exclude_files: Vec<Glob>,
    /// A `SORT` form (not `SORT_NONE`) wraps the file pattern: files are not taken in link
    /// order.
    pub sorted: bool,
    /// The section name patterns; a bare file name without parentheses has one, `*`.
    pub sections: Vec<SectionPattern>,
    /// `INPUT_SECTION_FLAGS(...)`: section flags that must be set and that must be clear.
    pub flags: Option<FlagFilter>,
    /// Inside `KEEP(...)`.
    pub keep: bool,
    /// The line of the description.
    pub line: u32,
}

/// One section name pattern of an input section description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionPattern {
    /// The pattern.
    pub name: Glob,
    /// `EXCLUDE_FILE(...)` inside the section list, which applies to this pattern only.
    pub exclude_files: Vec<Glob>,
    /// The `SORT` forms that wrap it, outermost first.
    pub sort: Vec<SortForm>,
}

impl SectionPattern {
    /// True if a `SORT` form other than `SORT_NONE` wraps it: its sections are not taken in
    /// file order.
    pub fn is_sorted(&self) -> bool {
        self.sort.iter().any(|form| *form != SortForm::None)
    }
}

/// A `SORT` form around a section pattern, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortForm {
    /// `SORT` or `SORT_BY_NAME`.
    ByName,
    /// `SORT_BY_ALIGNMENT`.
    ByAlignment,
    /// `SORT_BY_INIT_PRIORITY`.
    ByInitPriority,
    /// `SORT_NONE`: file order.
    None,
    /// `REVERSE`.
    Reverse,
}

/// `INPUT_SECTION_FLAGS(SHF_A & !SHF_B ...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagFilter {
    /// `sh_flags` bits that must be set.
    pub set: u64,
    /// `sh_flags` bits that must be clear.
    pub clear: u64,
}

impl FlagFilter {
    /// Whether a section with these flags passes.
    pub fn accepts(&self, sh_flags: u64) -> bool {
        sh_flags & self.set == self.set && sh_flags & self.clear == 0
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// An integer literal.
    Number(u64),
    /// `.`.
    Dot,
    /// A symbol.
    Symbol(Vec<u8>),
    /// A unary operator or one-argument function.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operator or two-argument function.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `cond ? a : b`.
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `ADDR`, `LOADADDR`, `SIZEOF` or `ALIGNOF` of an output section.
    Section(SectionQuery, Vec<u8>),
    /// `DEFINED(sym)`.
    Defined(Vec<u8>),
    /// A number ld knows and this crate does not: `SIZEOF_HEADERS`, `CONSTANT(...)`,
    /// `LENGTH(region)`.
    Opaque,
    /// `ORIGIN(region)`: an address from the location counter's point of view.
    Origin,
    /// `SEGMENT_START("segment", default)`.
    SegmentStart(Box<Expr>),
}

/// Unary operators and one-argument functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`.
    Negate,
    /// `!x`.
    Not,
    /// `~x`.
    Complement,
    /// `ABSOLUTE(x)`.
    Absolute,
    /// `ALIGN(x)` and `BLOCK(x)`: the location counter aligned up to `x`.
    Align,
    /// `NEXT(x)`.
    Next,
    /// `LOG2CEIL(x)`.
    Log2Ceil,
    /// `DATA_SEGMENT_END(x)`.
    DataSegmentEnd,
    /// `ASSERT(x, "message")` used as a value: `x`.
    Assert,
}

/// Binary operators and two-argument functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `&`
    And,
    /// `^`
    Xor,
    /// `|`
    Or,
    /// `&&`
    LogicalAnd,
    /// `||`
    LogicalOr,
    /// `MAX(a, b)`
    Max,
    /// `MIN(a, b)`
    Min,
    /// `ALIGN(a, b)`: `a` aligned up to `b`.
    AlignTo,
    /// `DATA_SEGMENT_ALIGN(a, b)`.
    DataSegmentAlign,
    /// `DATA_SEGMENT_RELRO_END(a, b)`.
    DataSegmentRelroEnd,
}

/// What an expression asks about an output section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionQuery {
    /// `ADDR(sec)`: its address, relative to it.
    Addr,
    /// `LOADADDR(sec)`: its load address, absolute.
    LoadAddr,
    /// `SIZEOF(sec)`: a number.
    SizeOf,
    /// `ALIGNOF(sec)`: a number.
    AlignOf,
}

impl Expr {
    /// Calls `visit` with every symbol the expression refers to, in order. A conditional's
    /// branches are both visited.
    pub fn for_each_symbol<'e>(&'e self, visit: &mut impl FnMut(&'e [u8])) {
        match self {
            Expr::Symbol(name) => visit(name),
            Expr::Unary(_, x) | Expr::SegmentStart(x) => x.for_each_symbol(visit),
            Expr::Binary(_, a, b) => {
                a.for_each_symbol(visit);
                b.for_each_symbol(visit);
            }
            Expr::Conditional(c, a, b) => {
                c.for_each_symbol(visit);
                a.for_each_symbol(visit);
                b.for_each_symbol(visit);
            }
            Expr::Number(_)
            | Expr::Dot
            | Expr::Section(..)
            | Expr::Defined(_)
            | Expr::Opaque
            | Expr::Origin => {}
        }
    }

    /// Calls `visit` with every output section the expression takes `ADDR` or `LOADADDR`
    /// of: ld creates those sections when it meets the expression (`exp_init_os`).
    pub fn for_each_section_address<'e>(&'e self, visit: &mut impl FnMut(&'e [u8])) {
        match self {
            Expr::Section(SectionQuery::Addr | SectionQuery::LoadAddr, name) => visit(name),
            Expr::Unary(_, x) | Expr::SegmentStart(x) => x.for_each_section_address(visit),
            Expr::Binary(_, a, b) => {
                a.for_each_section_address(visit);
                b.for_each_section_address(visit);
            }
            Expr::Conditional(c, a, b) => {
                c.for_each_section_address(visit);
                a.for_each_section_address(visit);
                b.for_each_section_address(visit);
            }
            _ => {}
        }
    }

    /// The value of an expression made of numbers and operators only; `None` if it
    /// depends on anything else (a symbol, the location counter, a section) or divides
    /// by zero.
    pub fn constant(&self) -> Option<u64> {
        Some(match self {
            Expr::Number(v) => *v,
            Expr::Unary(op, x) => {
                let x = x.constant()?;
                match op {
                    UnaryOp::Negate => x.wrapping_neg(),
                    UnaryOp::Not => u64::from(x == 0),
                    UnaryOp::Complement => !x,
                    UnaryOp::Log2Ceil => log2_ceil(x),
                    UnaryOp::Assert => x,
                    UnaryOp::Absolute
                    | UnaryOp::Align
                    | UnaryOp::Next
                    | UnaryOp::DataSegmentEnd => return None,
                }
            }
            Expr::Binary(op, a, b) => op.apply(a.constant()?, b.constant()?)?,
            Expr::Conditional(c, a, b) => {
                if c.constant()? != 0 {
                    a.constant()?
                } else {
                    b.constant()?
                }
            }
            _ => return None,
        })
    }
}

impl BinaryOp {
    /// The operator applied to two values as ld computes it (`bfd_vma` arithmetic, signed
    /// division and remainder); `None` for a division by zero and for the functions that
    /// depend on the location counter.
    pub fn apply(self, a: u64, b: u64) -> Option<u64> {
        Some(match self {
            BinaryOp::Mul => a.wrapping_mul(b),
            BinaryOp::Div => (a as i64).checked_div(b as i64)? as u64,
            BinaryOp::Rem => (a as i64).checked_rem(b as i64)? as u64,
            BinaryOp::Add => a.wrapping_add(b),
            BinaryOp::Sub => a.wrapping_sub(b),
            BinaryOp::Shl => a.checked_shl(u32::try_from(b).ok()?).unwrap_or(0),
            BinaryOp::Shr => a.checked_shr(u32::try_from(b).ok()?).unwrap_or(0),
            BinaryOp::Eq => u64::from(a == b),
            BinaryOp::Ne => u64::from(a != b),
            BinaryOp::Lt => u64::from(a < b),
            BinaryOp::Gt => u64::from(a > b),
            BinaryOp::Le => u64::from(a <= b),
            BinaryOp::Ge => u64::from(a >= b),
            BinaryOp::And => a & b,
            BinaryOp::Xor => a ^ b,
            BinaryOp::Or => a | b,
            BinaryOp::LogicalAnd => u64::from(a != 0 && b != 0),
            BinaryOp::LogicalOr => u64::from(a != 0 || b != 0),
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
            BinaryOp::AlignTo => align_up(a, b),
            BinaryOp::DataSegmentAlign | BinaryOp::DataSegmentRelroEnd => return None,
        })
    }
}

/// `value` rounded up to a multiple of `align` (ld's `align_n`: an alignment of 0 or 1
/// leaves it).
pub fn align_up(value: u64, align: u64) -> u64 {
    if align <= 1 {
        value
    } else {
        value.div_ceil(align).wrapping_mul(align)
    }
}

/// ld's `LOG2CEIL`.
fn log2_ceil(value: u64) -> u64 {
    if value <= 1 {
        0
    } else {
        u64::from(64 - (value - 1).leading_zeros())
    }
}

#[cfg(test)]
mod tests;
