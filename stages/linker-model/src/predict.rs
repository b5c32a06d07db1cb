//! The symbols a link will give its output, predicted from the link's inputs and linker
//! script before the link, as `nm -n OUTPUT | sed -f scripts/mksysmap` will list them.
//!
//! [`predict`] does it all:
//!
//! 1. read the script (`kslink-linker-script`) and the inputs ([`crate::inputs`]);
//! 2. resolve symbols as the linker does ([`crate::resolve`]): archive members, weak and
//!    strong definitions, commons, COMDAT groups;
//! 3. place every input section ([`crate::layout`]): `/DISCARD/`, output sections and
//!    their flags, removed empty sections;
//! 4. evaluate the script's assignments ([`crate::assign`]);
//! 5. list what the output's symbol table will hold: the local symbols of included
//!    objects (less those in discarded or removed sections, section and file symbols, and
//!    local labels in mergeable sections, which the linker drops), the winning definition
//!    of every global (lld: local if hidden, and undefined ones too), the script's
//!    symbols, `__start_SEC`/`__stop_SEC` that the linker defines for referenced section
//!    names, and the labels of the kallsyms table the link will add; each with the letter
//!    `nm` will print, from its output section;
//! 6. keep what the `scripts/mksysmap` of the table's kernel version keeps
//!    (`kslink-system-map`'s [`Mksysmap`], given by the caller).
//!
//! Addresses are unknown: every symbol gets address 0 and the set says
//! `addresses_known: false`; the order is `nm -n`'s for equal addresses (by name).
//!
//! The link is a final link of the given [`LinkKind`]: static (as x86 links the kernel),
//! with no dynamic sections and undefined symbols, weak ones included, left out of the
//! output's symbol table; or with dynamic sections (`-shared`, as arm64 and riscv link a
//! `CONFIG_RELOCATABLE` kernel, or `-pie`), which ld adds sections and binding rules for
//! ([`crate::linker`]).
//!
//! What cannot be predicted this way (none of it changes the kernels the tests link):
//!
//! - symbols a link creates: LTO, Arm and PowerPC veneers and thunks (mksysmap drops most
//!   of those by name anyway), and `--gc-sections`, which removes unreferenced sections
//!   (an option `--predict` refuses);
//! - what only an address tells: whether an `ALIGN` moves the location counter in an
//!   otherwise empty output section (which makes it allocated) when its alignment is not
//!   known from the script (it is then taken to move it), and, for the symbols of a removed
//!   section between two sections of the same kind, which of them ld moves them to
//!   (decided by whether anything lies between);
//! - where the linker puts an orphan section (it is taken to come last: only its own flags
//!   are certain; for lld a symbol assigned `.` after the place lld moves an alloc orphan
//!   to would be in the orphan), and the linker's own sections beyond those
//!   [`crate::linker`] lists for GNU ld and lld's ([`crate::layout::LLD_SECTIONS`]; not
//!   those that options add, such as lld's `.note.gnu.build-id`, nor lld's dynamic
//!   sections: lld's `-shared`/`-pie` links are not modelled);
//! - lld's own symbols (`__ehdr_start`, `_GLOBAL_OFFSET_TABLE_`, `_end` and the like,
//!   which it defines when referenced).

use std::ffi::OsString;
use std::path::Path;

use kslink_schema::{Symbol, SymbolOrigin, SymbolSet, TextPlace};
use object::elf;

use crate::assign::{self, Home, ScriptSymbol};
use crate::inputs::{InputFiles, LinkArg};
use crate::layout::{Layout, Placement};
use crate::linker;
use crate::relocatable::{
    InputSection, InputSymbol, Machine, Object, ObjectName, Place, Relocations,
};
use crate::resolve::{self, Link, Resolution};
use crate::text_ranges::TextRanges;
use crate::PredictError;
use kslink_linker_script::Script;
use kslink_schema::name_map::NameSet;
use kslink_schema::LinkKind;
use kslink_schema::LinkerFlavour;
use kslink_system_map::letter::{
    decode_symclass, is_debugging_symbol, is_elf_local_label, is_target_special_symbol,
    symbol_flags, SymbolPlace,
};
use kslink_system_map::{Mksysmap, NmSymbol};

