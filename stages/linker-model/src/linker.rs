//! What GNU ld 2.40 adds to a link itself: the kind of file it writes, the sections it
//! creates in the first input object (`dynobj`), and how a link with dynamic sections binds
//! symbols.
//!
//! A static final link (the kernel without `CONFIG_RELOCATABLE`, x86 with it) gets only an
//! empty dynamic relocation section ([`LINKER_RELOCATIONS`]). A link with dynamic sections
//! (`ld -shared`, as arm64 and riscv link a relocatable kernel, or `ld -pie`) gets more,
//! which the script places like any input section ([`linker_sections`]):
//!
//! - `.dynsym`, `.dynstr`, `.hash`, `.gnu.hash` (read-only; Debian's ld makes both hash
//!   tables) and `.dynamic` (writable), never empty; `.interp` for `-pie`;
//! - a dynamic relocation section `.rela.NAME` (`.rel.NAME` on REL targets) for every
//!   allocated input section `NAME` with a relocation the loader must apply (an absolute
//!   pointer: it becomes an `R_*_RELATIVE` record), empty when the script discards every
//!   such section (ld sizes them after `/DISCARD/`); and ld's always empty `.rela.got`,
//!   `.rela.plt`;
//! - the global offset table, which some targets fill with a header even when nothing
//!   uses it (AArch64: `.got` one entry and `.got.plt` three; RISC-V: `.got` one; Arm:
//!   `.got.plt` three; x86: nothing), and the empty `.plt`, `.data.rel.ro` and `.dynbss`
//!   that ld creates for copy relocations and PLT entries (kernel scripts name them).
//!
//! The symbols change too ([`forces_local`], [`keeps_undefined_weak`]):
//! with `-shared`, a global whose most constraining visibility among all its definitions and
//! references is hidden or internal becomes local (a hidden reference is enough, as
//! arm64's position-independent startup code makes of `__pi_*` aliases; not `__start_SEC`
//! and `__stop_SEC`, which ld makes protected); both kinds keep undefined weak symbols of
//! default visibility in the symbol table (nm's `w`, `v`), except x86's `-pie`, as dynamic
//! symbols: none where the script discards `.dynsym`. ld's own `_DYNAMIC` is local: in `.dynamic` on x86, absolute (and
//! so left out by mksysmap) elsewhere, like `_GLOBAL_OFFSET_TABLE_`.
//!
//! Not followed: GOT and PLT entries that the inputs ask for (the kernel has none),
//! `-z pack-relative-relocs` (`.relr.dyn`), `--no-dynamic-linker`, `--hash-style`, and the
//! linker's other empty sections (`.gnu.version*`, `.rela.ifunc`, …), which kernel scripts
//! do not name. Targets without an entry in the table get the common sections only.

use kslink_schema::LinkKind;
use object::elf;

use crate::relocatable::Flags;
use crate::relocatable::{Machine, Object};
use crate::resolve::Link;

/// A global with visibility `visibility` (`STV_*`, the most constraining of all its
/// definitions and references) becomes a local symbol of an output of kind `kind`. Script
/// symbols made `HIDDEN` or `PROVIDE_HIDDEN` are local in any link.
pub fn forces_local(kind: LinkKind, visibility: u8) -> bool {
    kind == LinkKind::Shared && matches!(visibility, elf::STV_HIDDEN | elf::STV_INTERNAL)
}

/// The dynamic symbol table of an output of kind `kind`, and so its symbol table, keeps an
/// undefined weak symbol of visibility `visibility` on target `machine` (`e_machine`).
pub fn keeps_undefined_weak(kind: LinkKind, machine: u16, visibility: u8) -> bool {
    let keeps = match kind {
        LinkKind::Static => false,
        LinkKind::Shared => true,
        LinkKind::Pie => target(machine).is_none_or(|t| t.pie_keeps_undefined_weak),
    };
    keeps && visibility == elf::STV_DEFAULT
}

