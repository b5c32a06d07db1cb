//! Kernel-version profiles: what differs between the `scripts/kallsyms` of one kernel version
//! and another's, as data.

use kslink_schema::{ArrayKind, DataLayout, TableOptions};

/// How a version's generator reads its input map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSyntax {
    /// `getline` and `strtoull`: `ADDR TYPE NAME`, one space each, the name is the rest of
    /// the line (6.12).
    WholeLine,
    /// `fscanf("%llx %c %2048s\n")`: three whitespace-separated fields (6.1).
    Fields,
}

/// Names a version's generator drops before anything else (6.1 filters names itself; 6.12
/// leaves that to `scripts/mksysmap`).
#[derive(Clone, Copy, Debug)]
pub struct IgnoredNames {
    /// Exact names.
    pub exact: &'static [&'static str],
    /// Prefixes.
    pub prefixes: &'static [&'static str],
    /// Suffixes.
    pub suffixes: &'static [&'static str],
    /// Substrings.
    pub contains: &'static [&'static str],
}

impl IgnoredNames {
    /// Whether `name` is on one of the lists.
    pub fn matches(&self, name: &[u8]) -> bool {
        self.exact.iter().any(|n| name == n.as_bytes())
            || self.prefixes.iter().any(|p| name.starts_with(p.as_bytes()))
            || self.suffixes.iter().any(|s| name.ends_with(s.as_bytes()))
            || self
                .contains
                .iter()
                .any(|c| name.windows(c.len()).any(|w| w == c.as_bytes()))
    }
}

/// What every array's label is aligned to (the `.balign` before it in the `.S`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayAlignment {
    /// The pointer size, through the `.S` prologue's `ALGN` macro (6.x, which includes
    /// `<asm/bitsperlong.h>` for it).
    PointerSize,
    /// 4 bytes on every target, spelled `\t.balign 4` (7.x, whose `.S` has no prologue).
    FourBytes,
}

impl ArrayAlignment {
    /// The alignment in bytes for a target of `layout`.
    pub fn bytes(self, layout: DataLayout) -> u64 {
        match self {
            ArrayAlignment::PointerSize => u64::from(layout.pointer_bytes),
            ArrayAlignment::FourBytes => 4,
        }
    }
}

/// How `kallsyms_offsets` entries encode their symbols' addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetsEncoding {
    /// Offsets from `kallsyms_relative_base` (6.x), with `--absolute-percpu`'s per-cpu
    /// symbols stored as their absolute values.
    FromRelativeBase,
    /// With `--pc-relative`, each entry is `_text - . + (addr - _text)`: the symbol's
    /// distance from the entry itself, resolved by the linker; without it, the address
    /// truncated to 32 bits (7.x).
    PlaceRelativeOrAddress,
}

/// Everything about a kernel version that changes the table or how it is made.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// The name users select it by (`--profile`).
    pub name: &'static str,
    /// Input syntax.
    pub syntax: MapSyntax,
    /// Type letters that are always ignored.
    pub ignored_types: &'static [u8],
    /// Names that are ignored whatever their type.
    pub ignored_names: IgnoredNames,
    /// Absolute symbols (`A`/`a`) that are kept; other absolute symbols are ignored.
    pub kept_absolute: &'static [&'static str],
    /// Without `--all-symbols`, `__start_*`/`__stop_*` are kept wherever they are.
    pub keeps_section_bounds: bool,
    /// A table with no symbol is an error ("No valid symbol.").
    pub empty_is_error: bool,
    /// The relative base is computed only with `--base-relative`; otherwise always.
    pub base_relative_is_optional: bool,
    /// Names of the arrays in the order the generator emits them. `Offsets`/`Addresses` and
    /// `RelativeBase` appear where they go; which of them are present depends on the options.
    pub array_order: &'static [ArrayKind],
    /// The `.S` carries each symbol's name as a comment after its bytes.
    pub name_comments: bool,
    /// The options this version's generator accepts beyond `--all-symbols` and
    /// `--absolute-percpu`.
    pub accepts_base_relative_and_lto: bool,
    /// The generator takes `--absolute-percpu` (6.x; 6.15 removed it).
    pub accepts_absolute_percpu: bool,
    /// The generator takes `--pc-relative` (7.x).
    pub accepts_pc_relative: bool,
    /// What each array's label is aligned to.
    pub array_alignment: ArrayAlignment,
    /// The arrays whose label the `.S` gives a size (`.size L, . - L` after the content),
    /// which the assembler records as the label's `st_size`.
    pub sized_arrays: &'static [ArrayKind],
    /// How `kallsyms_offsets` is encoded.
    pub offsets_encoding: OffsetsEncoding,
}