/// What the kallsyms table adds to the link, as data: the caller (the collect stage) knows
/// the table's layout for the kernel version; the model only places the labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableLabels {
    /// The table's labels (`kallsyms_num_syms`, `kallsyms_names`, ...), in layout order.
    pub labels: Vec<&'static str>,
    /// Whether the table holds a pointer to `_text` (`kallsyms_relative_base`, or 6.1's
    /// `kallsyms_addresses`), which a position-independent link makes a dynamic relocation
    /// of. 7.x's `kallsyms_offsets` refer to `_text` relative to their own place, if at all:
    /// the linker resolves those itself.
    pub text_pointer: bool,
}

/// Predicts the symbols of the output of a link of `inputs` (objects, archives and
/// `--whole-archive`/`--start-group` switches, as on an `ld` command line) with linker
/// script `script` by the linker `flavour`, to which the kallsyms table of `table` is
/// added, writing a file of kind `kind`, as the System.map rules `mksysmap` list them.
pub fn predict(
    script: &Path,
    inputs: &[OsString],
    table: &TableLabels,
    mksysmap: &Mksysmap,
    flavour: LinkerFlavour,
    kind: LinkKind,
) -> Result<SymbolSet, PredictError> {
    let args = LinkArg::parse_all(inputs)?;
    let script_shown = script.display().to_string();
    let text = std::fs::read(script).map_err(|e| PredictError::io(&script_shown, e))?;
    let script = Script::parse(&text, &script_shown).map_err(PredictError::Script)?;
    let files = InputFiles::open(&args)?;
    let labels = &table.labels;
    let text_pointer = table.text_pointer;
    let references = script.referenced_symbols();
    let link = resolve::resolve(&files, flavour, kind, &references, |machine| {
        vec![table_object(labels, text_pointer, machine)]
    })?;
    let layout = Layout::new(&link, &script, flavour).map_err(PredictError::Script)?;
    let script_symbols =
        assign::evaluate(&script, &link, &layout, flavour).map_err(PredictError::Script)?;
    // Every object but the table, which comes last, has sections of known size.
    let sized_objects = link.objects.len() - 1;
    let ranges = TextRanges::locate(&script, &link, &layout, flavour, sized_objects);
    let predicted = Prediction::new(&link, &layout, &script_symbols, flavour, ranges.as_ref());
    Ok(predicted.into_symbol_set(
        mksysmap,
        &link,
        &layout,
        SymbolOrigin::Predicted {
            script: script_shown.clone(),
            inputs: files.words.clone(),
        },
        &script_shown,
    ))
}