/// The empty dynamic relocation section GNU ld creates in the first input object of any
/// final link, for the targets where the tests saw it (`.rela.iplt` and the like on
/// x86-64, AArch64 and RISC-V, `.rel.iplt` on i386 and Arm): its name and type by
/// `e_machine`. Allocated and read-only, it lands in an output section by the script's
/// patterns, or in `.rela.dyn` (`.rel.dyn`) by ld's `-z combreloc` rule for orphans; ld
/// removes it later for being empty, but that output section keeps its flags, which decide
/// where ld moves the symbols of an empty `.rela.dyn` (`__rela_dyn_start` on RISC-V).
pub const LINKER_RELOCATIONS: &[(u16, &[u8], u32)] = &[
    (elf::EM_X86_64, b".rela.iplt", elf::SHT_RELA),
    (elf::EM_AARCH64, b".rela.iplt", elf::SHT_RELA),
    (elf::EM_RISCV, b".rela.iplt", elf::SHT_RELA),
    (elf::EM_386, b".rel.iplt", elf::SHT_REL),
    (elf::EM_ARM, b".rel.iplt", elf::SHT_REL),
];

/// What ld does in a target's links with dynamic sections, as GNU ld 2.40 does it on
/// Debian (checked by the tests against each target's `ld` on x86-64, AArch64 and RISC-V;
/// by hand on i386 and Arm, whose ld fails the tests' links).
struct DynamicTarget {
    machine: u16,
    /// The relocation types of an absolute pointer, for ELF64 and ELF32: what a
    /// position-independent link turns into a dynamic (`R_*_RELATIVE`) record.
    pointer: (u32, u32),
    /// Its dynamic relocations are RELA (`.rela.*`), not REL.
    rela: bool,
    /// The global offset table's sections and the entries ld gives them without any use.
    got: &'static [(&'static [u8], u64)],
    /// `_DYNAMIC` is a local symbol of `.dynamic`, not an absolute one.
    dynamic_symbol_in_section: bool,
    /// A `-pie` link keeps undefined weak symbols in its symbol table.
    pie_keeps_undefined_weak: bool,
}

const TARGETS: &[DynamicTarget] = &[
    DynamicTarget {
        machine: elf::EM_X86_64,
        pointer: (elf::R_X86_64_64, elf::R_X86_64_32),
        rela: true,
        got: &[(b".got", 0), (b".got.plt", 0)],
        dynamic_symbol_in_section: true,
        pie_keeps_undefined_weak: false,
    },
    DynamicTarget {
        machine: elf::EM_386,
        pointer: (elf::R_386_32, elf::R_386_32),
        rela: false,
        got: &[(b".got", 0), (b".got.plt", 0)],
        dynamic_symbol_in_section: true,
        pie_keeps_undefined_weak: false,
    },
    DynamicTarget {
        machine: elf::EM_AARCH64,
        pointer: (elf::R_AARCH64_ABS64, elf::R_AARCH64_P32_ABS32),
        rela: true,
        got: &[(b".got", 1), (b".got.plt", 3)],
        dynamic_symbol_in_section: false,
        pie_keeps_undefined_weak: true,
    },
    DynamicTarget {
        machine: elf::EM_RISCV,
        pointer: (elf::R_RISCV_64, elf::R_RISCV_32),
        rela: true,
        got: &[(b".got", 1), (b".got.plt", 0)],
        dynamic_symbol_in_section: false,
        pie_keeps_undefined_weak: true,
    },
    DynamicTarget {
        machine: elf::EM_ARM,
        pointer: (elf::R_ARM_ABS32, elf::R_ARM_ABS32),
        rela: false,
        got: &[(b".got", 0), (b".got.plt", 3)],
        dynamic_symbol_in_section: false,
        pie_keeps_undefined_weak: true,
    },
];

fn target(machine: u16) -> Option<&'static DynamicTarget> {
    TARGETS.iter().find(|t| t.machine == machine)
}

/// The relocation type of an absolute pointer on `machine`, and whether the target's
/// relocations are RELA, for the targets whose dynamic links are modelled.
pub fn pointer_relocation(machine: Machine) -> Option<(u32, bool)> {
    let t = target(machine.machine)?;
    Some((
        if machine.is_64 {
            t.pointer.0
        } else {
            t.pointer.1
        },
        t.rela,
    ))
}

