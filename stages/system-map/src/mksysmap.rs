//! The kernel's `scripts/mksysmap` of each supported version, as data: the filter that turns
//! `nm -n vmlinux` into System.map (and, since Linux 6.1, into the input of
//! `scripts/kallsyms`).
//!
//! Every version's script deletes the lines that match one of its patterns, and every
//! pattern is matched against the whole line `ADDR TYPE NAME`:
//!
//! - Linux 6.12 and 7.3: a `sed` script of `/REGEX/d` rules, run as
//!   `nm -n vmlinux | sed -f scripts/mksysmap` ([`RULES_6_12`], [`RULES_7_3`]);
//! - Linux 6.1: a shell script that runs `$NM -n vmlinux | grep -v -e PATTERN ...`
//!   ([`RULES_6_1`]).
//!
//! The address is hex digits (or spaces, for undefined symbols) and cannot take part in any
//! match, so each rule here is matched against the rest of the line, `" TYPE NAME"`
//! ([`MapLine`]): a rule that begins with a space can match at the space before the type
//! letter (a type rule), at the space before the name (a name-prefix rule), or at a space
//! inside the name (ELF names may hold spaces; kernel names do not).
//!
//! [`Mksysmap`] is one version's filter, selected by the name of its `kslink-table` profile
//! ([`Mksysmap::of_profile`]).
//!
//! Details that this does not reproduce, none relevant to real kernels: a name with a
//! newline byte is one line for `nm` but two for `sed` and `grep` (here it is matched as
//! one); `[[:alnum:]]` is ASCII, as in the C locale (in a UTF-8 locale `sed` also counts
//! non-ASCII letters); and 6.1's `grep` stops printing at a line that is not text in the
//! locale's encoding (it then reports a "binary file"), where this goes on.

use std::sync::OnceLock;

