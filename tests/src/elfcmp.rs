//! Comparing two relocatable ELF objects for what matters to the kernel's link.
//!
//! Two kallsyms objects are equivalent for the link when they agree on: the ELF class,
//! endianness and `e_machine`; the bytes (and alignment) of `.rodata`; the global symbols
//! (name, section name, value, binding, size: 7.x's `.size` labels); and the relocations that apply to `.rodata`
//! (offset, target symbol name, raw ELF `r_type`, and the explicit addend of RELA
//! relocations; a REL relocation's implicit addend lives in the section bytes, which are
//! compared anyway). Everything else (string table order, `.comment`, `e_flags`, local
//! symbols, section order) is ignored.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use object::{
    Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex,
    SymbolFlags, SymbolSection,
};

/// The most differences of one kind listed in a report.
const MAX_LISTED: usize = 10;

/// What is compared about one object.
#[derive(Debug)]
struct Summary {
    is_64: bool,
    little_endian: bool,
    e_machine: u16,
    rodata: Vec<u8>,
    rodata_align: u64,
    /// (name, section name, value, binding, size), sorted.
    globals: Vec<(String, String, u64, u8, u64)>,
    /// Global symbols defined in `.rodata`, by value, to name offsets.
    rodata_labels: Vec<(u64, String)>,
    relocs: Vec<Reloc>,
}

/// One relocation of `.rodata`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reloc {
    offset: u64,
    target: String,
    r_type: u32,
    /// The explicit addend (RELA); `None` for REL, whose addend is in the section bytes.
    addend: Option<i64>,
}

impl std::fmt::Display for Reloc {
    /// The relocation without its offset: `type N -> symbol + addend`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "type {} -> {}", self.r_type, self.target)?;
        match self.addend {
            Some(a) if a < 0 => write!(f, " - {:#x}", a.unsigned_abs()),
            Some(a) => write!(f, " + {a:#x}"),
            None => write!(f, " (implicit addend)"),
        }
    }
}

fn binding_name(b: u8) -> String {
    match b {
        object::elf::STB_LOCAL => "LOCAL".into(),
        object::elf::STB_GLOBAL => "GLOBAL".into(),
        object::elf::STB_WEAK => "WEAK".into(),
        other => format!("binding {other}"),
    }
}

fn section_name(file: &object::File<'_>, index: SectionIndex) -> String {
    file.section_by_index(index)
        .ok()
        .and_then(|s| s.name().ok().map(str::to_string))
        .unwrap_or_else(|| format!("section #{}", index.0))
}

