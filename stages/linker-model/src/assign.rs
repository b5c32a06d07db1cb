//! The symbols a linker script assigns, and the section each ends up in, as GNU ld 2.40
//! (`ldexp.c`) or lld 14 (`ScriptParser.cpp`, `LinkerScript.cpp`) computes them, without
//! addresses.
//!
//! GNU ld gives every expression result a section: none (a plain number), the absolute
//! section, or an output section. Where the symbol lands decides its `nm` letter:
//!
//! - inside an output section, a number is relative to that section; outside, a number is
//!   absolute (unless `LD_FEATURE("SANE_EXPR")`);
//! - a symbol, `ADDR(sec)`, and `.` inside a section are relative to their section;
//!   `ABSOLUTE()`, `LOADADDR()` and `NEXT()` are absolute;
//! - `a OP b` keeps the section of the operand that is not a plain number; two operands
//!   in different sections are made absolute first; two in the same section give a
//!   number inside an output section and an absolute value outside (`fold_binary`);
//! - `.` outside output sections is absolute in expressions, but a symbol assigned from
//!   it is moved, at the end of the link, into the section the location counter was in
//!   (`section_for_dot`: the previous allocated section, or the next one after an
//!   assignment to `.`; `ldexp_finalize_syms`);
//! - `HIDDEN` and `PROVIDE_HIDDEN` symbols become local in a final link (lower-case
//!   letters); `PROVIDE` defines a symbol only if something refers to it and no input
//!   defines it;
//! - a symbol assigned from exactly one other symbol takes its type (an ifunc stays one).
//!
//! lld gives every value a section or none (absolute), and a flag that `ABSOLUTE` sets:
//!
//! - a number, `ALIGN(n)`, `LOADADDR`, `SIZEOF`, `ALIGNOF`, `ORIGIN`, `DEFINED` and every
//!   operator but `+`, `-`, `&`, `|` are absolute, inside output sections too;
//! - a symbol and `ADDR(sec)` are relative to their section; `.` to the output section it
//!   is in, or outside output sections to the last one laid out before it (the first
//!   output section before any);
//! - `a + b`, `a & b`, `a | b` keep the section of the operand that is not absolute (two
//!   such operands are an error); `a - b` is absolute if both are in sections, else it
//!   keeps `a`'s section even if `a` was made absolute (so `ABSOLUTE(x) - 1` is relative
//!   to `x`'s section); `ALIGN(a, n)` and `ABSOLUTE(a)` keep `a`'s section;
//! - a symbol assigned a plain symbol, `ABSOLUTE()`, `ALIGN(sym, n)` or a `? :` that picks
//!   one takes its type (an ifunc stays one); any operator makes it untyped;
//! - `HIDDEN`, `PROVIDE_HIDDEN`, and a name an input declares hidden, make a local symbol;
//!   `PROVIDE` defines a symbol if something refers to it (an input or any script
//!   expression, see [`crate::resolve`]) and no input defines it; `DEFINED` is true for
//!   every symbol the script assigns, before or after it (not inside `ONLY_IF_RO` or
//!   `ONLY_IF_RW` sections).
//!
//! Assignments are evaluated in passes over the script, as ld does, so that a symbol
//! assigned later in the script can be used earlier; the last pass reports symbols that
//! nothing defines.

use object::elf;

use crate::layout::{Layout, Placement};
use crate::relocatable::Place;
use crate::resolve::{Link, Resolution};
use kslink_linker_script::{
    AssignKind, Assignment, BinaryOp, Expr, Script, ScriptError, SectionCommand, SectionQuery,
    Statement, Target, UnaryOp,
};
use kslink_schema::name_map::{NameMap, NameSet};
use kslink_schema::LinkerFlavour;

/// Where a symbol ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home {
    /// An absolute symbol.
    Absolute,
    /// Relative to this output section.
    Output(usize),
}

/// A symbol the script defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSymbol<'s> {
    /// Its name.
    pub name: &'s [u8],
    /// Its section, before symbols of removed sections move to a neighbour.
    pub home: Home,
    /// Assigned from `.` outside output sections and moved into `home`, an output section
    /// the script gives an address of its own (x86's `__per_cpu_load = .;` before
    /// `.data..percpu 0 : { … }`): its address is the location counter's outside, not one
    /// in `home`'s range, though `nm` lists it in `home`.
    pub outside_home: bool,
    /// Hidden: a local symbol in the output.
    pub hidden: bool,
    /// Assigned from an indirect function: `nm`'s `i`.
    pub ifunc: bool,
}

