//! The symbols of a linked ELF file as a [`SymbolSet`], exactly as the kernel's build lists
//! them in System.map.
//!
//! Upstream Linux 6.12 makes System.map, and the input of `scripts/kallsyms`, with
//! `nm -n vmlinux | sed -f scripts/mksysmap`; 7.3 with its own `sed` script, 6.1 with a
//! shell script that filters `nm -n` with `grep -v`. This crate does the same without
//! either tool, and its output is byte-identical to theirs (GNU nm of binutils 2.40, the
//! version's mksysmap):
//!
//! 1. [`read_linked`] reads `.symtab` and keeps what `nm` lists, each symbol with the type
//!    letter `nm` prints ([`letter`] holds binutils' rules);
//! 2. [`LinkedSymbols::retain_mksysmap_of`] applies a version's mksysmap rules
//!    ([`mksysmap`], one table of rules per version, selected by the `kslink-table`
//!    profile's name: [`Mksysmap::of_profile`]);
//! 3. [`LinkedSymbols::sort_nm_numeric`] puts them in `nm -n` order ([`nm_numeric_cmp`]);
//! 4. [`LinkedSymbols::to_symbol_set`] makes the artifact, [`LinkedSymbols::write_nm`] the
//!    text.
//!
//! The names are borrowed from the caller's bytes (a memory map) until the artifact is made.
//!
//! Known differences from the real tools are listed in [`letter`] (targets whose BFD
//! backend quirks are not modelled) and [`mksysmap`] (names with newlines, non-ASCII
//! `[[:alnum:]]`).

#![deny(missing_docs)]

pub mod letter;
mod linked;
pub mod mksysmap;

use std::io::{self, Write};

use kslink_schema::{write_nm_lines, Symbol, SymbolOrigin, SymbolSet};

pub use linked::{nm_numeric_cmp, read_linked, sort_nm_numeric, ElfError, LinkedSymbols, NmSymbol};
pub use mksysmap::{Mksysmap, MKSYSMAP_6_1, MKSYSMAP_6_12, MKSYSMAP_7_3};

impl LinkedSymbols<'_> {
    /// Keeps the symbols whose `nm` line the default profile's (Linux 6.12's)
    /// `scripts/mksysmap` keeps.
    pub fn retain_mksysmap(&mut self) {
        self.retain_mksysmap_of(Mksysmap::default_profile());
    }

    /// Keeps the symbols whose `nm` line the `scripts/mksysmap` of `mksysmap`'s version
    /// keeps.
    pub fn retain_mksysmap_of(&mut self, mksysmap: &Mksysmap) {
        let rules = mksysmap.rule_set();
        self.symbols
            .retain(|symbol| rules.keeps(symbol.type_letter, symbol.name));
    }

    /// Sorts the symbols into `nm -n` order.
    pub fn sort_nm_numeric(&mut self) {
        sort_nm_numeric(&mut self.symbols);
    }

    /// Writes the symbols, in their current order, as `nm` prints them: `ADDR TYPE NAME`,
    /// the address as 8 or 16 hex digits, or as many spaces for an undefined symbol.
    pub fn write_nm<W: Write>(&self, out: W) -> io::Result<()> {
        write_nm_lines(
            self.address_bits,
            self.symbols
                .iter()
                .map(|s| (s.address, s.type_letter, s.name)),
            out,
        )
    }

    /// The symbols, in their current order, as a [`SymbolSet`] from `origin`: addresses
    /// known, the ELF section names as [`SymbolSet::sections`], no sources.
    pub fn to_symbol_set(&self, origin: SymbolOrigin) -> SymbolSet {
        SymbolSet {
            origin,
            addresses_known: true,
            address_bits: self.address_bits,
            sections: self.sections.clone(),
            sources: Vec::new(),
            symbols: self
                .symbols
                .iter()
                .map(|s| Symbol {
                    address: s.address,
                    type_letter: s.type_letter,
                    name: s.name.to_vec(),
                    section: s.section,
                    source: None,
                    text: None,
                })
                .collect(),
        }
    }
}