/// The name of the profile used when none is given.
pub const DEFAULT_PROFILE: &str = "linux-6.12";

const KEPT_ABSOLUTE: &[&str] = &[
    "__kernel_syscall_via_break",
    "__kernel_syscall_via_epc",
    "__kernel_sigtramp",
    "__gp",
];

/// Linux 6.12: the relative base is always used, the names carry comments, and
/// `kallsyms_offsets` comes after the token index.
pub const LINUX_6_12: Profile = Profile {
    name: "linux-6.12",
    syntax: MapSyntax::WholeLine,
    ignored_types: b"un",
    ignored_names: IgnoredNames {
        exact: &[],
        prefixes: &[],
        suffixes: &[],
        contains: &[],
    },
    kept_absolute: KEPT_ABSOLUTE,
    keeps_section_bounds: true,
    empty_is_error: false,
    base_relative_is_optional: false,
    array_order: &[
        ArrayKind::NumSyms,
        ArrayKind::Names,
        ArrayKind::Markers,
        ArrayKind::TokenTable,
        ArrayKind::TokenIndex,
        ArrayKind::Offsets,
        ArrayKind::RelativeBase,
        ArrayKind::SeqsOfNames,
    ],
    name_comments: true,
    accepts_base_relative_and_lto: false,
    accepts_absolute_percpu: true,
    accepts_pc_relative: false,
    array_alignment: ArrayAlignment::PointerSize,
    sized_arrays: &[],
    offsets_encoding: OffsetsEncoding::FromRelativeBase,
};

/// Linux 6.1: addresses or base-relative offsets first, names filtered by the generator.
pub const LINUX_6_1: Profile = Profile {
    name: "linux-6.1",
    syntax: MapSyntax::Fields,
    ignored_types: b"UuNn",
    ignored_names: IgnoredNames {
        exact: &[
            "kallsyms_addresses",
            "kallsyms_offsets",
            "kallsyms_relative_base",
            "kallsyms_num_syms",
            "kallsyms_names",
            "kallsyms_markers",
            "kallsyms_token_table",
            "kallsyms_token_index",
            "kallsyms_seqs_of_names",
            "_SDA_BASE_",
            "_SDA2_BASE_",
        ],
        prefixes: &[
            "__efistub_",
            "__kvm_nvhe_$",
            "__kvm_nvhe_.L",
            "__AArch64ADRPThunk_",
            "__ARMV5PILongThunk_",
            "__ARMV7PILongThunk_",
            "__ThumbV7PILongThunk_",
            "__LA25Thunk_",
            "__microLA25Thunk_",
            "__kcfi_typeid_",
        ],
        suffixes: &["_from_arm", "_from_thumb", "_veneer"],
        contains: &[".long_branch.", ".plt_branch."],
    },
    kept_absolute: KEPT_ABSOLUTE,
    keeps_section_bounds: false,
    empty_is_error: true,
    base_relative_is_optional: true,
    array_order: &[
        ArrayKind::Addresses,
        ArrayKind::Offsets,
        ArrayKind::RelativeBase,
        ArrayKind::NumSyms,
        ArrayKind::Names,
        ArrayKind::Markers,
        ArrayKind::SeqsOfNames,
        ArrayKind::TokenTable,
        ArrayKind::TokenIndex,
    ],
    name_comments: false,
    accepts_base_relative_and_lto: true,
    accepts_absolute_percpu: true,
    accepts_pc_relative: false,
    array_alignment: ArrayAlignment::PointerSize,
    sized_arrays: &[],
    offsets_encoding: OffsetsEncoding::FromRelativeBase,
};

/// Linux 7.3: 6.12's symbol selection and order, no relative base (the offsets are
/// place-relative with `--pc-relative`, addresses without), no `--absolute-percpu`, every
/// array aligned to 4 bytes, and `.size` on four of the labels.
pub const LINUX_7_3: Profile = Profile {
    name: "linux-7.3",
    syntax: MapSyntax::WholeLine,
    ignored_types: b"un",
    ignored_names: IgnoredNames {
        exact: &[],
        prefixes: &[],
        suffixes: &[],
        contains: &[],
    },
    kept_absolute: KEPT_ABSOLUTE,
    keeps_section_bounds: true,
    empty_is_error: false,
    base_relative_is_optional: false,
    array_order: &[
        ArrayKind::NumSyms,
        ArrayKind::Names,
        ArrayKind::Markers,
        ArrayKind::TokenTable,
        ArrayKind::TokenIndex,
        ArrayKind::Offsets,
        ArrayKind::SeqsOfNames,
    ],
    name_comments: true,
    accepts_base_relative_and_lto: false,
    accepts_absolute_percpu: false,
    accepts_pc_relative: true,
    array_alignment: ArrayAlignment::FourBytes,
    sized_arrays: &[
        ArrayKind::Names,
        ArrayKind::Markers,
        ArrayKind::TokenTable,
        ArrayKind::Offsets,
    ],
    offsets_encoding: OffsetsEncoding::PlaceRelativeOrAddress,
};