/// One pattern of a rule, as the kind of regular expression it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// The literal bytes occur anywhere in the line (`/ \$/`, `/\.long_branch\./`).
    Contains(&'static [u8]),
    /// The line ends with the literal bytes (`/_veneer$/`, `/ L0$/`).
    EndsWith(&'static [u8]),
    /// A space, one of the bytes, a space: `/ [aNUw] /`, the type-letter rule.
    SpaceOneOfSpace(&'static [u8]),
    /// `prefix`, any run of ASCII letters and digits, then `suffix`:
    /// `/ __[[:alnum:]]*Thunk_/`.
    AlnumRun {
        /// The literal before the run.
        prefix: &'static [u8],
        /// The literal after the run.
        suffix: &'static [u8],
    },
    /// The literal bytes, then any run of ASCII digits up to the end of the line:
    /// `/ __UNIQUE_ID_modinfo_[0-9]*$/`.
    DigitsToEnd(&'static [u8]),
}

/// One rule of a version's `scripts/mksysmap`: a line that deletes what it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The rule as the script spells it: `/REGEX/d` for `sed`, the `-e` pattern for `grep`.
    pub source: &'static str,
    /// What it matches.
    pub pattern: Pattern,
}

const fn rule(source: &'static str, pattern: Pattern) -> Rule {
    Rule { source, pattern }
}

// The rules of the `sed` scripts (6.12 and 7.3), each defined once; the lists below name them
// in each script's order.

// Ignored symbol types: a local absolute, N debugging, U undefined, w local weak.
const TYPES: Rule = rule(r"/ [aNUw] /d", Pattern::SpaceOneOfSpace(b"aNUw"));
// Ignored prefixes: local symbols for ARM, MIPS, etc.
const DOLLAR: Rule = rule(r"/ \$/d", Pattern::Contains(b" $"));
// Local labels, .LBB, .Ltmpxxx, .L__unnamed_xx, .LASANPC, etc.
const LOCAL_LABEL: Rule = rule(r"/ \.L/d", Pattern::Contains(b" .L"));
// arm64 EFI stub namespace.
const EFISTUB: Rule = rule(r"/ __efistub_/d", Pattern::Contains(b" __efistub_"));
// arm64 local symbols in PIE namespace.
const PI_DOLLAR: Rule = rule(r"/ __pi_\$/d", Pattern::Contains(b" __pi_$"));
const PI_LOCAL_LABEL: Rule = rule(r"/ __pi_\.L/d", Pattern::Contains(b" __pi_.L"));
// arm64 local symbols in non-VHE KVM namespace.
const NVHE_DOLLAR: Rule = rule(r"/ __kvm_nvhe_\$/d", Pattern::Contains(b" __kvm_nvhe_$"));
const NVHE_LOCAL_LABEL: Rule = rule(r"/ __kvm_nvhe_\.L/d", Pattern::Contains(b" __kvm_nvhe_.L"));
// lld arm/aarch64/mips thunks.
const LLD_THUNK: Rule = rule(
    r"/ __[[:alnum:]]*Thunk_/d",
    Pattern::AlnumRun {
        prefix: b" __",
        suffix: b"Thunk_",
    },
);
// CFI type identifiers.
const KCFI_TYPEID: Rule = rule(r"/ __kcfi_typeid_/d", Pattern::Contains(b" __kcfi_typeid_"));
const NVHE_KCFI_TYPEID: Rule = rule(
    r"/ __kvm_nvhe___kcfi_typeid_/d",
    Pattern::Contains(b" __kvm_nvhe___kcfi_typeid_"),
);
const PI_KCFI_TYPEID: Rule = rule(
    r"/ __pi___kcfi_typeid_/d",
    Pattern::Contains(b" __pi___kcfi_typeid_"),
);
// CRC from modversions.
const CRC: Rule = rule(r"/ __crc_/d", Pattern::Contains(b" __crc_"));
// EXPORT_SYMBOL (symbol name).
const KSTRTAB: Rule = rule(r"/ __kstrtab_/d", Pattern::Contains(b" __kstrtab_"));
// EXPORT_SYMBOL (namespace).
const KSTRTABNS: Rule = rule(r"/ __kstrtabns_/d", Pattern::Contains(b" __kstrtabns_"));
// MODULE_DEVICE_TABLE (symbol name), since 7.x.
const MOD_DEVICE_TABLE: Rule = rule(
    r"/ __mod_device_table__/d",
    Pattern::Contains(b" __mod_device_table__"),
);
// Ignored suffixes (arm).
const FROM_ARM: Rule = rule(r"/_from_arm$/d", Pattern::EndsWith(b"_from_arm"));
const FROM_THUMB: Rule = rule(r"/_from_thumb$/d", Pattern::EndsWith(b"_from_thumb"));
const VENEER: Rule = rule(r"/_veneer$/d", Pattern::EndsWith(b"_veneer"));
// Ignored symbols, exact match: LoongArch.
const LOONGARCH_L0: Rule = rule(r"/ L0$/d", Pattern::EndsWith(b" L0"));
// ppc.
const SDA_BASE: Rule = rule(r"/ _SDA_BASE_$/d", Pattern::EndsWith(b" _SDA_BASE_"));
const SDA2_BASE: Rule = rule(r"/ _SDA2_BASE_$/d", Pattern::EndsWith(b" _SDA2_BASE_"));
// MODULE_INFO(), since 7.x.
const MODINFO: Rule = rule(
    r"/ __UNIQUE_ID_modinfo_[0-9]*$/d",
    Pattern::DigitsToEnd(b" __UNIQUE_ID_modinfo_"),
);
// Ignored patterns: ppc stubs.
const LONG_BRANCH: Rule = rule(r"/\.long_branch\./d", Pattern::Contains(b".long_branch."));
const PLT_BRANCH: Rule = rule(r"/\.plt_branch\./d", Pattern::Contains(b".plt_branch."));

/// The rules of Linux 6.12's `scripts/mksysmap` (a `sed` script), in the script's order.
pub const RULES_6_12: &[Rule] = &[
    TYPES,
    DOLLAR,
    LOCAL_LABEL,
    EFISTUB,
    PI_DOLLAR,
    PI_LOCAL_LABEL,
    NVHE_DOLLAR,
    NVHE_LOCAL_LABEL,
    LLD_THUNK,
    KCFI_TYPEID,
    NVHE_KCFI_TYPEID,
    PI_KCFI_TYPEID,
    CRC,
    KSTRTAB,
    KSTRTABNS,
    FROM_ARM,
    FROM_THUMB,
    VENEER,
    LOONGARCH_L0,
    SDA_BASE,
    SDA2_BASE,
    LONG_BRANCH,
    PLT_BRANCH,
];

/// The rules of Linux 7.3's `scripts/mksysmap` (a `sed` script), in the script's order:
/// 6.12's, and two more for what `MODULE_DEVICE_TABLE()` and `MODULE_INFO()` define in
/// built-in code (the unstripped vmlinux keeps them).
pub const RULES_7_3: &[Rule] = &[
    TYPES,
    DOLLAR,
    LOCAL_LABEL,
    EFISTUB,
    PI_DOLLAR,
    PI_LOCAL_LABEL,
    NVHE_DOLLAR,
    NVHE_LOCAL_LABEL,
    LLD_THUNK,
    KCFI_TYPEID,
    NVHE_KCFI_TYPEID,
    PI_KCFI_TYPEID,
    CRC,
    KSTRTAB,
    KSTRTABNS,
    MOD_DEVICE_TABLE,
    FROM_ARM,
    FROM_THUMB,
    VENEER,
    LOONGARCH_L0,
    SDA_BASE,
    SDA2_BASE,
    MODINFO,
    LONG_BRANCH,
    PLT_BRANCH,
];

/// The patterns of Linux 6.1's `scripts/mksysmap` (a shell script:
/// `$NM -n $1 | grep -v -e PATTERN ... > $2`), in the script's order.
pub const RULES_6_1: &[Rule] = &[
    // a local absolute, N debugging, U undefined, w local weak.
    rule(" [aNUw] ", Pattern::SpaceOneOfSpace(b"aNUw")),
    // Local symbols for ARM, MIPS, etc.
    rule(r" \$", Pattern::Contains(b" $")),
    // Local labels, .LBB, .Ltmpxxx, .L__unnamed_xx, .LASANPC, etc.
    rule(r" \.L", Pattern::Contains(b" .L")),
    // modversions.
    rule(" __crc_", Pattern::Contains(b" __crc_")),
    // EXPORT_SYMBOL (symbol name).
    rule(" __kstrtab_", Pattern::Contains(b" __kstrtab_")),
    // EXPORT_SYMBOL (namespace).
    rule(" __kstrtabns_", Pattern::Contains(b" __kstrtabns_")),
    // LoongArch?
    rule(" L0$", Pattern::EndsWith(b" L0")),
];

/// One kernel version's `scripts/mksysmap`: its rules, prepared for matching on first use.
pub struct Mksysmap {
    /// The `kslink-table` profile of the version (`linux-6.12`).
    pub profile: &'static str,
    /// The rules, in the script's order.
    pub rules: &'static [Rule],
    prepared: OnceLock<RuleSet>,
}

/// Linux 6.12's System.map filter.
pub static MKSYSMAP_6_12: Mksysmap = Mksysmap::new("linux-6.12", RULES_6_12);

/// Linux 6.1's System.map filter.
pub static MKSYSMAP_6_1: Mksysmap = Mksysmap::new("linux-6.1", RULES_6_1);

/// Linux 7.3's System.map filter.
pub static MKSYSMAP_7_3: Mksysmap = Mksysmap::new("linux-7.3", RULES_7_3);

/// Every version's filter.
pub static MKSYSMAPS: [&Mksysmap; 3] = [&MKSYSMAP_6_12, &MKSYSMAP_6_1, &MKSYSMAP_7_3];

impl Mksysmap {
    const fn new(profile: &'static str, rules: &'static [Rule]) -> Self {
        Mksysmap {
            profile,
            rules,
            prepared: OnceLock::new(),
        }
    }

    /// The filter of the version that the `kslink-table` profile `name` stands for.
    pub fn of_profile(name: &str) -> Option<&'static Mksysmap> {
        MKSYSMAPS.iter().copied().find(|m| m.profile == name)
    }

    /// The filter of the default profile ([`kslink_table::DEFAULT_PROFILE`], Linux 6.12).
    pub fn default_profile() -> &'static Mksysmap {
        &MKSYSMAP_6_12
    }

    /// The rules, prepared for speed ([`RuleSet`]) on first use.
    pub fn rule_set(&self) -> &RuleSet {
        self.prepared.get_or_init(|| RuleSet::new(self.rules))
    }

    /// True if the script keeps the `nm` line of this symbol.
    pub fn keeps(&self, type_letter: u8, name: &[u8]) -> bool {
        self.rule_set().keeps(type_letter, name)
    }
}

