//! Where each predicted symbol will lie against the kernel's text ranges, `_stext`..`_etext`
//! and `_sinittext`..`_einittext`, which decide what a table without `--all-symbols` holds
//! (upstream's `symbol_valid`: in a range, both ends included, but not at `_etext` or
//! `_einittext` unless it is that symbol).
//!
//! No address is known before the link, but most of the distances are: the walk lays the
//! script out as the linker's sizing pass does (`lang_size_sections`, lld's
//! `assignAddresses`), with the location counter as a [`Point`], a known offset from an
//! anchor. An anchor's base is a number where the script sets the location counter to
//! one (x86's `. = __START_KERNEL`, arm64's `. = KIMAGE_VADDR`); where a step's size is
//! unknown, a new anchor continues from the point before it, at or after it. Input
//! sections are aligned and sized from the objects, in the order the linker takes them; a
//! symbol of an input section is at the section's point plus its value.
//!
//! Two points compare exactly when both bases are known or they share an anchor; across
//! anchors by the chain that links them (a point before the step is below everything after
//! it; at the step, below only if something after it is known to have bytes, or the step
//! is an `ALIGN` to more than the anchor's known alignment, which is taken to move: x86's
//! `_edata` before `. = ALIGN(PAGE_SIZE)` and `_sinittext`); else by the bounds that the
//! chain gives. What cannot be told is [`TextPlace::Undecided`], which the table keeps:
//!
//! - a step of unknown size at a range's end or just before its start: a mergeable section
//!   (the linker merges it), the linker's own sections, `COMMON`, `ASCIZ`, a location
//!   counter assignment that the walk cannot evaluate (it knows numbers, `.`, the script's
//!   symbols, `ADDR`, `SIZEOF` of a section laid out, and sums, differences and alignments
//!   of those);
//! - input sections in a `SORT` description: only the description's extent is known;
//! - a symbol the script assigns from an expression other than `.`, `. + N`, a number or
//!   another symbol.
//!
//! The whole prediction is left undecided ([`TextRanges::locate`] gives `None`, and the
//! table keeps every symbol) where a bound is not a point the script assigns, where
//! allocated orphan sections exist (the linker places them, and may place them inside a
//! range), and for targets whose linker relaxes code (riscv), which changes sizes.
//!
//! Sizes that the link changes beyond those are not modelled: Arm veneers and erratum
//! stubs. A misprediction (there, or an alignment that happens to move nothing) costs a
//! second link or padding, never a wrong table: the final table is built from the linked
//! file and checked.

use std::cmp::Ordering;

use kslink_schema::TextPlace;
use object::elf;

use crate::layout::{Layout, PlacedInput, Slot};
use crate::relocatable::Place;
use crate::resolve::{Link, Resolution};
use kslink_linker_script::{
    BinaryOp, Expr, Script, SectionCommand, SectionQuery, Statement, Target, UnaryOp,
};
use kslink_schema::name_map::NameMap;
use kslink_schema::LinkerFlavour;

/// A place in the output's address space: an offset from an anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    anchor: u32,
    offset: u64,
}

/// The absolute anchor: base 0.
const ABSOLUTE: u32 = 0;

impl Point {
    fn absolute(value: u64) -> Point {
        Point {
            anchor: ABSOLUTE,
            offset: value,
        }
    }

    fn plus(self, n: u64) -> Option<Point> {
        Some(Point {
            anchor: self.anchor,
            offset: self.offset.checked_add(n)?,
        })
    }
}

/// Where an anchor's base lies.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    /// The base, where the script gave a number.
    base: Option<u64>,
    /// A power of two known to divide the base.
    align: u64,
    /// The point the base is at or after, and the step between.
    from: Option<(Point, Step)>,
}

/// A step of unknown size from one anchor to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Of any size, none included.
    Unknown,
    /// Of at least one byte.
    Positive,
    /// An alignment to more than the anchor is known to have: none only if the address
    /// happens to be aligned already.
    Align,
}

/// A symbol's place: a point, or somewhere from `lo` to `hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    lo: Point,
    hi: Point,
}

impl Extent {
    fn at(point: Point) -> Extent {
        Extent {
            lo: point,
            hi: point,
        }
    }