/// The section part of an expression's value (ld's `expld.result.section`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    /// A plain number (`NULL`).
    Number,
    /// The absolute section.
    Absolute,
    /// An output section.
    Section(usize),
}

/// An expression's value: its section and, where it is a known constant, its value.
#[derive(Clone, Copy, Debug)]
struct Value {
    base: Base,
    value: Option<u64>,
}

impl Value {
    fn number(value: Option<u64>) -> Value {
        Value {
            base: Base::Number,
            value,
        }
    }

    /// ld's `make_abs`.
    fn made_absolute(self) -> Value {
        Value {
            base: Base::Absolute,
            value: match self.base {
                Base::Section(_) => None,
                _ => self.value,
            },
        }
    }
}

/// A script symbol as the passes see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Definition {
    value: Option<u64>,
    /// Absolute or in an output section; a number is already made relative.
    base: Base,
    /// Assigned from `.` outside output sections: the section it moves to at the end.
    final_home: Option<Home>,
    hidden: bool,
    ifunc: bool,
    provided: bool,
}

/// The script's symbols, evaluated as `flavour` does.
pub fn evaluate<'s>(
    script: &'s Script,
    link: &Link,
    layout: &Layout,
    flavour: LinkerFlavour,
) -> Result<Vec<ScriptSymbol<'s>>, ScriptError> {
    let mut state = Evaluator {
        script,
        link,
        layout,
        flavour,
        lld_dot: lld_dot_sections(script, layout),
        declared: declared_symbols(script, link),
        after_end: after_end(script, layout),
        definitions: NameMap::default(),
        order: Vec::new(),
        referenced: NameSet::default(),
        this_pass: NameSet::default(),
        final_pass: false,
    };
    // Passes until nothing changes (a chain of forward references needs one pass per
    // link), then the final one, which reports what cannot be evaluated.
    const MAX_PASSES: usize = 16;
    for _ in 0..MAX_PASSES {
        if !state.pass()? {
            break;
        }
    }
    state.final_pass = true;
    state.pass()?;
    Ok(state
        .order
        .iter()
        .map(|&name| {
            let d = state.definitions[name];
            let home = match d.final_home {
                Some(home) => home,
                None => match d.base {
                    Base::Section(out) => Home::Output(out),
                    Base::Absolute | Base::Number => Home::Absolute,
                },
            };
            let outside_home = match d.final_home {
                Some(Home::Output(out)) => state.has_own_address(out),
                _ => false,
            };
            ScriptSymbol {
                name,
                home,
                outside_home,
                hidden: d.hidden,
                ifunc: d.ifunc,
            }
        })
        .collect())
}

/// Per output section: whether it comes after an assignment to `end`, `_end`, `__end`…
/// (ld's `after_end`, which `section_for_dot` looks at).
fn after_end(script: &Script, layout: &Layout) -> Vec<bool> {
    let mut after = vec![false; layout.outputs.len()];
    let mut found = false;
    let is_end = |a: &Assignment| match &a.target {
        Target::Symbol(name) => {
            let stripped = name
                .iter()
                .position(|&b| b != b'_')
                .map_or(&[][..], |i| &name[i..]);
            stripped == b"end"
        }
        Target::Dot => false,
    };
    for (i, statement) in script.statements.iter().enumerate() {
        match statement {
            Statement::Assignment(a) => found |= is_end(a),
            Statement::Section(section) => {
                if let Some(out) = layout.statement_output[i] {
                    after[out] = found;
                }
                for command in &section.commands {
                    if let SectionCommand::Assignment(a) = command {
                        found |= is_end(a);
                    }
                }
            }
            Statement::Assert { .. } | Statement::Extern(_) => {}
        }
    }
    after
}

