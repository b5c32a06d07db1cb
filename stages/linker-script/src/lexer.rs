//! The tokens of a GNU ld linker script, lexed as ld 2.40's `ldlex.l` lexes them.
//!
//! ld's lexer has states, and what a name may contain depends on the state: in a script
//! command a name may hold `-`, `:` and `,` (`OUTPUT_ARCH(i386:x86-64)`), in an expression
//! it may not (`a - b`) but may hold `/` and `~`, and inside an output section's braces it
//! may also hold the wildcard characters `*?[]^!`. The parser says which state it is in
//! with each call ([`Mode`]).

use super::ScriptError;

/// The lexer state the parser is in (ld's `SCRIPT`, `EXPRESSION` and `WILD` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Commands, output section names and symbol assignment targets.
    Script,
    /// Expressions.
    Expr,
    /// The statements inside an output section's braces: input section patterns.
    Wild,
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// A name: a symbol, section, file name or pattern, or a keyword (the parser tells
    /// keywords apart). `quoted` names (`"..."`) are never keywords.
    Name {
        /// The bytes of the name, without quotes.
        text: &'a [u8],
        /// Whether it was written in double quotes.
        quoted: bool,
    },
    /// An integer literal.
    Int(u64),
    /// An operator or punctuation, such as `(`, `+=` or `}`.
    Punct(&'static str),
    /// The end of the script.
    End,
}

impl Token<'_> {
    /// True for the unquoted name `word`.
    pub fn is_word(&self, word: &str) -> bool {
        matches!(self, Token::Name { text, quoted: false } if *text == word.as_bytes())
    }

    /// True for the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        matches!(self, Token::Punct(q) if *q == p)
    }

    /// How the token reads in a message.
    pub fn describe(&self) -> String {
        match self {
            Token::Name {
                text,
                quoted: false,
            } => {
                format!("`{}`", String::from_utf8_lossy(text))
            }
            Token::Name { text, quoted: true } => {
                format!("`\"{}\"`", String::from_utf8_lossy(text))
            }
            Token::Int(value) => format!("the number {value:#x}"),
            Token::Punct(p) => format!("`{p}`"),
            Token::End => "the end of the script".into(),
        }
    }
}

/// The operators and punctuation that start with `first`, longest first so that `<<=`
/// wins over `<<` and `<`, each with the states that know it (from `ldlex.l`: bit 1
/// `SCRIPT`, 2 `EXPRESSION`, 4 `WILD`); in `WILD` state most operator characters are part
/// of names instead.
fn puncts_starting_with(first: u8) -> &'static [(&'static str, u8)] {
    match first {
        b'<' => &[("<<=", 7), ("<=", 2), ("<<", 2), ("<", 2)],
        b'>' => &[(">>=", 7), (">=", 2), (">>", 2), (">", 3)],
        b'|' => &[("||", 2), ("|=", 7), ("|", 2)],
        b'&' => &[("&&", 2), ("&=", 7), ("&", 6)],
        b'=' => &[("==", 2), ("=", 7)],
        b'!' => &[("!=", 2), ("!", 3)],
        b'+' => &[("+=", 7), ("+", 3)],
        b'-' => &[("-=", 7), ("-", 3)],
        b'*' => &[("*=", 7), ("*", 2)],
        b'/' => &[("/=", 7), ("/", 2)],
        b',' => &[(",", 3)],
        b'~' => &[("~", 3)],
        b'?' => &[("?", 2)],
        b'%' => &[("%", 2)],
        b'^' => &[("^", 2)],
        b':' => &[(":", 3)],
        b';' => &[(";", 7)],
        b'{' => &[("{", 7)],
        b'}' => &[("}", 7)],
        b'(' => &[("(", 7)],
        b')' => &[(")", 7)],
        b'[' => &[("[", 6)],
        b']' => &[("]", 6)],
        _ => &[],
    }
}

impl Mode {
    /// This state's bit in [`puncts_starting_with`]'s table.
    fn bit(self) -> u8 {
        match self {
            Mode::Script => 1,
            Mode::Expr => 2,
            Mode::Wild => 4,
        }
    }
}

/// The punctuation `rest` starts with in state `mode`, if any.
fn punct_at(rest: &[u8], mode: Mode) -> Option<&'static str> {
    puncts_starting_with(*rest.first()?)
        .iter()
        .find(|&&(p, modes)| modes & mode.bit() != 0 && rest.starts_with(p.as_bytes()))
        .map(|&(p, _)| p)
}

/// `FILENAMECHAR1`: what a name in `SCRIPT` state starts with.
fn script_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'_' | b'/' | b'.' | b'\\' | b'$' | b'~')
}