    fn is_point(&self) -> bool {
        self.lo == self.hi
    }
}

/// What a script assignment's value is, as far as the walk tells.
#[derive(Clone, Debug)]
enum Value<'s> {
    At(Extent),
    Alias(&'s [u8]),
    Unknown,
}

/// One text range: the points of its first and last symbols.
#[derive(Clone, Copy, Debug)]
struct Range {
    start: Point,
    end: Point,
    end_name: &'static [u8],
}

/// The text ranges of a predicted link and where its symbols lie against them.
#[derive(Debug)]
pub struct TextRanges<'s> {
    anchors: Vec<Anchor>,
    /// Per object, per section by ELF index (then its `COMMON`): where it starts.
    inputs: Vec<Vec<Option<Extent>>>,
    /// Per output section: where it starts and ends.
    sections: Vec<Option<(Point, Point)>>,
    /// The script's symbols, by name: the last assignment's value.
    script: NameMap<&'s [u8], Value<'s>>,
    ranges: [Range; 2],
}

/// The script's bounds of the two ranges (upstream's `text_ranges`).
const BOUNDS: [(&[u8], &[u8]); 2] = [(b"_stext", b"_etext"), (b"_sinittext", b"_einittext")];

impl<'s> TextRanges<'s> {
    /// Walks `script` over `layout`. The objects from `sized_objects` on (the table the
    /// prediction adds) have sections of unknown size. `None` where the ranges cannot be
    /// told at all (see the module's docs).
    pub fn locate(
        script: &'s Script,
        link: &Link,
        layout: &Layout,
        flavour: LinkerFlavour,
        sized_objects: usize,
    ) -> Option<TextRanges<'s>> {
        if layout.allocated_orphans > 0 || link.machine.machine == elf::EM_RISCV {
            return None;
        }
        let mut walk = Walk {
            layout,
            ranges: TextRanges {
                anchors: vec![Anchor {
                    base: Some(0),
                    align: 1 << 63,
                    from: None,
                }],
                inputs: link
                    .objects
                    .iter()
                    .map(|o| vec![None; o.sections.len() + 1])
                    .collect(),
                sections: vec![None; layout.outputs.len()],
                script: NameMap::default(),
                ranges: [Range {
                    start: Point::absolute(0),
                    end: Point::absolute(0),
                    end_name: b"",
                }; 2],
            },
            dot: Point::absolute(0),
            flavour,
            sized_objects,
        };
        walk.statements(script);
        let mut ranges = walk.ranges;
        for (i, (start, end)) in BOUNDS.iter().enumerate() {
            let point = |name: &[u8]| {
                let extent = ranges.symbol_extent(name, link, 0)?;
                extent.is_point().then_some(extent.lo)
            };
            ranges.ranges[i] = Range {
                start: point(start)?,
                end: point(end)?,
                end_name: end,
            };
        }
        Some(ranges)
    }

    /// Where symbol `symbol` of object `object` lies.
    pub fn input_symbol(&self, link: &Link, object: usize, symbol: usize) -> TextPlace {
        let input = link.symbol(object, symbol);
        let extent = self.input_extent(link, object, input.place, input.value, input.info);
        self.place(extent, input.name)
    }

    /// Where the `COMMON` symbols of `object` lie.
    pub fn common_symbol(&self, object: usize, name: &[u8]) -> TextPlace {
        let extent = self.inputs[object].last().copied().flatten();
        self.place(extent, name)
    }

    /// Where an undefined symbol, whose address is 0, lies.
    pub fn undefined_symbol(&self, name: &[u8]) -> TextPlace {
        self.place(Some(Extent::at(Point::absolute(0))), name)
    }

    /// Where the script's symbol `name` lies.
    pub fn script_symbol(&self, link: &Link, name: &[u8]) -> TextPlace {
        self.place(self.symbol_extent(name, link, 0), name)
    }

    /// Where a symbol at the start (`__start_SEC`) or the end of output section `out` lies.
    pub fn section_symbol(&self, out: usize, end: bool, name: &[u8]) -> TextPlace {
        let extent =
            self.sections[out].map(|(start, stop)| Extent::at(if end { stop } else { start }));
        self.place(extent, name)
    }

    fn input_extent(
        &self,
        link: &Link,
        object: usize,
        place: Place,
        value: u64,
        info: u8,
    ) -> Option<Extent> {
        match place {
            Place::Absolute => Some(Extent::at(Point::absolute(value))),
            Place::Section(section) => {
                let extent = self.inputs[object]
                    .get(section as usize)
                    .copied()
                    .flatten()?;
                if !extent.is_point() {
                    return Some(extent);
                }
                // The Thumb bit of an Arm function is not part of its address.
                let thumb = link.machine.machine == elf::EM_ARM && info & 0xf == elf::STT_FUNC;
                let value = if thumb { value & !1 } else { value };
                extent.lo.plus(value).map(Extent::at)
            }
            Place::Common => self.inputs[object].last().copied().flatten(),
            Place::Undefined => None,
        }
    }

    /// The extent of the symbol `name`: the script's, else its definition's.
    fn symbol_extent(&self, name: &[u8], link: &Link, depth: u32) -> Option<Extent> {
        if depth > 16 {
            return None;
        }
        match self.script.get(name) {
            Some(Value::At(extent)) => return Some(*extent),
            Some(Value::Alias(other)) => return self.symbol_extent(other, link, depth + 1),
            Some(Value::Unknown) => return None,
            None => {}
        }
        match link.global(name)?.resolution {
            Resolution::Defined { object, symbol } => {
                let input = link.symbol(object, symbol);
                self.input_extent(link, object, input.place, input.value, input.info)
            }
            Resolution::Common { object, .. } => self.inputs[object].last().copied().flatten(),
            Resolution::Undefined { .. } => None,
        }
    }

    /// Upstream's test of a symbol named `name` in `extent`.
    fn place(&self, extent: Option<Extent>, name: &[u8]) -> TextPlace {
        let Some(extent) = extent else {
            return TextPlace::Undecided;
        };
        let keeps = |p: Point| self.keeps(p, name);
        let verdict = if extent.is_point() {
            keeps(extent.lo)
        } else if self.ranges.iter().any(|r| {
            self.at_or_after(extent.lo, r.start) == Some(true)
                && self.compare(extent.hi, r.end) == Some(Ordering::Less)
        }) {
            Some(true)
        } else if self.ranges.iter().all(|r| {
            self.compare(extent.hi, r.start) == Some(Ordering::Less)
                || self.at_or_after(extent.lo, r.end) == Some(true)
        }) {
            // Wholly below a range or at or past its end: the end symbol itself is never
            // a span.
            Some(false)
        } else {
            None
        };
        match verdict {
            Some(true) => TextPlace::Inside,
            Some(false) => TextPlace::Outside,
            None => TextPlace::Undecided,
        }
    }

    /// `symbol_valid` for one point, in three values.
    fn keeps(&self, p: Point, name: &[u8]) -> Option<bool> {
        let mut in_any = Some(false);
        let mut dropped_at_end = Some(false);
        for r in &self.ranges {
            let inside = and(self.at_or_after(p, r.start), self.at_or_after(r.end, p));
            in_any = or(in_any, inside);
            let at_end = self.compare(p, r.end).map(|o| o == Ordering::Equal);
            dropped_at_end = or(dropped_at_end, and(at_end, Some(name != r.end_name)));
        }
        and(in_any, dropped_at_end.map(|d| !d))
    }

    fn at_or_after(&self, a: Point, b: Point) -> Option<bool> {
        self.compare(a, b).map(|o| o != Ordering::Less)
    }

    /// How `a` compares with `b`, if the layout tells.
    fn compare(&self, a: Point, b: Point) -> Option<Ordering> {
        if a.anchor == b.anchor {
            return Some(a.offset.cmp(&b.offset));
        }
        if let (Some(x), Some(y)) = (self.exact(a), self.exact(b)) {
            return Some(x.cmp(&y));
        }
        if let Some(o) = self.along_chain(a, b) {
            return Some(o);
        }
        if let Some(o) = self.along_chain(b, a) {
            return Some(o.reverse());
        }
        match (self.exact(a), self.floor(b), self.exact(b), self.floor(a)) {
            (Some(x), Some(y), _, _) if x < y => Some(Ordering::Less),
            (_, _, Some(y), Some(x)) if y < x => Some(Ordering::Greater),
            _ => None,
        }
    }

    /// How `a` compares with `b` where `b`'s anchor continues, through a chain of steps,
    /// from a point on `a`'s anchor.
    fn along_chain(&self, a: Point, b: Point) -> Option<Ordering> {
        let mut beyond = b.offset > 0;
        let mut aligned = false;
        let mut anchor = b.anchor;
        loop {
            let (from, step) = self.anchors[anchor as usize].from?;
            beyond |= step == Step::Positive;
            aligned |= step == Step::Align;
            if from.anchor == a.anchor {
                return match a.offset.cmp(&from.offset) {
                    Ordering::Less => Some(Ordering::Less),
                    // An alignment that moves nothing is taken not to happen: if it does,
                    // the first table has a symbol too few or too many, which costs a
                    // second link or padding, never a wrong table.
                    Ordering::Equal if beyond || aligned => Some(Ordering::Less),
                    _ => None,
                };
            }
            beyond |= from.offset > 0;
            anchor = from.anchor;
        }
    }

    fn exact(&self, p: Point) -> Option<u64> {
        self.anchors[p.anchor as usize].base?.checked_add(p.offset)
    }

    /// The least address `p` can have.
    fn floor(&self, p: Point) -> Option<u64> {
        let anchor = self.anchors[p.anchor as usize];
        let base = match (anchor.base, anchor.from) {
            (Some(base), _) => base,
            (None, Some((from, step))) => self.floor(from)? + u64::from(step == Step::Positive),
            (None, None) => return None,
        };
        base.checked_add(p.offset)
    }
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// The walk through the script: the location counter and what it records.
struct Walk<'s, 'l> {
    layout: &'l Layout,
    ranges: TextRanges<'s>,
    dot: Point,
    flavour: LinkerFlavour,
    sized_objects: usize,
}