/// A section ld creates in the first input object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkerSection {
    /// Its name.
    pub name: Vec<u8>,
    /// Its ELF type.
    pub sh_type: u32,
    /// Its ELF flags.
    pub sh_flags: u64,
    /// Its BFD flags.
    pub flags: Flags,
    /// Its size: only whether it is 0 matters.
    pub size: u64,
    /// Its alignment.
    pub align: u64,
    /// For a dynamic relocation section: the input sections (object, ELF index) whose
    /// records it holds. It is empty if the script discards all of them.
    pub sources: Vec<(usize, u32)>,
    /// It becomes an orphan output section when no pattern takes it (lld places its symbol
    /// and string tables itself).
    pub orphan: bool,
}

impl LinkerSection {
    /// A section of `machine` with contents, allocated, read-only unless `writable`, aligned
    /// to a pointer (BFD's `log_file_align`) unless it holds bytes.
    fn new(
        machine: Machine,
        name: &[u8],
        sh_type: u32,
        writable: bool,
        size: u64,
    ) -> LinkerSection {
        let mut sh_flags = u64::from(elf::SHF_ALLOC);
        if writable {
            sh_flags |= u64::from(elf::SHF_WRITE);
        }
        LinkerSection {
            name: name.to_vec(),
            sh_type,
            sh_flags,
            flags: Flags {
                alloc: true,
                load: true,
                readonly: !writable,
                contents: true,
                ..Flags::default()
            },
            size,
            align: match sh_type {
                elf::SHT_STRTAB => 1,
                _ if name == b".interp" => 1,
                _ if machine.is_64 => 8,
                _ => 4,
            },
            sources: Vec::new(),
            orphan: true,
        }
    }

    fn code(mut self) -> LinkerSection {
        self.sh_flags |= u64::from(elf::SHF_EXECINSTR);
        self.flags.code = true;
        self
    }

    fn no_contents(mut self) -> LinkerSection {
        self.sh_type = elf::SHT_NOBITS;
        self.flags.load = false;
        self.flags.contents = false;
        self
    }
}

/// The name `_DYNAMIC`, which ld defines in `.dynamic`.
pub const DYNAMIC_SYMBOL: &[u8] = b"_DYNAMIC";

/// Whether ld gives `link` a `_DYNAMIC` that `nm` shows with the letter of `.dynamic`'s
/// output section (rather than as a local absolute symbol, which mksysmap drops).
pub fn dynamic_symbol_in_section(link: &Link) -> bool {
    link.kind.is_dynamic()
        && target(link.machine.machine).is_some_and(|t| t.dynamic_symbol_in_section)
}

/// The sections ld creates for `link` in its first object, in the order ld creates them
/// (see the module documentation).
pub fn linker_sections(link: &Link) -> Vec<LinkerSection> {
    let machine = link.machine;
    let target = target(machine.machine);
    let mut out = Vec::new();
    let word = if machine.is_64 { 8 } else { 4 };
    if link.kind.is_dynamic() {
        if link.kind == LinkKind::Pie {
            out.push(LinkerSection::new(
                machine,
                b".interp",
                elf::SHT_PROGBITS,
                false,
                1,
            ));
        }
        for (name, sh_type) in [
            (&b".dynsym"[..], elf::SHT_DYNSYM),
            (b".dynstr", elf::SHT_STRTAB),
            (b".hash", elf::SHT_HASH),
            (b".gnu.hash", elf::SHT_GNU_HASH),
        ] {
            out.push(LinkerSection::new(machine, name, sh_type, false, word));
        }
        out.push(LinkerSection::new(machine, b".plt", elf::SHT_PROGBITS, false, 0).code());
        let rela = target.is_none_or(|t| t.rela);
        let (prefix, sh_type): (&[u8], u32) = if rela {
            (b".rela", elf::SHT_RELA)
        } else {
            (b".rel", elf::SHT_REL)
        };
        for suffix in [&b".got"[..], b".plt"] {
            out.push(LinkerSection::new(
                machine,
                &[prefix, suffix].concat(),
                sh_type,
                false,
                0,
            ));
        }
        if let Some((pointer, _)) = pointer_relocation(machine) {
            out.extend(dynamic_relocations(machine, link, pointer, prefix, sh_type));
        }
        out.push(LinkerSection::new(
            machine,
            b".dynamic",
            elf::SHT_DYNAMIC,
            true,
            word,
        ));
        for &(name, entries) in target.map_or(&[][..], |t| t.got) {
            out.push(LinkerSection::new(
                machine,
                name,
                elf::SHT_PROGBITS,
                true,
                entries * word,
            ));
        }
        out.push(LinkerSection::new(
            machine,
            b".data.rel.ro",
            elf::SHT_PROGBITS,
            true,
            0,
        ));
        out.push(LinkerSection::new(machine, b".dynbss", elf::SHT_PROGBITS, true, 0).no_contents());
    }
    // A dynamic link has its own empty relocation sections (`.rela.got`, `.rela.plt`, and
    // `.rela.ifunc` where a static one has `.rela.iplt`).
    if !link.kind.is_dynamic() {
        if let Some(&(_, name, sh_type)) = LINKER_RELOCATIONS
            .iter()
            .find(|(m, _, _)| *m == machine.machine)
        {
            out.push(LinkerSection::new(machine, name, sh_type, false, 0));
        }
    }
    out
}

