//! A recursive-descent parser for the grammar of binutils 2.40's `ldgram.y`, as far as
//! linker scripts for a final link use it.

use super::lexer::{Lexer, Mode, Token};
use super::{
    AssignKind, Assignment, BinaryOp, Constraint, Expr, FlagFilter, Glob, InputSpec, OutputSection,
    Script, ScriptError, SectionCommand, SectionKind, SectionPattern, SectionQuery, SortForm,
    Statement, Target, UnaryOp,
};

/// Parses a whole script.
pub fn parse(text: &[u8], file: &str) -> Result<Script, ScriptError> {
    let mut parser = Parser {
        lexer: Lexer::new(text, file),
        statements: Vec::new(),
        sane_expr: false,
    };
    parser.top_level()?;
    Ok(Script {
        file: file.to_owned(),
        statements: parser.statements,
        sane_expr: parser.sane_expr,
    })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    statements: Vec<Statement>,
    sane_expr: bool,
}

/// Commands outside `SECTIONS` whose argument list does not change the symbols.
const IGNORED_COMMANDS: &[&str] = &[
    "OUTPUT_FORMAT",
    "OUTPUT_ARCH",
    "TARGET",
    "SEARCH_DIR",
    "OUTPUT",
    "STARTUP",
    "ENTRY",
    "NOCROSSREFS",
    "NOCROSSREFS_TO",
    "REGION_ALIAS",
    "MAP",
    "HLL",
    "SYSLIB",
];

/// Commands without arguments that do not change the symbols.
const IGNORED_WORDS: &[&str] = &[
    "FORCE_COMMON_ALLOCATION",
    "FORCE_GROUP_ALLOCATION",
    "INHIBIT_COMMON_ALLOCATION",
    "FLOAT",
    "NOFLOAT",
];

/// Commands this crate does not follow, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("INCLUDE", "it reads another script"),
    ("INPUT", "it adds link inputs"),
    ("GROUP", "it adds link inputs"),
    ("INSERT", "it reorders output sections"),
    ("OVERLAY", "overlays are not modelled"),
    ("VERSION", "version scripts are not modelled"),
    (
        "CREATE_OBJECT_SYMBOLS",
        "it defines a symbol per input file",
    ),
];

/// The assignment operators and the binary operator each stands for.
const ASSIGN_OPS: &[(&str, Option<BinaryOp>)] = &[
    ("=", None),
    ("+=", Some(BinaryOp::Add)),
    ("-=", Some(BinaryOp::Sub)),
    ("*=", Some(BinaryOp::Mul)),
    ("/=", Some(BinaryOp::Div)),
    ("<<=", Some(BinaryOp::Shl)),
    (">>=", Some(BinaryOp::Shr)),
    ("&=", Some(BinaryOp::And)),
    ("|=", Some(BinaryOp::Or)),
];

fn assign_op(token: &Token) -> Option<Option<BinaryOp>> {
    ASSIGN_OPS
        .iter()
        .find(|(p, _)| token.is_punct(p))
        .map(|&(_, op)| op)
}

/// Binary operators by precedence level, loosest first (`ldgram.y`'s `%left` lines).
const BINARY_LEVELS: &[&[(&str, BinaryOp)]] = &[
    &[("||", BinaryOp::LogicalOr)],
    &[("&&", BinaryOp::LogicalAnd)],
    &[("|", BinaryOp::Or)],
    &[("^", BinaryOp::Xor)],
    &[("&", BinaryOp::And)],
    &[("==", BinaryOp::Eq), ("!=", BinaryOp::Ne)],
    &[
        ("<", BinaryOp::Lt),
        (">", BinaryOp::Gt),
        ("<=", BinaryOp::Le),
        (">=", BinaryOp::Ge),
    ],
    &[("<<", BinaryOp::Shl), (">>", BinaryOp::Shr)],
    &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
    &[
        ("*", BinaryOp::Mul),
        ("/", BinaryOp::Div),
        ("%", BinaryOp::Rem),
    ],
];

/// ELF section flag names `INPUT_SECTION_FLAGS` accepts (bfd's `bfd_get_section_ident`
/// table of generic flags).
const SECTION_FLAG_NAMES: &[(&str, u64)] = &[
    ("SHF_WRITE", 0x1),
    ("SHF_ALLOC", 0x2),
    ("SHF_EXECINSTR", 0x4),
    ("SHF_MERGE", 0x10),
    ("SHF_STRINGS", 0x20),
    ("SHF_INFO_LINK", 0x40),
    ("SHF_LINK_ORDER", 0x80),
    ("SHF_OS_NONCONFORMING", 0x100),
    ("SHF_GROUP", 0x200),
    ("SHF_TLS", 0x400),
    ("SHF_COMPRESSED", 0x800),
    ("SHF_GNU_RETAIN", 0x20_0000),
    ("SHF_EXCLUDE", 0x8000_0000),
];