impl<'s> Walk<'s, '_> {
    fn statements(&mut self, script: &'s Script) {
        let layout = self.layout;
        for (i, statement) in script.statements.iter().enumerate() {
            match statement {
                Statement::Assignment(a) => match &a.target {
                    Target::Dot => self.set_dot(&a.expr),
                    Target::Symbol(name) => {
                        let value = self.value(&a.expr, None);
                        self.ranges.script.insert(name, value);
                    }
                },
                Statement::Section(section) => {
                    let Some(out) = layout.statement_output[i] else {
                        continue;
                    };
                    let o = &layout.outputs[out];
                    if !o.created {
                        continue;
                    }
                    let laid_out = o.has_contents || o.keep;
                    if let Some(address) = &section.address {
                        self.set_dot(address);
                    } else if laid_out {
                        let inputs =
                            section.commands.iter().enumerate().flat_map(|(c, _)| {
                                layout.described.get(&(i, c)).into_iter().flatten()
                            });
                        let input_align = inputs.map(|p| p.align).max().unwrap_or(1);
                        let align = section.align.as_ref().and_then(Expr::constant).unwrap_or(1);
                        self.align_to(input_align.max(align));
                    }
                    let start = self.dot;
                    let subalign = section.subalign.as_ref().and_then(Expr::constant);
                    for (c, command) in section.commands.iter().enumerate() {
                        match command {
                            SectionCommand::Assignment(a) => match &a.target {
                                Target::Dot => self.move_dot_inside(&a.expr),
                                Target::Symbol(name) => {
                                    let value = self.value(&a.expr, Some(start));
                                    self.ranges.script.insert(name, value);
                                }
                            },
                            SectionCommand::Input(spec) => {
                                let placed = layout.described.get(&(i, c));
                                let placed = placed.map_or(&[][..], Vec::as_slice);
                                let sorted =
                                    spec.sorted || spec.sections.iter().any(|s| s.is_sorted());
                                self.inputs(placed, sorted, subalign);
                            }
                            SectionCommand::Data { size, .. } => self.advance(*size, true),
                            SectionCommand::Fill { .. } | SectionCommand::Assert { .. } => {}
                        }
                    }
                    self.ranges.sections[out] = Some((start, self.dot));
                }
                Statement::Assert { .. } | Statement::Extern(_) => {}
            }
        }
    }

    /// The input sections of one description, in order.
    fn inputs(&mut self, placed: &[PlacedInput], sorted: bool, subalign: Option<u64>) {
        let align = |p: &PlacedInput| subalign.unwrap_or(p.align);
        if sorted {
            let lo = self.dot;
            self.align_to(placed.iter().map(align).max().unwrap_or(1));
            self.advance(None, false);
            let extent = Extent { lo, hi: self.dot };
            for p in placed {
                self.record(p, extent);
            }
            return;
        }
        for p in placed {
            self.align_to(align(p));
            let lo = self.dot;
            let size = p.size.filter(|_| p.object < self.sized_objects);
            self.advance(size, false);
            let extent = if size.is_some() {
                Extent::at(lo)
            } else {
                Extent { lo, hi: self.dot }
            };
            self.record(p, extent);
        }
    }

    fn record(&mut self, p: &PlacedInput, extent: Extent) {
        let slots = &mut self.ranges.inputs[p.object];
        match p.slot {
            Slot::Section(i) => slots[i] = Some(extent),
            Slot::Common => *slots.last_mut().expect("a COMMON slot") = Some(extent),
            Slot::Linker(_) => {}
        }
    }

    /// A new anchor, continuing from `from` if known; its offset 0.
    fn anchor(&mut self, align: u64, from: Option<(Point, Step)>) -> Point {
        self.ranges.anchors.push(Anchor {
            base: None,
            align,
            from,
        });
        Point {
            anchor: self.ranges.anchors.len() as u32 - 1,
            offset: 0,
        }
    }

    /// `p` aligned up to `n`.
    fn align_point(&mut self, p: Point, n: u64) -> Point {
        if n <= 1 {
            return p;
        }
        let anchor = self.ranges.anchors[p.anchor as usize];
        let aligned = if let Some(base) = anchor.base {
            base.checked_add(p.offset)
                .and_then(|v| v.checked_next_multiple_of(n))
                .map(|v| v - base)
        } else if n.is_power_of_two() && anchor.align >= n {
            p.offset.checked_next_multiple_of(n)
        } else {
            let align = if n.is_power_of_two() { n } else { 1 };
            return self.anchor(align, Some((p, Step::Align)));
        };
        match aligned {
            Some(offset) => Point {
                anchor: p.anchor,
                offset,
            },
            None => self.anchor(1, None),
        }
    }

    /// `. = ALIGN(n)`, and the alignment of a section or an input.
    fn align_to(&mut self, n: u64) {
        self.dot = self.align_point(self.dot, n);
    }

    /// Moves the location counter by `size`; an unknown size starts an anchor after
    /// (`nonempty`: strictly after) the current point.
    fn advance(&mut self, size: Option<u64>, nonempty: bool) {
        self.dot = match size.and_then(|s| self.dot.plus(s)) {
            Some(next) => next,
            None => {
                let step = if nonempty {
                    Step::Positive
                } else {
                    Step::Unknown
                };
                self.anchor(1, Some((self.dot, step)))
            }
        };
    }

    /// `. = expr` outside output sections, or a section's address.
    fn set_dot(&mut self, expr: &Expr) {
        self.dot = match self.point(expr) {
            Some(p) => p,
            None => {
                let from = self.lower_bound(expr).map(|p| (p, Step::Unknown));
                self.anchor(1, from)
            }
        };
    }

    /// `. = expr` inside an output section, where the location counter only moves
    /// forward.
    fn move_dot_inside(&mut self, expr: &Expr) {
        match self.point(expr) {
            Some(p) => self.dot = p,
            None => self.advance(None, false),
        }
    }

    /// The point `expr` evaluates to, where the walk knows it exactly: `.`, numbers, the
    /// script's symbols, `ADDR`, and sums, differences and alignments of those with
    /// numbers (`SIZEOF` of a section already laid out is one).
    fn point(&mut self, expr: &Expr) -> Option<Point> {
        if let Some(n) = self.number(expr) {
            return Some(Point::absolute(n));
        }
        match expr {
            Expr::Dot => Some(self.dot),
            Expr::Symbol(name) => match self.ranges.script.get(name.as_slice())? {
                Value::At(extent) if extent.is_point() => Some(extent.lo),
                _ => None,
            },
            Expr::Section(SectionQuery::Addr, name) => self.section_start(name),
            Expr::Unary(UnaryOp::Absolute, x) => self.point(x),
            Expr::Unary(UnaryOp::Align, n) => {
                let n = self.number(n)?;
                Some(self.align_point(self.dot, n))
            }
            Expr::Binary(BinaryOp::AlignTo, a, n) => {
                let n = self.number(n)?;
                let a = self.point(a)?;
                Some(self.align_point(a, n))
            }
            Expr::Binary(BinaryOp::Add, a, b) => match (self.number(a), self.number(b)) {
                (_, Some(n)) => self.point(a)?.plus(n),
                (Some(n), _) => self.point(b)?.plus(n),
                _ => None,
            },
            Expr::Binary(BinaryOp::Sub, a, b) => {
                let n = self.number(b)?;
                let a = self.point(a)?;
                Some(Point {
                    anchor: a.anchor,
                    offset: a.offset.checked_sub(n)?,
                })
            }
            _ => None,
        }
    }

    /// The number `expr` evaluates to: a constant, or `SIZEOF` of a section laid out with
    /// a known size.
    fn number(&self, expr: &Expr) -> Option<u64> {
        if let Some(n) = expr.constant() {
            return Some(n);
        }
        match expr {
            Expr::Section(SectionQuery::SizeOf, name) => {
                let out = self.layout.outputs.iter().position(|o| o.name == *name)?;
                let (start, end) = self.ranges.sections[out]?;
                (start.anchor == end.anchor).then(|| end.offset - start.offset)
            }
            Expr::Binary(op, a, b) => op.apply(self.number(a)?, self.number(b)?),
            _ => None,
        }
    }

    /// A point that `expr` is known to be at or after: `SYM + ...` or `ADDR(SEC) + ...`
    /// with non-negative terms, or such a value aligned; and `. + N` for any `N` (`. +=`
    /// reserves room: arm64's page tables, sized from `_end`).
    fn lower_bound(&mut self, expr: &Expr) -> Option<Point> {
        match expr {
            Expr::Binary(BinaryOp::Add, a, _) if **a == Expr::Dot => Some(self.dot),
            Expr::Binary(BinaryOp::Add, a, b) if is_non_negative(b) => self.lower_bound(a),
            Expr::Binary(BinaryOp::AlignTo, a, _) => self.lower_bound(a),
            _ => self.point(expr),
        }
    }

    /// The start of the output section `name`, if the walk has passed it.
    fn section_start(&self, name: &[u8]) -> Option<Point> {
        let out = self.layout.outputs.iter().position(|o| o.name == name)?;
        self.ranges.sections[out].map(|(start, _)| start)
    }

    /// A symbol's value; `section` is the start of the output section it is assigned in.
    fn value(&mut self, expr: &'s Expr, section: Option<Point>) -> Value<'s> {
        if let Expr::Symbol(name) = expr {
            // Perhaps assigned later in the script, or by an input.
            if !matches!(self.ranges.script.get(name.as_slice()), Some(Value::At(_))) {
                return Value::Alias(name);
            }
        }
        // GNU ld takes a number inside an output section as relative to it.
        let relative = section.filter(|_| self.flavour == LinkerFlavour::Gnu);
        let point = match (self.number(expr), relative) {
            (Some(n), Some(start)) => start.plus(n),
            _ => self.point(expr),
        };
        point.map_or(Value::Unknown, |p| Value::At(Extent::at(p)))
    }
}

/// Whether `expr` cannot be negative: `SIZEOF`, `ALIGNOF`, a constant that is not, and
/// sums of those.
fn is_non_negative(expr: &Expr) -> bool {
    match expr {
        Expr::Section(SectionQuery::SizeOf | SectionQuery::AlignOf, _) => true,
        Expr::Binary(BinaryOp::Add, a, b) => is_non_negative(a) && is_non_negative(b),
        _ => expr.constant().is_some_and(|n| (n as i64) >= 0),
    }
}
