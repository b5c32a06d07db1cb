//! Where a link puts each input section, and what the output sections look like to `nm`,
//! as GNU ld 2.40 or lld 14 decides them without knowing any address.
//!
//! GNU ld:
//!
//! - An input section goes to the first input section description in script order that
//!   matches it (file pattern, `EXCLUDE_FILE`, `INPUT_SECTION_FLAGS`, section pattern); to
//!   nowhere if that is in `/DISCARD/`; to an orphan output section if none matches.
//! - An output section's BFD flags are those of its inputs: allocated, loaded, code if
//!   any input is; read-only only if every input is (`lang_add_section`); data statements
//!   add contents, and an assignment that moves the location counter inside an otherwise
//!   empty section makes it allocated (`lang_size_sections_1`).
//! - An output section that ld creates from an assignment before any input (its first
//!   command is `sym = .;`, as in most kernel sections) starts with no flags, and then
//!   BFD gives it the ELF type and flags of a "special section" of its name, such as
//!   `SHF_ALLOC|SHF_WRITE` for `.data` and `.data.*` (`_bfd_elf_new_section_hook`): so an
//!   empty `.data..percpu` is `WA`, an empty `.smp_locks` only `W` (nm's `?`).
//! - An output section with no contents, no data and no location counter assignment is
//!   removed (`strip_excluded_output_sections`); its symbols move to a neighbour
//!   ([`Layout::kept_neighbour`], bfd's `_bfd_fix_excluded_sec_syms`).
//!
//! lld 14 (`LinkerScript::adjustSectionsBeforeSorting`):
//!
//! - Input sections go where they go for GNU ld, except that a file pattern is matched
//!   against `archive:member` for an archive member, and lld adds sections of its own
//!   ([`LLD_SECTIONS`]) that the script's patterns can take.
//! - An output section's ELF flags are the union of its inputs' (without `SHF_ALLOC` for
//!   `(INFO)` and the like), its type the first input's (`SHT_PROGBITS` when types mix).
//! - An output section without inputs takes the flags of the last section before it that
//!   had inputs (`SHF_ALLOC` at the start), as far as `SHF_ALLOC`, `SHF_WRITE` and
//!   `SHF_EXECINSTR` go, and is `SHT_PROGBITS` (`SHT_NOBITS` if `(NOLOAD)`). It is removed
//!   if it holds nothing but input section descriptions and `PROVIDE`s that do not take
//!   effect, no `ADDR`/`LOADADDR` names it, and its own address, `AT`, `ALIGN` and
//!   `SUBALIGN` refer to no symbol (`isDiscardable`); so no symbol is ever in a removed
//!   section.
//! - Orphans are taken to come last, where lld's flags pass sees them (it runs before
//!   orphans are moved to their places).

use std::collections::{HashMap, HashSet};

use object::elf;

use crate::linker::{linker_sections, LinkerSection};
use crate::relocatable::{Flags, InputSection, ObjectName};
use crate::resolve::{Link, Resolution};
use kslink_linker_script::{
    BinaryOp, Constraint, Expr, Glob, InputSpec, Script, ScriptError, SectionCommand, SectionKind,
    Statement, Target, UnaryOp,
};
use kslink_schema::name_map::{NameMap, NameSet};
use kslink_schema::LinkerFlavour;
use kslink_system_map::letter::{elf_section_flags, section_letter};

/// Where an input section goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Not placed: read by the linker, or a duplicate COMDAT group member.
    Unplaced,
    /// Discarded by `/DISCARD/`.
    Discarded,
    /// Into this output section.
    Output(usize),
}

/// An output section of the link.
#[derive(Clone, Debug)]
pub struct OutputSection {
    /// Its name.
    pub name: Vec<u8>,
    /// Whether ld creates it at all (it has an input, a data statement or an assignment).
    pub created: bool,
    /// Created by an assignment or a reference before any input: BFD then gives it the
    /// type and flags of a special section of the same name.
    pub flagless: bool,
    /// Its BFD flags.
    pub flags: Flags,
    /// The `sh_type` of its first input, which BFD copies.
    pub first_input_type: Option<u32>,
    /// It has an input section with bytes, or data statements.
    pub has_contents: bool,
    /// A non-trivial location counter assignment keeps it even if empty (`SEC_KEEP`).
    pub keep: bool,
    /// A symbol is assigned inside it (ld's `update_dot`).
    pub assigns_symbols: bool,
    /// Removed: empty and not kept.
    pub removed: bool,
    /// How many times the location counter may have moved before the section starts, for
    /// telling whether two sections start at the same address.
    pub start_mark: u32,
    /// Its ELF type in the output.
    pub elf_type: u32,
    /// Its ELF flags in the output.
    pub elf_flags: u64,
    /// The lower-case letter `nm` gives a local symbol in it.
    pub letter: u8,
    /// Its type in the script (orphans: [`SectionKind::Normal`]).
    pub kind: SectionKind,
    /// lld: the union of its inputs' `sh_flags`.
    pub input_flags: u64,
    /// lld: the `sh_type` its inputs give it.
    pub input_type: Option<u32>,
    /// lld: a command keeps it even without inputs: data, `ASSERT`, an assignment to `.`,
    /// a symbol assignment that takes effect.
    pub kept_by_command: bool,
    /// lld: `ADDR` or `LOADADDR` names it, or its own address, `AT`, `ALIGN` or `SUBALIGN`
    /// refers to a symbol.
    pub kept_by_expression: bool,
}

impl OutputSection {
    /// Sets the ELF type and flags of the output, and the letter they give.
    fn set_header(&mut self, elf_type: u32, elf_flags: u64) {
        self.elf_type = elf_type;
        self.elf_flags = elf_flags;
        self.letter = section_letter(
            &self.name,
            elf_section_flags(&self.name, elf_type, elf_flags),
        );
    }

