//! File and section name patterns, matched as GNU ld matches them.
//!
//! ld's `name_match`: a pattern with none of `?*[` is compared byte for byte (a backslash
//! in it is an ordinary byte); any other pattern goes to `fnmatch(pattern, name, 0)`, where
//! `*` also matches `/`, `[...]` is a set (`[!...]` or `[^...]` its complement, `a-z` a
//! range, a `]` first is literal) and a backslash quotes the next byte.

/// A name pattern from a linker script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<u8>,
    wild: bool,
}

impl Glob {
    /// The pattern `pattern`.
    pub fn new(pattern: &[u8]) -> Glob {
        Glob {
            pattern: pattern.to_vec(),
            wild: pattern.iter().any(|b| matches!(b, b'?' | b'*' | b'[')),
        }
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// True if the pattern has wildcards (ld's `wildcardp`).
    pub fn is_wild(&self) -> bool {
        self.wild
    }

    /// True for `*`, which ld treats as "every file" without matching.
    pub fn is_star(&self) -> bool {
        self.pattern == b"*"
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &[u8]) -> bool {
        if self.wild {
            fnmatch(&self.pattern, name)
        } else {
            self.pattern == name
        }
    }
}

/// POSIX `fnmatch` with no flags.
fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: the pattern after it, and the name position it
    // has swallowed up to.
    let mut resume: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                resume = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => match_set(&pattern[p..], name[n]),
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == name[n]).then_some(2),
            Some(&c) => (c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match resume {
                Some((after_star, swallowed)) => {
                    p = after_star;
                    n = swallowed + 1;
                    resume = Some((after_star, swallowed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `byte` against the set at the start of `pattern` (which starts with `[`):
/// `Some(length of the set)` if it matches, `None` if not. A `[` with no closing `]` is an
/// ordinary byte, as in glibc.
fn match_set(pattern: &[u8], byte: u8) -> Option<usize> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let c = match pattern.get(i) {
            None => return (byte == b'[').then_some(1),
            Some(b']') if !first => break,
            Some(b'\\') if i + 1 < pattern.len() => {
                i += 1;
                pattern[i]
            }
            Some(&c) => c,
        };
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&e| e != b']') {
            let mut end = pattern[i + 2];
            let mut skip = 3;
            if end == b'\\' && i + 3 < pattern.len() {
                end = pattern[i + 3];
                skip = 4;
            }
            found |= (c..=end).contains(&byte);
            i += skip;
        } else {
            found |= c == byte;
            i += 1;
        }
    }
    (found != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::new(pattern.as_bytes()).matches(name.as_bytes())
    }

    #[test]
    fn literal_patterns_compare_bytes() {
        assert!(m(".text", ".text"));
        assert!(!m(".text", ".text.hot"));
        // No wildcard: the backslash is an ordinary byte.
        assert!(m(r"a\b", r"a\b"));
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m(".text.*", ".text.hot"));
        assert!(!m(".text.*", ".text"));
        assert!(m("*crtend.o", "/usr/lib/crtend.o"));
        assert!(m("___ksymtab+*", "___ksymtab+printk"));
        assert!(m(".gnu.version*", ".gnu.version_r"));
        assert!(m(".rela.*", ".rela.text"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("?", "x"));
        assert!(!m("?", ""));
        assert!(m("[abc]x", "bx"));
        assert!(!m("[!abc]x", "bx"));
        assert!(m("[^abc]x", "dx"));
        assert!(m("[a-c]", "b"));
        assert!(m("[]]", "]"));
        assert!(m("x[", "x["));
        assert!(m(r"\*", "*"));
        assert!(!m(r"\*", "a"));
        assert!(m(".data..percpu*", ".data..percpu..first"));
    }
}