/// Every profile this build knows.
pub const PROFILES: &[Profile] = &[LINUX_6_12, LINUX_6_1, LINUX_7_3];

impl Profile {
    /// The profile named `name`.
    pub fn by_name(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|profile| profile.name == name)
    }

    /// The names of all profiles, for messages.
    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|profile| profile.name).collect()
    }

    /// The alignment of every array's label, in bytes, for a target of `layout`.
    pub fn alignment(&self, layout: DataLayout) -> u64 {
        self.array_alignment.bytes(layout)
    }

    /// Whether `kallsyms_offsets` entries of a table built with `options` are place-relative
    /// (`_text - . + D`, one `_text` relocation each).
    pub fn place_relative(&self, options: TableOptions) -> bool {
        self.offsets_encoding == OffsetsEncoding::PlaceRelativeOrAddress && options.pc_relative
    }

    /// Checks that this version's generator takes `options`: the error names the options
    /// and the profiles that have them.
    pub fn check_options(&self, options: TableOptions) -> Result<(), String> {
        if !self.accepts_base_relative_and_lto && (options.base_relative || options.lto_clang) {
            return Err(format!(
                "--base-relative and --lto-clang are options of linux-6.1, not of {}",
                self.name
            ));
        }
        if !self.accepts_absolute_percpu && options.absolute_percpu {
            return Err(format!(
                "--absolute-percpu is an option of linux-6.12 and linux-6.1, not of {} \
                 (Linux 6.15 removed it)",
                self.name
            ));
        }
        if !self.accepts_pc_relative && options.pc_relative {
            return Err(format!(
                "--pc-relative is an option of linux-7.3, not of {}",
                self.name
            ));
        }
        Ok(())
    }

    /// Whether a table built with `options` stores offsets from a relative base (else
    /// absolute addresses).
    pub fn has_offsets(&self, options: TableOptions) -> bool {
        !self.base_relative_is_optional || options.base_relative
    }

    /// The arrays a table built with `options` has, in layout order: the labels the
    /// kernel and the linked file will have.
    pub fn array_kinds(&self, options: TableOptions) -> Vec<ArrayKind> {
        let relative = self.has_offsets(options);
        self.array_order
            .iter()
            .copied()
            .filter(|kind| match kind {
                ArrayKind::Addresses => !relative,
                ArrayKind::Offsets | ArrayKind::RelativeBase => relative,
                _ => true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kslink_schema::PadSpec;

    #[test]
    fn frames_align_arrays_as_each_profile_does() {
        for profile in PROFILES {
            for pointer_bytes in [4, 8] {
                let layout = DataLayout {
                    pointer_bytes,
                    big_endian: false,
                };
                assert_eq!(
                    PadSpec::array_alignment(profile.name, layout),
                    profile.alignment(layout),
                    "{} with {pointer_bytes}-byte pointers",
                    profile.name
                );
            }
        }
    }

    #[test]
    fn each_profile_takes_only_its_generators_options() {
        let pc_relative = TableOptions {
            pc_relative: true,
            ..TableOptions::default()
        };
        let absolute_percpu = TableOptions {
            absolute_percpu: true,
            ..TableOptions::default()
        };
        assert_eq!(LINUX_7_3.check_options(pc_relative), Ok(()));
        let refused = LINUX_7_3.check_options(absolute_percpu).unwrap_err();
        assert!(refused.contains("--absolute-percpu") && refused.contains("linux-7.3"));
        for profile in [&LINUX_6_12, &LINUX_6_1] {
            assert_eq!(profile.check_options(absolute_percpu), Ok(()));
            let refused = profile.check_options(pc_relative).unwrap_err();
            assert!(refused.contains("--pc-relative") && refused.contains(profile.name));
        }
        assert!(LINUX_7_3.place_relative(pc_relative));
        assert!(!LINUX_7_3.place_relative(TableOptions::default()));
        assert!(!LINUX_6_12.place_relative(pc_relative));
    }
}