impl std::fmt::Debug for Mksysmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mksysmap")
            .field("profile", &self.profile)
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// The part of an `nm` line that `mksysmap`'s rules can match: `" TYPE NAME"`, without
/// building it.
#[derive(Clone, Copy, Debug)]
pub struct MapLine<'a> {
    type_letter: u8,
    name: &'a [u8],
    /// Whether the name holds a space (it never does in a kernel): if not, a literal that
    /// begins with a space can only match at the two separators.
    name_has_space: bool,
}

impl<'a> MapLine<'a> {
    /// The line of a symbol with this type letter and name.
    pub fn new(type_letter: u8, name: &'a [u8]) -> MapLine<'a> {
        MapLine {
            type_letter,
            name,
            name_has_space: name.contains(&b' '),
        }
    }

    /// True if `rule` deletes the line.
    pub fn deleted_by(&self, rule: &Rule) -> bool {
        self.matches(rule.pattern)
    }

    fn len(&self) -> usize {
        3 + self.name.len()
    }

    fn byte(&self, at: usize) -> u8 {
        match at {
            0 | 2 => b' ',
            1 => self.type_letter,
            _ => self.name[at - 3],
        }
    }

    /// True if `literal` occurs at `at`.
    fn has_at(&self, at: usize, literal: &[u8]) -> bool {
        if at >= 3 {
            return starts_with(&self.name[at - 3..], literal);
        }
        // Byte by byte: these are one to three bytes, too few for a call to memcmp.
        let head = [b' ', self.type_letter, b' '];
        let mut i = 0;
        while at + i < 3 && i < literal.len() {
            if head[at + i] != literal[i] {
                return false;
            }
            i += 1;
        }
        starts_with(self.name, &literal[i..])
    }

    /// True if `found` holds for some position where the byte `first` is: for a space only
    /// the two separators, unless the name holds spaces too.
    fn any_at(&self, first: u8, mut found: impl FnMut(usize) -> bool) -> bool {
        if first == b' ' {
            if found(0) || found(2) {
                return true;
            }
            if !self.name_has_space {
                return false;
            }
        } else if self.type_letter == first && found(1) {
            return true;
        }
        self.name
            .iter()
            .enumerate()
            .any(|(i, &b)| b == first && found(i + 3))
    }

    /// True if every byte from `at` to the end of the line is an ASCII digit.
    fn digits_from(&self, at: usize) -> bool {
        (at..self.len()).all(|i| self.byte(i).is_ascii_digit())
    }

    fn matches(&self, pattern: Pattern) -> bool {
        match pattern {
            Pattern::Contains(literal) => match literal.first() {
                None => true,
                Some(&first) => self.any_at(first, |at| self.has_at(at, literal)),
            },
            Pattern::EndsWith(literal) => {
                self.len() >= literal.len() && self.has_at(self.len() - literal.len(), literal)
            }
            Pattern::DigitsToEnd(literal) => match literal.first() {
                None => (0..self.len()).any(|at| self.digits_from(at)),
                Some(&first) => self.any_at(first, |at| {
                    self.has_at(at, literal) && self.digits_from(at + literal.len())
                }),
            },
            Pattern::SpaceOneOfSpace(set) => self.any_at(b' ', |at| {
                at + 2 < self.len() && set.contains(&self.byte(at + 1)) && self.byte(at + 2) == b' '
            }),
            Pattern::AlnumRun { prefix, suffix } => self.any_at(prefix[0], |at| {
                if !self.has_at(at, prefix) {
                    return false;
                }
                // The run is greedy, but the suffix may start inside it: try every end.
                let mut end = at + prefix.len();
                loop {
                    if self.has_at(end, suffix) {
                        return true;
                    }
                    if end < self.len() && self.byte(end).is_ascii_alphanumeric() {
                        end += 1;
                    } else {
                        return false;
                    }
                }
            }),
        }
    }
}

/// `haystack.starts_with(needle)`, rejecting on the first byte before comparing the rest.
fn starts_with(haystack: &[u8], needle: &[u8]) -> bool {
    match (haystack.first(), needle.first()) {
        (_, None) => true,
        (Some(h), Some(n)) => h == n && haystack.starts_with(needle),
        (None, Some(_)) => false,
    }
}

/// The first rule of `rules` that deletes the line, if any.
pub fn deleting_rule<'r>(rules: &'r [Rule], type_letter: u8, name: &[u8]) -> Option<&'r Rule> {
    let line = MapLine::new(type_letter, name);
    rules.iter().find(|rule| line.deleted_by(rule))
}

