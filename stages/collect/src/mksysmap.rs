//! The kernel's `scripts/mksysmap` of Linux 6.12: the `sed` script that turns `nm -n vmlinux`
//! into System.map (and into the input of `scripts/kallsyms`).
//!
//! Every rule of the script is `/REGEX/d`, and `sed` matches it against the whole line
//! `ADDR TYPE NAME`. The address is hex digits (or spaces, for undefined symbols) and cannot
//! take part in any match, so each rule here is matched against the rest of the line,
//! `" TYPE NAME"` ([`MapLine`]): a rule that begins with a space can match at the space before
//! the type letter (a type rule), at the space before the name (a name-prefix rule), or at a
//! space inside the name (ELF names may hold spaces; kernel names do not).
//!
//! Two `sed` details that this does not reproduce, both irrelevant to real kernels: a name
//! with a newline byte is one line for `nm` but two for `sed` (here it is matched as one), and
//! `[[:alnum:]]` is ASCII, as in the C locale (in a UTF-8 locale `sed` also counts non-ASCII
//! letters).

/// One pattern of a `sed` rule, as the kind of regular expression it is.
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
}

/// One `/REGEX/d` line of `scripts/mksysmap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The rule as the script spells it.
    pub sed: &'static str,
    /// What it matches.
    pub pattern: Pattern,
}

const fn rule(sed: &'static str, pattern: Pattern) -> Rule {
    Rule { sed, pattern }
}

