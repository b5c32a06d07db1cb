//! From read symbols to a finished table: selection, order, relative base, compression, and
//! one walk over the arrays that every output format renders.

use std::io;

use kslink_schema::{ArrayKind, KallsymsTable, TableOptions, TextPlace};

use crate::compress::{compress, reuse, Compressed};
use crate::error::TableError;
use crate::input::{Entry, SymbolList};
use crate::profile::{OffsetsEncoding, Profile};

/// A table ready to be rendered as bytes, assembly or an object.
pub struct BuiltTable {
    /// The profile it follows.
    pub profile: &'static Profile,
    /// The generator options.
    pub options: TableOptions,
    /// The address of `_text`, which pointers are relative to.
    pub text_address: u64,
    /// The relative base (0 where the layout has none).
    pub relative_base: u64,
    /// The symbols in table order.
    entries: Vec<Entry>,
    /// Their type letters and names as read (in input order; each entry says where), for
    /// the comments of the assembly: upstream prints each name expanded back from its
    /// compressed form, which is the same text.
    arena: Vec<u8>,
    compressed: Compressed,
    /// `kallsyms_offsets` values, when the layout has them: offsets from the relative base
    /// (6.x), distances from `_text` (7.x with `--pc-relative`: the addends of the entries'
    /// place-relative references) or truncated addresses (7.x without).
    offsets: Vec<i32>,
    /// Symbol numbers (in table order) sorted by name, for `kallsyms_seqs_of_names`.
    name_order: Vec<u32>,
}

/// Builds the table from read symbols, as upstream's `main` does after `read_map`.
pub fn build(
    symbols: SymbolList,
    profile: &'static Profile,
    options: TableOptions,
) -> Result<BuiltTable, TableError> {
    build_reusing(symbols, profile, options, None)
}

/// [`build`], taking the compression over from `earlier` (a table built by this crate) when
/// the symbols to compress are the same multiset of type letters and names as its own: the
/// compression depends on nothing else. kslink's final table, after an exact prediction,
/// has the first table's symbols at other addresses. Otherwise, or without `earlier`, it
/// compresses as [`build`] does; the result is the same either way.
pub fn build_reusing(
    mut symbols: SymbolList,
    profile: &'static Profile,
    options: TableOptions,
    earlier: Option<&KallsymsTable>,
) -> Result<BuiltTable, TableError> {
    profile.check_options(options).map_err(TableError::Usage)?;
    select(&mut symbols, profile, options);
    if symbols.entries.is_empty() && profile.empty_is_error {
        return Err(TableError::NoSymbols {
            source: symbols.source.clone(),
            profile: profile.name,
        });
    }
    if options.absolute_percpu {
        let percpu = symbols.percpu_range;
        let addresses_known = symbols.addresses_known;
        for entry in &mut symbols.entries {
            let in_percpu_range = if addresses_known {
                percpu.contains(entry.addr)
            } else {
                entry.predicted_percpu
            };
            if in_percpu_range {
                entry.absolute = true;
                symbols.arena[entry.start as usize] = b'A';
            }
        }
    }
    sort_by_address(&mut symbols);

    let from_relative_base = profile.has_offsets(options)
        && profile.offsets_encoding == OffsetsEncoding::FromRelativeBase;
    let relative_base = if from_relative_base {
        symbols
            .entries
            .iter()
            .find(|entry| !entry.absolute)
            .map_or(0, |entry| entry.addr)
    } else {
        0
    };
    let offsets = if from_relative_base {
        relative_offsets(&symbols, options, relative_base)?
    } else if profile.offsets_encoding == OffsetsEncoding::PlaceRelativeOrAddress {
        text_offsets(&symbols, options)?
    } else {
        Vec::new()
    };

    // The name order needs the names as they are; compression copies them first. The two
    // are independent, so the sort runs beside the compression.
    let (name_order, compressed) = std::thread::scope(|scope| {
        let name_order = scope.spawn(|| sort_by_name(&symbols, options.lto_clang));
        let strings = || symbols.entries.iter().map(|entry| symbols.symbol(entry));
        let compressed = earlier
            .and_then(|table| reuse(table, strings()))
            .unwrap_or_else(|| compress(strings()));
        (
            name_order.join().expect("sorting does not panic"),
            compressed,
        )
    });
    let SymbolList {
        arena,
        entries,
        text_address,
        ..
    } = symbols;
    Ok(BuiltTable {
        profile,
        options,
        text_address,
        relative_base,
        entries,
        arena,
        compressed,
        offsets,
        name_order,
    })
}