    /// A section of the script or an orphan, before any input.
    fn new(name: Vec<u8>, kind: SectionKind) -> OutputSection {
        OutputSection {
            name,
            created: false,
            flagless: false,
            flags: Flags::default(),
            first_input_type: None,
            has_contents: false,
            keep: false,
            assigns_symbols: false,
            removed: false,
            start_mark: 0,
            elf_type: elf::SHT_NULL,
            elf_flags: 0,
            letter: b'?',
            kind,
            input_flags: 0,
            input_type: None,
            kept_by_command: false,
            kept_by_expression: false,
        }
    }

    /// Kept in the output file.
    pub fn is_kept(&self) -> bool {
        self.created && !self.removed
    }

    /// Ignored by ld's later passes: removed, and no symbol is assigned in it.
    pub fn is_ignored(&self) -> bool {
        self.removed && !self.assigns_symbols
    }
}

/// The output sections of a link and where every input section goes.
#[derive(Debug)]
pub struct Layout {
    /// The output sections, in the order ld creates them (script order, orphans last).
    pub outputs: Vec<OutputSection>,
    /// Per object, per input section by ELF index: where it goes. One more slot at the end
    /// of each is the object's `COMMON` section.
    pub placement: Vec<Vec<Placement>>,
    /// The sections ld creates itself ([`linker_sections`]).
    pub linker_sections: Vec<LinkerSection>,
    /// Where each of [`Layout::linker_sections`] goes.
    pub linker_placement: Vec<Placement>,
    /// Per script statement: its output section (`None` for other statements, `/DISCARD/`
    /// and sections turned off by their constraint).
    pub statement_output: Vec<Option<usize>>,
    /// The input sections that each input section description of an output section takes,
    /// in the order the linker lays them out (before any `SORT`), by statement and command
    /// index.
    pub described: HashMap<(usize, usize), Vec<PlacedInput>>,
    /// Allocated input sections with contents that no description takes: the linker places
    /// them as orphans, where only it knows.
    pub allocated_orphans: usize,
}

/// An input section as an output section's layout sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedInput {
    /// The object (the first one for the linker's own sections).
    pub object: usize,
    /// Which of its sections.
    pub slot: Slot,
    /// Its size in the output, if known before the link: not for mergeable sections, which
    /// the linker merges, nor for `COMMON` and the linker's own sections.
    pub size: Option<u64>,
    /// Its alignment.
    pub align: u64,
}

/// The pseudo input section that holds an object's common symbols.
pub const COMMON_NAME: &[u8] = b"COMMON";

/// A section lld 14 makes itself in every static link, with bytes, which a script's patterns
/// can take: its name, `sh_type` and `sh_flags`, and whether it becomes an output section of
/// its own when no pattern takes it (lld places the symbol and string tables itself).
/// Checked on x86-64 with a script that takes each by name; lld adds no empty section of its
/// own (`.got`, `.bss` and the like) to a link that does not need it.
pub const LLD_SECTIONS: &[(&[u8], u32, u32, bool)] = &[
    (
        b".comment",
        elf::SHT_PROGBITS,
        elf::SHF_MERGE | elf::SHF_STRINGS,
        true,
    ),
    (b".symtab", elf::SHT_SYMTAB, 0, false),
    (b".shstrtab", elf::SHT_STRTAB, 0, false),
    (b".strtab", elf::SHT_STRTAB, 0, false),
];

/// lld's own sections ([`LLD_SECTIONS`]) as the layout takes them.
fn lld_sections() -> Vec<LinkerSection> {
    LLD_SECTIONS
        .iter()
        .map(|&(name, sh_type, sh_flags, orphan)| {
            let section = InputSection {
                name,
                sh_type,
                sh_flags: u64::from(sh_flags),
                size: 1,
                align: 1,
            };
            LinkerSection {
                name: name.to_vec(),
                sh_type,
                sh_flags: section.sh_flags,
                flags: Flags::of_input(&section),
                size: section.size,
                align: 1,
                sources: Vec::new(),
                orphan,
            }
        })
        .collect()
}

impl Layout {
    /// Lays out `link` with `script`, as `flavour` does.
    pub fn new(
        link: &Link,
        script: &Script,
        flavour: LinkerFlavour,
    ) -> Result<Layout, ScriptError> {
        let linker = match flavour {
            LinkerFlavour::Gnu => linker_sections(link),
            LinkerFlavour::Lld => lld_sections(),
        };
        let mut layout = Builder::new(link, script, flavour, &linker).build()?;
        layout.linker_sections = linker;
        Ok(layout)
    }

    /// Where section `section` (by ELF index) of object `object` goes.
    pub fn placement_of(&self, object: usize, section: usize) -> Placement {
        self.placement[object][section]
    }

    /// The placement of object `object`'s `COMMON` section.
    pub fn common_placement(&self, object: usize) -> Placement {
        self.placement[object][self.placement[object].len() - 1]
    }

    /// The output section of the linker's own section `name`, if it has one.
    pub fn linker_output(&self, name: &[u8]) -> Option<usize> {
        let i = self.linker_sections.iter().position(|s| s.name == name)?;
        match self.linker_placement[i] {
            Placement::Output(out) => Some(out),
            Placement::Discarded | Placement::Unplaced => None,
        }
    }

    /// The kept output section that symbols of removed section `removed` move to
    /// (`_bfd_fix_excluded_sec_syms`); `None` if there is none (the symbols become
    /// absolute).
    pub fn kept_neighbour(&self, removed: usize) -> Option<usize> {
        let kept = |i: &usize| self.outputs[*i].is_kept();
        let before = (0..removed).rev().find(kept);
        let after = (removed + 1..self.outputs.len()).find(kept);
        let (prev, next) = match (before, after) {
            (None, None) => return None,
            (Some(p), None) => return Some(p),
            (None, Some(n)) => return Some(n),
            (Some(p), Some(n)) => (p, n),
        };
        let s = &self.outputs[removed].flags;
        let op1 = &self.outputs[prev].flags;
        let op = &self.outputs[next].flags;
        let choose_prev = if op1.alloc != op.alloc || op1.tls != op.tls || op1.load != op.load {
            op.alloc != s.alloc || op.tls != s.tls || (op1.load && !op.load)
        } else if op1.readonly != op.readonly {
            op.readonly != s.readonly
        } else if op1.code != op.code {
            op.code != s.code
        } else {
            // ld prefers the following section when the symbol's address is not below
            // it, that is when nothing lies between the removed section and it.
            self.outputs[next].start_mark != self.outputs[removed].start_mark
        };
        Some(if choose_prev { prev } else { next })
    }
}