/// The rules of Linux 6.12's `scripts/mksysmap`, in the script's order.
pub const MKSYSMAP_6_12: &[Rule] = &[
    // Ignored symbol types: a local absolute, N debugging, U undefined, w local weak.
    rule(r"/ [aNUw] /d", Pattern::SpaceOneOfSpace(b"aNUw")),
    // Ignored prefixes: local symbols for ARM, MIPS, etc.
    rule(r"/ \$/d", Pattern::Contains(b" $")),
    // Local labels, .LBB, .Ltmpxxx, .L__unnamed_xx, .LASANPC, etc.
    rule(r"/ \.L/d", Pattern::Contains(b" .L")),
    // arm64 EFI stub namespace.
    rule(r"/ __efistub_/d", Pattern::Contains(b" __efistub_")),
    // arm64 local symbols in PIE namespace.
    rule(r"/ __pi_\$/d", Pattern::Contains(b" __pi_$")),
    rule(r"/ __pi_\.L/d", Pattern::Contains(b" __pi_.L")),
    // arm64 local symbols in non-VHE KVM namespace.
    rule(r"/ __kvm_nvhe_\$/d", Pattern::Contains(b" __kvm_nvhe_$")),
    rule(r"/ __kvm_nvhe_\.L/d", Pattern::Contains(b" __kvm_nvhe_.L")),
    // lld arm/aarch64/mips thunks.
    rule(
        r"/ __[[:alnum:]]*Thunk_/d",
        Pattern::AlnumRun {
            prefix: b" __",
            suffix: b"Thunk_",
        },
    ),
    // CFI type identifiers.
    rule(r"/ __kcfi_typeid_/d", Pattern::Contains(b" __kcfi_typeid_")),
    rule(
        r"/ __kvm_nvhe___kcfi_typeid_/d",
        Pattern::Contains(b" __kvm_nvhe___kcfi_typeid_"),
    ),
    rule(
        r"/ __pi___kcfi_typeid_/d",
        Pattern::Contains(b" __pi___kcfi_typeid_"),
    ),
    // CRC from modversions.
    rule(r"/ __crc_/d", Pattern::Contains(b" __crc_")),
    // EXPORT_SYMBOL (symbol name).
    rule(r"/ __kstrtab_/d", Pattern::Contains(b" __kstrtab_")),
    // EXPORT_SYMBOL (namespace).
    rule(r"/ __kstrtabns_/d", Pattern::Contains(b" __kstrtabns_")),
    // Ignored suffixes (arm).
    rule(r"/_from_arm$/d", Pattern::EndsWith(b"_from_arm")),
    rule(r"/_from_thumb$/d", Pattern::EndsWith(b"_from_thumb")),
    rule(r"/_veneer$/d", Pattern::EndsWith(b"_veneer")),
    // Ignored symbols, exact match: LoongArch.
    rule(r"/ L0$/d", Pattern::EndsWith(b" L0")),
    // ppc.
    rule(r"/ _SDA_BASE_$/d", Pattern::EndsWith(b" _SDA_BASE_")),
    rule(r"/ _SDA2_BASE_$/d", Pattern::EndsWith(b" _SDA2_BASE_")),
    // Ignored patterns: ppc stubs.
    rule(r"/\.long_branch\./d", Pattern::Contains(b".long_branch.")),
    rule(r"/\.plt_branch\./d", Pattern::Contains(b".plt_branch.")),
];

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

    fn matches(&self, pattern: Pattern) -> bool {
        match pattern {
            Pattern::Contains(literal) => match literal.first() {
                None => true,
                Some(&first) => self.any_at(first, |at| self.has_at(at, literal)),
            },
            Pattern::EndsWith(literal) => {
                self.len() >= literal.len() && self.has_at(self.len() - literal.len(), literal)
            }
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
                Pattern::Contains(literal) => literal,
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

    /// The rules of Linux 6.12's `scripts/mksysmap`, prepared once.
    pub fn mksysmap_6_12() -> &'static RuleSet {
        static SET: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
        SET.get_or_init(|| RuleSet::new(MKSYSMAP_6_12))
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

/// True if Linux 6.12's `scripts/mksysmap` keeps the `nm` line of this symbol.
pub fn mksysmap_keeps(type_letter: u8, name: &[u8]) -> bool {
    RuleSet::mksysmap_6_12().keeps(type_letter, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeps(t: char, name: &str) -> bool {
        let quick = mksysmap_keeps(t as u8, name.as_bytes());
        let slow = deleting_rule(MKSYSMAP_6_12, t as u8, name.as_bytes());
        let prepared = RuleSet::mksysmap_6_12().deleting_rule(t as u8, name.as_bytes());
        assert_eq!(prepared, slow, "{t} {name}");
        assert_eq!(quick, slow.is_none(), "{t} {name}");
        quick
    }

    #[test]
    fn types() {
        for t in ['a', 'N', 'U', 'w'] {
            assert!(!keeps(t, "foo"), "{t}");
        }
        for t in [
            'A', 'T', 't', 'D', 'd', 'b', 'B', 'r', 'R', 'W', 'V', 'v', 'u', 'i', 'n',
        ] {
            assert!(keeps(t, "foo"), "{t}");
        }
        // The type rule also matches a name that begins "x " for x in aNUw, as sed would.
        assert!(!keeps('T', "a b"));
        assert!(!keeps('T', "foo U bar"));
        assert!(keeps('T', "foo Ux bar"));
        // An empty name: the line is "ADDR a " and the type rule still sees " a ".
        assert!(!keeps('a', ""));
        assert!(keeps('T', ""));
    }

    #[test]
    fn prefixes_suffixes_and_patterns() {
        let dropped = [
            "$x",
            "$d.foo",
            ".LBB0_1",
            "__efistub_foo",
            "__pi_$x",
            "__pi_.Lfoo",
            "__kvm_nvhe_$d",
            "__kvm_nvhe_.L1",
            "__AArch64ADRPThunk_foo",
            "__Thunk_",
            "__ARMV7PILongThunk_x",
            "__kcfi_typeid_foo",
            "__kvm_nvhe___kcfi_typeid_x",
            "__pi___kcfi_typeid_x",
            "__crc_foo",
            "__kstrtab_foo",
            "__kstrtabns_foo",
            "foo_from_arm",
            "foo_from_thumb",
            "foo_veneer",
            "_veneer",
            "L0",
            "_SDA_BASE_",
            "_SDA2_BASE_",
            "foo.long_branch.bar",
            "x.plt_branch.",
            "has space $in",
        ];
        for name in dropped {
            assert!(!keeps('T', name), "{name} should be dropped");
        }
        let kept = [
            "foo$x",
            "x.L",
            "_efistub_x",
            "__pi_x",
            "__Thunk",
            "__a_Thunk_x",
            "__a.Thunk_",
            "_kcfi_typeid_",
            "__crc",
            "foo_veneer2",
            "L01",
            "xL0",
            "_SDA_BASE_x",
            ".long_branch",
            "long_branch.",
        ];
        for name in kept {
            assert!(keeps('T', name), "{name} should be kept");
        }
    }
}