/// `FILENAMECHAR`: what a name in `SCRIPT` state goes on with.
fn script_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'/'
                | b'.'
                | b'\\'
                | b'$'
                | b'~'
                | b'-'
                | b'+'
                | b':'
                | b'['
                | b']'
                | b','
                | b'='
        )
}

/// `SYMBOLNAMECHAR1`: what a name in an expression starts with.
fn expr_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'_' | b'.' | b'\\' | b'$')
}

/// `SYMBOLNAMECHAR`: what a name in an expression goes on with.
fn expr_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'.' | b'\\' | b'$' | b'~')
}

/// `WILDCHAR`: what a name inside an output section's braces is made of.
fn wild_char(b: u8) -> bool {
    script_name_char(b) || matches!(b, b'?' | b'*' | b'^' | b'!')
}

/// A lexer over the whole script text; [`Lexer::next`] lexes one token in a given state.
pub struct Lexer<'a> {
    text: &'a [u8],
    file: &'a str,
    pos: usize,
    line: u32,
    /// The last token [`Lexer::peek`] lexed: where and in which state it was lexed, and
    /// where it ends (the parser peeks the same token many times).
    lookahead: Option<(Position, Mode, Token<'a>, Position)>,
}

/// A place in the script to come back to ([`Lexer::save`], [`Lexer::restore`]).
#[derive(Clone, Copy, Debug)]
pub struct Position {
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`, which came from `file` (for messages).
    pub fn new(text: &'a [u8], file: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            file,
            pos: 0,
            line: 1,
            lookahead: None,
        }
    }

    /// The line of the next token (after [`Lexer::skip_blank`]) or of the last one read.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The byte offset in the text where the next token's lexing starts (just after the
    /// last token read).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The current place.
    pub fn save(&self) -> Position {
        Position {
            pos: self.pos,
            line: self.line,
        }
    }

    /// Goes back to a saved place.
    pub fn restore(&mut self, at: Position) {
        self.pos = at.pos;
        self.line = at.line;
    }

    /// An error at the current line.
    pub fn error(&self, message: impl Into<String>) -> ScriptError {
        ScriptError {
            file: self.file.to_owned(),
            line: self.line,
            message: message.into(),
        }
    }

    /// Skips white space and comments (`/* */`, and `#` to the end of the line).
    pub fn skip_blank(&mut self) -> Result<(), ScriptError> {
        while let Some(&b) = self.text.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | b'\x0c' | b'\x0b' => self.pos += 1,
                b'/' if self.text.get(self.pos + 1) == Some(&b'*') => {
                    let start_line = self.line;
                    let body = &self.text[self.pos + 2..];
                    let Some(end) = body.windows(2).position(|w| w == b"*/") else {
                        self.line = start_line;
                        return Err(self.error("a comment `/*` is never closed"));
                    };
                    self.line += body[..end].iter().filter(|&&c| c == b'\n').count() as u32;
                    self.pos += 2 + end + 2;
                }
                b'#' => {
                    while self.text.get(self.pos).is_some_and(|&c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Lexes the next token in state `mode`.
    pub fn next(&mut self, mode: Mode) -> Result<Token<'a>, ScriptError> {
        if let Some((at, m, token, end)) = self.lookahead.take() {
            if at.pos == self.pos && m == mode {
                self.restore(end);
                return Ok(token);
            }
        }
        self.skip_blank()?;
        let rest: &'a [u8] = &self.text[self.pos..];
        let Some(&first) = rest.first() else {
            return Ok(Token::End);
        };
        if first == b'"' {
            let Some(len) = rest[1..].iter().position(|&c| c == b'"') else {
                return Err(self.error("a quoted name is never closed"));
            };
            let text = &rest[1..1 + len];
            self.line += text.iter().filter(|&&c| c == b'\n').count() as u32;
            self.pos += len + 2;
            return Ok(Token::Name { text, quoted: true });
        }
        // Longest match, as flex does; on a tie the rule listed first in ldlex.l wins:
        // numbers, then punctuation, then names.
        let name_len = match mode {
            Mode::Script if script_name_start(first) => {
                1 + rest[1..]
                    .iter()
                    .take_while(|&&c| script_name_char(c))
                    .count()
            }
            Mode::Expr if rest.starts_with(b"/DISCARD/") => "/DISCARD/".len(),
            Mode::Expr if expr_name_start(first) => {
                1 + rest[1..].iter().take_while(|&&c| expr_name_char(c)).count()
            }
            Mode::Wild => rest.iter().take_while(|&&c| wild_char(c)).count(),
            _ => 0,
        };
        if mode != Mode::Wild {
            if let Some((value, len)) = lex_number(rest, mode).filter(|&(_, len)| len >= name_len) {
                let value = value.map_err(|message| self.error(message))?;
                self.pos += len;
                return Ok(Token::Int(value));
            }
        }
        let punct = punct_at(rest, mode);
        match punct {
            Some(p) if p.len() >= name_len => {
                self.pos += p.len();
                Ok(Token::Punct(p))
            }
            _ if name_len > 0 => {
                let text = &rest[..name_len];
                self.pos += name_len;
                Ok(Token::Name {
                    text,
                    quoted: false,
                })
            }
            _ => Err(self.error(format!(
                "unexpected character `{}`",
                String::from_utf8_lossy(&rest[..utf8_len(first).min(rest.len())])
            ))),
        }
    }

    /// The next token in state `mode`, without consuming it.
    pub fn peek(&mut self, mode: Mode) -> Result<Token<'a>, ScriptError> {
        if let Some((at, m, token, _)) = &self.lookahead {
            if at.pos == self.pos && *m == mode {
                return Ok(token.clone());
            }
        }
        let at = self.save();
        let token = self.next(mode)?;
        self.lookahead = Some((at, mode, token.clone(), self.save()));
        self.restore(at);
        Ok(token)
    }

    /// Skips a balanced `( … )` or `{ … }` group whose content does not matter here (the
    /// arguments of `OUTPUT_FORMAT`, the body of `PHDRS`), the opening bracket included.
    pub fn skip_group(&mut self, open: u8, close: u8) -> Result<(), ScriptError> {
        self.skip_blank()?;
        if self.text.get(self.pos) != Some(&open) {
            return Err(self.error(format!("expected `{}`", open as char)));
        }
        let start_line = self.line;
        let mut depth = 0usize;
        while let Some(&b) = self.text.get(self.pos) {
            match b {
                b'\n' => self.line += 1,
                b'/' if self.text.get(self.pos + 1) == Some(&b'*') => {
                    self.skip_blank()?;
                    continue;
                }
                b'"' => {
                    self.next(Mode::Script)?;
                    continue;
                }
                _ if b == open => depth += 1,
                _ if b == close => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.line = start_line;
        Err(self.error(format!("`{}` is never closed", open as char)))
    }
}

/// The length of the UTF-8 character that starts with `first` (1 for other bytes).
fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xf7 => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// An integer literal at the start of `text`, as ld lexes it: `0x` hex, `$` hex, a
/// leading `0` octal, else decimal, with an optional `K` or `M` multiplier; in expressions
/// also hex digits with a `h`/`x` (hex), `o` (octal), `b` (binary) or `d` (decimal)
/// suffix. Returns the value (or why it cannot be read) and the length, or `None` if
/// `text` does not start with a number.
fn lex_number(text: &[u8], mode: Mode) -> Option<(Result<u64, String>, usize)> {
    let hex_run = |from: usize| {
        text[from..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count()
    };
    let cannot_read = |len: usize| {
        format!(
            "cannot read the number `{}`: too large for 64 bits, or a digit out of its base",
            String::from_utf8_lossy(&text[..len])
        )
    };
    // The plain form: ((\$|0[xX])[0-9A-Fa-f]+|[0-9]+)(M|K|m|k)?
    let plain = if text.first() == Some(&b'$') {
        let digits = hex_run(1);
        (digits > 0).then_some((16, 1, digits))
    } else if text.starts_with(b"0x") || text.starts_with(b"0X") {
        let digits = hex_run(2);
        (digits > 0).then_some((16, 2, digits))
    } else {
        let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
        (digits > 0).then_some((0, 0, digits))
    };
    let plain = plain.map(|(radix, prefix, digits)| {
        let end = prefix + digits;
        let multiplier = match text.get(end) {
            Some(b'K' | b'k') => Some(1024),
            Some(b'M' | b'm') => Some(1024 * 1024),
            _ => None,
        };
        let len = end + usize::from(multiplier.is_some());
        (radix, prefix, digits, multiplier, len)
    });
    // The suffix form, expressions only: [0-9A-Fa-f]+(H|h|X|x|B|b|O|o|D|d), longest match.
    // It starts with any hex digit, so an expression name such as `ffh` or `bad` is a
    // number to ld (flex prefers the number rule on a tie).
    let suffixed = if mode == Mode::Expr {
        let run = hex_run(0);
        let radix = |suffix: u8| match suffix {
            b'H' | b'h' | b'X' | b'x' => Some(16),
            b'O' | b'o' => Some(8),
            b'B' | b'b' => Some(2),
            b'D' | b'd' => Some(10),
            _ => None,
        };
        if run == 0 {
            None
        } else if let Some(r) = text.get(run).and_then(|&c| radix(c)) {
            Some((r, run, run + 1))
        } else if run >= 2 {
            radix(text[run - 1]).map(|r| (r, run - 1, run))
        } else {
            None
        }
    } else {
        None
    };
    let plain_len = plain.map_or(0, |p| p.4);
    if let Some((radix, digits, len)) = suffixed.filter(|&(_, _, len)| len > plain_len) {
        let value = parse_radix(&text[..digits], radix).ok_or_else(|| cannot_read(len));
        return Some((value, len));
    }
    let (radix, prefix, digits, multiplier, len) = plain?;
    let body = &text[prefix..prefix + digits];
    // bfd_scan_vma with base 0: a leading 0 means octal.
    let radix = match radix {
        0 if body.len() > 1 && body[0] == b'0' => 8,
        0 => 10,
        r => r,
    };
    let value = parse_radix(body, radix)
        .and_then(|v| match multiplier {
            Some(m) => v.checked_mul(m),
            None => Some(v),
        })
        .ok_or_else(|| cannot_read(len));
    Some((value, len))
}

/// `digits` in `radix`, or `None` on overflow or a digit out of range (where ld's
/// bfd_scan_vma would silently stop: an octal literal with an 8 or 9 is a script bug).
fn parse_radix(digits: &[u8], radix: u32) -> Option<u64> {
    let mut value: u64 = 0;
    for &d in digits {
        let digit = char::from(d).to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str, mode: Mode) -> Vec<Token<'_>> {
        let mut lexer = Lexer::new(text.as_bytes(), "t.lds");
        let mut out = Vec::new();
        loop {
            let token = lexer.next(mode).expect("lexes");
            if token == Token::End {
                return out;
            }
            out.push(token);
        }
    }

    fn name(s: &str) -> Token<'_> {
        Token::Name {
            text: s.as_bytes(),
            quoted: false,
        }
    }

    #[test]
    fn names_depend_on_the_state() {
        assert_eq!(
            tokens("OUTPUT_ARCH(i386:x86-64)", Mode::Script),
            [
                name("OUTPUT_ARCH"),
                Token::Punct("("),
                name("i386:x86-64"),
                Token::Punct(")")
            ]
        );
        assert_eq!(
            tokens("a-b/c - d", Mode::Expr),
            [
                name("a"),
                Token::Punct("-"),
                name("b/c"),
                Token::Punct("-"),
                name("d")
            ]
        );
        assert_eq!(
            tokens("KEEP(*(SORT(___ksymtab+*)))", Mode::Wild),
            [
                name("KEEP"),
                Token::Punct("("),
                name("*"),
                Token::Punct("("),
                name("SORT"),
                Token::Punct("("),
                name("___ksymtab+*"),
                Token::Punct(")"),
                Token::Punct(")"),
                Token::Punct(")"),
            ]
        );
        assert_eq!(
            tokens(". += 64 * 1024;", Mode::Wild)[..2],
            [name("."), Token::Punct("+=")]
        );
        assert_eq!(tokens("/DISCARD/ :", Mode::Script)[0], name("/DISCARD/"));
    }

    #[test]
    fn numbers() {
        let one = |s: &str| match tokens(s, Mode::Expr).as_slice() {
            [Token::Int(v)] => *v,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(one("0x1F"), 31);
        assert_eq!(one("010"), 8);
        assert_eq!(one("4K"), 4096);
        assert_eq!(one("2M"), 2 << 20);
        assert_eq!(one("$ff"), 255);
        assert_eq!(one("ffh"), 255);
        assert_eq!(one("101b"), 5);
        assert_eq!(one("0xffffffff80000000"), 0xffff_ffff_8000_0000);
        let mut lexer = Lexer::new(b"0x1ffffffffffffffff", "t.lds");
        assert!(lexer.next(Mode::Expr).is_err());
        // Hex digits and a suffix letter: a number to ld, even where a name was meant.
        let mut lexer = Lexer::new(b"bad", "t.lds");
        assert!(lexer.next(Mode::Expr).is_err());
        assert_eq!(tokens("foo", Mode::Expr), [name("foo")]);
        assert_eq!(tokens("feedback", Mode::Expr), [name("feedback")]);
    }

    #[test]
    fn comments_and_lines() {
        let mut lexer = Lexer::new(b"/* a\n b */ x # rest\n\n y", "t.lds");
        assert_eq!(lexer.next(Mode::Script).unwrap(), name("x"));
        assert_eq!(lexer.line(), 2);
        assert_eq!(lexer.next(Mode::Script).unwrap(), name("y"));
        assert_eq!(lexer.line(), 4);
        let mut open = Lexer::new(b"x\n/* never", "t.lds");
        open.next(Mode::Script).unwrap();
        let err = open.next(Mode::Script).unwrap_err();
        assert_eq!(err.to_string(), "t.lds:2: a comment `/*` is never closed");
    }
}