struct Evaluator<'s, 'l, 'data> {
    script: &'s Script,
    link: &'l Link<'data>,
    layout: &'l Layout,
    flavour: LinkerFlavour,
    /// lld: per statement, the output section `.` outside output sections is in there.
    lld_dot: Vec<Option<usize>>,
    /// lld: the names the script defines, which `DEFINED` takes as defined from the start.
    declared: NameSet<&'s [u8]>,
    after_end: Vec<bool>,
    definitions: NameMap<&'s [u8], Definition>,
    /// Defined names in the order they were first defined.
    order: Vec<&'s [u8]>,
    /// Names an evaluated expression referred to: a `PROVIDE` of them takes effect.
    referenced: NameSet<&'s [u8]>,
    /// Names defined so far in this pass (ld's `DEFINED` counts only those).
    this_pass: NameSet<&'s [u8]>,
    final_pass: bool,
}

/// Where the walk through the script is, for `section_for_dot`.
#[derive(Clone, Copy)]
struct Position {
    statement: usize,
    current_section: Option<usize>,
    prefer_next: bool,
}

/// The state of one expression's evaluation (ld's `expld`).
struct Context {
    /// The output section the expression is in (`None`: outside, the absolute section).
    section: Option<usize>,
    /// lld: the output section `.` is in.
    dot: Option<usize>,
    rel_from_abs: bool,
    /// The symbols the expression reads, for copying a type: `Some(name)` for exactly
    /// one.
    source: Source,
    line: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    None,
    One(usize),
    Many,
}

impl<'s> Evaluator<'s, '_, '_> {
    /// One pass over the script; true if a definition changed.
    fn pass(&mut self) -> Result<bool, ScriptError> {
        self.this_pass.clear();
        let mut changed = false;
        let mut at = Position {
            statement: 0,
            current_section: None,
            prefer_next: false,
        };
        let script = self.script;
        for (i, statement) in script.statements.iter().enumerate() {
            at.statement = i;
            match statement {
                Statement::Assignment(a) => {
                    if a.target == Target::Dot {
                        at.prefer_next = true;
                    }
                    changed |= self.assignment(a, None, at)?;
                }
                Statement::Assert { expr, line } => {
                    self.refer(expr, None, at, *line)?;
                }
                Statement::Extern(names) => {
                    for name in names {
                        self.referenced.insert(name);
                    }
                }
                Statement::Section(section) => {
                    let Some(out) = self.layout.statement_output[i] else {
                        continue;
                    };
                    let o = &self.layout.outputs[out];
                    if o.created && !o.is_ignored() && o.flags.alloc {
                        at.current_section = Some(out);
                        at.prefer_next = false;
                    }
                    // ld evaluates a section's header only for a section it creates (lld: keeps).
                    let laid_out = match self.flavour {
                        LinkerFlavour::Gnu => o.created,
                        LinkerFlavour::Lld => o.is_kept(),
                    };
                    if laid_out {
                        for expr in section.address.iter().chain(&section.other_exprs) {
                            self.refer(expr, None, at, section.line)?;
                        }
                    }
                    for command in &section.commands {
                        match command {
                            SectionCommand::Assignment(a) => {
                                changed |= self.assignment(a, Some(out), at)?;
                            }
                            SectionCommand::Data { expr, line, .. }
                            | SectionCommand::Fill { expr, line }
                            | SectionCommand::Assert { expr, line } => {
                                self.refer(expr, Some(out), at, *line)?;
                            }
                            SectionCommand::Input(_) => {}
                        }
                    }
                }
            }
        }
        Ok(changed)
    }

    /// Evaluates an expression whose value defines no symbol (an `ASSERT`, a section
    /// address, data): what matters is the symbols it refers to, and that they exist.
    fn refer(
        &mut self,
        expr: &'s Expr,
        section: Option<usize>,
        at: Position,
        line: u32,
    ) -> Result<(), ScriptError> {
        let mut cx = self.context(section, at, line);
        match self.flavour {
            LinkerFlavour::Gnu => self.eval(expr, &mut cx).map(drop),
            LinkerFlavour::Lld => self.eval_lld(expr, &mut cx).map(drop),
        }
    }

    /// A fresh evaluation context in output section `section` (`None`: outside).
    fn context(&self, section: Option<usize>, at: Position, line: u32) -> Context {
        Context {
            section,
            dot: section.or(self.lld_dot[at.statement]),
            rel_from_abs: false,
            source: Source::None,
            line,
        }
    }

