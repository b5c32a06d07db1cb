//! GNU `nm`'s symbol type letter for ELF symbols, as binutils 2.40 computes it.
//!
//! `nm` prints `bfd_decode_symclass` (bfd/syms.c) of the symbol BFD made from the ELF one. That
//! function looks at two things: the BFD section the symbol is in (undefined, common,
//! absolute, or a real section with BFD section flags) and the BFD symbol flags (local,
//! global, weak, unique, object, indirect function). This module holds each step as a
//! function:
//!
//! - [`elf_section_flags`]: the BFD flags of an ELF section (`_bfd_elf_make_section_from_shdr`
//!   in bfd/elf.c);
//! - [`coff_section_type`] and [`decode_section_type`]: the letter of a section, by a short
//!   table of names first, then by flags (bfd/syms.c);
//! - [`symbol_flags`]: the BFD flags of an ELF symbol (`elf_slurp_symbol_table` in
//!   bfd/elfcode.h);
//! - [`decode_symclass`]: the letter;
//! - [`is_debugging_symbol`]: the section and file symbols that `nm` hides;
//! - [`is_target_special_symbol`]: the mapping symbols and local labels some targets hide.
//!
//! Checked against GNU nm 2.40 (Debian bookworm; the target's own `nm` for other
//! architectures) on x86-64, i386, AArch64 and Arm (both byte orders), and 32- and 64-bit
//! RISC-V files: see `tests/tests/collect_linked.rs` in the workspace. Backend quirks of targets that were not
//! checked (MIPS sign-extended addresses and small-data sections, Alpha and IA-64 small data,
//! C-SKY and NDS32 mapping symbols) are not modelled: for those the letters are what BFD's
//! generic ELF code gives.

use object::elf;

/// The BFD section flags that `nm`'s letters depend on (a subset of BFD's `SEC_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SectionFlags(u16);

impl SectionFlags {
    /// `SEC_HAS_CONTENTS`: every section but `SHT_NOBITS`.
    pub const HAS_CONTENTS: SectionFlags = SectionFlags(1 << 0);
    /// `SEC_ALLOC`: `SHF_ALLOC`.
    pub const ALLOC: SectionFlags = SectionFlags(1 << 1);
    /// `SEC_LOAD`: `SHF_ALLOC` and not `SHT_NOBITS`.
    pub const LOAD: SectionFlags = SectionFlags(1 << 2);
    /// `SEC_READONLY`: no `SHF_WRITE`.
    pub const READONLY: SectionFlags = SectionFlags(1 << 3);
    /// `SEC_CODE`: `SHF_EXECINSTR`.
    pub const CODE: SectionFlags = SectionFlags(1 << 4);
    /// `SEC_DATA`: loaded and not code.
    pub const DATA: SectionFlags = SectionFlags(1 << 5);
    /// `SEC_DEBUGGING`: a non-allocated section whose name says it holds debugging data.
    pub const DEBUGGING: SectionFlags = SectionFlags(1 << 6);
    /// `SEC_SMALL_DATA`: set only by some targets' backends (MIPS, Alpha, IA-64), which this
    /// crate does not model; [`decode_section_type`] honours it all the same.
    pub const SMALL_DATA: SectionFlags = SectionFlags(1 << 7);

    /// No flag.
    pub const fn empty() -> SectionFlags {
        SectionFlags(0)
    }