/// ELF "special sections" (`_bfd_elf_special_sections`): the type and flags BFD gives an
/// output section of that name created without flags.
const SPECIAL_SECTIONS: &[(&str, Match, u32, u32)] = &[
    (
        ".bss",
        Match::Dotted,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (".comment", Match::Exact, elf::SHT_PROGBITS, 0),
    (".ctf", Match::Exact, elf::SHT_PROGBITS, 0),
    (
        ".data",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".data1",
        Match::Exact,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (".debug", Match::Exact, elf::SHT_PROGBITS, 0),
    (".debug_line", Match::Exact, elf::SHT_PROGBITS, 0),
    (".debug_info", Match::Exact, elf::SHT_PROGBITS, 0),
    (".debug_abbrev", Match::Exact, elf::SHT_PROGBITS, 0),
    (".debug_aranges", Match::Exact, elf::SHT_PROGBITS, 0),
    (".dynamic", Match::Exact, elf::SHT_DYNAMIC, elf::SHF_ALLOC),
    (".dynstr", Match::Exact, elf::SHT_STRTAB, elf::SHF_ALLOC),
    (".dynsym", Match::Exact, elf::SHT_DYNSYM, elf::SHF_ALLOC),
    (
        ".fini",
        Match::Exact,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_EXECINSTR,
    ),
    (
        ".fini_array",
        Match::Dotted,
        elf::SHT_FINI_ARRAY,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".gnu.linkonce.b",
        Match::Dotted,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".got",
        Match::Exact,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (".gnu.hash", Match::Exact, elf::SHT_GNU_HASH, elf::SHF_ALLOC),
    (".hash", Match::Exact, elf::SHT_HASH, elf::SHF_ALLOC),
    (
        ".init",
        Match::Exact,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_EXECINSTR,
    ),
    (
        ".init_array",
        Match::Dotted,
        elf::SHT_INIT_ARRAY,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (".interp", Match::Exact, elf::SHT_PROGBITS, 0),
    (".line", Match::Exact, elf::SHT_PROGBITS, 0),
    (
        ".noinit",
        Match::Dotted,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (".note.GNU-stack", Match::Exact, elf::SHT_PROGBITS, 0),
    (".note", Match::Prefix, elf::SHT_NOTE, 0),
    (
        ".persistent.bss",
        Match::Exact,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".persistent",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".preinit_array",
        Match::Dotted,
        elf::SHT_PREINIT_ARRAY,
        elf::SHF_ALLOC | elf::SHF_WRITE,
    ),
    (
        ".plt",
        Match::Exact,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_EXECINSTR,
    ),
    (".rodata", Match::Dotted, elf::SHT_PROGBITS, elf::SHF_ALLOC),
    (".rodata1", Match::Exact, elf::SHT_PROGBITS, elf::SHF_ALLOC),
    (".rela", Match::Prefix, elf::SHT_RELA, 0),
    (".rel", Match::Prefix, elf::SHT_REL, 0),
    (".shstrtab", Match::Exact, elf::SHT_STRTAB, 0),
    (".strtab", Match::Exact, elf::SHT_STRTAB, 0),
    (".symtab", Match::Exact, elf::SHT_SYMTAB, 0),
    (
        ".text",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_EXECINSTR,
    ),
    (
        ".tbss",
        Match::Dotted,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE | elf::SHF_TLS,
    ),
    (
        ".tdata",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE | elf::SHF_TLS,
    ),
];

/// x86-64's own special sections (`elf_x86_64_special_sections`): the large-model ones.
const X86_64_SPECIAL_SECTIONS: &[(&str, Match, u32, u32)] = &[
    (
        ".lbss",
        Match::Dotted,
        elf::SHT_NOBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE | SHF_X86_64_LARGE,
    ),
    (
        ".ldata",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE | SHF_X86_64_LARGE,
    ),
    (
        ".lrodata",
        Match::Dotted,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | SHF_X86_64_LARGE,
    ),
];

const SHF_X86_64_LARGE: u32 = 0x1000_0000;

/// How a special section's name matches (the suffix length in BFD's table).
#[derive(Clone, Copy, Debug)]
enum Match {
    /// Only the name itself (0).
    Exact,
    /// The name, or the name, a `.` and more (-2).
    Dotted,
    /// Any name that starts with it (-1).
    Prefix,
}

/// The type and flags of the special section `name` is, if any.
fn special_section(name: &[u8], machine: u16) -> Option<(u32, u64)> {
    let extra: &[(&str, Match, u32, u32)] = if machine == elf::EM_X86_64 {
        X86_64_SPECIAL_SECTIONS
    } else {
        &[]
    };
    extra
        .iter()
        .chain(SPECIAL_SECTIONS)
        .find(|(prefix, how, _, _)| {
            let prefix = prefix.as_bytes();
            match how {
                Match::Exact => name == prefix,
                Match::Prefix => name.starts_with(prefix),
                Match::Dotted => {
                    name == prefix
                        || name.starts_with(prefix) && name.get(prefix.len()) == Some(&b'.')
                }
            }
        })
        .map(|&(_, _, sh_type, sh_flags)| (sh_type, u64::from(sh_flags)))
}

/// Where a section pattern is checked: against the section name only (`*(...)` with no
/// exclusions or flag filter, the common case, remembered per name), or per file.
struct SpecRef<'s> {
    spec: &'s InputSpec,
    name_only: bool,
    /// In `/DISCARD/`.
    discard: bool,
}

struct Builder<'l, 'data, 's> {
    link: &'l Link<'data>,
    script: &'s Script,
    flavour: LinkerFlavour,
    linker: &'l [LinkerSection],
    specs: Vec<SpecRef<'s>>,
}

/// Which input section of an object a placed input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The section with this ELF index.
    Section(usize),
    /// The object's `COMMON` section.
    Common,
    /// The linker's own section with this index in [`Layout::linker_sections`] (of the
    /// first object).
    Linker(usize),
}

impl PlacedInput {
    fn of(c: &Candidate) -> PlacedInput {
        let mergeable = c.sh_flags & u64::from(elf::SHF_MERGE) != 0;
        PlacedInput {
            object: c.object,
            slot: c.slot,
            size: matches!(c.slot, Slot::Section(_))
                .then_some(c.size)
                .filter(|_| !mergeable),
            align: c.align,
        }
    }
}

/// One input section of the link: object, which section, its name and ELF type and flags.
#[derive(Clone, Copy)]
struct Candidate<'l> {
    object: usize,
    slot: Slot,
    name: &'l [u8],
    sh_type: u32,
    sh_flags: u64,
    size: u64,
    align: u64,
    flags: Flags,
    /// It becomes an orphan output section when no pattern takes it.
    orphan: bool,
}

impl<'l, 'data, 's> Builder<'l, 'data, 's> {
    fn new(
        link: &'l Link<'data>,
        script: &'s Script,
        flavour: LinkerFlavour,
        linker: &'l [LinkerSection],
    ) -> Self {
        Builder {
            link,
            script,
            flavour,
            linker,
            specs: Vec::new(),
        }
    }

    /// Every input section that takes part, in link order, with the COMMON sections of
    /// objects whose common symbols the link allocates, and the linker's own.
    fn candidates(&self) -> Vec<Candidate<'l>> {
        let mut has_common = vec![false; self.link.objects.len()];
        for global in &self.link.globals {
            if let Resolution::Common { object, .. } = global.resolution {
                has_common[object] = true;
            }
        }
        let mut out = Vec::new();
        for (o, object) in self.link.objects.iter().enumerate() {
            for (i, section) in object.sections.iter().enumerate() {
                if self.link.is_live(o, i) {
                    out.push(Candidate {
                        object: o,
                        slot: Slot::Section(i),
                        name: section.name,
                        sh_type: section.sh_type,
                        sh_flags: section.sh_flags,
                        size: section.size,
                        align: section.align,
                        flags: Flags::of_input(section),
                        orphan: true,
                    });
                }
            }
            if has_common[o] {
                out.push(Candidate {
                    object: o,
                    slot: Slot::Common,
                    name: COMMON_NAME,
                    sh_type: elf::SHT_NOBITS,
                    sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_WRITE),
                    size: 1,
                    align: 1,
                    flags: Flags::common(),
                    orphan: true,
                });
            }
        }
        for (i, section) in self.linker.iter().enumerate() {
            out.push(Candidate {
                object: 0,
                slot: Slot::Linker(i),
                name: &section.name,
                sh_type: section.sh_type,
                sh_flags: section.sh_flags,
                size: section.size,
                align: section.align,
                flags: section.flags,
                orphan: section.orphan,
            });
        }
        out
    }

    /// Whether `EXCLUDE_FILE(patterns)` excludes `object` (ld's
    /// `walk_wild_file_in_exclude_list`: a pattern also excludes the members of an archive
    /// whose name it matches; lld matches each pattern against [`lld_file_name`]).
    fn excluded(&self, patterns: &[Glob], object: usize) -> bool {
        let name = &self.link.objects[object].name;
        if self.flavour == LinkerFlavour::Lld {
            let lld_name = lld_file_name(name);
            return patterns.iter().any(|p| p.matches(&lld_name));
        }
        patterns
            .iter()
            .any(|p| match split_archive_pattern(p.pattern()) {
                Some((archive, member)) => archive_path_matches(archive, member, name),
                None => {
                    p.matches(&name.file_name)
                        || name.archive.as_deref().is_some_and(|a| p.matches(a))
                }
            })
    }

    /// Whether the file part of `spec` takes `object`.
    fn file_matches(&self, spec: &InputSpec, object: usize) -> bool {
        if self.excluded(&spec.exclude_files, object) {
            return false;
        }
        let name = &self.link.objects[object].name;
        let pattern = &spec.file;
        if pattern.is_star() {
            return true;
        }
        if self.flavour == LinkerFlavour::Lld {
            return pattern.matches(&lld_file_name(name));
        }
        match split_archive_pattern(pattern.pattern()) {
            Some((archive, member)) => archive_path_matches(archive, member, name),
            None if pattern.is_wild() => pattern.matches(&name.file_name),
            // An exact name is a file of the command line: an object, or every member
            // taken from an archive of that name.
            None => {
                (name.top_level && name.file_name == pattern.pattern())
                    || name.archive.as_deref() == Some(pattern.pattern())
            }
        }
    }

    /// Whether `spec` takes candidate `c`, file and flags included.
    fn spec_matches(&self, spec: &InputSpec, c: &Candidate) -> bool {
        if spec.flags.is_some_and(|filter| !filter.accepts(c.sh_flags)) {
            return false;
        }
        self.file_matches(spec, c.object)
            && spec
                .sections
                .iter()
                .any(|s| s.name.matches(c.name) && !self.excluded(&s.exclude_files, c.object))
    }

    fn build(mut self) -> Result<Layout, ScriptError> {
        let script = self.script;
        let candidates = self.candidates();

        // Output sections of the script, and which statements a constraint turns off.
        let mut outputs: Vec<OutputSection> = Vec::new();
        let mut statement_output = vec![None; script.statements.len()];
        let mut by_name: NameMap<&[u8], usize> = NameMap::default();
        let mut enabled = vec![true; script.statements.len()];
        for (i, statement) in script.statements.iter().enumerate() {
            let Statement::Section(section) = statement else {
                continue;
            };
            if let Some(constraint) = section.constraint {
                let mut any_writable = false;
                for c in &candidates {
                    let matched = section.commands.iter().any(|cmd| match cmd {
                        SectionCommand::Input(spec) => self.spec_matches(spec, c),
                        _ => false,
                    });
                    any_writable |= matched && !c.flags.readonly;
                }
                enabled[i] = match constraint {
                    Constraint::OnlyIfReadOnly => !any_writable,
                    Constraint::OnlyIfWritable => any_writable,
                };
            }
            if !enabled[i] {
                continue;
            }
            for command in &section.commands {
                if let SectionCommand::Input(spec) = command {
                    let name_only = spec.file.is_star()
                        && spec.exclude_files.is_empty()
                        && spec.flags.is_none()
                        && spec.sections.iter().all(|s| s.exclude_files.is_empty());
                    self.specs.push(SpecRef {
                        spec,
                        name_only,
                        discard: section.is_discard(),
                    });
                }
            }
            if section.is_discard() {
                continue;
            }
            statement_output[i] = Some(outputs.len());
            by_name.entry(&section.name).or_insert(outputs.len());
            let mut output = OutputSection::new(section.name.clone(), section.kind);
            output.kept_by_expression = section
                .address
                .iter()
                .chain(&section.other_exprs)
                .any(refers_to_symbols);
            outputs.push(output);
        }

        // A script that names an input file exactly makes GNU ld load it: it must be one of
        // the inputs. (lld loads nothing a script names.)
        let loads_named_files = self.flavour == LinkerFlavour::Gnu;
        for spec in self.specs.iter().filter(|_| loads_named_files) {
            let pattern = spec.spec.file.pattern();
            let exact = !spec.spec.file.is_wild() && split_archive_pattern(pattern).is_none();
            if exact && !self.link.input_names.iter().any(|n| n == pattern) {
                return Err(self.error(
                    spec.spec.line,
                    &format!(
                        "the script names input file `{}`, which is not among the inputs (ld \
                         would load it)",
                        String::from_utf8_lossy(pattern)
                    ),
                ));
            }
        }

        // The first matching description of every input section.
        let mut claims: Vec<Vec<Candidate>> = vec![Vec::new(); self.specs.len()];
        let mut orphans: Vec<Candidate> = Vec::new();
        let mut by_section_name: NameMap<&[u8], Option<usize>> = NameMap::default();
        let general: Vec<usize> = (0..self.specs.len())
            .filter(|&i| !self.specs[i].name_only)
            .collect();
        // The input sections that go to /DISCARD/, for the linker's dynamic relocation
        // sections, which come last and are empty when all their sources are discarded.
        let mut discarded: HashSet<(usize, usize)> = HashSet::new();
        for c in &candidates {
            let mut c = *c;
            if let Slot::Linker(i) = c.slot {
                let sources = &self.linker[i].sources;
                if !sources.is_empty()
                    && sources
                        .iter()
                        .all(|&(o, s)| discarded.contains(&(o, s as usize)))
                {
                    c.size = 0;
                }
            }
            let first_name_only = *by_section_name.entry(c.name).or_insert_with(|| {
                self.specs.iter().position(|s| {
                    s.name_only && s.spec.sections.iter().any(|p| p.name.matches(c.name))
                })
            });
            let bound = first_name_only.unwrap_or(self.specs.len());
            let chosen = general
                .iter()
                .copied()
                .take_while(|&i| i < bound)
                .find(|&i| self.spec_matches(self.specs[i].spec, &c))
                .or(first_name_only);
            match chosen {
                Some(i) => {
                    if let (true, Slot::Section(section)) = (self.specs[i].discard, c.slot) {
                        discarded.insert((c.object, section));
                    }
                    claims[i].push(c);
                }
                None => orphans.push(c),
            }
        }

        let mut placement = Placements {
            objects: self
                .link
                .objects
                .iter()
                .map(|o| vec![Placement::Unplaced; o.sections.len() + 1])
                .collect(),
            linker: vec![Placement::Unplaced; self.linker.len()],
        };

        // Walk the script as ld's map_input_to_output_sections and lang_size_sections do:
        // creation, flags, contents, and the location counter's known alignment.
        let machine = self.link.machine.machine;
        let mut tracker = DotTracker::default();
        let mut spec_index = 0;
        let mut described = HashMap::new();
        for (i, statement) in script.statements.iter().enumerate() {
            match statement {
                Statement::Assignment(a) => {
                    init_referenced(&mut outputs, &by_name, &a.expr);
                    if a.target == Target::Dot {
                        tracker.top_level(&a.expr);
                    }
                }
                Statement::Assert { expr, .. } => init_referenced(&mut outputs, &by_name, expr),
                Statement::Extern(_) => {}
                Statement::Section(section) => {
                    if !enabled[i] {
                        continue;
                    }
                    let out = statement_output[i];
                    // An address expression sets the location counter.
                    if let (Some(_), Some(address)) = (out, &section.address) {
                        tracker.top_level(address);
                    }
                    let mut in_section = SectionWalk::default();
                    for (command_index, command) in section.commands.iter().enumerate() {
                        match command {
                            SectionCommand::Assignment(a) => {
                                init_referenced(&mut outputs, &by_name, &a.expr);
                                if let Some(out) = out {
                                    let o = &mut outputs[out];
                                    if !o.created {
                                        o.created = true;
                                        o.flagless = true;
                                    }
                                    match &a.target {
                                        Target::Dot => {
                                            if !is_trivial_dot(&a.expr) {
                                                o.keep = true;
                                            }
                                            o.kept_by_command = true;
                                            in_section.steps.push(dot_step(&a.expr));
                                        }
                                        Target::Symbol(name) => {
                                            o.assigns_symbols = true;
                                            // lld: an unreferenced PROVIDE defines nothing.
                                            o.kept_by_command |= !a.kind.is_provide()
                                                || matches!(
                                                    self.link.global(name).map(|g| g.resolution),
                                                    Some(Resolution::Undefined { .. })
                                                );
                                        }
                                    }
                                } else if a.target != Target::Dot {
                                    return Err(self.error(
                                        a.line,
                                        "a symbol assignment inside /DISCARD/ is not supported",
                                    ));
                                }
                            }
                            SectionCommand::Assert { expr, .. } => {
                                init_referenced(&mut outputs, &by_name, expr);
                                if let Some(out) = out {
                                    let o = &mut outputs[out];
                                    o.kept_by_command = true;
                                    if !o.created {
                                        o.created = true;
                                        o.flagless = true;
                                    }
                                }
                            }
                            SectionCommand::Data { expr, .. } => {
                                init_referenced(&mut outputs, &by_name, expr);
                                if let Some(out) = out {
                                    let o = &mut outputs[out];
                                    let mut flags = Flags {
                                        alloc: true,
                                        load: true,
                                        contents: true,
                                        ..Flags::default()
                                    };
                                    match section.kind {
                                        SectionKind::NoAlloc => {
                                            flags = Flags {
                                                contents: true,
                                                ..Flags::default()
                                            }
                                        }
                                        SectionKind::ReadOnly => flags.readonly = true,
                                        SectionKind::NoLoad => {
                                            flags = Flags {
                                                alloc: true,
                                                ..Flags::default()
                                            }
                                        }
                                        SectionKind::Normal | SectionKind::Typed => {}
                                    }
                                    if !o.created {
                                        o.created = true;
                                        flags.readonly = true;
                                        o.flags = flags;
                                    } else {
                                        o.flags.alloc |= flags.alloc;
                                        o.flags.load |= flags.load;
                                        o.flags.contents |= flags.contents;
                                    }
                                    o.has_contents = true;
                                    o.kept_by_command = true;
                                    in_section.moved = true;
                                    in_section.steps.push(Step::Advance(None));
                                }
                            }
                            SectionCommand::Fill { .. } => {}
                            SectionCommand::Input(_) => {
                                let claimed = std::mem::take(&mut claims[spec_index]);
                                spec_index += 1;
                                if out.is_some() {
                                    let placed = claimed.iter().map(PlacedInput::of).collect();
                                    described.insert((i, command_index), placed);
                                }
                                for c in claimed {
                                    match out {
                                        None => {
                                            placement.set(&c, Placement::Discarded);
                                        }
                                        Some(out) => {
                                            placement.set(&c, Placement::Output(out));
                                            add_input(&mut outputs[out], section.kind, &c);
                                            in_section.input(&c);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if let Some(out) = out {
                        tracker.section(&mut outputs[out], section, &in_section);
                    }
                }
            }
        }

        // Orphans: into the output section of their name, else into a new one at the end
        // (ld puts it after a section of similar flags; only its flags matter here). An
        // orphan COMMON section goes to .bss, as ld puts it.
        let mut allocated_orphans = 0;
        for c in orphans {
            if !c.orphan {
                continue;
            }
            if c.flags.alloc && c.size > 0 {
                allocated_orphans += 1;
            }
            let name: &[u8] = if c.name == COMMON_NAME {
                b".bss"
            } else if self.flavour == LinkerFlavour::Gnu
                && matches!(c.sh_type, elf::SHT_REL | elf::SHT_RELA)
                && c.flags.alloc
            {
                // `-z combreloc`: allocated relocation orphans go to .rela.dyn or .rel.dyn.
                if c.sh_type == elf::SHT_RELA {
                    b".rela.dyn"
                } else {
                    b".rel.dyn"
                }
            } else {
                c.name
            };
            let out = match by_name.get(name) {
                Some(&out) => out,
                None => {
                    let mut output = OutputSection::new(name.to_vec(), SectionKind::Normal);
                    output.start_mark = tracker.marks;
                    outputs.push(output);
                    let out = outputs.len() - 1;
                    by_name.insert(name, out);
                    out
                }
            };
            placement.set(&c, Placement::Output(out));
            add_input(&mut outputs[out], SectionKind::Normal, &c);
        }

        match self.flavour {
            LinkerFlavour::Gnu => {
                for o in &mut outputs {
                    o.removed = o.created && !o.has_contents && !o.keep;
                    let (elf_type, elf_flags) = elf_header(o, machine);
                    o.set_header(elf_type, elf_flags);
                }
            }
            LinkerFlavour::Lld => {
                let addressed = addressed_sections(script);
                lld_headers(&mut outputs, &addressed);
            }
        }
        Ok(Layout {
            outputs,
            placement: placement.objects,
            linker_sections: Vec::new(),
            linker_placement: placement.linker,
            statement_output,
            described,
            allocated_orphans,
        })
    }

    fn error(&self, line: u32, message: &str) -> ScriptError {
        ScriptError {
            file: self.script.file.clone(),
            line,
            message: message.to_owned(),
        }
    }
}

/// `exp_init_os`: the sections an expression takes `ADDR` or `LOADADDR` of are created,
/// without flags, if they are not yet.
fn init_referenced(outputs: &mut [OutputSection], by_name: &NameMap<&[u8], usize>, expr: &Expr) {
    expr.for_each_section_address(&mut |name| {
        if let Some(&out) = by_name.get(name) {
            let o = &mut outputs[out];
            if !o.created {
                o.created = true;
                o.flagless = true;
            }
        }
    });
}

/// Where the input sections go, while the layout is built.
struct Placements {
    /// Per object: per section by ELF index, then `COMMON`.
    objects: Vec<Vec<Placement>>,
    /// The linker's own sections.
    linker: Vec<Placement>,
}

impl Placements {
    fn set(&mut self, c: &Candidate, placement: Placement) {
        let slot = match c.slot {
            Slot::Section(i) => &mut self.objects[c.object][i],
            Slot::Common => self.objects[c.object].last_mut().expect("a COMMON slot"),
            Slot::Linker(i) => &mut self.linker[i],
        };
        *slot = placement;
    }
}

/// Adds input section `c` to output section `o` (`lang_add_section`).
fn add_input(o: &mut OutputSection, kind: SectionKind, c: &Candidate) {
    let mut flags = c.flags;
    match kind {
        SectionKind::NoAlloc => flags.alloc = false,
        SectionKind::ReadOnly => flags.readonly = true,
        SectionKind::NoLoad => {
            flags.load = false;
            flags.contents = false;
        }
        SectionKind::Normal | SectionKind::Typed => {}
    }
    let first = o.first_input_type.is_none();
    if first {
        // BFD copies the first input's ELF type when the output has no flags of its own
        // yet (`_bfd_elf_init_private_section_data`).
        let unflagged = !o.created || o.flags == Flags::default();
        o.first_input_type = Some(if unflagged && kind == SectionKind::Normal {
            c.sh_type
        } else {
            elf::SHT_NULL
        });
        o.flags.readonly = flags.readonly;
    } else {
        o.flags.readonly &= flags.readonly;
    }
    o.created = true;
    o.flags.alloc |= flags.alloc;
    o.flags.load |= flags.load;
    o.flags.code |= flags.code;
    o.flags.contents |= flags.contents;
    o.flags.tls |= flags.tls;
    if c.size > 0 {
        o.has_contents = true;
    }
    // lld's `OutputSection::commitSection`.
    o.input_flags |= c.sh_flags;
    if kind == SectionKind::NoAlloc {
        o.input_flags &= !u64::from(elf::SHF_ALLOC);
    }
    o.input_type = Some(match o.input_type {
        Some(t) if t != c.sh_type && merges_to_progbits(t) && merges_to_progbits(c.sh_type) => {
            elf::SHT_PROGBITS
        }
        Some(t) => t,
        None => c.sh_type,
    });
}

/// lld's `canMergeToProgbits`: section types that become `SHT_PROGBITS` when mixed.
fn merges_to_progbits(sh_type: u32) -> bool {
    matches!(
        sh_type,
        elf::SHT_NOBITS
            | elf::SHT_PROGBITS
            | elf::SHT_INIT_ARRAY
            | elf::SHT_PREINIT_ARRAY
            | elf::SHT_FINI_ARRAY
            | elf::SHT_NOTE
    )
}

/// lld's `adjustSectionsBeforeSorting`: the flags of sections without inputs, which
/// sections it removes, and the ELF type and flags of each.
fn lld_headers(outputs: &mut [OutputSection], addressed: &NameSet<&[u8]>) {
    let mut inherited = u64::from(elf::SHF_ALLOC);
    for o in outputs {
        // Every section of the script takes part until lld removes it.
        o.created = true;
        o.kept_by_expression |= addressed.contains(o.name.as_slice());
        let has_inputs = o.input_type.is_some();
        let flags = if has_inputs {
            inherited = o.input_flags;
            o.input_flags
        } else {
            let alloc = if o.kind == SectionKind::NoAlloc {
                0
            } else {
                elf::SHF_ALLOC
            };
            inherited & u64::from(alloc | elf::SHF_WRITE | elf::SHF_EXECINSTR)
        };
        o.removed = !has_inputs && !o.kept_by_command && !o.kept_by_expression;
        let elf_type = if o.kind == SectionKind::NoLoad {
            elf::SHT_NOBITS
        } else {
            o.input_type.unwrap_or(elf::SHT_PROGBITS)
        };
        o.set_header(elf_type, flags);
    }
}

/// The output sections an `ADDR` or `LOADADDR` anywhere in the script names: lld keeps
/// them even when empty (`usedInExpression`).
fn addressed_sections(script: &Script) -> NameSet<&[u8]> {
    let mut names = NameSet::default();
    script.for_each_expr(|expr| {
        expr.for_each_section_address(&mut |name| {
            names.insert(name);
        })
    });
    names
}

/// Whether an expression refers to a symbol (not only to numbers, `.` and sections).
fn refers_to_symbols(expr: &Expr) -> bool {
    let mut any = false;
    expr.for_each_symbol(&mut |_| any = true);
    any
}

/// The ELF type and flags ld writes for output section `o` (`elf_fake_sections`).
fn elf_header(o: &OutputSection, machine: u16) -> (u32, u64) {
    let f = &o.flags;
    let from_flags = if f.alloc && !f.load && !f.contents {
        elf::SHT_NOBITS
    } else {
        elf::SHT_PROGBITS
    };
    let special = if o.flagless {
        special_section(&o.name, machine)
    } else {
        None
    };
    let preset = special
        .map(|(t, _)| t)
        .or(o.first_input_type.filter(|&t| t != elf::SHT_NULL));
    let elf_type = match preset {
        Some(elf::SHT_NOBITS) if from_flags == elf::SHT_PROGBITS && f.alloc => elf::SHT_PROGBITS,
        Some(t) => t,
        None => from_flags,
    };
    let mut elf_flags = special.map_or(0, |(_, flags)| flags);
    if f.alloc {
        elf_flags |= u64::from(elf::SHF_ALLOC);
    }
    if !f.readonly {
        elf_flags |= u64::from(elf::SHF_WRITE);
    }
    if f.code {
        elf_flags |= u64::from(elf::SHF_EXECINSTR);
    }
    if f.tls {
        elf_flags |= u64::from(elf::SHF_TLS);
    }
    (elf_type, elf_flags)
}

/// ld ignores `. = 0`, `. = . + 0` and `. = ALIGN(. != 0 ? x : 1)` when deciding whether
/// an assignment keeps an empty section.
fn is_trivial_dot(expr: &Expr) -> bool {
    match expr {
        Expr::Number(0) => true,
        Expr::Binary(BinaryOp::Add, a, b) => **a == Expr::Dot && b.constant() == Some(0),
        Expr::Unary(UnaryOp::Align, x) => matches!(
            &**x,
            Expr::Conditional(c, _, otherwise)
                if matches!(&**c, Expr::Binary(BinaryOp::Ne, d, z)
                    if **d == Expr::Dot && z.constant() == Some(0))
                    && otherwise.constant() == Some(1)
        ),
        _ => false,
    }
}

/// What is known of the location counter's alignment as the script is walked: enough to
/// tell whether an `ALIGN` inside an empty output section moves it (which makes the
/// section allocated) and whether two sections start at the same address.
#[derive(Default)]
struct DotTracker {
    /// The largest power of two known to divide the location counter (0: nothing known
    /// yet, as at the start).
    align: u64,
    /// Incremented whenever the location counter may move.
    marks: u32,
}

/// What a walk through one output section's commands found.
#[derive(Default)]
struct SectionWalk {
    /// The section has inputs with bytes, or data.
    moved: bool,
    /// The largest alignment of the section's inputs.
    input_align: u64,
    /// Alignment changes to apply after the section start is known: `ALIGN(n)`
    /// statements and input sizes, in order.
    steps: Vec<Step>,
}

enum Step {
    AlignTo(u64),
    Advance(Option<u64>),
}

impl SectionWalk {
    fn input(&mut self, c: &Candidate) {
        self.input_align = self.input_align.max(c.align);
        if c.size > 0 {
            self.steps.push(Step::AlignTo(c.align));
            let mergeable = c.sh_flags & u64::from(elf::SHF_MERGE) != 0;
            self.steps
                .push(Step::Advance(if mergeable { None } else { Some(c.size) }));
            self.moved = true;
        }
    }
}

/// What `. = expr` does to the location counter.
fn dot_step(expr: &Expr) -> Step {
    match expr {
        Expr::Unary(UnaryOp::Align, n) => match n.constant() {
            Some(n) => Step::AlignTo(n),
            None => Step::Advance(None),
        },
        Expr::Binary(BinaryOp::AlignTo, _, n) => match n.constant() {
            Some(n) if n.is_power_of_two() => Step::AlignTo(n),
            _ => Step::Advance(None),
        },
        Expr::Binary(BinaryOp::Add, a, b) if **a == Expr::Dot => Step::Advance(b.constant()),
        _ => Step::Advance(None),
    }
}

/// The largest power of two that divides `v` (`u64::MAX` stands for 0, divisible by all).
fn low_bit(v: u64) -> u64 {
    if v == 0 {
        u64::MAX
    } else {
        1 << v.trailing_zeros()
    }
}

impl DotTracker {
    /// A top-level `. = expr` (or a section's address expression).
    fn top_level(&mut self, expr: &Expr) {
        if let Some(value) = expr.constant() {
            self.align = low_bit(value);
            self.marks += 1;
            return;
        }
        self.apply(&dot_step(expr));
    }

    /// Applies a step; true if the location counter may have moved.
    fn apply(&mut self, step: &Step) -> bool {
        match *step {
            Step::AlignTo(n) if n <= 1 => false,
            Step::AlignTo(n) => {
                if self.align >= n {
                    false
                } else {
                    self.align = n;
                    self.marks += 1;
                    true
                }
            }
            Step::Advance(Some(0)) => false,
            Step::Advance(Some(size)) => {
                self.align = self.align.min(low_bit(size));
                self.marks += 1;
                true
            }
            Step::Advance(None) => {
                self.align = 1;
                self.marks += 1;
                true
            }
        }
    }

    /// An output section: its start (aligned to its inputs' alignment), then the steps
    /// of its commands.
    fn section(
        &mut self,
        o: &mut OutputSection,
        section: &kslink_linker_script::OutputSection,
        walk: &SectionWalk,
    ) {
        // A section ld does not create, or will remove, does not move it.
        if !o.created || !o.has_contents && !o.keep {
            o.start_mark = self.marks;
            return;
        }
        self.apply(&Step::AlignTo(walk.input_align));
        o.start_mark = self.marks;
        for step in &walk.steps {
            let moved = self.apply(step);
            // lang_size_sections_1: moving the location counter in a section makes it
            // allocated, unless it is declared not to be.
            if moved && !walk.moved && section.kind != SectionKind::NoAlloc {
                o.flags.alloc = true;
            }
        }
    }
}

/// The name lld 14 matches a script's file patterns against (`getNameForScript`): the
/// path of an object given on the command line, `archive:member` for an archive member.
fn lld_file_name(name: &ObjectName) -> Vec<u8> {
    match &name.archive {
        Some(archive) => [archive.as_slice(), b":", &name.file_name].concat(),
        None => name.file_name.clone(),
    }
}

/// `archive:member` in a file pattern (ld's `archive_path`): the parts around the first
/// `:`.
fn split_archive_pattern(pattern: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = pattern.iter().position(|&b| b == b':')?;
    Some((&pattern[..at], &pattern[at + 1..]))
}

/// ld's `input_statement_is_archive_path`: `archive:member` matches a member of a
/// matching archive, `archive:` every member, `:member` a member not in an archive.
fn archive_path_matches(archive: &[u8], member: &[u8], name: &ObjectName) -> bool {
    let glob = |p: &[u8], s: &[u8]| Glob::new(p).matches(s);
    let member_ok = member.is_empty() || glob(member, &name.file_name);
    let in_archive = name.archive.is_some();
    if !member_ok || archive.is_empty() == in_archive {
        return false;
    }
    match &name.archive {
        Some(a) => glob(archive, a),
        None => true,
    }
}