/// Upstream's `shrink_table`: without `--all-symbols`, only text symbols (and, in newer
/// versions, section bounds) stay.
///
/// A prediction's word on the text ranges decides where it has one
/// ([`kslink_schema::TextPlace`]: undecided symbols stay, so that the first table has at
/// least the final one's symbols). Predicted symbols without one all stay; their addresses
/// of 0 would all equal `_etext`'s and be dropped.
fn select(symbols: &mut SymbolList, profile: &Profile, options: TableOptions) {
    if options.all_symbols {
        return;
    }
    let [text, inittext] = symbols.text_ranges;
    let addresses_known = symbols.addresses_known;
    let arena = &symbols.arena;
    symbols.entries.retain(|entry| {
        let name = &arena[entry.start as usize + 1..(entry.start + entry.len as u32) as usize];
        if profile.keeps_section_bounds
            && (name.starts_with(b"__start_") || name.starts_with(b"__stop_"))
        {
            return true;
        }
        match entry.text {
            Some(place) => return place != TextPlace::Outside,
            None if !addresses_known => return true,
            None => {}
        }
        if !text.contains(entry.addr) && !inittext.contains(entry.addr) {
            return false;
        }
        // Symbols at _etext or _einittext other than those themselves can move between
        // upstream's link passes, so upstream drops them.
        !((entry.addr == text.end && name != text.end_name.as_bytes())
            || (entry.addr == inittext.end && name != inittext.end_name.as_bytes()))
    });
}

/// Upstream's guess that a name was assigned by a linker script.
fn looks_linker_provided(name: &[u8]) -> bool {
    name.len() >= 8
        && name.starts_with(b"__")
        && (name[2..].starts_with(b"start_")
            || name[2..].starts_with(b"stop_")
            || name[2..].starts_with(b"end_")
            || name.ends_with(b"_start")
            || name.ends_with(b"_end"))
}

/// Upstream's `compare_symbols`: address, then non-weak first, then names that do not look
/// linker-provided, then fewer leading underscores, then input order.
fn sort_by_address(symbols: &mut SymbolList) {
    let arena = &symbols.arena;
    let rank = |entry: &Entry| {
        let symbol = &arena[entry.start as usize..(entry.start + entry.len as u32) as usize];
        let name = &symbol[1..];
        let weak = matches!(symbol[0], b'w' | b'W');
        let underscores = name.iter().take_while(|b| **b == b'_').count();
        (weak, looks_linker_provided(name), underscores)
    };
    // A stable sort keeps input order among equals, as upstream's final key does.
    symbols
        .entries
        .sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| rank(a).cmp(&rank(b))));
}