/// What `--predict` adds for the kallsyms table: an object with the table's labels in
/// `.rodata` (as `scripts/kallsyms` emits them: global, in a read-only allocated
/// section) and a reference to `_text`; with `text_pointer`, an absolute pointer
/// ([`TableLabels::text_pointer`]) that a position-independent link makes a dynamic
/// relocation of.
fn table_object(labels: &[&'static str], text_pointer: bool, machine: Machine) -> Object<'static> {
    let null_section = InputSection {
        name: b"",
        sh_type: elf::SHT_NULL,
        sh_flags: 0,
        size: 0,
        align: 1,
    };
    let rodata = InputSection {
        name: b".rodata",
        sh_type: elf::SHT_PROGBITS,
        sh_flags: u64::from(elf::SHF_ALLOC),
        // The table is not empty; its size does not matter here.
        size: 1,
        align: if machine.is_64 { 8 } else { 4 },
    };
    let symbol = |name: &'static [u8], place| InputSymbol {
        name,
        info: (elf::STB_GLOBAL << 4) | elf::STT_NOTYPE,
        other: elf::STV_DEFAULT,
        place,
        value: 0,
        size: 0,
    };
    let mut symbols = vec![InputSymbol {
        name: b"",
        info: 0,
        other: 0,
        place: Place::Undefined,
        value: 0,
        size: 0,
    }];
    symbols.extend(
        labels
            .iter()
            .map(|label| symbol(label.as_bytes(), Place::Section(1))),
    );
    symbols.push(symbol(b"_text", Place::Undefined));
    let relocations = linker::pointer_relocation(machine)
        .filter(|_| text_pointer)
        .map(|(pointer, rela)| {
            // One record, of the pointer type, at offset 0 against symbol 0: only the type
            // is read.
            let word = if machine.is_64 { 8 } else { 4 };
            let info = if machine.is_64 {
                u64::from(pointer)
            } else {
                u64::from(pointer & 0xff)
            };
            let mut entry = vec![0u8; word * if rela { 3 } else { 2 }];
            let info_bytes = if machine.big_endian {
                info.to_be_bytes()
            } else {
                info.to_le_bytes()
            };
            let info_bytes = if machine.big_endian {
                &info_bytes[8 - word..]
            } else {
                &info_bytes[..word]
            };
            entry[word..2 * word].copy_from_slice(info_bytes);
            Relocations {
                target: 1,
                rela,
                entries: entry.into(),
            }
        })
        .into_iter()
        .collect();
    Object {
        name: ObjectName {
            display: TABLE_SOURCE.to_owned(),
            file_name: b"kallsyms.o".to_vec(),
            archive: None,
            top_level: false,
        },
        machine,
        sections: vec![null_section, rodata],
        symbols,
        first_global: 1,
        groups: Vec::new(),
        relocations,
    }
}

/// How the kallsyms table shows as a symbol's source.
const TABLE_SOURCE: &str = "the kallsyms table (added by --predict)";

/// The predicted symbols, before filtering.
struct Prediction<'a> {
    /// The target's `e_machine`: `nm` hides some of its symbols.
    machine: u16,
    symbols: Vec<NmSymbol<'a>>,
    /// Per symbol (by [`NmSymbol::index`]): where it comes from, an index into the
    /// sources (objects first, then the script); none for the linker's own symbols and
    /// undefined ones.
    sources: Vec<Option<u32>>,
    /// Per symbol: where it lies against the text ranges.
    texts: Vec<Option<TextPlace>>,
}