/// A list of rules prepared for speed: for each line, only the rules that can match it are
/// tried.
///
/// In a name without spaces (every kernel name), a literal that begins with a space can
/// match only at the space before the type letter or the one before the name. So a rule can
/// match only if the type letter is one it names ([`RuleSet`] keeps a table per letter), the
/// name begins with its literal (a trie of those literals, walked along the name), the name
/// ends with its last byte (a table), or, for the few literals not anchored at a space, the
/// name holds their first byte. A line whose name holds a space tries every rule.
pub struct RuleSet {
    rules: &'static [Rule],
    /// Per type letter: the rules that can match at the type letter.
    by_type: [u64; 256],
    /// Per last byte of the line: the end-anchored rules that can match.
    by_last: [u64; 256],
    /// First bytes of unanchored literals, and the rules each can start.
    anywhere: Vec<(u8, u64)>,
    /// The literals that rules match at the start of the name.
    prefixes: PrefixTrie,
    /// Rules to try on every line.
    always: u64,
}

/// A trie of literals; each node holds the rules whose literal ends there.
#[derive(Default)]
struct PrefixTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Default)]
struct TrieNode {
    next: Vec<(u8, usize)>,
    rules: u64,
}

impl PrefixTrie {
    fn insert(&mut self, literal: &[u8], rule: u64) {
        if self.nodes.is_empty() {
            self.nodes.push(TrieNode::default());
        }
        let mut node = 0;
        for &b in literal {
            node = match self.nodes[node].next.iter().find(|(c, _)| *c == b) {
                Some(&(_, next)) => next,
                None => {
                    self.nodes.push(TrieNode::default());
                    let next = self.nodes.len() - 1;
                    self.nodes[node].next.push((b, next));
                    next
                }
            };
        }
        self.nodes[node].rules |= rule;
    }