fn summarize(data: &[u8], path: &Path) -> Result<Summary, String> {
    let file = object::File::parse(data)
        .map_err(|e| format!("{}: not a readable object: {e}", path.display()))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(format!("{}: not an ELF file", path.display()));
    }
    if file.kind() != object::ObjectKind::Relocatable {
        return Err(format!(
            "{}: not a relocatable object ({:?})",
            path.display(),
            file.kind()
        ));
    }
    let little_endian = file.is_little_endian();
    let raw = [data[18], data[19]];
    let e_machine = if little_endian {
        u16::from_le_bytes(raw)
    } else {
        u16::from_be_bytes(raw)
    };

    let rodata_section = file.section_by_name(".rodata");
    let (rodata, rodata_align, rodata_index) = match &rodata_section {
        Some(s) => (
            s.data()
                .map_err(|e| format!("{}: cannot read .rodata: {e}", path.display()))?
                .to_vec(),
            s.align(),
            Some(s.index()),
        ),
        None => (Vec::new(), 0, None),
    };

    let mut globals = Vec::new();
    let mut rodata_labels = Vec::new();
    for sym in file.symbols() {
        if !sym.is_global() {
            continue;
        }
        let name = sym
            .name()
            .map_err(|e| format!("{}: bad symbol name: {e}", path.display()))?
            .to_string();
        let section = match sym.section() {
            SymbolSection::Undefined => "UND".to_string(),
            SymbolSection::Absolute => "ABS".to_string(),
            SymbolSection::Common => "COMMON".to_string(),
            SymbolSection::Section(idx) => {
                if Some(idx) == rodata_index {
                    rodata_labels.push((sym.address(), name.clone()));
                }
                section_name(&file, idx)
            }
            other => format!("{other:?}"),
        };
        let binding = match sym.flags() {
            SymbolFlags::Elf { st_info, .. } => st_info >> 4,
            _ => 0xff,
        };
        globals.push((name, section, sym.address(), binding, sym.size()));
    }
    globals.sort();
    rodata_labels.sort();

    let mut relocs = Vec::new();
    if let Some(s) = &rodata_section {
        for (offset, r) in s.relocations() {
            let target = match r.target() {
                RelocationTarget::Symbol(idx) => match file.symbol_by_index(idx) {
                    Ok(sym) if sym.kind() == object::SymbolKind::Section => match sym.section() {
                        SymbolSection::Section(si) => {
                            format!("[section {}]", section_name(&file, si))
                        }
                        _ => "[section ?]".to_string(),
                    },
                    Ok(sym) => sym.name().unwrap_or("?").to_string(),
                    Err(e) => format!("[bad symbol #{}: {e}]", idx.0),
                },
                RelocationTarget::Section(si) => format!("[section {}]", section_name(&file, si)),
                RelocationTarget::Absolute => "[absolute]".to_string(),
                _ => "[unknown target]".to_string(),
            };
            let r_type = match r.flags() {
                RelocationFlags::Elf { r_type } => r_type,
                _ => u32::MAX,
            };
            let addend = if r.has_implicit_addend() {
                None
            } else {
                Some(r.addend())
            };
            relocs.push(Reloc {
                offset,
                target,
                r_type,
                addend,
            });
        }
    }
    relocs.sort();

    Ok(Summary {
        is_64: file.is_64(),
        little_endian,
        e_machine,
        rodata,
        rodata_align,
        globals,
        rodata_labels,
        relocs,
    })
}

/// `offset` as `label+delta` using the global labels of `.rodata`.
fn locate(labels: &[(u64, String)], offset: u64) -> String {
    match labels.iter().rev().find(|(v, _)| *v <= offset) {
        Some((v, name)) => format!("{offset:#x} ({name}+{:#x})", offset - v),
        None => format!("{offset:#x}"),
    }
}

fn hex_window(bytes: &[u8], start: usize, len: usize) -> String {
    let end = (start + len).min(bytes.len());
    if start >= end {
        return "(end of section)".to_string();
    }
    let mut s = String::new();
    for b in &bytes[start..end] {
        let _ = write!(s, "{b:02x} ");
    }
    s.trim_end().to_string()
}