impl<'a> Prediction<'a> {
    fn new(
        link: &'a Link<'a>,
        layout: &Layout,
        script: &[ScriptSymbol<'a>],
        flavour: LinkerFlavour,
        ranges: Option<&TextRanges>,
    ) -> Prediction<'a> {
        let mut out = Prediction {
            machine: link.machine.machine,
            symbols: Vec::new(),
            sources: Vec::new(),
            texts: Vec::new(),
        };
        let script_source = link.objects.len() as u32;
        let script_names: NameSet<&[u8]> = script.iter().map(|s| s.name).collect();

        // Local symbols of every included object.
        for (o, object) in link.objects.iter().enumerate() {
            for (index, symbol) in object
                .symbols
                .iter()
                .enumerate()
                .take(object.first_global)
                .skip(1)
            {
                if is_debugging_symbol(symbol.info) {
                    continue;
                }
                let (place, section) = match symbol.place {
                    Place::Undefined | Place::Common => continue,
                    Place::Absolute => (SymbolPlace::Absolute, None),
                    Place::Section(section) => {
                        let Placement::Output(out) = layout.placement_of(o, section as usize)
                        else {
                            continue;
                        };
                        let output = &layout.outputs[out];
                        if !output.is_kept() {
                            continue;
                        }
                        // The linkers' default --discard-locals for mergeable sections:
                        // BFD's local labels, lld's `.L` names.
                        let input = &object.sections[section as usize];
                        let local_label = match flavour {
                            LinkerFlavour::Gnu => is_elf_local_label(symbol.name),
                            LinkerFlavour::Lld => symbol.name.starts_with(b".L"),
                        };
                        if input.sh_flags & u64::from(elf::SHF_MERGE) != 0 && local_label {
                            continue;
                        }
                        let place = SymbolPlace::Section {
                            letter: output.letter,
                        };
                        (place, Some(out as u32))
                    }
                };
                out.push(
                    symbol.name,
                    decode_symclass(place, symbol_flags(symbol.info, false)),
                    section,
                    Some(o as u32),
                    ranges.map(|r| r.input_symbol(link, o, index)),
                );
            }
        }

        // The winning definition of every global the script does not assign, with the
        // binding the link gives it: lld makes hidden ones local, and so does GNU ld's
        // `-shared`.
        let kind = link.kind;
        // Undefined symbols are output as dynamic symbols: not where the script discards
        // the dynamic symbol table.
        let dynamic_symbols = layout.linker_output(b".dynsym").is_some();
        let mut start_stop = Vec::new();
        for global in &link.globals {
            if script_names.contains(global.name) {
                continue;
            }
            let localized = (flavour == LinkerFlavour::Lld && global.is_hidden())
                || linker::forces_local(kind, global.visibility);
            let binding = |info: u8| {
                if localized {
                    info & 0xf
                } else {
                    info
                }
            };
            match global.resolution {
                Resolution::Defined { object, symbol } => {
                    let input = link.symbol(object, symbol);
                    let (place, section) = match input.place {
                        Place::Section(section) => {
                            match layout.placement_of(object, section as usize) {
                                Placement::Output(out) => global_home(layout, out),
                                // Symbols in discarded sections are stripped.
                                Placement::Discarded | Placement::Unplaced => continue,
                            }
                        }
                        _ => (SymbolPlace::Absolute, None),
                    };
                    out.push(
                        global.name,
                        decode_symclass(place, symbol_flags(binding(input.info), false)),
                        section,
                        Some(object as u32),
                        ranges.map(|r| r.input_symbol(link, object, symbol)),
                    );
                }
                Resolution::Common { object, .. } => {
                    let (place, section) = match layout.common_placement(object) {
                        Placement::Output(out) => global_home(layout, out),
                        Placement::Discarded | Placement::Unplaced => continue,
                    };
                    // A common symbol becomes an ordinary definition in its section.
                    let info = (elf::STB_GLOBAL << 4) | elf::STT_OBJECT;
                    out.push(
                        global.name,
                        decode_symclass(place, symbol_flags(binding(info), false)),
                        section,
                        Some(object as u32),
                        ranges.map(|r| r.common_symbol(object, global.name)),
                    );
                }
                // GNU ld leaves undefined symbols out of a static link's symbol table and
                // keeps weak ones in a link with dynamic sections; lld keeps them (only weak
                // data objects, nm's `v`, and `w` pass mksysmap).
                Resolution::Undefined { weak, object } => {
                    let found = match flavour {
                        LinkerFlavour::Gnu => start_stop_section(global.name, link, layout)
                            .map(|found| (found, elf::STB_GLOBAL << 4)),
                        LinkerFlavour::Lld => lld_start_stop_section(global.name, layout)
                            .map(|found| (found, binding(elf::STB_GLOBAL << 4))),
                    };
                    let kind = if object {
                        elf::STT_OBJECT
                    } else {
                        elf::STT_NOTYPE
                    };
                    if let Some((found, info)) = found {
                        start_stop.push((global.name, found, info));
                    } else if flavour == LinkerFlavour::Lld {
                        let bind = if weak { elf::STB_WEAK } else { elf::STB_GLOBAL };
                        let flags = symbol_flags(binding((bind << 4) | kind), true);
                        let source = undefined_source(global.name, link).unwrap_or(script_source);
                        out.push(
                            global.name,
                            decode_symclass(SymbolPlace::Undefined, flags),
                            None,
                            Some(source),
                            ranges.map(|r| r.undefined_symbol(global.name)),
                        );
                    } else if weak
                        && dynamic_symbols
                        && linker::keeps_undefined_weak(
                            link.kind,
                            link.machine.machine,
                            global.visibility,
                        )
                        && global.name != linker::DYNAMIC_SYMBOL
                    {
                        // nm's `v` (a data object) or `w`. A link keeps no other undefined
                        // symbols that mksysmap would keep: a static one drops them, a
                        // dynamic one keeps strong ones as `U`.
                        let flags = symbol_flags((elf::STB_WEAK << 4) | kind, true);
                        out.push(
                            global.name,
                            decode_symclass(SymbolPlace::Undefined, flags),
                            None,
                            None,
                            ranges.map(|r| r.undefined_symbol(global.name)),
                        );
                    }
                }
            }
        }

        // `__start_SEC` and `__stop_SEC`, which the linker defines when they are referenced
        // and not otherwise defined: GNU ld protected whatever the references say, so
        // global; lld global unless a reference hides it.
        for (name, (object, out_section), info) in start_stop {
            let (place, section) = global_home(layout, out_section);
            let end = name.starts_with(b"__stop_");
            out.push(
                name,
                decode_symclass(place, symbol_flags(info, false)),
                section,
                Some(object as u32),
                ranges.map(|r| r.section_symbol(out_section, end, name)),
            );
        }

        // The script's symbols.
        for symbol in script {
            let (place, section) = match symbol.home {
                Home::Absolute => (SymbolPlace::Absolute, None),
                Home::Output(out) => global_home(layout, out),
            };
            // The set's sections tell where a symbol's address will be (the table stage
            // finds the per-cpu symbols by them): one listed in a section placed elsewhere
            // is in none of them.
            let section = section.filter(|_| !symbol.outside_home);
            let visibility = link
                .global(symbol.name)
                .map_or(elf::STV_DEFAULT, |g| g.visibility);
            let binding = if symbol.hidden || linker::forces_local(kind, visibility) {
                elf::STB_LOCAL
            } else {
                elf::STB_GLOBAL
            };
            let kind = if symbol.ifunc {
                elf::STT_GNU_IFUNC
            } else {
                elf::STT_NOTYPE
            };
            out.push(
                symbol.name,
                decode_symclass(place, symbol_flags((binding << 4) | kind, false)),
                section,
                Some(script_source),
                ranges.map(|r| r.script_symbol(link, symbol.name)),
            );
        }

        // ld's own `_DYNAMIC`, where nm shows it as a symbol of `.dynamic`.
        if linker::dynamic_symbol_in_section(link) {
            if let Some(out_section) = layout.linker_output(b".dynamic") {
                let (place, section) = global_home(layout, out_section);
                let info = (elf::STB_LOCAL << 4) | elf::STT_OBJECT;
                out.push(
                    linker::DYNAMIC_SYMBOL,
                    decode_symclass(place, symbol_flags(info, false)),
                    section,
                    None,
                    ranges.map(|r| r.section_symbol(out_section, false, linker::DYNAMIC_SYMBOL)),
                );
            }
        }

        out
    }