/// Upstream's `compare_names`: name bytes (6.1 with `--lto-clang`: up to `.llvm.`), then
/// address, then table order.
fn sort_by_name(symbols: &SymbolList, lto_clang: bool) -> Vec<u32> {
    let key = |i: u32| -> (&[u8], u64) {
        let entry = &symbols.entries[i as usize];
        let mut name = symbols.name(entry);
        if lto_clang {
            if let Some(cut) = name.windows(6).position(|w| w == b".llvm.") {
                name = &name[..cut];
            }
        }
        (name, entry.addr)
    };
    // The first 16 name bytes as an integer decide most comparisons without touching the
    // arena; NUL padding orders a shorter name first, as strcmp does.
    let mut keyed: Vec<(u128, u32)> = (0..symbols.entries.len() as u32)
        .map(|i| {
            let mut prefix = [0u8; 16];
            let name = key(i).0;
            let n = name.len().min(16);
            prefix[..n].copy_from_slice(&name[..n]);
            (u128::from_be_bytes(prefix), i)
        })
        .collect();
    keyed.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb)
            .then_with(|| key(a).cmp(&key(b)))
            .then(a.cmp(&b))
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn relative_offsets(
    symbols: &SymbolList,
    options: TableOptions,
    relative_base: u64,
) -> Result<Vec<i32>, TableError> {
    symbols
        .entries
        .iter()
        .map(|entry| {
            let addr = entry.addr as i128;
            let base = relative_base as i128;
            let (offset, fits) = if !options.absolute_percpu {
                let offset = addr - base;
                (offset, (0..=u32::MAX as i128).contains(&offset))
            } else if entry.absolute {
                (addr, (0..=i32::MAX as i128).contains(&addr))
            } else {
                let offset = base - addr - 1;
                (offset, (i32::MIN as i128..0).contains(&offset))
            };
            if fits {
                Ok(offset as u32 as i32)
            } else {
                Err(TableError::OutOfRange {
                    source: symbols.source.clone(),
                    class: if entry.absolute {
                        "absolute"
                    } else {
                        "relative"
                    },
                    name: String::from_utf8_lossy(symbols.name(entry)).into_owned(),
                    addr: entry.addr,
                    relative_base,
                })
            }
        })
        .collect()
}

/// 7.x's `kallsyms_offsets` values: with `--pc-relative`, each symbol's distance from
/// `_text` (computed modulo 2^64 and taken as signed, as upstream's `long long` does), which
/// must fit in 32 signed bits; without, the address truncated to 32 bits, unchecked.
fn text_offsets(symbols: &SymbolList, options: TableOptions) -> Result<Vec<i32>, TableError> {
    symbols
        .entries
        .iter()
        .map(|entry| {
            if !options.pc_relative {
                return Ok(entry.addr as u32 as i32);
            }
            let distance = entry.addr.wrapping_sub(symbols.text_address) as i64;
            i32::try_from(distance).map_err(|_| TableError::PlaceRelativeOutOfRange {
                source: symbols.source.clone(),
                name: String::from_utf8_lossy(symbols.name(entry)).into_owned(),
                addr: entry.addr,
                text_address: symbols.text_address,
            })
        })
        .collect()
}

/// Receives the table's content, array by array, in the order of the profile's layout.
/// Implemented once for bytes and once for assembly text.
pub trait TableSink {
    /// An array's label: `.globl L`, `ALGN`, `L:`.
    fn begin(&mut self, kind: ArrayKind) -> io::Result<()>;
    /// The blank line after an array.
    fn end(&mut self) -> io::Result<()>;
    /// `.long %u`: the symbol count or a marker.
    fn word(&mut self, value: u32) -> io::Result<()>;
    /// A compressed name with its length prefix; `symbol` is `TYPE` + `NAME` for comments.
    fn name(&mut self, compressed: &[u8], symbol: &[u8]) -> io::Result<()>;
    /// A token's expansion, NUL-terminated.
    fn token(&mut self, expansion: &[u8]) -> io::Result<()>;
    /// `.short %d`: a token's offset in the token table.
    fn token_index(&mut self, offset: u16) -> io::Result<()>;
    /// `.long %#x`: an entry of `kallsyms_offsets`.
    fn offset(&mut self, value: i32, symbol: &[u8]) -> io::Result<()>;
    /// `.long _text - . + (%d)`: a place-relative entry of `kallsyms_offsets` (7.x with
    /// `--pc-relative`), `distance` being the symbol's distance from `_text`.
    fn place_relative(&mut self, distance: i32, symbol: &[u8]) -> io::Result<()>;
    /// `PTR _text ± D`: a pointer the linker resolves.
    fn text_pointer(&mut self, addr: u64, text_address: u64) -> io::Result<()>;
    /// `PTR %#llx`: an absolute pointer.
    fn absolute_pointer(&mut self, value: u64) -> io::Result<()>;
    /// A 3-byte big-endian symbol number of `kallsyms_seqs_of_names`.
    fn seq(&mut self, seq: u32, symbol: &[u8]) -> io::Result<()>;
}

