//! Kernel-version profiles: what differs between the `scripts/kallsyms` of one kernel version
//! and another's, as data.

use kslink_schema::{ArrayKind, TableOptions};

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
};

/// Every profile this build knows.
pub const PROFILES: &[Profile] = &[LINUX_6_12, LINUX_6_1];

impl Profile {
    /// The profile named `name`.
    pub fn by_name(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|profile| profile.name == name)
    }

    /// The names of all profiles, for messages.
    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|profile| profile.name).collect()
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