    /// Adds a symbol, unless `nm` hides it (the target's mapping symbols and the like).
    fn push(
        &mut self,
        name: &'a [u8],
        type_letter: u8,
        section: Option<u32>,
        source: Option<u32>,
        text: Option<TextPlace>,
    ) {
        if is_target_special_symbol(self.machine, name) {
            return;
        }
        self.texts.push(text);
        let index = self.symbols.len() as u32;
        self.symbols.push(NmSymbol {
            address: 0,
            type_letter,
            name,
            section,
            index,
        });
        self.sources.push(source);
    }

    /// The set after `mksysmap`'s filter, in `nm -n` order.
    fn into_symbol_set(
        mut self,
        mksysmap: &Mksysmap,
        link: &Link,
        layout: &Layout,
        origin: SymbolOrigin,
        script: &str,
    ) -> SymbolSet {
        let rules = mksysmap.rule_set();
        self.symbols.retain(|s| rules.keeps(s.type_letter, s.name));
        sort_by_name(&mut self.symbols);
        let mut sources: Vec<String> = link
            .objects
            .iter()
            .map(|o| o.name.display.clone())
            .collect();
        sources.push(script.to_owned());
        SymbolSet {
            origin,
            addresses_known: false,
            address_bits: if link.machine.is_64 { 64 } else { 32 },
            sections: layout
                .outputs
                .iter()
                .map(|o| String::from_utf8_lossy(&o.name).into_owned())
                .collect(),
            sources,
            symbols: self
                .symbols
                .iter()
                .map(|s| Symbol {
                    address: 0,
                    type_letter: s.type_letter,
                    name: s.name.to_vec(),
                    section: s.section,
                    source: self.sources[s.index as usize],
                    text: self.texts[s.index as usize],
                })
                .collect(),
        }
    }
}