    /// Evaluates an assignment in output section `section` (`None`: outside); true if the
    /// symbol's definition changed.
    fn assignment(
        &mut self,
        a: &'s Assignment,
        section: Option<usize>,
        at: Position,
    ) -> Result<bool, ScriptError> {
        let Target::Symbol(name) = &a.target else {
            self.refer(&a.expr, section, at, a.line)?;
            return Ok(false);
        };
        let name: &'s [u8] = name;
        if a.kind.is_provide() && !self.provide_takes_effect(name) {
            return Ok(false);
        }
        let mut cx = self.context(section, at, a.line);
        let provided = a.kind == AssignKind::Provide || a.kind == AssignKind::ProvideHidden;
        let definition = match self.flavour {
            LinkerFlavour::Gnu => {
                let value = self.eval(&a.expr, &mut cx)?;
                let base = match value.base {
                    Base::Number => section.map_or(Base::Absolute, Base::Section),
                    other => other,
                };
                let final_home =
                    (cx.rel_from_abs && base == Base::Absolute).then(|| self.section_for_dot(at));
                let ifunc = match cx.source {
                    Source::One(global) => self.is_ifunc(global),
                    _ => false,
                };
                Definition {
                    value: value.value,
                    base,
                    final_home,
                    hidden: a.kind.is_hidden(),
                    ifunc,
                    provided,
                }
            }
            LinkerFlavour::Lld => {
                let value = self.eval_lld(&a.expr, &mut cx)?;
                // lld merges the visibility inputs give the name into the script's symbol.
                let hidden_by_input = self.link.global(name).is_some_and(|g| g.is_hidden());
                Definition {
                    value: value.value,
                    base: match value.section {
                        Some(out) if !value.forced => Base::Section(out),
                        _ => Base::Absolute,
                    },
                    final_home: None,
                    hidden: a.kind.is_hidden() || hidden_by_input,
                    ifunc: value.ifunc,
                    provided,
                }
            }
        };
        self.this_pass.insert(name);
        let previous = self.definitions.insert(name, definition);
        if previous.is_none() {
            self.order.push(name);
        }
        Ok(previous != Some(definition))
    }

    /// ld's check for `PROVIDE`: the symbol is referred to (by an input or an evaluated
    /// expression) and no input defines it. Once in effect, it stays.
    fn provide_takes_effect(&self, name: &[u8]) -> bool {
        if let Some(d) = self.definitions.get(name) {
            return d.provided;
        }
        match self.link.global(name).map(|g| g.resolution) {
            Some(Resolution::Undefined { .. }) => true,
            Some(Resolution::Defined { .. } | Resolution::Common { .. }) => false,
            None => self.referenced.contains(name),
        }
    }

    /// Whether global `index` is defined as an indirect function.
    fn is_ifunc(&self, index: usize) -> bool {
        match self.link.globals[index].resolution {
            Resolution::Defined { object, symbol } => {
                self.link.symbol(object, symbol).kind() == elf::STT_GNU_IFUNC
            }
            _ => false,
        }
    }

    /// Whether the script gives output section `out` an address (`NAME ADDR : { … }`).
    fn has_own_address(&self, out: usize) -> bool {
        self.script
            .statements
            .iter()
            .zip(&self.layout.statement_output)
            .any(|(statement, &output)| {
                output == Some(out)
                    && matches!(statement, Statement::Section(section) if section.address.is_some())
            })
    }

