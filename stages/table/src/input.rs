//! Reading symbols the way upstream's generator does: the map syntax of the profile, the
//! names and types it ignores, `_text` and the address ranges it remembers.

use std::io::BufRead;

use kslink_schema::TextPlace;

use crate::error::TableError;
use crate::profile::{MapSyntax, Profile};

/// Names of 512 bytes or more do not fit the kernel's `KSYM_NAME_LEN` and are skipped.
pub const KSYM_NAME_LEN: usize = 512;

/// The longest name 6.1's `fscanf("%2048s")` reads as one field.
const FIELD_NAME_MAX: usize = 2048;

/// An inclusive address range named by two symbols (`_stext`..`_etext`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    /// Name of the symbol that sets `start`.
    pub start_name: &'static str,
    /// Name of the symbol that sets `end`.
    pub end_name: &'static str,
    /// First address.
    pub start: u64,
    /// Last address.
    pub end: u64,
}

impl AddressRange {
    const fn new(start_name: &'static str, end_name: &'static str, start: u64, end: u64) -> Self {
        AddressRange {
            start_name,
            end_name,
            start,
            end,
        }
    }

    /// Whether `addr` lies in the range, both ends included.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr <= self.end
    }

    /// Records `addr` if `name` is one of the range's bounds; true if it was.
    fn note(&mut self, name: &[u8], addr: u64) -> bool {
        if name == self.start_name.as_bytes() {
            self.start = addr;
            true
        } else if name == self.end_name.as_bytes() {
            self.end = addr;
            true
        } else {
            false
        }
    }
}

/// One symbol kept while reading: its address and where `TYPE NAME` sits in the arena.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Address.
    pub addr: u64,
    /// Offset of the type letter in [`SymbolList::arena`]; the name follows it.
    pub start: u32,
    /// Bytes of type letter and name.
    pub len: u16,
    /// Encoded as an absolute value (a per-cpu symbol under `--absolute-percpu`).
    pub absolute: bool,
    /// A predicted symbol (no address) that will lie in the per-cpu range: see
    /// [`crate::symbols_from_set`]. Symbols with addresses leave it false; their address
    /// decides.
    pub predicted_percpu: bool,
    /// A prediction's word on the text ranges ([`kslink_schema::Symbol::text`]), which
    /// decides over the address.
    pub text: Option<TextPlace>,
}

/// The symbols read from one input, before selection and sorting.
#[derive(Debug)]
pub struct SymbolList {
    /// Every kept symbol's type letter and name, back to back.
    pub arena: Vec<u8>,
    /// The kept symbols in input order.
    pub entries: Vec<Entry>,
    /// The address of `_text` (0 if the input has none).
    pub text_address: u64,
    /// `_stext`..`_etext` and `_sinittext`..`_einittext`.
    pub text_ranges: [AddressRange; 2],
    /// `__per_cpu_start`..`__per_cpu_end`.
    pub percpu_range: AddressRange,
    /// Names skipped for being too long, as one-line messages.
    pub warnings: Vec<String>,
    /// What the symbols were read from, for messages.
    pub source: String,
    /// False for a prediction made before the link: every address is 0, and nothing may be
    /// decided by address.
    pub addresses_known: bool,
}

impl SymbolList {
    /// An empty list read from `source`, ranges as upstream initialises them.
    pub fn new(source: &str) -> SymbolList {
        SymbolList {
            arena: Vec::new(),
            entries: Vec::new(),
            text_address: 0,
            text_ranges: [
                AddressRange::new("_stext", "_etext", 0, 0),
                AddressRange::new("_sinittext", "_einittext", 0, 0),
            ],
            percpu_range: AddressRange::new("__per_cpu_start", "__per_cpu_end", u64::MAX, 0),
            warnings: Vec::new(),
            source: source.to_owned(),
            addresses_known: true,
        }
    }

    /// The type letter and name of an entry.
    pub fn symbol(&self, entry: &Entry) -> &[u8] {
        &self.arena[entry.start as usize..entry.start as usize + entry.len as usize]
    }

    /// The name of an entry (without its type letter).
    pub fn name(&self, entry: &Entry) -> &[u8] {
        &self.symbol(entry)[1..]
    }