fn compare_bytes(e: &Summary, a: &Summary, out: &mut Vec<String>) {
    let (eb, ab) = (&e.rodata, &a.rodata);
    if eb.len() != ab.len() {
        out.push(format!(
            ".rodata size differs: expected {:#x} bytes, actual {:#x}",
            eb.len(),
            ab.len()
        ));
    }
    let common = eb.len().min(ab.len());
    // Runs of differing bytes; runs less than 16 equal bytes apart are merged.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut total = 0usize;
    for i in 0..common {
        if eb[i] != ab[i] {
            total += 1;
            match runs.last_mut() {
                Some((_, end)) if i - *end < 16 => *end = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
    }
    if runs.is_empty() {
        return;
    }
    out.push(format!(
        ".rodata bytes differ: {total} differing bytes in {} regions within the first \
         {common:#x} bytes",
        runs.len()
    ));
    const LISTED_RUNS: usize = 5;
    for &(start, end) in runs.iter().take(LISTED_RUNS) {
        out.push(format!(
            "  at {} ({} bytes):\n    expected: {}\n    actual:   {}",
            locate(&e.rodata_labels, start as u64),
            end - start,
            hex_window(eb, start, 24),
            hex_window(ab, start, 24)
        ));
    }
    if runs.len() > LISTED_RUNS {
        out.push(format!(
            "  ... and {} more regions",
            runs.len() - LISTED_RUNS
        ));
    }
}

fn compare_globals(e: &Summary, a: &Summary, out: &mut Vec<String>) {
    type Info = (String, u64, u8, u64);
    let to_map = |s: &Summary| -> BTreeMap<String, Vec<Info>> {
        let mut m: BTreeMap<String, Vec<Info>> = BTreeMap::new();
        for (name, sec, value, bind, size) in &s.globals {
            m.entry(name.clone())
                .or_default()
                .push((sec.clone(), *value, *bind, *size));
        }
        m
    };
    let (em, am) = (to_map(e), to_map(a));
    let show = |v: &[Info]| -> String {
        v.iter()
            .map(|(sec, value, bind, size)| {
                format!("{sec} {value:#x} {} size {size}", binding_name(*bind))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut diffs = Vec::new();
    for (name, ev) in &em {
        match am.get(name) {
            None => diffs.push(format!("  {name}: only in expected ({})", show(ev))),
            Some(av) if av != ev => diffs.push(format!(
                "  {name}: expected {}, actual {}",
                show(ev),
                show(av)
            )),
            Some(_) => {}
        }
    }
    for (name, av) in &am {
        if !em.contains_key(name) {
            diffs.push(format!("  {name}: only in actual ({})", show(av)));
        }
    }
    if !diffs.is_empty() {
        out.push(format!("global symbols differ ({}):", diffs.len()));
        let n = diffs.len();
        out.extend(diffs.into_iter().take(MAX_LISTED));
        if n > MAX_LISTED {
            out.push(format!("  ... and {} more", n - MAX_LISTED));
        }
    }
}

fn compare_relocs(e: &Summary, a: &Summary, out: &mut Vec<String>) {
    if e.relocs == a.relocs {
        return;
    }
    let mut diffs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < e.relocs.len() || j < a.relocs.len() {
        match (e.relocs.get(i), a.relocs.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.offset == y.offset => {
                diffs.push(format!(
                    "  at {}: expected {x}, actual {y}",
                    locate(&e.rodata_labels, x.offset)
                ));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.offset < y.offset => {
                diffs.push(format!(
                    "  at {}: only in expected: {x}",
                    locate(&e.rodata_labels, x.offset)
                ));
                i += 1;
            }
            (Some(x), None) => {
                diffs.push(format!(
                    "  at {}: only in expected: {x}",
                    locate(&e.rodata_labels, x.offset)
                ));
                i += 1;
            }
            (_, Some(y)) => {
                diffs.push(format!(
                    "  at {}: only in actual: {y}",
                    locate(&a.rodata_labels, y.offset)
                ));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out.push(format!(
        ".rodata relocations differ (expected {}, actual {}; {} differences):",
        e.relocs.len(),
        a.relocs.len(),
        diffs.len()
    ));
    let n = diffs.len();
    out.extend(diffs.into_iter().take(MAX_LISTED));
    if n > MAX_LISTED {
        out.push(format!("  ... and {} more", n - MAX_LISTED));
    }
}

/// Compares the relocatable ELF objects `expected` and `actual` for what matters to the
/// kernel's link (see the module documentation).
///
/// Returns `Ok(())` if they agree, else a readable, multi-line description of the first
/// differences of each kind (header, `.rodata` bytes, global symbols, relocations).
pub fn compare_objects(expected: &Path, actual: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let (ed, ad) = (read(expected)?, read(actual)?);
    let e = summarize(&ed, expected)?;
    let a = summarize(&ad, actual)?;
    let mut out = Vec::new();
    let class = |s: &Summary| if s.is_64 { "ELF64" } else { "ELF32" };
    let endian = |s: &Summary| if s.little_endian { "little" } else { "big" };
    if e.is_64 != a.is_64 {
        out.push(format!(
            "ELF class differs: expected {}, actual {}",
            class(&e),
            class(&a)
        ));
    }
    if e.little_endian != a.little_endian {
        out.push(format!(
            "endianness differs: expected {}, actual {}",
            endian(&e),
            endian(&a)
        ));
    }
    if e.e_machine != a.e_machine {
        out.push(format!(
            "e_machine differs: expected {}, actual {}",
            e.e_machine, a.e_machine
        ));
    }
    if e.rodata_align != a.rodata_align {
        out.push(format!(
            ".rodata alignment differs: expected {}, actual {}",
            e.rodata_align, a.rodata_align
        ));
    }
    compare_bytes(&e, &a, &mut out);
    compare_globals(&e, &a, &mut out);
    compare_relocs(&e, &a, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} and {} differ:\n{}",
            expected.display(),
            actual.display(),
            out.join("\n")
        ))
    }
}