impl BuiltTable {
    /// Number of symbols in the table.
    pub fn num_syms(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Each symbol's type letter and name, in table order.
    pub fn symbols(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries.iter().map(|entry| {
            &self.arena[entry.start as usize..entry.start as usize + entry.len as usize]
        })
    }

    /// The token slots' expansions.
    pub fn tokens(&self) -> &[Vec<u8>] {
        &self.compressed.tokens
    }

    /// The arrays this table has, in layout order.
    pub fn arrays(&self) -> impl Iterator<Item = ArrayKind> + '_ {
        self.profile.array_kinds(self.options).into_iter()
    }

    /// Walks the table's content into `sink`.
    pub fn render(&self, sink: &mut dyn TableSink) -> io::Result<()> {
        let entries = &self.entries;
        let symbol = |i: usize| {
            let entry = &entries[i];
            &self.arena[entry.start as usize..entry.start as usize + entry.len as usize]
        };
        for kind in self.arrays() {
            sink.begin(kind)?;
            match kind {
                ArrayKind::NumSyms => sink.word(self.num_syms())?,
                ArrayKind::Names => {
                    for i in 0..entries.len() {
                        sink.name(self.compressed.symbol(i), symbol(i))?;
                    }
                }
                ArrayKind::Markers => {
                    let mut offset = 0u32;
                    for i in 0..entries.len() {
                        if i % 256 == 0 {
                            sink.word(offset)?;
                        }
                        let len = self.compressed.symbol(i).len() as u32;
                        offset += len + if len > 0x7f { 2 } else { 1 };
                    }
                }
                ArrayKind::TokenTable => {
                    for expansion in &self.compressed.tokens {
                        sink.token(expansion)?;
                    }
                }
                ArrayKind::TokenIndex => {
                    let mut offset = 0usize;
                    for expansion in &self.compressed.tokens {
                        sink.token_index(offset as u16)?;
                        offset += expansion.len() + 1;
                    }
                }
                ArrayKind::Offsets => {
                    let place_relative = self.profile.place_relative(self.options);
                    for (i, &offset) in self.offsets.iter().enumerate() {
                        if place_relative {
                            sink.place_relative(offset, symbol(i))?;
                        } else {
                            sink.offset(offset, symbol(i))?;
                        }
                    }
                }
                ArrayKind::Addresses => {
                    for entry in entries {
                        if entry.absolute {
                            sink.absolute_pointer(entry.addr)?;
                        } else {
                            sink.text_pointer(entry.addr, self.text_address)?;
                        }
                    }
                }
                ArrayKind::RelativeBase => {
                    sink.text_pointer(self.relative_base, self.text_address)?
                }
                ArrayKind::SeqsOfNames => {
                    for &i in &self.name_order {
                        sink.seq(i, symbol(i as usize))?;
                    }
                }
            }
            sink.end()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linker_provided_guess_matches_upstreams_cases() {
        for name in [
            "__start_foo",
            "__stop_foo",
            "__end_foo",
            "__foo_start",
            "__bss_end",
        ] {
            assert!(looks_linker_provided(name.as_bytes()), "{name}");
        }
        for name in [
            "__start",
            "_start_foo",
            "__foo_stop",
            "__endfoo",
            "__x_end_",
        ] {
            assert!(!looks_linker_provided(name.as_bytes()), "{name}");
        }
    }
}