    /// Takes one symbol as upstream's `read_symbol` does: skips a name that is too long
    /// (with a warning), remembers `_text`, drops ignored names and types, notes range
    /// bounds, and keeps the rest.
    pub fn push(
        &mut self,
        profile: &Profile,
        addr: u64,
        type_letter: u8,
        name: &[u8],
        at: impl FnOnce() -> String,
    ) {
        // Upstream holds names as C strings: a NUL ends the name.
        let name = match name.iter().position(|b| *b == 0) {
            Some(nul) => &name[..nul],
            None => name,
        };
        if name.len() >= KSYM_NAME_LEN {
            self.warnings.push(format!(
                "{}: symbol {}... too long for kallsyms ({} >= {KSYM_NAME_LEN}), skipped",
                at(),
                String::from_utf8_lossy(&name[..40]),
                name.len()
            ));
            return;
        }
        if name == b"_text" {
            self.text_address = addr;
        }
        if is_ignored(profile, name, type_letter) {
            return;
        }
        for range in &mut self.text_ranges {
            if range.note(name, addr) {
                break;
            }
        }
        self.percpu_range.note(name, addr);
        let start = u32::try_from(self.arena.len()).expect("symbol names exceed 4 GiB");
        self.arena.push(type_letter);
        self.arena.extend_from_slice(name);
        self.entries.push(Entry {
            addr,
            start,
            len: (name.len() + 1) as u16,
            absolute: false,
            predicted_percpu: false,
            text: None,
        });
    }
}

fn is_ignored(profile: &Profile, name: &[u8], type_letter: u8) -> bool {
    if profile.ignored_types.contains(&type_letter) || profile.ignored_names.matches(name) {
        return true;
    }
    type_letter.eq_ignore_ascii_case(&b'a')
        && !profile.kept_absolute.iter().any(|k| name == k.as_bytes())
}

/// Reads an `nm`-style text map in the profile's syntax. `path` names the input in messages.
pub fn read_map<R: BufRead>(
    mut reader: R,
    path: &str,
    profile: &Profile,
) -> Result<SymbolList, TableError> {
    let mut list = SymbolList::new(path);
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| TableError::io(path, source))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let at = || format!("{path}:{line_no}");
        let (addr, type_letter, name) = match profile.syntax {
            MapSyntax::WholeLine => {
                parse_whole_line(&line).map_err(|what| TableError::Map { at: at(), what })?
            }
            MapSyntax::Fields => {
                if line.iter().all(|b| is_c_space(*b)) || is_undefined_symbol_line(&line) {
                    continue;
                }
                parse_fields(&line).map_err(|what| TableError::Map { at: at(), what })?
            }
        };
        list.push(profile, addr, type_letter, name, at);
    }
    Ok(list)
}

/// `ADDR TYPE NAME` with single spaces, the name being the rest of the line.
fn parse_whole_line(line: &[u8]) -> Result<(u64, u8, &[u8]), String> {
    // One pass for the count and the value: a digit shifted out of 64 bits is an error.
    let (mut digits, mut addr, mut overflow) = (0, 0u64, false);
    for &b in line {
        let value = HEX_VALUES[b as usize];
        if value == NOT_HEX {
            break;
        }
        overflow |= addr >> 60 != 0;
        addr = addr << 4 | u64::from(value);
        digits += 1;
    }
    if digits == 0 {
        return Err(format!(
            "expected a hexadecimal address at the start of the line, found {}",
            describe(line)
        ));
    }
    if overflow {
        return Err(format!(
            "address {} does not fit in 64 bits",
            String::from_utf8_lossy(&line[..digits])
        ));
    }
    let rest = &line[digits..];
    if rest.len() < 3 || rest[0] != b' ' || rest[2] != b' ' || !rest[1].is_ascii_graphic() {
        return Err(format!(
            "expected ' TYPE NAME' after the address, found {}",
            describe(rest)
        ));
    }
    Ok((addr, rest[1], &rest[3..]))
}