    /// True if every flag of `other` is set.
    pub const fn contains(self, other: SectionFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for SectionFlags {
    type Output = SectionFlags;
    fn bitor(self, other: SectionFlags) -> SectionFlags {
        SectionFlags(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for SectionFlags {
    fn bitor_assign(&mut self, other: SectionFlags) {
        self.0 |= other.0;
    }
}

/// Name prefixes of non-allocated sections that BFD marks `SEC_DEBUGGING`
/// (`_bfd_elf_make_section_from_shdr`). Note `.gnu.debuglto_.debug_`, which is not a
/// `.debug` prefix.
pub const DEBUGGING_SECTION_PREFIXES: &[&[u8]] = &[
    b".debug",
    b".gnu.debuglto_.debug_",
    b".gnu.linkonce.wi.",
    b".zdebug",
    b".line",
    b".stab",
];

/// Exact names of non-allocated sections that BFD marks `SEC_DEBUGGING`.
pub const DEBUGGING_SECTION_NAMES: &[&[u8]] = &[b".gdb_index"];

/// The BFD flags of an ELF section, from its name, `sh_type` and `sh_flags`, as
/// `_bfd_elf_make_section_from_shdr` sets them:
///
/// - `HAS_CONTENTS` unless `SHT_NOBITS`;
/// - `ALLOC` for `SHF_ALLOC`, and `LOAD` too unless `SHT_NOBITS`;
/// - `READONLY` unless `SHF_WRITE`;
/// - `CODE` for `SHF_EXECINSTR`, else `DATA` if `LOAD`;
/// - `DEBUGGING` for a non-allocated section named by [`DEBUGGING_SECTION_PREFIXES`] or
///   [`DEBUGGING_SECTION_NAMES`].
pub fn elf_section_flags(name: &[u8], sh_type: u32, sh_flags: u64) -> SectionFlags {
    let mut flags = SectionFlags::empty();
    if sh_type != elf::SHT_NOBITS {
        flags |= SectionFlags::HAS_CONTENTS;
    }
    if sh_flags & u64::from(elf::SHF_ALLOC) != 0 {
        flags |= SectionFlags::ALLOC;
        if sh_type != elf::SHT_NOBITS {
            flags |= SectionFlags::LOAD;
        }
    }
    if sh_flags & u64::from(elf::SHF_WRITE) == 0 {
        flags |= SectionFlags::READONLY;
    }
    if sh_flags & u64::from(elf::SHF_EXECINSTR) != 0 {
        flags |= SectionFlags::CODE;
    } else if flags.contains(SectionFlags::LOAD) {
        flags |= SectionFlags::DATA;
    }
    if !flags.contains(SectionFlags::ALLOC)
        && (DEBUGGING_SECTION_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || DEBUGGING_SECTION_NAMES.contains(&name))
    {
        flags |= SectionFlags::DEBUGGING;
    }
    flags
}

/// binutils 2.40's `coff_section_type` table: section name prefixes with a fixed letter,
/// checked before the flags. (Older binutils had a longer table, with `.text`, `.data`,
/// `.bss`, `.rodata` and others.)
pub const COFF_SECTION_TYPES: &[(&[u8], u8)] = &[
    (b".drectve", b'i'),
    (b".edata", b'e'),
    (b".idata", b'i'),
    (b".pdata", b'p'),
];

/// The letter [`COFF_SECTION_TYPES`] gives a section name: a prefix in the table matches
/// when the name ends right after it or goes on with `.`, `$` or a digit (so `.idata$5` and
/// `.pdata2` match, `.idatax` does not).
pub fn coff_section_type(name: &[u8]) -> Option<u8> {
    COFF_SECTION_TYPES.iter().find_map(|&(prefix, letter)| {
        let rest = name.strip_prefix(prefix)?;
        match rest.first() {
            None | Some(b'.' | b'$' | b'0'..=b'9') => Some(letter),
            Some(_) => None,
        }
    })
}

/// `decode_section_type`: the letter of a section by its flags. `t` code; `r` read-only
/// data, `g` small data, `d` data; `s` small and `b` other sections without contents; `N`
/// debugging; `n` other read-only sections with contents; `?` the rest (for example a
/// writable section that is not allocated).
pub fn decode_section_type(flags: SectionFlags) -> u8 {
    if flags.contains(SectionFlags::CODE) {
        b't'
    } else if flags.contains(SectionFlags::DATA) {
        if flags.contains(SectionFlags::READONLY) {
            b'r'
        } else if flags.contains(SectionFlags::SMALL_DATA) {
            b'g'
        } else {
            b'd'
        }
    } else if !flags.contains(SectionFlags::HAS_CONTENTS) {
        if flags.contains(SectionFlags::SMALL_DATA) {
            b's'
        } else {
            b'b'
        }
    } else if flags.contains(SectionFlags::DEBUGGING) {
        b'N'
    } else if flags.contains(SectionFlags::READONLY) {
        b'n'
    } else {
        b'?'
    }
}

/// The lower-case letter of a local symbol in a section: [`coff_section_type`] of the name,
/// else [`decode_section_type`] of the flags.
pub fn section_letter(name: &[u8], flags: SectionFlags) -> u8 {
    coff_section_type(name).unwrap_or_else(|| decode_section_type(flags))
}

/// Where BFD puts a symbol: the part of `bfd_decode_symclass`'s input that comes from the
/// section index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolPlace {
    /// `SHN_UNDEF`.
    Undefined,
    /// `SHN_COMMON` (and x86-64's `SHN_X86_64_LCOMMON`).
    Common,
    /// `SHN_ABS`, a reserved index BFD does not know, or a section BFD made no section for
    /// (the symbol table, string tables, relocation sections).
    Absolute,
    /// A section, with its [`section_letter`].
    Section {
        /// The lower-case letter of the section.
        letter: u8,
    },
}

/// The BFD symbol flags that decide the letter (`BSF_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SymbolFlags {
    /// `BSF_LOCAL`: `STB_LOCAL`.
    pub local: bool,
    /// `BSF_GLOBAL`: `STB_GLOBAL`, unless the symbol is undefined or common.
    pub global: bool,
    /// `BSF_WEAK`: `STB_WEAK`.
    pub weak: bool,
    /// `BSF_GNU_UNIQUE`: `STB_GNU_UNIQUE`.
    pub unique: bool,
    /// `BSF_OBJECT`: `STT_OBJECT` or `STT_COMMON` (not `STT_TLS`).
    pub object: bool,
    /// `BSF_GNU_INDIRECT_FUNCTION`: `STT_GNU_IFUNC`.
    pub ifunc: bool,
}

/// The BFD flags of an ELF symbol from its `st_info` and whether it is undefined or common
/// (`elf_slurp_symbol_table`). Bindings other than local, global, weak and unique set no
/// flag, and such a symbol gets `?`.
pub fn symbol_flags(st_info: u8, undefined_or_common: bool) -> SymbolFlags {
    let bind = st_info >> 4;
    let kind = st_info & 0xf;
    SymbolFlags {
        local: bind == elf::STB_LOCAL,
        global: bind == elf::STB_GLOBAL && !undefined_or_common,
        weak: bind == elf::STB_WEAK,
        unique: bind == elf::STB_GNU_UNIQUE,
        object: kind == elf::STT_OBJECT || kind == elf::STT_COMMON,
        ifunc: kind == elf::STT_GNU_IFUNC,
    }
}

/// True for the ELF symbol types that BFD marks `BSF_DEBUGGING` (`STT_SECTION`, `STT_FILE`),
/// which `nm` does not list without `--debug-syms`.
pub fn is_debugging_symbol(st_info: u8) -> bool {
    matches!(st_info & 0xf, elf::STT_SECTION | elf::STT_FILE)
}

/// `bfd_decode_symclass`: the letter `nm` prints, checked in this order:
///
/// 1. common: `C`;
/// 2. undefined: `v` weak object, `w` other weak, `U`;
/// 3. indirect function: `i` (before weak: a weak ifunc is `i`; global or local, always lower
///    case);
/// 4. weak: `V` object, `W` other (a weak absolute symbol is `W`);
/// 5. unique: `u`;
/// 6. neither local nor global (an unknown binding): `?`;
/// 7. absolute `a`, else the section's letter; upper case if global.
pub fn decode_symclass(place: SymbolPlace, flags: SymbolFlags) -> u8 {
    match place {
        SymbolPlace::Common => return b'C',
        SymbolPlace::Undefined => {
            return match (flags.weak, flags.object) {
                (true, true) => b'v',
                (true, false) => b'w',
                (false, _) => b'U',
            }
        }
        _ => {}
    }
    if flags.ifunc {
        return b'i';
    }
    if flags.weak {
        return if flags.object { b'V' } else { b'W' };
    }
    if flags.unique {
        return b'u';
    }
    if !(flags.global || flags.local) {
        return b'?';
    }
    let letter = match place {
        SymbolPlace::Section { letter } => letter,
        _ => b'a',
    };
    if flags.global {
        letter.to_ascii_uppercase()
    } else {
        letter
    }
}

/// `bfd_is_undefined_symclass`: the letters of undefined symbols (`U`, `w`, `v`), which `nm`
/// prints without an address and sorts first.
pub fn is_undefined_class(letter: u8) -> bool {
    matches!(letter, b'U' | b'w' | b'v')
}

/// `bfd_is_target_special_symbol`: symbols that `nm` hides unless `--special-syms`,
/// depending on the target (`e_machine`):
///
/// - Arm: mapping and tag symbols, `$` and a lower-case letter, alone or followed by `.`
///   (`$a`, `$t`, `$d`, `$x.foo`, …);
/// - AArch64: `$x`, `$d`, `$m`, `$f`, `$p`, alone or followed by `.`;
/// - RISC-V: any name beginning `$x` or `$d` (so also `$xrv64i2p1…` and `$dollar`), the
///   empty name, and local labels ([`is_elf_local_label`]);
/// - every other target: none (so x86's `nm` lists `$x` like any other name).
pub fn is_target_special_symbol(e_machine: u16, name: &[u8]) -> bool {
    match e_machine {
        elf::EM_ARM => matches!(name, [b'$', b'a'..=b'z'] | [b'$', b'a'..=b'z', b'.', ..]),
        elf::EM_AARCH64 => matches!(
            name,
            [b'$', b'x' | b'd' | b'm' | b'f' | b'p']
                | [b'$', b'x' | b'd' | b'm' | b'f' | b'p', b'.', ..]
        ),
        elf::EM_RISCV => {
            name.is_empty()
                || name.starts_with(b"$x")
                || name.starts_with(b"$d")
                || is_elf_local_label(name)
        }
        _ => false,
    }
}

/// `_bfd_elf_is_local_label_name`: `.L…`, `..…`, `_.L_…`, and the assembler's fake symbols
/// `L<digit>\x01…`. Only RISC-V's `nm` hides these (on other targets they are ordinary
/// names; the kernel's mksysmap drops `.L` names anyway).
pub fn is_elf_local_label(name: &[u8]) -> bool {
    name.starts_with(b".L")
        || name.starts_with(b"..")
        || name.starts_with(b"_.L_")
        || matches!(name, [b'L', b'0'..=b'9', 1, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(sh_type: u32, sh_flags: u32, name: &str) -> SectionFlags {
        elf_section_flags(name.as_bytes(), sh_type, u64::from(sh_flags))
    }

    #[test]
    fn section_letters_follow_flags() {
        use object::elf::{SHF_ALLOC as A, SHF_EXECINSTR as X, SHF_WRITE as W};
        use object::elf::{SHT_NOBITS as NOBITS, SHT_NOTE as NOTE, SHT_PROGBITS as PROG};
        let cases: &[(&str, u32, u32, u8)] = &[
            (".text", PROG, A | X, b't'),
            (".init.text", PROG, A | X, b't'),
            (".data", PROG, A | W, b'd'),
            (".rodata", PROG, A, b'r'),
            (".bss", NOBITS, A | W, b'b'),
            (".robss", NOBITS, A, b'b'),
            (".wx", PROG, A | W | X, b't'),
            (".comment", PROG, 0, b'n'),
            (".note", NOTE, 0, b'n'),
            (".nonalloc", PROG, W, b'?'),
            (".nonalloc_x", PROG, X, b't'),
            (".nonalloc_bss", NOBITS, 0, b'b'),
            (".debug_info", PROG, 0, b'N'),
            (".debug_w", PROG, W, b'N'),
            (".debug_alloc", PROG, A, b'r'),
            (".zdebug_x", PROG, 0, b'N'),
            (".gnu.debuglto_.debug_x", PROG, 0, b'N'),
            (".gnu.linkonce.wi.x", PROG, 0, b'N'),
            (".line", PROG, 0, b'N'),
            (".stab", PROG, 0, b'N'),
            (".stabstr", PROG, 0, b'N'),
            (".gdb_index", PROG, 0, b'N'),
            (".gdb_index2", PROG, 0, b'n'),
            (".idata$5", PROG, A, b'i'),
            (".idata", PROG, A | W, b'i'),
            (".idatax", PROG, A, b'r'),
            (".pdata2", PROG, A | X, b'p'),
            (".edata", PROG, A | W, b'e'),
            (".drectve.x", PROG, A, b'i'),
        ];
        for &(name, sh_type, sh_flags, letter) in cases {
            let got = section_letter(name.as_bytes(), flags(sh_type, sh_flags, name));
            assert_eq!(got as char, letter as char, "{name}");
        }
    }

    #[test]
    fn symclass_order() {
        let sec = SymbolPlace::Section { letter: b'd' };
        let info = |bind: u8, kind: u8| (bind << 4) | kind;
        let f = |bind, kind| symbol_flags(info(bind, kind), false);
        assert_eq!(
            decode_symclass(sec, f(elf::STB_GLOBAL, elf::STT_OBJECT)),
            b'D'
        );
        assert_eq!(
            decode_symclass(sec, f(elf::STB_LOCAL, elf::STT_OBJECT)),
            b'd'
        );
        assert_eq!(
            decode_symclass(sec, f(elf::STB_WEAK, elf::STT_OBJECT)),
            b'V'
        );
        assert_eq!(
            decode_symclass(sec, f(elf::STB_WEAK, elf::STT_COMMON)),
            b'V'
        );
        assert_eq!(decode_symclass(sec, f(elf::STB_WEAK, elf::STT_TLS)), b'W');
        assert_eq!(decode_symclass(sec, f(elf::STB_WEAK, elf::STT_FUNC)), b'W');
        assert_eq!(
            decode_symclass(sec, f(elf::STB_WEAK, elf::STT_GNU_IFUNC)),
            b'i'
        );
        assert_eq!(
            decode_symclass(sec, f(elf::STB_GLOBAL, elf::STT_GNU_IFUNC)),
            b'i'
        );
        assert_eq!(
            decode_symclass(sec, f(elf::STB_GNU_UNIQUE, elf::STT_OBJECT)),
            b'u'
        );
        assert_eq!(decode_symclass(sec, f(3, elf::STT_OBJECT)), b'?');
        let abs = SymbolPlace::Absolute;
        assert_eq!(
            decode_symclass(abs, f(elf::STB_GLOBAL, elf::STT_NOTYPE)),
            b'A'
        );
        assert_eq!(
            decode_symclass(abs, f(elf::STB_LOCAL, elf::STT_NOTYPE)),
            b'a'
        );
        assert_eq!(
            decode_symclass(abs, f(elf::STB_WEAK, elf::STT_NOTYPE)),
            b'W'
        );
        let und = SymbolPlace::Undefined;
        let fu = |bind, kind| symbol_flags(info(bind, kind), true);
        assert_eq!(
            decode_symclass(und, fu(elf::STB_GLOBAL, elf::STT_FUNC)),
            b'U'
        );
        assert_eq!(decode_symclass(und, fu(elf::STB_WEAK, elf::STT_FUNC)), b'w');
        assert_eq!(
            decode_symclass(und, fu(elf::STB_WEAK, elf::STT_OBJECT)),
            b'v'
        );
        assert_eq!(
            decode_symclass(und, fu(elf::STB_GLOBAL, elf::STT_GNU_IFUNC)),
            b'U'
        );
        let com = SymbolPlace::Common;
        assert_eq!(
            decode_symclass(com, fu(elf::STB_GLOBAL, elf::STT_OBJECT)),
            b'C'
        );
        assert_eq!(
            decode_symclass(com, fu(elf::STB_WEAK, elf::STT_OBJECT)),
            b'C'
        );
    }

    #[test]
    fn special_symbols_by_target() {
        let arm = |n: &str| is_target_special_symbol(elf::EM_ARM, n.as_bytes());
        assert!(arm("$a") && arm("$t") && arm("$d") && arm("$b") && arm("$a.z"));
        assert!(!arm("$B") && !arm("$1") && !arm("$") && !arm("$dollar") && !arm("a$d"));
        let a64 = |n: &str| is_target_special_symbol(elf::EM_AARCH64, n.as_bytes());
        assert!(a64("$x") && a64("$d") && a64("$x.foo") && a64("$m") && a64("$p.q"));
        assert!(a64("$f") && a64("$x."));
        assert!(!a64("$a") && !a64("$t") && !a64("$b") && !a64("$xx") && !a64("$dollar"));
        let rv = |n: &str| is_target_special_symbol(elf::EM_RISCV, n.as_bytes());
        assert!(rv("$x") && rv("$xrv64i2p1") && rv("$dollar") && rv("") && rv(".Lfoo"));
        assert!(rv("..") && rv("_.L_x") && rv("L0\x01"));
        assert!(!rv("$m") && !rv("$D") && !rv("L0") && !rv("_.L") && !rv("foo.L"));
        let x86 = |n: &str| is_target_special_symbol(elf::EM_X86_64, n.as_bytes());
        assert!(!x86("$x") && !x86("") && !x86(".L1"));
    }
}