    /// ld's `section_for_dot`: the section a symbol assigned from `.` outside output
    /// sections moves to.
    fn section_for_dot(&self, at: Position) -> Home {
        let outputs = &self.layout.outputs;
        let usable = |i: usize| outputs[i].flags.alloc && !outputs[i].flags.tls;
        if at.current_section.is_none() || at.prefer_next {
            // The next output section of the script that ld keeps, or that comes after
            // `_end`.
            let next = self.script.statements[at.statement + 1..]
                .iter()
                .enumerate()
                .filter_map(|(k, s)| match s {
                    Statement::Section(_) => self.layout.statement_output[at.statement + 1 + k],
                    _ => None,
                })
                .find(|&out| self.after_end[out] || outputs[out].is_kept());
            if at.current_section.is_none() || next.is_none_or(|out| !self.after_end[out]) {
                let start = match next {
                    Some(out) if outputs[out].created => out,
                    Some(_) => return Home::Absolute,
                    None => match (0..outputs.len()).rev().find(|&i| outputs[i].is_kept()) {
                        Some(last) => last,
                        None => return Home::Absolute,
                    },
                };
                if usable(start) {
                    return Home::Output(start);
                }
                return (0..start)
                    .rev()
                    .find(|&i| outputs[i].is_kept() && usable(i))
                    .map_or(Home::Absolute, Home::Output);
            }
        }
        let current = at.current_section.expect("a current section");
        if let Some(s) = (0..=current)
            .rev()
            .find(|&i| outputs[i].is_kept() && usable(i))
        {
            return Home::Output(s);
        }
        (0..outputs.len())
            .find(|&i| outputs[i].is_kept() && usable(i))
            .map_or(Home::Absolute, Home::Output)
    }

    fn error(&self, line: u32, message: String) -> ScriptError {
        ScriptError {
            file: self.script.file.clone(),
            line,
            message,
        }
    }