    /// The rules of every literal that `name` begins with.
    fn matching(&self, name: &[u8]) -> u64 {
        let Some(root) = self.nodes.first() else {
            return 0;
        };
        let mut rules = root.rules;
        let mut node = root;
        for &b in name {
            match node.next.iter().find(|(c, _)| *c == b) {
                Some(&(_, next)) => {
                    node = &self.nodes[next];
                    rules |= node.rules;
                }
                None => break,
            }
        }
        rules
    }
}

impl RuleSet {
    /// Prepares `rules` (at most 64).
    pub fn new(rules: &'static [Rule]) -> RuleSet {
        assert!(rules.len() <= 64, "a RuleSet holds at most 64 rules");
        let mut set = RuleSet {
            rules,
            by_type: [0; 256],
            by_last: [0; 256],
            anywhere: Vec::new(),
            prefixes: PrefixTrie::default(),
            always: 0,
        };
        for (i, rule) in rules.iter().enumerate() {
            let bit = 1u64 << i;
            let literal = match rule.pattern {
                // A match of the others begins with their literal.
                Pattern::Contains(literal) | Pattern::DigitsToEnd(literal) => literal,
                Pattern::AlnumRun { prefix, .. } => prefix,
                Pattern::EndsWith(literal) => {
                    match literal.last() {
                        None => set.always |= bit,
                        Some(&last) => set.by_last[usize::from(last)] |= bit,
                    }
                    continue;
                }
                Pattern::SpaceOneOfSpace(bytes) => {
                    for &b in bytes {
                        set.by_type[usize::from(b)] |= bit;
                    }
                    continue;
                }
            };
            match literal {
                [] | [b' '] => set.always |= bit,
                [b' ', rest @ ..] => {
                    set.by_type[usize::from(rest[0])] |= bit;
                    set.prefixes.insert(rest, bit);
                }
                [first, ..] => {
                    set.by_type[usize::from(*first)] |= bit;
                    match set.anywhere.iter_mut().find(|(b, _)| b == first) {
                        Some((_, rules)) => *rules |= bit,
                        None => set.anywhere.push((*first, bit)),
                    }
                }
            }
        }
        set
    }