/// Sorts symbols whose addresses are all unknown (zero) into `nm -n` order: by name
/// (`strcmp`), equal names in input order. The first eight bytes of each name, as a
/// big-endian number, decide most comparisons without a call to `memcmp` (names hold no NUL,
/// so zero padding keeps the order).
fn sort_by_name(symbols: &mut Vec<NmSymbol>) {
    let prefix = |name: &[u8]| {
        let mut bytes = [0u8; 8];
        let n = name.len().min(8);
        bytes[..n].copy_from_slice(&name[..n]);
        u64::from_be_bytes(bytes)
    };
    let mut keys: Vec<(u64, u32)> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (prefix(s.name), i as u32))
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| symbols[a.1 as usize].name.cmp(symbols[b.1 as usize].name))
            .then(a.1.cmp(&b.1))
    });
    *symbols = keys.iter().map(|&(_, i)| symbols[i as usize]).collect();
}

/// Where a global symbol of output section `out` ends up: there, or, if the link removes
/// that section, in the neighbour ld moves it to.
fn global_home(layout: &Layout, out: usize) -> (SymbolPlace, Option<u32>) {
    let out = if layout.outputs[out].is_kept() {
        Some(out)
    } else {
        layout.kept_neighbour(out)
    };
    match out {
        Some(out) => (
            SymbolPlace::Section {
                letter: layout.outputs[out].letter,
            },
            Some(out as u32),
        ),
        None => (SymbolPlace::Absolute, None),
    }
}

/// For `__start_SEC` or `__stop_SEC` where `SEC` is a C identifier and an input section of
/// that name is placed: the object of the first such section and the output section ld
/// defines the symbol in (`lang_init_start_stop`).
fn start_stop_section(name: &[u8], link: &Link, layout: &Layout) -> Option<(usize, usize)> {
    let section = start_stop_name(name)?;
    link.objects.iter().enumerate().find_map(|(o, object)| {
        object
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == section)
            .find_map(|(i, _)| match layout.placement_of(o, i) {
                Placement::Output(out) => Some((o, out)),
                _ => None,
            })
    })
}

/// lld's `__start_SEC` or `__stop_SEC`: `SEC` a C identifier that names a kept output
/// section (`addStartStopSymbols`); the object of its first input section (0 if it has
/// none) and the section.
fn lld_start_stop_section(name: &[u8], layout: &Layout) -> Option<(usize, usize)> {
    let section = start_stop_name(name)?;
    let out = layout
        .outputs
        .iter()
        .position(|o| o.name == section && o.is_kept())?;
    let object = layout
        .placement
        .iter()
        .position(|sections| sections.contains(&Placement::Output(out)))
        .unwrap_or(0);
    Some((object, out))
}

/// `SEC` of `__start_SEC` or `__stop_SEC`, if it is a C identifier.
fn start_stop_name(name: &[u8]) -> Option<&[u8]> {
    let section = name
        .strip_prefix(b"__start_")
        .or_else(|| name.strip_prefix(b"__stop_"))?;
    let is_c_identifier = section
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && section
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    is_c_identifier.then_some(section)
}

/// The object of the first reference to an undefined global: its source.
fn undefined_source(name: &[u8], link: &Link) -> Option<u32> {
    link.objects
        .iter()
        .position(|o| o.globals().any(|(_, s)| s.name == name))
        .map(|o| o as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_strcmp_then_input_order() {
        let sym = |name: &'static str, index| NmSymbol {
            address: 0,
            type_letter: b'T',
            name: name.as_bytes(),
            section: None,
            index,
        };
        let mut symbols = vec![
            sym("__start_b", 0),
            sym("_a", 1),
            sym("abcdefgh_long", 2),
            sym("abcdefgh", 3),
            sym("__start_a", 4),
            sym("_a", 5),
            sym("Z", 6),
            sym("abcdefgh_long", 7),
        ];
        sort_by_name(&mut symbols);
        let order: Vec<u32> = symbols.iter().map(|s| s.index).collect();
        assert_eq!(order, [6, 4, 0, 1, 5, 3, 2, 7]);
    }
}