    /// The value of a reference to symbol `name` (ld's `fold_name`).
    fn symbol(&mut self, name: &'s [u8], cx: &mut Context) -> Result<Value, ScriptError> {
        self.referenced.insert(name);
        cx.source = match (cx.source, self.link.global_index.get(name)) {
            (Source::None, Some(&index)) => Source::One(index),
            _ => Source::Many,
        };
        // A symbol in the absolute section reads as a number inside an output section.
        let absolute = |value| {
            if cx.section.is_some() || self.script.sane_expr {
                Value::number(value)
            } else {
                Value {
                    base: Base::Absolute,
                    value,
                }
            }
        };
        if let Some(d) = self.definitions.get(name) {
            return Ok(match d.base {
                Base::Section(out) => Value {
                    base: Base::Section(out),
                    value: None,
                },
                _ => absolute(d.value),
            });
        }
        let resolution = self.link.global(name).map(|g| g.resolution);
        let output = match resolution {
            Some(Resolution::Defined { object, symbol }) => {
                match self.link.symbol(object, symbol).place {
                    Place::Section(section) => self.layout.placement_of(object, section as usize),
                    _ => Placement::Discarded,
                }
            }
            Some(Resolution::Common { object, .. }) => self.layout.common_placement(object),
            _ => {
                if self.final_pass {
                    return Err(self.error(
                        cx.line,
                        format!(
                            "undefined symbol `{}` referenced in expression (ld would \
                             fail)",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                // ld gives a symbol it does not know yet the value 0 in early passes.
                return Ok(Value::number(Some(0)));
            }
        };
        Ok(match output {
            Placement::Output(out) => Value {
                base: Base::Section(out),
                value: None,
            },
            Placement::Discarded | Placement::Unplaced => absolute(None),
        })
    }

    fn eval(&mut self, expr: &'s Expr, cx: &mut Context) -> Result<Value, ScriptError> {
        let dot_like = |cx: &mut Context| {
            cx.rel_from_abs = true;
            Value {
                base: cx.section.map_or(Base::Absolute, Base::Section),
                value: None,
            }
        };
        Ok(match expr {
            Expr::Number(v) => {
                if cx.section.is_none() && !self.script.sane_expr {
                    Value {
                        base: Base::Absolute,
                        value: Some(*v),
                    }
                } else {
                    Value::number(Some(*v))
                }
            }
            Expr::Dot | Expr::Origin => dot_like(cx),
            Expr::SegmentStart(default) => {
                self.eval(default, cx)?;
                dot_like(cx)
            }
            Expr::Symbol(name) => self.symbol(name, cx)?,
            Expr::Unary(op, x) => {
                let v = self.eval(x, cx)?;
                match op {
                    UnaryOp::Negate => Value {
                        value: v.value.map(u64::wrapping_neg),
                        ..v
                    },
                    UnaryOp::Not => Value {
                        value: v.value.map(|x| u64::from(x == 0)),
                        ..v
                    },
                    UnaryOp::Complement => Value {
                        value: v.value.map(|x| !x),
                        ..v
                    },
                    UnaryOp::Absolute => {
                        cx.rel_from_abs = false;
                        v.made_absolute()
                    }
                    UnaryOp::Next => {
                        cx.rel_from_abs = false;
                        Value {
                            base: Base::Absolute,
                            value: None,
                        }
                    }
                    UnaryOp::Align => dot_like(cx),
                    UnaryOp::Log2Ceil => Value::number(expr.constant()),
                    UnaryOp::DataSegmentEnd | UnaryOp::Assert => v,
                }
            }
            Expr::Binary(op, a, b) => {
                let mut lhs = self.eval(a, cx)?;
                let mut rhs = self.eval(b, cx)?;
                if lhs.base != rhs.base {
                    if rhs.base != Base::Number && lhs.base != Base::Number {
                        // Different sections: both made absolute.
                        cx.rel_from_abs = false;
                        rhs = rhs.made_absolute();
                        lhs = lhs.made_absolute();
                    } else if rhs.base == Base::Number {
                        rhs.base = lhs.base;
                        lhs.base = Base::Number;
                    }
                }
                let value = match (lhs.value, rhs.value) {
                    (Some(l), Some(r)) => op.apply(l, r),
                    _ => None,
                };
                let base = match op {
                    BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Gt
                    | BinaryOp::Le
                    | BinaryOp::Ge
                    | BinaryOp::LogicalAnd
                    | BinaryOp::LogicalOr => Base::Number,
                    BinaryOp::Max
                    | BinaryOp::Min
                    | BinaryOp::AlignTo
                    | BinaryOp::DataSegmentAlign
                    | BinaryOp::DataSegmentRelroEnd => rhs.base,
                    // arith_result_section: two operands of one section give a number
                    // (absolute outside output sections).
                    _ if rhs.base == lhs.base => {
                        if cx.section.is_none() && !self.script.sane_expr {
                            Base::Absolute
                        } else {
                            Base::Number
                        }
                    }
                    _ => rhs.base,
                };
                Value { base, value }
            }
            Expr::Conditional(c, a, b) => {
                let saved = cx.source;
                let cond = self.eval(c, cx)?;
                cx.source = saved;
                match cond.value {
                    Some(v) => self.eval(if v != 0 { a } else { b }, cx)?,
                    None => {
                        // Both sides, then the answer only if they agree.
                        let start = (cx.rel_from_abs, cx.source);
                        let then = self.eval(a, cx)?;
                        let after_then = (cx.rel_from_abs, cx.source);
                        (cx.rel_from_abs, cx.source) = start;
                        let otherwise = self.eval(b, cx)?;
                        if then.base != otherwise.base || after_then.0 != cx.rel_from_abs {
                            return Err(self.error(
                                cx.line,
                                "cannot tell which side of `? :` ld takes: the condition \
                                 depends on addresses, and the sides land in different \
                                 sections"
                                    .into(),
                            ));
                        }
                        cx.source = Source::Many;
                        Value {
                            base: then.base,
                            value: None,
                        }
                    }
                }
            }
            Expr::Section(query, name) => match query {
                SectionQuery::Addr => {
                    let out = self
                        .layout
                        .outputs
                        .iter()
                        .position(|o| o.name == *name && o.created);
                    match out {
                        Some(out) => Value {
                            base: Base::Section(out),
                            value: None,
                        },
                        None => {
                            return Err(self.error(
                                cx.line,
                                format!(
                                    "ADDR({}) of an output section the link does not create",
                                    String::from_utf8_lossy(name)
                                ),
                            ))
                        }
                    }
                }
                SectionQuery::LoadAddr => Value {
                    base: Base::Absolute,
                    value: None,
                },
                SectionQuery::SizeOf | SectionQuery::AlignOf => Value::number(None),
            },
            Expr::Defined(name) => {
                let defined = self.this_pass.contains(name.as_slice())
                    || matches!(
                        self.link.global(name).map(|g| g.resolution),
                        Some(Resolution::Defined { .. } | Resolution::Common { .. })
                    );
                Value::number(Some(u64::from(defined)))
            }
            Expr::Opaque => Value::number(None),
        })
    }

    /// The value of a reference to symbol `name` as lld reads it (`getSymbolValue`): in
    /// the section of its definition, with its type.
    fn symbol_lld(&mut self, name: &'s [u8], cx: &Context) -> Result<LldValue, ScriptError> {
        if let Some(d) = self.definitions.get(name) {
            return Ok(LldValue {
                section: match d.base {
                    Base::Section(out) => Some(out),
                    Base::Absolute | Base::Number => None,
                },
                forced: false,
                value: d.value,
                ifunc: d.ifunc,
            });
        }
        let global = self.link.global_index.get(name).copied();
        let section = match global.map(|g| self.link.globals[g].resolution) {
            Some(Resolution::Defined { object, symbol }) => {
                match self.link.symbol(object, symbol).place {
                    Place::Section(section) => self.layout.placement_of(object, section as usize),
                    _ => Placement::Discarded,
                }
            }
            Some(Resolution::Common { object, .. }) => self.layout.common_placement(object),
            _ => {
                if self.final_pass {
                    return Err(self.error(
                        cx.line,
                        format!(
                            "undefined symbol `{}` referenced in expression (ld.lld would \
                             fail)",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                return Ok(LldValue::absolute(Some(0)));
            }
        };
        Ok(LldValue {
            section: match section {
                Placement::Output(out) => Some(out),
                Placement::Discarded | Placement::Unplaced => None,
            },
            forced: false,
            value: None,
            ifunc: global.is_some_and(|g| self.is_ifunc(g)),
        })
    }

    /// An expression's value as lld computes it (`ScriptParser::readExpr` and the
    /// `ExprValue` operators).
    fn eval_lld(&mut self, expr: &'s Expr, cx: &mut Context) -> Result<LldValue, ScriptError> {
        Ok(match expr {
            Expr::Number(v) => LldValue::absolute(Some(*v)),
            Expr::Dot => LldValue {
                section: cx.dot,
                forced: false,
                value: None,
                ifunc: false,
            },
            Expr::Symbol(name) => self.symbol_lld(name, cx)?,
            Expr::SegmentStart(default) => self.eval_lld(default, cx)?,
            Expr::Unary(op, x) => {
                let v = self.eval_lld(x, cx)?;
                match op {
                    UnaryOp::Absolute => LldValue { forced: true, ..v },
                    UnaryOp::Negate => LldValue::absolute(v.value.map(u64::wrapping_neg)),
                    UnaryOp::Not => LldValue::absolute(v.value.map(|x| u64::from(x == 0))),
                    UnaryOp::Complement => LldValue::absolute(v.value.map(|x| !x)),
                    UnaryOp::Log2Ceil => LldValue::absolute(expr.constant()),
                    UnaryOp::Align | UnaryOp::Next | UnaryOp::DataSegmentEnd | UnaryOp::Assert => {
                        LldValue::absolute(None)
                    }
                }
            }
            Expr::Binary(op, a, b) => {
                let lhs = self.eval_lld(a, cx)?;
                let rhs = self.eval_lld(b, cx)?;
                let value = match (lhs.value, rhs.value) {
                    (Some(l), Some(r)) => op.apply(l, r),
                    _ => None,
                };
                match op {
                    BinaryOp::Add | BinaryOp::And | BinaryOp::Or => {
                        // moveAbsRight: the operand in a section goes left.
                        let (relative, absolute) =
                            if lhs.section.is_none() || (lhs.forced && !rhs.is_absolute()) {
                                (rhs, lhs)
                            } else {
                                (lhs, rhs)
                            };
                        if !absolute.is_absolute() {
                            return Err(self.error(
                                cx.line,
                                "at least one side of the expression must be absolute \
                                 (ld.lld would fail)"
                                    .into(),
                            ));
                        }
                        LldValue {
                            value,
                            ifunc: false,
                            ..relative
                        }
                    }
                    BinaryOp::Sub if !lhs.is_absolute() && !rhs.is_absolute() => {
                        LldValue::absolute(value)
                    }
                    BinaryOp::Sub => LldValue {
                        section: lhs.section,
                        forced: false,
                        value,
                        ifunc: false,
                    },
                    BinaryOp::AlignTo => LldValue {
                        value: lhs.value.and_then(|l| op.apply(l, rhs.value?)),
                        ..lhs
                    },
                    _ => LldValue::absolute(value),
                }
            }
            Expr::Conditional(c, a, b) => {
                let cond = self.eval_lld(c, cx)?;
                match cond.value {
                    Some(v) => self.eval_lld(if v != 0 { a } else { b }, cx)?,
                    None => {
                        let then = self.eval_lld(a, cx)?;
                        let otherwise = self.eval_lld(b, cx)?;
                        if (then.section, then.forced, then.ifunc)
                            != (otherwise.section, otherwise.forced, otherwise.ifunc)
                        {
                            return Err(self.error(
                                cx.line,
                                "cannot tell which side of `? :` ld.lld takes: the condition \
                                 depends on addresses, and the sides land in different \
                                 sections"
                                    .into(),
                            ));
                        }
                        LldValue {
                            value: None,
                            ..then
                        }
                    }
                }
            }
            Expr::Section(SectionQuery::Addr, name) => {
                let out = self
                    .layout
                    .outputs
                    .iter()
                    .position(|o| o.name == *name && o.is_kept());
                match out {
                    Some(out) => LldValue {
                        section: Some(out),
                        forced: false,
                        value: None,
                        ifunc: false,
                    },
                    None => {
                        return Err(self.error(
                            cx.line,
                            format!(
                                "ADDR({}) of an output section the link does not create",
                                String::from_utf8_lossy(name)
                            ),
                        ))
                    }
                }
            }
            Expr::Section(..) | Expr::Opaque | Expr::Origin => LldValue::absolute(None),
            Expr::Defined(name) => {
                let defined = self.declared.contains(name.as_slice())
                    || matches!(
                        self.link.global(name).map(|g| g.resolution),
                        Some(Resolution::Defined { .. })
                    );
                LldValue::absolute(Some(u64::from(defined)))
            }
        })
    }
}

/// An expression's value as lld sees it (`ExprValue`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LldValue {
    /// The output section it is relative to; `None`: absolute.
    section: Option<usize>,
    /// Made absolute by `ABSOLUTE()` (`forceAbsolute`), though it keeps its section.
    forced: bool,
    /// The value, where it is a known constant.
    value: Option<u64>,
    /// It has a symbol's type, an indirect function's.
    ifunc: bool,
}

impl LldValue {
    fn absolute(value: Option<u64>) -> LldValue {
        LldValue {
            section: None,
            forced: false,
            value,
            ifunc: false,
        }
    }

    fn is_absolute(&self) -> bool {
        self.forced || self.section.is_none()
    }
}

/// lld: per statement, the output section `.` outside output sections is in there: the
/// last output section lld lays out before it (`state->outSec`), or, before any, the
/// first output section of the file (where lld puts what is relative to its "aether").
fn lld_dot_sections(script: &Script, layout: &Layout) -> Vec<Option<usize>> {
    let kept = |i: usize| layout.statement_output[i].filter(|&out| layout.outputs[out].is_kept());
    let first = (0..script.statements.len()).find_map(kept);
    let mut last = None;
    (0..script.statements.len())
        .map(|i| {
            let dot = last.or(first);
            last = kept(i).or(last);
            dot
        })
        .collect()
}

/// lld: the names the script defines before any expression is evaluated
/// (`declareSymbols`): every assignment outside sections with a constraint, `PROVIDE`s
/// that take effect.
fn declared_symbols<'s>(script: &'s Script, link: &Link) -> NameSet<&'s [u8]> {
    let mut names = NameSet::default();
    let mut declare = |a: &'s Assignment| {
        let Target::Symbol(name) = &a.target else {
            return;
        };
        let referenced = matches!(
            link.global(name).map(|g| g.resolution),
            Some(Resolution::Undefined { .. })
        );
        if !a.kind.is_provide() || referenced {
            names.insert(name.as_slice());
        }
    };
    for statement in &script.statements {
        match statement {
            Statement::Assignment(a) => declare(a),
            Statement::Section(section) if section.constraint.is_none() => {
                for command in &section.commands {
                    if let SectionCommand::Assignment(a) = command {
                        declare(a);
                    }
                }
            }
            _ => {}
        }
    }
    names
}