fn name_text<'a>(token: &Token<'a>) -> Option<&'a [u8]> {
    match token {
        Token::Name { text, .. } => Some(text),
        _ => None,
    }
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ScriptError {
        self.lexer.error(message)
    }

    fn expect(&mut self, mode: Mode, punct: &str, context: &str) -> Result<(), ScriptError> {
        let token = self.lexer.next(mode)?;
        if token.is_punct(punct) {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected `{punct}` {context}, found {}",
                token.describe()
            )))
        }
    }

    /// A name (quoted or not) in state `mode`.
    fn expect_name(&mut self, mode: Mode, context: &str) -> Result<Vec<u8>, ScriptError> {
        match self.lexer.next(mode)? {
            Token::Name { text, .. } => Ok(text.to_vec()),
            other => Err(self.error(format!(
                "expected a name {context}, found {}",
                other.describe()
            ))),
        }
    }

    /// Consumes a `;` or `,` if one comes next.
    fn optional_separator(&mut self, mode: Mode) -> Result<(), ScriptError> {
        let token = self.lexer.peek(mode)?;
        if token.is_punct(";") || token.is_punct(",") {
            self.lexer.next(mode)?;
        }
        Ok(())
    }

    /// The `;` or `,` that ends an assignment statement.
    fn separator(&mut self, mode: Mode) -> Result<(), ScriptError> {
        let token = self.lexer.next(mode)?;
        if token.is_punct(";") || token.is_punct(",") {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected `;` after the assignment, found {}",
                token.describe()
            )))
        }
    }

    fn unsupported(&self, word: &str) -> Option<ScriptError> {
        UNSUPPORTED
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(w, why)| self.error(format!("`{w}` is not supported: {why}")))
    }

    fn top_level(&mut self) -> Result<(), ScriptError> {
        loop {
            let token = self.lexer.next(Mode::Script)?;
            let line = self.lexer.line();
            match &token {
                Token::End => return Ok(()),
                Token::Punct(";") => {}
                t if t.is_word("SECTIONS") => {
                    self.expect(Mode::Script, "{", "after SECTIONS")?;
                    self.sections()?;
                }
                t if t.is_word("MEMORY") || t.is_word("PHDRS") => {
                    self.lexer.skip_group(b'{', b'}')?;
                }
                t if t.is_word("LD_FEATURE") => {
                    self.expect(Mode::Script, "(", "after LD_FEATURE")?;
                    let feature = self.expect_name(Mode::Script, "in LD_FEATURE")?;
                    if feature == b"SANE_EXPR" {
                        self.sane_expr = true;
                    }
                    self.expect(Mode::Script, ")", "after the LD_FEATURE name")?;
                }
                t if t.is_word("EXTERN") => {
                    self.expect(Mode::Script, "(", "after EXTERN")?;
                    let mut names = Vec::new();
                    loop {
                        match self.lexer.next(Mode::Script)? {
                            Token::Punct(")") => break,
                            Token::Punct(",") => {}
                            Token::Name { text, .. } => names.push(text.to_vec()),
                            other => {
                                return Err(self.error(format!(
                                    "expected a symbol name in EXTERN, found {}",
                                    other.describe()
                                )))
                            }
                        }
                    }
                    self.statements.push(Statement::Extern(names));
                }
                Token::Name {
                    text,
                    quoted: false,
                } if IGNORED_COMMANDS.iter().any(|c| c.as_bytes() == *text) => {
                    self.lexer.skip_group(b'(', b')')?;
                }
                Token::Name {
                    text,
                    quoted: false,
                } if IGNORED_WORDS.iter().any(|c| c.as_bytes() == *text) => {}
                _ => {
                    if let Some(statement) = self.anywhere_statement(&token, line)? {
                        self.statements.push(statement);
                    } else {
                        return Err(self.error(format!(
                            "expected a linker script command, found {}",
                            token.describe()
                        )));
                    }
                }
            }
        }
    }

    /// What `statement_anywhere` allows, at the top level and inside `SECTIONS`: an
    /// assignment, `PROVIDE`/`HIDDEN`, `ASSERT`; `None` if `token` starts none of these.
    fn anywhere_statement(
        &mut self,
        token: &Token,
        line: u32,
    ) -> Result<Option<Statement>, ScriptError> {
        if let Token::Name {
            text,
            quoted: false,
        } = token
        {
            let word = String::from_utf8_lossy(text);
            if let Some(err) = self.unsupported(&word) {
                return Err(err);
            }
            if let Some(kind) = provide_kind(&word) {
                let assignment = self.wrapped_assignment(Mode::Script, kind, line)?;
                self.separator(Mode::Script)?;
                return Ok(Some(Statement::Assignment(assignment)));
            }
            if word == "ASSERT" {
                let expr = self.assert_args()?;
                self.optional_separator(Mode::Script)?;
                return Ok(Some(Statement::Assert { expr, line }));
            }
        }
        let Some(name) = name_text(token) else {
            return Ok(None);
        };
        let next = self.lexer.peek(Mode::Script)?;
        let Some(op) = assign_op(&next) else {
            return Ok(None);
        };
        self.lexer.next(Mode::Script)?;
        let assignment = self.assignment_rhs(name, op, AssignKind::Plain, line)?;
        self.separator(Mode::Script)?;
        Ok(Some(Statement::Assignment(assignment)))
    }

    /// `(NAME = expr)` after `PROVIDE`, `PROVIDE_HIDDEN` or `HIDDEN`.
    fn wrapped_assignment(
        &mut self,
        mode: Mode,
        kind: AssignKind,
        line: u32,
    ) -> Result<Assignment, ScriptError> {
        self.expect(mode, "(", "after PROVIDE or HIDDEN")?;
        let name = self.expect_name(mode, "to assign")?;
        self.expect(mode, "=", "in PROVIDE or HIDDEN")?;
        let expr = self.expr()?;
        self.expect(Mode::Expr, ")", "after the PROVIDE or HIDDEN expression")?;
        let target = assignment_target(&name);
        if target == Target::Dot {
            return Err(self.error("cannot PROVIDE or HIDE the location counter `.`"));
        }
        Ok(Assignment {
            target,
            expr,
            kind,
            line,
        })
    }

    /// The expression after `NAME op`.
    fn assignment_rhs(
        &mut self,
        name: &[u8],
        op: Option<BinaryOp>,
        kind: AssignKind,
        line: u32,
    ) -> Result<Assignment, ScriptError> {
        let target = assignment_target(name);
        let rhs = self.expr()?;
        let expr = match op {
            None => rhs,
            Some(op) => {
                let lhs = match &target {
                    Target::Dot => Expr::Dot,
                    Target::Symbol(name) => Expr::Symbol(name.clone()),
                };
                Expr::Binary(op, Box::new(lhs), Box::new(rhs))
            }
        };
        Ok(Assignment {
            target,
            expr,
            kind,
            line,
        })
    }

    /// `(expr, "message")` after `ASSERT`; the expression.
    fn assert_args(&mut self) -> Result<Expr, ScriptError> {
        self.expect(Mode::Expr, "(", "after ASSERT")?;
        let expr = self.expr()?;
        self.expect(
            Mode::Expr,
            ",",
            "between the ASSERT expression and its message",
        )?;
        self.expect_name(Mode::Expr, "as the ASSERT message")?;
        self.expect(Mode::Expr, ")", "after the ASSERT message")?;
        Ok(expr)
    }

    /// The body of `SECTIONS { ... }`, after the `{`.
    fn sections(&mut self) -> Result<(), ScriptError> {
        loop {
            let token = self.lexer.next(Mode::Script)?;
            let line = self.lexer.line();
            match &token {
                Token::Punct("}") => return Ok(()),
                Token::Punct(";") => {}
                Token::End => return Err(self.error("`SECTIONS {` is never closed")),
                t if t.is_word("ENTRY") => self.lexer.skip_group(b'(', b')')?,
                _ => {
                    if let Some(statement) = self.anywhere_statement(&token, line)? {
                        self.statements.push(statement);
                        continue;
                    }
                    let Some(name) = name_text(&token) else {
                        return Err(self.error(format!(
                            "expected an output section or an assignment, found {}",
                            token.describe()
                        )));
                    };
                    let section = self.output_section(name.to_vec(), line)?;
                    self.statements.push(Statement::Section(section));
                }
            }
        }
    }

    /// An output section description after its name.
    fn output_section(&mut self, name: Vec<u8>, line: u32) -> Result<OutputSection, ScriptError> {
        let mut section = OutputSection {
            name,
            address: None,
            kind: SectionKind::Normal,
            other_exprs: Vec::new(),
            align: None,
            subalign: None,
            constraint: None,
            commands: Vec::new(),
            body: 0..0,
            line,
        };
        // opt_exp_with_type, in EXPRESSION state: [address] [(TYPE)] ':'
        let next = self.lexer.peek(Mode::Expr)?;
        if next.is_word("BIND") {
            return Err(self.error("`BIND` is not supported"));
        }
        if !next.is_punct(":") && !self.section_type(&mut section)? {
            section.address = Some(self.expr()?);
            self.section_type(&mut section)?;
        }
        self.expect(Mode::Expr, ":", "after the output section name")?;
        // opt_at opt_align opt_align_with_input opt_subalign sect_constraint '{'
        loop {
            let token = self.lexer.next(Mode::Script)?;
            match &token {
                Token::Punct("{") => break,
                t if t.is_word("AT") || t.is_word("ALIGN") || t.is_word("SUBALIGN") => {
                    self.expect(Mode::Expr, "(", "after AT, ALIGN or SUBALIGN")?;
                    let expr = self.expr()?;
                    self.expect(Mode::Expr, ")", "after the expression")?;
                    if t.is_word("ALIGN") {
                        section.align = Some(expr.clone());
                    } else if t.is_word("SUBALIGN") {
                        section.subalign = Some(expr.clone());
                    }
                    section.other_exprs.push(expr);
                }
                t if t.is_word("ALIGN_WITH_INPUT") || t.is_word("SPECIAL") => {}
                t if t.is_word("ONLY_IF_RO") => {
                    section.constraint = Some(Constraint::OnlyIfReadOnly)
                }
                t if t.is_word("ONLY_IF_RW") => {
                    section.constraint = Some(Constraint::OnlyIfWritable)
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `{{` to open output section `{}`, found {}",
                        String::from_utf8_lossy(&section.name),
                        token.describe()
                    )))
                }
            }
        }
        let body_start = self.lexer.offset();
        self.section_commands(&mut section)?;
        // The closing brace is the last byte read.
        section.body = body_start..self.lexer.offset() - 1;
        // memspec_opt memspec_at_opt phdr_opt fill_opt, in EXPRESSION state.
        loop {
            let token = self.lexer.peek(Mode::Expr)?;
            if token.is_punct(">") {
                self.lexer.next(Mode::Expr)?;
                self.expect_name(Mode::Expr, "as a memory region")?;
            } else if token.is_word("AT") {
                self.lexer.next(Mode::Expr)?;
                self.expect(Mode::Expr, ">", "after AT")?;
                self.expect_name(Mode::Expr, "as a memory region")?;
            } else if token.is_punct(":") {
                self.lexer.next(Mode::Expr)?;
                self.expect_name(Mode::Expr, "as a program header")?;
            } else if token.is_punct("=") {
                self.lexer.next(Mode::Expr)?;
                let fill = self.expr()?;
                section.other_exprs.push(fill);
            } else {
                break;
            }
        }
        let token = self.lexer.peek(Mode::Script)?;
        if token.is_punct(",") {
            self.lexer.next(Mode::Script)?;
        }
        Ok(section)
    }

    /// `(TYPE)` if it comes next; true if it did.
    fn section_type(&mut self, section: &mut OutputSection) -> Result<bool, ScriptError> {
        let at = self.lexer.save();
        if !self.lexer.next(Mode::Expr)?.is_punct("(") {
            self.lexer.restore(at);
            return Ok(false);
        }
        let word = self.lexer.next(Mode::Expr)?;
        let kind = if word.is_word("NOLOAD") {
            SectionKind::NoLoad
        } else if ["DSECT", "COPY", "INFO", "OVERLAY"]
            .iter()
            .any(|w| word.is_word(w))
        {
            SectionKind::NoAlloc
        } else if word.is_word("READONLY") {
            let inner = self.lexer.peek(Mode::Expr)?;
            if inner.is_punct("(") {
                self.lexer.next(Mode::Expr)?;
                self.type_assignment()?;
                self.expect(Mode::Expr, ")", "after READONLY (TYPE = ...")?;
            }
            SectionKind::ReadOnly
        } else if word.is_word("TYPE") {
            self.lexer.restore(at);
            self.lexer.next(Mode::Expr)?;
            self.type_assignment()?;
            SectionKind::Typed
        } else {
            // A parenthesised address expression.
            self.lexer.restore(at);
            return Ok(false);
        };
        self.expect(Mode::Expr, ")", "after the output section type")?;
        section.kind = kind;
        Ok(true)
    }

    /// `TYPE = expr`.
    fn type_assignment(&mut self) -> Result<(), ScriptError> {
        if !self.lexer.next(Mode::Expr)?.is_word("TYPE") {
            return Err(self.error("expected `TYPE = ...`"));
        }
        self.expect(Mode::Expr, "=", "after TYPE")?;
        self.expr()?;
        Ok(())
    }

    /// The commands of an output section, after its `{`, up to and including its `}`.
    fn section_commands(&mut self, section: &mut OutputSection) -> Result<(), ScriptError> {
        loop {
            let token = self.lexer.next(Mode::Wild)?;
            let line = self.lexer.line();
            let word = match &token {
                Token::Punct("}") => return Ok(()),
                Token::Punct(";") => continue,
                Token::End => {
                    return Err(self.error(format!(
                        "output section `{}` is never closed",
                        String::from_utf8_lossy(&section.name)
                    )))
                }
                Token::Name {
                    text,
                    quoted: false,
                } => std::str::from_utf8(text).unwrap_or(""),
                Token::Name { .. } => "",
                Token::Punct("[") => {
                    return Err(self.error("the `[section ...]` form is not supported"))
                }
                other => {
                    return Err(self.error(format!(
                        "expected an input section description or an assignment, found {}",
                        other.describe()
                    )))
                }
            };
            if let Some(err) = self.unsupported(word) {
                return Err(err);
            }
            let command = match word {
                "KEEP" => {
                    self.expect(Mode::Wild, "(", "after KEEP")?;
                    let first = self.lexer.next(Mode::Wild)?;
                    let mut spec = self.input_spec(first, line)?;
                    spec.keep = true;
                    self.expect(Mode::Wild, ")", "to close KEEP")?;
                    SectionCommand::Input(spec)
                }
                "PROVIDE" | "PROVIDE_HIDDEN" | "HIDDEN" => {
                    let kind = provide_kind(word).expect("a PROVIDE or HIDDEN word");
                    let assignment = self.wrapped_assignment(Mode::Wild, kind, line)?;
                    self.separator(Mode::Wild)?;
                    SectionCommand::Assignment(assignment)
                }
                "ASSERT" => {
                    let expr = self.assert_args()?;
                    self.optional_separator(Mode::Wild)?;
                    SectionCommand::Assert { expr, line }
                }
                "BYTE" | "SHORT" | "LONG" | "QUAD" | "SQUAD" | "FILL" => {
                    self.expect(Mode::Expr, "(", "after a data command")?;
                    let expr = self.expr()?;
                    self.expect(Mode::Expr, ")", "after the data expression")?;
                    self.optional_separator(Mode::Wild)?;
                    let size = match word {
                        "FILL" => None,
                        "BYTE" => Some(1),
                        "SHORT" => Some(2),
                        "LONG" => Some(4),
                        _ => Some(8),
                    };
                    match size {
                        None => SectionCommand::Fill { expr, line },
                        size => SectionCommand::Data { expr, size, line },
                    }
                }
                "ASCIZ" => {
                    self.expect_name(Mode::Script, "as the ASCIZ string")?;
                    SectionCommand::Data {
                        expr: Expr::Opaque,
                        size: None,
                        line,
                    }
                }
                "CONSTRUCTORS" => continue,
                _ => {
                    let next = self.lexer.peek(Mode::Wild)?;
                    if let (Some(op), Some(name)) = (assign_op(&next), name_text(&token)) {
                        self.lexer.next(Mode::Wild)?;
                        let assignment = self.assignment_rhs(name, op, AssignKind::Plain, line)?;
                        self.separator(Mode::Wild)?;
                        SectionCommand::Assignment(assignment)
                    } else {
                        SectionCommand::Input(self.input_spec(token, line)?)
                    }
                }
            };
            section.commands.push(command);
        }
    }

    /// An input section description starting with `first` (not inside `KEEP`).
    fn input_spec(&mut self, first: Token, line: u32) -> Result<InputSpec, ScriptError> {
        let mut token = first;
        let mut flags = None;
        if token.is_word("INPUT_SECTION_FLAGS") {
            flags = Some(self.flag_filter()?);
            token = self.lexer.next(Mode::Wild)?;
        }
        let (file, exclude_files, sorted) = self.file_pattern(token)?;
        let mut spec = InputSpec {
            file,
            exclude_files,
            sorted,
            sections: Vec::new(),
            flags,
            keep: false,
            line,
        };
        if !self.lexer.peek(Mode::Wild)?.is_punct("(") {
            // A bare file name: every section of that file.
            if spec.file.is_wild() || !spec.exclude_files.is_empty() {
                return Err(self.error(format!(
                    "expected `(` and section patterns after `{}`",
                    String::from_utf8_lossy(spec.file.pattern())
                )));
            }
            spec.sections.push(SectionPattern {
                name: Glob::new(b"*"),
                exclude_files: Vec::new(),
                sort: Vec::new(),
            });
            return Ok(spec);
        }
        self.lexer.next(Mode::Wild)?;
        loop {
            let token = self.lexer.next(Mode::Wild)?;
            match &token {
                Token::Punct(")") => break,
                Token::Name {
                    text,
                    quoted: false,
                } if text == b"," => continue,
                _ => {}
            }
            let pattern = self.section_pattern(token)?;
            spec.sections.push(pattern);
        }
        if spec.sections.is_empty() {
            return Err(self.error("an input section description with no section pattern"));
        }
        Ok(spec)
    }

    /// The file part of an input section description: `[SORT(] [EXCLUDE_FILE(...)] NAME
    /// [)]`, and whether a `SORT` form other than `SORT_NONE` wraps it.
    fn file_pattern(&mut self, token: Token) -> Result<(Glob, Vec<Glob>, bool), ScriptError> {
        if sort_form(&token).is_some() {
            self.expect(Mode::Wild, "(", "after SORT")?;
            let inner = self.lexer.next(Mode::Wild)?;
            let (file, excludes, sorted) = self.file_pattern(inner)?;
            self.expect(Mode::Wild, ")", "to close SORT")?;
            return Ok((file, excludes, sorted || !token.is_word("SORT_NONE")));
        }
        let mut excludes = Vec::new();
        let mut token = token;
        if token.is_word("EXCLUDE_FILE") {
            excludes = self.exclude_list()?;
            token = self.lexer.next(Mode::Wild)?;
        }
        match token {
            Token::Name { text, .. } => Ok((Glob::new(text), excludes, false)),
            other => Err(self.error(format!(
                "expected a file name pattern, found {}",
                other.describe()
            ))),
        }
    }

    /// One section pattern, with its `SORT` wrappers and `EXCLUDE_FILE`.
    fn section_pattern(&mut self, token: Token) -> Result<SectionPattern, ScriptError> {
        if let Some(form) = sort_form(&token) {
            self.expect(Mode::Wild, "(", "after SORT")?;
            let inner = self.lexer.next(Mode::Wild)?;
            let mut pattern = self.section_pattern(inner)?;
            self.expect(Mode::Wild, ")", "to close SORT")?;
            pattern.sort.insert(0, form);
            return Ok(pattern);
        }
        let mut exclude_files = Vec::new();
        let mut token = token;
        if token.is_word("EXCLUDE_FILE") {
            exclude_files = self.exclude_list()?;
            token = self.lexer.next(Mode::Wild)?;
        }
        match token {
            Token::Name { text, .. } => Ok(SectionPattern {
                name: Glob::new(text),
                exclude_files,
                sort: Vec::new(),
            }),
            other => Err(self.error(format!(
                "expected a section name pattern, found {}",
                other.describe()
            ))),
        }
    }

    /// `( pattern ... )` after `EXCLUDE_FILE`.
    fn exclude_list(&mut self) -> Result<Vec<Glob>, ScriptError> {
        self.expect(Mode::Wild, "(", "after EXCLUDE_FILE")?;
        let mut list = Vec::new();
        loop {
            match self.lexer.next(Mode::Wild)? {
                Token::Punct(")") => break,
                Token::Name { text, .. } => list.push(Glob::new(text)),
                other => {
                    return Err(self.error(format!(
                        "expected a file name pattern in EXCLUDE_FILE, found {}",
                        other.describe()
                    )))
                }
            }
        }
        if list.is_empty() {
            return Err(self.error("EXCLUDE_FILE() with no file pattern"));
        }
        Ok(list)
    }

    /// `(SHF_A & !SHF_B ...)` after `INPUT_SECTION_FLAGS`.
    fn flag_filter(&mut self) -> Result<FlagFilter, ScriptError> {
        self.expect(Mode::Wild, "(", "after INPUT_SECTION_FLAGS")?;
        let mut filter = FlagFilter::default();
        loop {
            let name = self.expect_name(Mode::Wild, "in INPUT_SECTION_FLAGS")?;
            let (negated, name) = match name.strip_prefix(b"!") {
                Some(rest) => (true, rest.to_vec()),
                None => (false, name),
            };
            let value = SECTION_FLAG_NAMES
                .iter()
                .find(|(n, _)| n.as_bytes() == name)
                .map(|&(_, v)| v)
                .or_else(|| parse_flag_number(&name))
                .ok_or_else(|| {
                    self.error(format!(
                        "unknown section flag `{}` in INPUT_SECTION_FLAGS",
                        String::from_utf8_lossy(&name)
                    ))
                })?;
            if negated {
                filter.clear |= value;
            } else {
                filter.set |= value;
            }
            let token = self.lexer.next(Mode::Wild)?;
            if token.is_punct(")") {
                return Ok(filter);
            }
            if !token.is_punct("&") {
                return Err(self.error(format!(
                    "expected `&` or `)` in INPUT_SECTION_FLAGS, found {}",
                    token.describe()
                )));
            }
        }
    }

    /// An expression, in EXPRESSION state.
    fn expr(&mut self) -> Result<Expr, ScriptError> {
        let cond = self.binary(0)?;
        if !self.lexer.peek(Mode::Expr)?.is_punct("?") {
            return Ok(cond);
        }
        self.lexer.next(Mode::Expr)?;
        let then = self.expr()?;
        self.expect(Mode::Expr, ":", "in a `? :` expression")?;
        let otherwise = self.expr()?;
        Ok(Expr::Conditional(
            Box::new(cond),
            Box::new(then),
            Box::new(otherwise),
        ))
    }

    /// Operators of precedence `level` and tighter, left-associative (precedence
    /// climbing: one look at the next token per operand).
    fn binary(&mut self, level: usize) -> Result<Expr, ScriptError> {
        let mut lhs = self.unary()?;
        loop {
            let token = self.lexer.peek(Mode::Expr)?;
            let Some((op_level, op)) = BINARY_LEVELS.iter().enumerate().find_map(|(l, ops)| {
                ops.iter()
                    .find(|(p, _)| token.is_punct(p))
                    .map(|&(_, op)| (l, op))
            }) else {
                return Ok(lhs);
            };
            if op_level < level {
                return Ok(lhs);
            }
            self.lexer.next(Mode::Expr)?;
            let rhs = self.binary(op_level + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, ScriptError> {
        let token = self.lexer.next(Mode::Expr)?;
        let op = match &token {
            Token::Punct("-") => Some(UnaryOp::Negate),
            Token::Punct("!") => Some(UnaryOp::Not),
            Token::Punct("~") => Some(UnaryOp::Complement),
            Token::Punct("+") => return self.unary(),
            _ => None,
        };
        if let Some(op) = op {
            return Ok(Expr::Unary(op, Box::new(self.unary()?)));
        }
        self.primary(token)
    }

    fn primary(&mut self, token: Token) -> Result<Expr, ScriptError> {
        match token {
            Token::Int(value) => Ok(Expr::Number(value)),
            Token::Punct("(") => {
                let expr = self.expr()?;
                self.expect(Mode::Expr, ")", "to close `(`")?;
                Ok(expr)
            }
            Token::Name { text, quoted: true } => Ok(Expr::Symbol(text.to_vec())),
            Token::Name {
                text,
                quoted: false,
            } => {
                if text == b"." {
                    return Ok(Expr::Dot);
                }
                let word = std::str::from_utf8(text).unwrap_or("");
                match self.function(word)? {
                    Some(expr) => Ok(expr),
                    None => Ok(Expr::Symbol(text.to_vec())),
                }
            }
            other => Err(self.error(format!(
                "expected an expression, found {}",
                other.describe()
            ))),
        }
    }

    /// The built-in function `word` with its arguments, or `None` if `word` is not one.
    fn function(&mut self, word: &str) -> Result<Option<Expr>, ScriptError> {
        let unary = |op| move |args: Vec<Expr>| Expr::Unary(op, Box::new(only(args)));
        let binary = |op| {
            move |args: Vec<Expr>| {
                let mut args = args.into_iter();
                let a = args.next().expect("two arguments");
                let b = args.next().expect("two arguments");
                Expr::Binary(op, Box::new(a), Box::new(b))
            }
        };
        let expr = match word {
            "SIZEOF_HEADERS" | "sizeof_headers" => return Ok(Some(Expr::Opaque)),
            "ABSOLUTE" => self.call(1, unary(UnaryOp::Absolute))?,
            "NEXT" => self.call(1, unary(UnaryOp::Next))?,
            "LOG2CEIL" => self.call(1, unary(UnaryOp::Log2Ceil))?,
            "BLOCK" => self.call(1, unary(UnaryOp::Align))?,
            "DATA_SEGMENT_END" => self.call(1, unary(UnaryOp::DataSegmentEnd))?,
            "MAX" => self.call(2, binary(BinaryOp::Max))?,
            "MIN" => self.call(2, binary(BinaryOp::Min))?,
            "DATA_SEGMENT_ALIGN" => self.call(2, binary(BinaryOp::DataSegmentAlign))?,
            "DATA_SEGMENT_RELRO_END" => self.call(2, binary(BinaryOp::DataSegmentRelroEnd))?,
            "ALIGN" => {
                self.expect(Mode::Expr, "(", "after ALIGN")?;
                let first = self.expr()?;
                let token = self.lexer.next(Mode::Expr)?;
                if token.is_punct(")") {
                    Expr::Unary(UnaryOp::Align, Box::new(first))
                } else if token.is_punct(",") {
                    let second = self.expr()?;
                    self.expect(Mode::Expr, ")", "after ALIGN's arguments")?;
                    Expr::Binary(BinaryOp::AlignTo, Box::new(first), Box::new(second))
                } else {
                    return Err(self.error(format!(
                        "expected `)` or `,` in ALIGN, found {}",
                        token.describe()
                    )));
                }
            }
            "ASSERT" => Expr::Unary(UnaryOp::Assert, Box::new(self.assert_args()?)),
            "ADDR" | "LOADADDR" | "SIZEOF" | "ALIGNOF" => {
                let query = match word {
                    "ADDR" => SectionQuery::Addr,
                    "LOADADDR" => SectionQuery::LoadAddr,
                    "SIZEOF" => SectionQuery::SizeOf,
                    _ => SectionQuery::AlignOf,
                };
                Expr::Section(query, self.name_argument(word)?)
            }
            "DEFINED" => Expr::Defined(self.name_argument(word)?),
            "CONSTANT" | "LENGTH" => {
                self.name_argument(word)?;
                Expr::Opaque
            }
            "ORIGIN" => {
                self.name_argument(word)?;
                Expr::Origin
            }
            "SEGMENT_START" => {
                self.expect(Mode::Expr, "(", "after SEGMENT_START")?;
                self.expect_name(Mode::Expr, "as the segment name")?;
                self.expect(Mode::Expr, ",", "after the segment name")?;
                let default = self.expr()?;
                self.expect(Mode::Expr, ")", "after SEGMENT_START's arguments")?;
                Expr::SegmentStart(Box::new(default))
            }
            _ if is_expression_keyword(word) => {
                return Err(self.error(format!(
                    "`{word}` is a keyword and cannot be used as a symbol in an expression"
                )))
            }
            _ => return Ok(None),
        };
        Ok(Some(expr))
    }

    /// `(arg, ...)` with `count` expression arguments, made into an expression by `make`.
    fn call(
        &mut self,
        count: usize,
        make: impl FnOnce(Vec<Expr>) -> Expr,
    ) -> Result<Expr, ScriptError> {
        self.expect(Mode::Expr, "(", "after a function name")?;
        let mut args = Vec::with_capacity(count);
        for i in 0..count {
            if i > 0 {
                self.expect(Mode::Expr, ",", "between arguments")?;
            }
            args.push(self.expr()?);
        }
        self.expect(Mode::Expr, ")", "after the arguments")?;
        Ok(make(args))
    }

    /// `(NAME)` after a function that takes a section, region or symbol name.
    fn name_argument(&mut self, function: &str) -> Result<Vec<u8>, ScriptError> {
        self.expect(Mode::Expr, "(", &format!("after {function}"))?;
        let name = self.expect_name(Mode::Expr, &format!("in {function}"))?;
        self.expect(Mode::Expr, ")", &format!("after {function}'s argument"))?;
        Ok(name)
    }
}

fn only(args: Vec<Expr>) -> Expr {
    args.into_iter().next().expect("one argument")
}

fn provide_kind(word: &str) -> Option<AssignKind> {
    match word {
        "PROVIDE" => Some(AssignKind::Provide),
        "PROVIDE_HIDDEN" => Some(AssignKind::ProvideHidden),
        "HIDDEN" => Some(AssignKind::Hidden),
        _ => None,
    }
}

fn assignment_target(name: &[u8]) -> Target {
    if name == b"." {
        Target::Dot
    } else {
        Target::Symbol(name.to_vec())
    }
}

fn sort_form(token: &Token) -> Option<SortForm> {
    [
        ("SORT", SortForm::ByName),
        ("SORT_BY_NAME", SortForm::ByName),
        ("SORT_BY_ALIGNMENT", SortForm::ByAlignment),
        ("SORT_BY_INIT_PRIORITY", SortForm::ByInitPriority),
        ("SORT_NONE", SortForm::None),
        ("REVERSE", SortForm::Reverse),
    ]
    .into_iter()
    .find_map(|(word, form)| token.is_word(word).then_some(form))
}

/// Words the lexer turns into keywords in EXPRESSION state, so that they cannot name a
/// symbol there.
fn is_expression_keyword(word: &str) -> bool {
    [
        "AT",
        "BIND",
        "HIDDEN",
        "PROVIDE",
        "PROVIDE_HIDDEN",
        "INCLUDE",
        "NOLOAD",
        "READONLY",
        "DSECT",
        "COPY",
        "INFO",
        "TYPE",
        "ONLY_IF_RO",
        "ONLY_IF_RW",
        "SPECIAL",
        "ALIGN_WITH_INPUT",
        "SUBALIGN",
        "NOCROSSREFS",
        "NOCROSSREFS_TO",
        "OVERLAY",
    ]
    .contains(&word)
}

/// A number written in `INPUT_SECTION_FLAGS` instead of a flag name.
fn parse_flag_number(name: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(name).ok()?;
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