/// `nm` prints undefined symbols without an address (`                 U name`); 6.1's
/// generator, reading raw `nm -n` output, fails to scan an address there and skips the line.
fn is_undefined_symbol_line(line: &[u8]) -> bool {
    let mut fields = line.split(|b| is_c_space(*b)).filter(|f| !f.is_empty());
    matches!(
        (fields.next(), fields.next(), fields.next()),
        (Some([b'U' | b'w' | b'v']), Some(_), None)
    )
}

/// Three whitespace-separated fields: address, a one-character type, the name.
fn parse_fields(line: &[u8]) -> Result<(u64, u8, &[u8]), String> {
    let mut fields = line.split(|b| is_c_space(*b)).filter(|f| !f.is_empty());
    let (Some(addr), Some(type_field), Some(name), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("expected three fields: ADDR TYPE NAME".to_owned());
    };
    if !addr.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("bad address {}", describe(addr)));
    }
    if type_field.len() != 1 {
        return Err(format!(
            "the type must be one character, found {}",
            describe(type_field)
        ));
    }
    if name.len() > FIELD_NAME_MAX {
        return Err(format!(
            "name of {} bytes is longer than the {FIELD_NAME_MAX} this profile's generator reads",
            name.len()
        ));
    }
    Ok((parse_hex(addr)?, type_field[0], name))
}

/// The value of each hexadecimal digit, [`NOT_HEX`] for other bytes: one load per digit
/// (a map of a distribution kernel has 163k addresses of 16 digits).
const HEX_VALUES: [u8; 256] = {
    let mut values = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 10 {
        values[b'0' as usize + digit] = digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        values[b'a' as usize + letter] = 10 + letter as u8;
        values[b'A' as usize + letter] = 10 + letter as u8;
        letter += 1;
    }
    values
};

/// Marks a byte that is not a hexadecimal digit in [`HEX_VALUES`].
const NOT_HEX: u8 = 0xff;

/// The value of `digits`, all hexadecimal digits.
fn parse_hex(digits: &[u8]) -> Result<u64, String> {
    let significant = &digits[digits.iter().take_while(|b| **b == b'0').count()..];
    if significant.len() > 16 {
        return Err(format!(
            "address {} does not fit in 64 bits",
            String::from_utf8_lossy(digits)
        ));
    }
    Ok(significant.iter().fold(0u64, |acc, &b| {
        (acc << 4) | u64::from(HEX_VALUES[b as usize])
    }))
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn describe(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "an empty line".to_owned();
    }
    let shown = &bytes[..bytes.len().min(40)];
    format!("{:?}", String::from_utf8_lossy(shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{LINUX_6_1, LINUX_6_12};

    #[test]
    fn whole_line_keeps_the_rest_of_the_line_as_the_name() {
        assert_eq!(
            parse_whole_line(b"ffffffff81000000 T a b").unwrap(),
            (0xffffffff81000000, b'T', &b"a b"[..])
        );
        assert!(parse_whole_line(b"").is_err());
        assert!(parse_whole_line(b"xyz T a").is_err());
        assert!(parse_whole_line(b"10  T a").is_err());
        assert!(parse_whole_line(b"1ffffffffffffffff T a").is_err());
        assert_eq!(
            parse_whole_line(b"0000000000000000010 T a").unwrap().0,
            0x10
        );
    }

    #[test]
    fn fields_need_exactly_three() {
        assert_eq!(
            parse_fields(b"10\tt  foo").unwrap(),
            (0x10, b't', &b"foo"[..])
        );
        assert!(parse_fields(b"10 t foo bar").is_err());
        assert!(parse_fields(b"10 tt foo").is_err());
    }

    #[test]
    fn reading_applies_the_profiles_filters() {
        let map = b"0 T _text\n0 A abs\n0 A __gp\n0 u uniq\n0 T __kcfi_typeid_x\n" as &[u8];
        let list = read_map(map, "m", &LINUX_6_12).unwrap();
        assert_eq!(list.entries.len(), 3);
        // 6.1 reads raw `nm -n` output: blank lines and undefined symbols are skipped.
        let raw_nm = [
            map,
            b"\n                 U undef\n                 w weak\n",
        ]
        .concat();
        let list = read_map(&raw_nm[..], "m", &LINUX_6_1).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert!(read_map(&raw_nm[..], "m", &LINUX_6_12).is_err());
    }
}
