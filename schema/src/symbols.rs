//! `SymbolSet`: a list of symbols as `nm` would print them.

use serde::{Deserialize, Serialize};

use crate::{Artifact, ArtifactKind};

/// One symbol: address, `nm` type letter, name, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    /// The symbol's value; meaningless when [`SymbolSet::addresses_known`] is false.
    pub address: u64,
    /// The type letter GNU `nm` prints (`T`, `t`, `D`, `W`, `A`, …) as an ASCII byte.
    pub type_letter: u8,
    /// The name, as bytes: ELF names need not be UTF-8.
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// Index into [`SymbolSet::sections`] of the section the symbol is defined in, if any.
    /// A prediction leaves it out where the address will not lie in that section's range
    /// (a script symbol taken from `.` outside a section that has an address of its own).
    pub section: Option<u32>,
    /// Index into [`SymbolSet::sources`] of the input file that defined it, if known.
    pub source: Option<u32>,
    /// A prediction's word on the text ranges, which a table without `--all-symbols` keeps
    /// symbols by; `None` where the address decides (a set with addresses), or where the
    /// prediction could not tell for any symbol (the table then keeps them all).
    pub text: Option<TextPlace>,
}

/// Where a predicted symbol will lie against the kernel's text ranges (`_stext`..`_etext`,
/// `_sinittext`..`_einittext`), as upstream's generator tests them without
/// `--all-symbols`: both ends included, but a symbol at `_etext` or `_einittext` other than
/// that symbol itself left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextPlace {
    /// In a range: the table keeps it.
    Inside,
    /// Outside both ranges, or at an end it does not name: the table leaves it out.
    Outside,
    /// The layout cannot tell before the link: the table keeps it, so that the first table
    /// has at least the final one's symbols.
    Undecided,
}

/// How a symbol set was obtained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SymbolOrigin {
    /// Read from an `nm`-style text map (System.map).
    Map {
        /// The map file.
        path: String,
    },
    /// Read from the symbol table of a linked ELF file.
    Linked {
        /// The ELF file.
        path: String,
    },
    /// Predicted from the inputs of a link that has not happened yet.
    Predicted {
        /// The linker script.
        script: String,
        /// The objects and archives, in link order.
        inputs: Vec<String>,
    },
}

/// A list of symbols in `nm -n` order, as System.map holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolSet {
    /// Where the symbols came from.
    pub origin: SymbolOrigin,
    /// False for a prediction made before the link: the names and type letters are what the
    /// linked file will have, the addresses are not.
    pub addresses_known: bool,
    /// The target's address width in bits (32 or 64); decides how a map prints addresses.
    pub address_bits: u8,
    /// Section names that [`Symbol::section`] indexes.
    pub sections: Vec<String>,
    /// Input file names that [`Symbol::source`] indexes.
    pub sources: Vec<String>,
    /// The symbols.
    pub symbols: Vec<Symbol>,
}

impl Artifact for SymbolSet {
    const KIND: ArtifactKind = ArtifactKind::SymbolSet;
}

impl SymbolSet {
    /// Writes the set as System.map lines, as `nm` prints them (see [`write_nm_lines`]).
    pub fn write_map<W: std::io::Write>(&self, out: W) -> std::io::Result<()> {
        write_nm_lines(
            self.address_bits,
            self.symbols
                .iter()
                .map(|s| (s.address, s.type_letter, s.name.as_slice())),
            out,
        )
    }
}

/// Writes `ADDR TYPE NAME` lines as GNU `nm` prints them: the address as 8 (32-bit targets)
/// or 16 hex digits (more if the value is wider), or as many spaces for an undefined symbol
/// (`U`, `w`, `v`).
pub fn write_nm_lines<'a, W: std::io::Write>(
    address_bits: u8,
    lines: impl Iterator<Item = (u64, u8, &'a [u8])>,
    mut out: W,
) -> std::io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = if address_bits == 32 { 8 } else { 16 };
    let mut buf = Vec::with_capacity(1 << 16);
    for (address, type_letter, name) in lines {
        if matches!(type_letter, b'U' | b'w' | b'v') {
            buf.extend(std::iter::repeat_n(b' ', digits));
        } else {
            let width = digits.max((64 - address.leading_zeros() as usize).div_ceil(4));
            buf.extend(
                (0..width)
                    .rev()
                    .map(|i| HEX[(address >> (i * 4)) as usize & 0xf]),
            );
        }
        buf.extend_from_slice(&[b' ', type_letter, b' ']);
        buf.extend_from_slice(name);
        buf.push(b'\n');
        if buf.len() >= (1 << 16) - 1024 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}