    /// The rules.
    pub fn rules(&self) -> &'static [Rule] {
        self.rules
    }

    /// The first rule that deletes the line of this symbol, if any.
    pub fn deleting_rule(&self, type_letter: u8, name: &[u8]) -> Option<&'static Rule> {
        let mut candidates = if name.contains(&b' ') {
            u64::MAX
        } else {
            let last = name.last().copied().unwrap_or(b' ');
            let mut candidates = self.always
                | self.by_type[usize::from(type_letter)]
                | self.by_last[usize::from(last)]
                | self.prefixes.matching(name);
            for &(first, rules) in &self.anywhere {
                if name.contains(&first) {
                    candidates |= rules;
                }
            }
            candidates
        };
        if candidates == 0 {
            return None;
        }
        let line = MapLine::new(type_letter, name);
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            let rule = self.rules.get(i)?;
            if line.deleted_by(rule) {
                return Some(rule);
            }
            candidates &= candidates - 1;
        }
        None
    }

    /// True if no rule deletes the line of this symbol.
    pub fn keeps(&self, type_letter: u8, name: &[u8]) -> bool {
        self.deleting_rule(type_letter, name).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `mksysmap` keeps the line, by the prepared rules; checked against the rules
    /// tried one by one.
    fn keeps(mksysmap: &Mksysmap, t: char, name: &str) -> bool {
        let slow = deleting_rule(mksysmap.rules, t as u8, name.as_bytes());
        let prepared = mksysmap.rule_set().deleting_rule(t as u8, name.as_bytes());
        assert_eq!(prepared, slow, "{} {t} {name}", mksysmap.profile);
        let kept = mksysmap.keeps(t as u8, name.as_bytes());
        assert_eq!(kept, slow.is_none(), "{} {t} {name}", mksysmap.profile);
        kept
    }

    /// The rule of `mksysmap` that deletes a `T` line of `name`, as the script spells it.
    fn deleted_by(mksysmap: &Mksysmap, name: &str) -> Option<&'static str> {
        keeps(mksysmap, 'T', name);
        deleting_rule(mksysmap.rules, b'T', name.as_bytes()).map(|rule| rule.source)
    }

    const ALL: [&Mksysmap; 3] = [&MKSYSMAP_6_12, &MKSYSMAP_6_1, &MKSYSMAP_7_3];

    #[test]
    fn types_in_every_version() {
        for mksysmap in ALL {
            for t in ['a', 'N', 'U', 'w'] {
                assert!(!keeps(mksysmap, t, "foo"), "{t}");
            }
            for t in [
                'A', 'T', 't', 'D', 'd', 'b', 'B', 'r', 'R', 'W', 'V', 'v', 'u', 'i', 'n',
            ] {
                assert!(keeps(mksysmap, t, "foo"), "{t}");
            }
            // The type rule also matches a name that begins "x " for x in aNUw, as sed and
            // grep would.
            assert!(!keeps(mksysmap, 'T', "a b"));
            assert!(!keeps(mksysmap, 'T', "foo U bar"));
            assert!(keeps(mksysmap, 'T', "foo Ux bar"));
            // An empty name: the line is "ADDR a " and the type rule still sees " a ".
            assert!(!keeps(mksysmap, 'a', ""));
            assert!(keeps(mksysmap, 'T', ""));
        }
    }

    /// Names each rule of 6.12 deletes, with the rule; 7.3 deletes them by the same rule.
    const DELETED_6_12: &[(&str, &str)] = &[
        ("$x", r"/ \$/d"),
        ("$d.foo", r"/ \$/d"),
        ("has space $in", r"/ \$/d"),
        (".LBB0_1", r"/ \.L/d"),
        ("__efistub_foo", r"/ __efistub_/d"),
        ("__pi_$x", r"/ __pi_\$/d"),
        ("__pi_.Lfoo", r"/ __pi_\.L/d"),
        ("__kvm_nvhe_$d", r"/ __kvm_nvhe_\$/d"),
        ("__kvm_nvhe_.L1", r"/ __kvm_nvhe_\.L/d"),
        ("__AArch64ADRPThunk_foo", r"/ __[[:alnum:]]*Thunk_/d"),
        ("__Thunk_", r"/ __[[:alnum:]]*Thunk_/d"),
        ("__ARMV7PILongThunk_x", r"/ __[[:alnum:]]*Thunk_/d"),
        ("__kcfi_typeid_foo", r"/ __kcfi_typeid_/d"),
        (
            "__kvm_nvhe___kcfi_typeid_x",
            r"/ __kvm_nvhe___kcfi_typeid_/d",
        ),
        ("__pi___kcfi_typeid_x", r"/ __pi___kcfi_typeid_/d"),
        ("__crc_foo", r"/ __crc_/d"),
        ("__kstrtab_foo", r"/ __kstrtab_/d"),
        ("__kstrtabns_foo", r"/ __kstrtabns_/d"),
        ("foo_from_arm", r"/_from_arm$/d"),
        ("foo_from_thumb", r"/_from_thumb$/d"),
        ("foo_veneer", r"/_veneer$/d"),
        ("_veneer", r"/_veneer$/d"),
        ("L0", r"/ L0$/d"),
        ("_SDA_BASE_", r"/ _SDA_BASE_$/d"),
        ("_SDA2_BASE_", r"/ _SDA2_BASE_$/d"),
        ("foo.long_branch.bar", r"/\.long_branch\./d"),
        ("x.plt_branch.", r"/\.plt_branch\./d"),
    ];

    /// Near misses of 6.12's rules: kept by 6.12 and 7.3.
    const KEPT_6_12: &[&str] = &[
        "foo$x",
        "x.L",
        "_efistub_x",
        "__pi_x",
        "__Thunk",
        "__a_Thunk_x",
        "__a.Thunk_",
        "_kcfi_typeid_",
        "__crc",
        "x__crc_",
        "foo_veneer2",
        "L01",
        "xL0",
        "_SDA_BASE_x",
        ".long_branch",
        "long_branch.",
    ];

    /// Names only 7.3's two new rules delete, with the rule.
    const DELETED_ONLY_7_3: &[(&str, &str)] = &[
        (
            "__mod_device_table__pci__e1000_pci_tbl",
            r"/ __mod_device_table__/d",
        ),
        ("__mod_device_table__", r"/ __mod_device_table__/d"),
        ("__UNIQUE_ID_modinfo_12", r"/ __UNIQUE_ID_modinfo_[0-9]*$/d"),
        ("__UNIQUE_ID_modinfo_", r"/ __UNIQUE_ID_modinfo_[0-9]*$/d"),
        (
            "__UNIQUE_ID_modinfo_0123456789",
            r"/ __UNIQUE_ID_modinfo_[0-9]*$/d",
        ),
        // The second occurrence ends the line.
        (
            "x __UNIQUE_ID_modinfo_y __UNIQUE_ID_modinfo_3",
            r"/ __UNIQUE_ID_modinfo_[0-9]*$/d",
        ),
    ];

    /// Near misses of 7.3's new rules: kept by 6.12 and 7.3.
    const KEPT_7_3: &[&str] = &[
        "__mod_device_table_",
        "x__mod_device_table__y",
        "__UNIQUE_ID_modinfo_x",
        "__UNIQUE_ID_modinfo_12x",
        "__UNIQUE_ID_modinfo_1 2",
        "__UNIQUE_ID_modinfo",
        "x__UNIQUE_ID_modinfo_12",
        "__UNIQUE_ID_other_12",
    ];

    #[test]
    fn rules_of_6_12() {
        for &(name, rule) in DELETED_6_12 {
            assert_eq!(deleted_by(&MKSYSMAP_6_12, name), Some(rule), "{name}");
        }
        for &name in KEPT_6_12
            .iter()
            .chain(KEPT_7_3)
            .chain(DELETED_ONLY_7_3.iter().map(|(name, _)| name))
        {
            assert_eq!(deleted_by(&MKSYSMAP_6_12, name), None, "{name}");
        }
    }

    #[test]
    fn rules_of_7_3() {
        for &(name, rule) in DELETED_6_12.iter().chain(DELETED_ONLY_7_3) {
            assert_eq!(deleted_by(&MKSYSMAP_7_3, name), Some(rule), "{name}");
        }
        for &name in KEPT_6_12.iter().chain(KEPT_7_3) {
            assert_eq!(deleted_by(&MKSYSMAP_7_3, name), None, "{name}");
        }
    }

    #[test]
    fn rules_of_7_3_are_those_of_6_12_and_two_more() {
        let added: Vec<&str> = RULES_7_3
            .iter()
            .filter(|rule| !RULES_6_12.contains(rule))
            .map(|rule| rule.source)
            .collect();
        assert_eq!(
            added,
            [
                r"/ __mod_device_table__/d",
                r"/ __UNIQUE_ID_modinfo_[0-9]*$/d"
            ]
        );
        let kept: Vec<&Rule> = RULES_7_3
            .iter()
            .filter(|rule| RULES_6_12.contains(rule))
            .collect();
        let all_6_12: Vec<&Rule> = RULES_6_12.iter().collect();
        assert_eq!(kept, all_6_12, "6.12's rules, in 6.12's order");
    }

    #[test]
    fn rules_of_6_1() {
        let deleted = [
            ("$x", r" \$"),
            ("$d.foo", r" \$"),
            ("has space $in", r" \$"),
            (".LBB0_1", r" \.L"),
            ("__crc_foo", " __crc_"),
            ("__kstrtab_foo", " __kstrtab_"),
            ("__kstrtabns_foo", " __kstrtabns_"),
            ("L0", " L0$"),
            ("x L0", " L0$"),
        ];
        for (name, rule) in deleted {
            assert_eq!(deleted_by(&MKSYSMAP_6_1, name), Some(rule), "{name}");
        }
        // 6.1's script has none of 6.12's rules for arm64, lld, CFI, arm and ppc, nor 7.3's.
        let kept = [
            "foo$x",
            "x.L",
            "x__crc_",
            "__crc",
            "L01",
            "xL0",
            "__efistub_foo",
            "__pi_$x",
            "__pi_.Lfoo",
            "__kvm_nvhe_$d",
            "__kvm_nvhe_.L1",
            "__AArch64ADRPThunk_foo",
            "__kcfi_typeid_foo",
            "__kvm_nvhe___kcfi_typeid_x",
            "foo_from_arm",
            "foo_from_thumb",
            "foo_veneer",
            "_SDA_BASE_",
            "_SDA2_BASE_",
            "foo.long_branch.bar",
            "x.plt_branch.",
            "__mod_device_table__x",
            "__UNIQUE_ID_modinfo_12",
        ];
        for name in kept {
            assert_eq!(deleted_by(&MKSYSMAP_6_1, name), None, "{name}");
        }
    }
}