/// The dynamic relocation sections of `link`: one per name of an allocated input section
/// that has a relocation of type `pointer`, in the order of their first such section.
fn dynamic_relocations(
    machine: Machine,
    link: &Link,
    pointer: u32,
    prefix: &[u8],
    sh_type: u32,
) -> Vec<LinkerSection> {
    let mut out: Vec<LinkerSection> = Vec::new();
    for (o, object) in link.objects.iter().enumerate() {
        for target in pointer_targets(object, pointer) {
            if !link.is_live(o, target as usize) {
                continue;
            }
            let name = [prefix, object.sections[target as usize].name].concat();
            match out.iter_mut().find(|s| s.name == name) {
                Some(section) => section.sources.push((o, target)),
                None => {
                    let mut section = LinkerSection::new(machine, &name, sh_type, false, 1);
                    section.sources.push((o, target));
                    out.push(section);
                }
            }
        }
    }
    out
}

/// The allocated sections of `object` with a relocation of type `pointer`.
fn pointer_targets(object: &Object, pointer: u32) -> Vec<u32> {
    let mut targets: Vec<u32> = object
        .relocations
        .iter()
        .map(|r| r.target)
        .filter(|&t| object.sections[t as usize].sh_flags & u64::from(elf::SHF_ALLOC) != 0)
        .collect();
    targets.dedup();
    targets.retain(|&t| object.relocation_types(t).any(|r| r == pointer));
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shared_links_make_hidden_symbols_local() {
        for visibility in [elf::STV_HIDDEN, elf::STV_INTERNAL] {
            assert!(forces_local(LinkKind::Shared, visibility));
            assert!(!forces_local(LinkKind::Pie, visibility));
            assert!(!forces_local(LinkKind::Static, visibility));
        }
        for visibility in [elf::STV_DEFAULT, elf::STV_PROTECTED] {
            assert!(!forces_local(LinkKind::Shared, visibility));
        }
    }

    #[test]
    fn undefined_weak_symbols_stay_in_dynamic_links_but_x86_pies() {
        let default = elf::STV_DEFAULT;
        assert!(!keeps_undefined_weak(
            LinkKind::Static,
            elf::EM_AARCH64,
            default
        ));
        assert!(keeps_undefined_weak(
            LinkKind::Shared,
            elf::EM_X86_64,
            default
        ));
        assert!(keeps_undefined_weak(
            LinkKind::Pie,
            elf::EM_AARCH64,
            default
        ));
        assert!(!keeps_undefined_weak(
            LinkKind::Pie,
            elf::EM_X86_64,
            default
        ));
        assert!(!keeps_undefined_weak(LinkKind::Pie, elf::EM_386, default));
        assert!(!keeps_undefined_weak(
            LinkKind::Shared,
            elf::EM_AARCH64,
            elf::STV_HIDDEN
        ));
    }

    #[test]
    fn pointer_relocations_follow_the_class() {
        let machine = |machine, is_64| Machine {
            machine,
            is_64,
            big_endian: false,
        };
        assert_eq!(
            pointer_relocation(machine(elf::EM_AARCH64, true)),
            Some((elf::R_AARCH64_ABS64, true))
        );
        assert_eq!(
            pointer_relocation(machine(elf::EM_RISCV, false)),
            Some((elf::R_RISCV_32, true))
        );
        assert_eq!(
            pointer_relocation(machine(elf::EM_ARM, false)),
            Some((elf::R_ARM_ABS32, false))
        );
        assert_eq!(pointer_relocation(machine(elf::EM_PPC64, true)), None);
    }
}
