//! Which objects a link includes and which definition each global symbol gets, as GNU ld
//! or lld decides them.
//!
//! - Objects are read in command-line order. An archive member is included only when it
//!   defines a symbol that is undefined at that point (found through the archive's
//!   index), or always under `--whole-archive`. A member that defines a symbol which is
//!   only common so far is included too, if its definition is not common as well
//!   (`elf_link_add_archive_symbols`; lld 14 does the same). GNU ld searches archives
//!   inside `--start-group … --end-group` again until no member is added; lld remembers
//!   every archive's symbols and takes a member whenever a later reference needs it, as if
//!   all archives were one group, and every symbol a script expression names is such a
//!   reference (`LinkerScript::referencedSymbols`).
//! - A strong definition replaces a weak one; two strong definitions are an error; a
//!   definition replaces a common symbol; of two common symbols the larger stays.
//!   An undefined weak reference does not pull archive members.
//! - Of several COMDAT groups with the same signature the first is kept; the others'
//!   sections are discarded, and their symbols define nothing. GNU ld treats
//!   `.gnu.linkonce.*` sections of one name alike; lld gives them no special meaning.
//! - A global's visibility ([`Global::visibility`]) is the most constraining of all its
//!   definitions and references in the included objects (internal, then hidden, then
//!   protected; `elf_merge_st_other`).

use std::collections::HashSet;

use object::elf;

use crate::archive::{Archive, IndexEntry};
use crate::inputs::{FileKind, InputArg, InputFiles};
use crate::relocatable::{InputSymbol, Machine, Object, ObjectName, Place};
use crate::PredictError;
use kslink_schema::name_map::{NameMap, NameSet};
use kslink_schema::LinkKind;
use kslink_schema::LinkerFlavour;

/// A global symbol's resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Only referenced.
    Undefined {
        /// Every reference is weak.
        weak: bool,
        /// A reference says the symbol is a data object (`STT_OBJECT`): nm's `v`.
        object: bool,
    },
    /// Defined by symbol `symbol` of object `object`.
    Defined {
        /// The object, by index in [`Link::objects`].
        object: usize,
        /// The symbol, by ELF index.
        symbol: usize,
    },
    /// A common symbol, allocated by the link in the `COMMON` section of `object`.
    Common {
        /// The object whose common symbol is the largest.
        object: usize,
        /// Its symbol.
        symbol: usize,
    },
}

/// A global symbol.
#[derive(Clone, Copy, Debug)]
pub struct Global<'data> {
    /// Its name.
    pub name: &'data [u8],
    /// What the inputs make of it.
    pub resolution: Resolution,
    /// Its visibility (`STV_*`): the most constraining of every mention in the included
    /// objects, references included (`STV_DEFAULT` if none says otherwise).
    pub visibility: u8,
}

impl Global<'_> {
    /// Hidden or internal: lld makes such a symbol local in its output.
    pub fn is_hidden(&self) -> bool {
        matches!(self.visibility, elf::STV_HIDDEN | elf::STV_INTERNAL)
    }
}

/// The result of reading a link's inputs.
pub struct Link<'data> {
    /// The included objects, in link order.
    pub objects: Vec<Object<'data>>,
    /// Per object, per section: discarded as a duplicate COMDAT group member.
    pub comdat_discarded: Vec<Vec<bool>>,
    /// The global symbols.
    pub globals: Vec<Global<'data>>,
    /// Global symbols by name.
    pub global_index: NameMap<&'data [u8], usize>,
    /// The machine all inputs are for.
    pub machine: Machine,
    /// The files of the command line (objects and archives), as given.
    pub input_names: Vec<Vec<u8>>,
    /// The kind of file the link writes.
    pub kind: LinkKind,
}

impl<'data> Link<'data> {
    /// The global symbol `name`, if any input mentions it.
    pub fn global(&self, name: &[u8]) -> Option<&Global<'data>> {
        self.global_index.get(name).map(|&i| &self.globals[i])
    }

    /// The input symbol behind a definition.
    pub fn symbol(&self, object: usize, symbol: usize) -> &InputSymbol<'data> {
        &self.objects[object].symbols[symbol]
    }
}

/// Reads the inputs in `files` in link order, then the objects `extra` makes for the
/// inputs' machine (objects the link will also have, such as the kallsyms table), as
/// `flavour` links them into a file of kind `kind`. `references` are the names the linker
/// script refers to, which lld treats as undefined references.
pub fn resolve<'data>(
    files: &'data InputFiles,
    flavour: LinkerFlavour,
    kind: LinkKind,
    references: &[&'data [u8]],
    extra: impl FnOnce(Machine) -> Vec<Object<'data>>,
) -> Result<Link<'data>, PredictError> {
    let mut linker = Linker {
        linkonce_is_comdat: flavour == LinkerFlavour::Gnu,
        ..Linker::default()
    };
    let mut whole_archive = false;
    let mut scans: Vec<ArchiveScan<'data>> = Vec::new();
    let mut group: Option<Vec<usize>> = None;
    for arg in &files.args {
        match *arg {
            InputArg::WholeArchive => whole_archive = true,
            InputArg::NoWholeArchive => whole_archive = false,
            InputArg::StartGroup => group = Some(Vec::new()),
            InputArg::EndGroup => {
                let archives = group.take().expect("groups are balanced");
                linker.scan_until_settled(&mut scans, &archives, files)?;
            }
            InputArg::File(index) => {
                let file = &files.files[index];
                let shown = file.map.shown();
                let problem = |message: String| PredictError::Input {
                    path: shown.to_owned(),
                    message,
                };
                match file.kind {
                    FileKind::Object => {
                        let name = ObjectName {
                            display: shown.to_owned(),
                            file_name: shown.as_bytes().to_vec(),
                            archive: None,
                            top_level: true,
                        };
                        let object = Object::parse(file.map.bytes(), name).map_err(problem)?;
                        linker.add(object)?;
                    }
                    FileKind::Archive | FileKind::ThinArchive => {
                        let archive = Archive::parse(file.map.bytes()).map_err(problem)?;
                        if whole_archive {
                            for member in archive.members().map_err(problem)? {
                                let object = load_member(files, index, &archive, member.offset)?;
                                linker.add(object)?;
                            }
                            continue;
                        }
                        let Some(symbols) = archive.index().map_err(problem)? else {
                            return Err(problem(
                                "archive has no index; run ranlib to add one (or link it \
                                 with --whole-archive)"
                                    .into(),
                            ));
                        };
                        let mut scan = ArchiveScan {
                            file: index,
                            archive,
                            symbols,
                            included: HashSet::new(),
                        };
                        linker.scan(&mut scan, files)?;
                        if let Some(group) = &mut group {
                            group.push(scans.len());
                        }
                        scans.push(scan);
                    }
                }
            }
        }
    }
    if flavour == LinkerFlavour::Lld {
        for name in references {
            linker.refer(name);
        }
    }
    let Some(machine) = linker.machine else {
        return Err(PredictError::Link(
            "the link has no objects: no archive member resolves anything, and no object is \
             given"
                .into(),
        ));
    };
    for object in extra(machine) {
        linker.add(object)?;
    }
    if flavour == LinkerFlavour::Lld {
        // lld takes a member for a reference that comes after its archive too.
        let every_archive: Vec<usize> = (0..scans.len()).collect();
        linker.scan_until_settled(&mut scans, &every_archive, files)?;
    }
    Ok(Link {
        objects: linker.objects,
        comdat_discarded: linker.comdat_discarded,
        globals: linker.globals,
        global_index: linker.global_index,
        machine,
        input_names: files
            .files
            .iter()
            .map(|f| f.map.shown().as_bytes().to_vec())
            .collect(),
        kind,
    })
}

/// An archive being searched, and the members already taken from it.
struct ArchiveScan<'data> {
    file: usize,
    archive: Archive<'data>,
    symbols: Vec<IndexEntry<'data>>,
    included: HashSet<u64>,
}

/// The member at `offset` of archive file `index`, read as an object.
fn load_member<'data>(
    files: &'data InputFiles,
    index: usize,
    archive: &Archive<'data>,
    offset: u64,
) -> Result<Object<'data>, PredictError> {
    let file = &files.files[index];
    let shown = file.map.shown();
    let problem = |message: String| PredictError::Input {
        path: shown.to_owned(),
        message,
    };
    let member = archive.member(offset).map_err(problem)?;
    let member_name = String::from_utf8_lossy(member.name);
    let (data, file_name) = match member.data {
        Some(data) => match file.aligned_members.get(&offset) {
            Some(copy) => (copy.bytes(), member.name.to_vec()),
            None => (data, member.name.to_vec()),
        },
        None => {
            let thin = file.thin_members.get(member.name).ok_or_else(|| {
                problem(format!("thin archive member {member_name} is not listed"))
            })?;
            match &thin.file {
                Ok(map) => (map.bytes(), thin.path.as_bytes().to_vec()),
                Err(message) => return Err(problem(message.clone())),
            }
        }
    };
    let name = ObjectName {
        display: format!("{shown}({member_name})"),
        file_name,
        archive: Some(shown.as_bytes().to_vec()),
        top_level: false,
    };
    let display = name.display.clone();
    Object::parse(data, name).map_err(|message| PredictError::Input {
        path: display,
        message,
    })
}

#[derive(Default)]
struct Linker<'data> {
    /// GNU ld keeps one `.gnu.linkonce.*` section of each name, as a COMDAT group.
    linkonce_is_comdat: bool,
    objects: Vec<Object<'data>>,
    comdat_discarded: Vec<Vec<bool>>,
    globals: Vec<Global<'data>>,
    global_index: NameMap<&'data [u8], usize>,
    comdat_signatures: NameSet<&'data [u8]>,
    machine: Option<Machine>,
}

impl<'data> Linker<'data> {
    /// Includes the archive members that resolve what is undefined now, until none does;
    /// true if any was included.
    fn scan(
        &mut self,
        scan: &mut ArchiveScan<'data>,
        files: &'data InputFiles,
    ) -> Result<bool, PredictError> {
        let mut any = false;
        loop {
            let mut added = false;
            for i in 0..scan.symbols.len() {
                let (name, offset) = scan.symbols[i];
                if scan.included.contains(&offset) {
                    continue;
                }
                let wanted = match self.global(name).map(|g| g.resolution) {
                    Some(Resolution::Undefined { weak: false, .. }) => true,
                    Some(Resolution::Common { .. }) => {
                        let member = load_member(files, scan.file, &scan.archive, offset)?;
                        defines_non_common(&member, name)
                    }
                    _ => false,
                };
                if wanted {
                    let member = load_member(files, scan.file, &scan.archive, offset)?;
                    scan.included.insert(offset);
                    self.add(member)?;
                    added = true;
                }
            }
            if !added {
                return Ok(any);
            }
            any = true;
        }
    }

    /// Searches the archives `which` (indices into `scans`) again and again until a pass
    /// adds nothing.
    fn scan_until_settled(
        &mut self,
        scans: &mut [ArchiveScan<'data>],
        which: &[usize],
        files: &'data InputFiles,
    ) -> Result<(), PredictError> {
        loop {
            let mut added = false;
            for &i in which {
                added |= self.scan(&mut scans[i], files)?;
            }
            if !added {
                return Ok(());
            }
        }
    }

    fn global(&self, name: &[u8]) -> Option<&Global<'data>> {
        self.global_index.get(name).map(|&i| &self.globals[i])
    }

    /// The slot of global `name`, made (undefined, only weakly referenced) if new.
    fn slot(&mut self, name: &'data [u8]) -> usize {
        match self.global_index.get(name) {
            Some(&slot) => slot,
            None => {
                self.globals.push(Global {
                    name,
                    resolution: Resolution::Undefined {
                        weak: true,
                        object: false,
                    },
                    visibility: elf::STV_DEFAULT,
                });
                self.global_index.insert(name, self.globals.len() - 1);
                self.globals.len() - 1
            }
        }
    }

    /// A strong undefined reference to `name` from outside the objects (lld's
    /// `addUndefined`), unless it is defined.
    fn refer(&mut self, name: &'data [u8]) {
        let slot = self.slot(name);
        if let Resolution::Undefined { object, .. } = self.globals[slot].resolution {
            self.globals[slot].resolution = Resolution::Undefined {
                weak: false,
                object,
            };
        }
    }

    /// Adds an object to the link: its COMDAT groups and its global symbols.
    fn add(&mut self, object: Object<'data>) -> Result<(), PredictError> {
        match self.machine {
            None => self.machine = Some(object.machine),
            Some(machine) if machine != object.machine => {
                let first = &self.objects[0].name.display;
                return Err(PredictError::Input {
                    path: object.name.display.clone(),
                    message: format!(
                        "is for another machine than {first} (e_machine {} vs {}, \
                         {}-bit vs {}-bit, {} vs {} endian)",
                        object.machine.machine,
                        machine.machine,
                        if object.machine.is_64 { 64 } else { 32 },
                        if machine.is_64 { 64 } else { 32 },
                        endian_name(object.machine.big_endian),
                        endian_name(machine.big_endian),
                    ),
                });
            }
            Some(_) => {}
        }
        let index = self.objects.len();
        self.global_index
            .reserve(object.symbols.len().saturating_sub(object.first_global));
        let discarded = self.comdat(&object);
        for (symbol_index, symbol) in object.globals() {
            if symbol.is_local() {
                continue;
            }
            if let Place::Section(section) = symbol.place {
                if discarded[section as usize] {
                    continue;
                }
            }
            let slot = self.slot(symbol.name);
            let visibility = &mut self.globals[slot].visibility;
            *visibility = more_constraining(*visibility, symbol.visibility());
            self.merge(&object, index, slot, symbol_index, symbol)?;
        }
        self.objects.push(object);
        self.comdat_discarded.push(discarded);
        Ok(())
    }

    /// The sections of `object` that duplicate a group (or linkonce section) already in
    /// the link.
    fn comdat(&mut self, object: &Object<'data>) -> Vec<bool> {
        let mut discarded = vec![false; object.sections.len()];
        for group in &object.groups {
            if !self.comdat_signatures.insert(group.signature) {
                for &section in &group.sections {
                    if let Some(flag) = discarded.get_mut(section as usize) {
                        *flag = true;
                    }
                }
            }
        }
        for (i, section) in object.sections.iter().enumerate() {
            if self.linkonce_is_comdat
                && section.name.starts_with(b".gnu.linkonce.")
                && !self.comdat_signatures.insert(section.name)
            {
                discarded[i] = true;
            }
        }
        discarded
    }

    fn merge(
        &mut self,
        object: &Object<'data>,
        index: usize,
        slot: usize,
        symbol_index: usize,
        symbol: &InputSymbol<'data>,
    ) -> Result<(), PredictError> {
        let current = self.globals[slot].resolution;
        let new = match (symbol.place, current) {
            (Place::Undefined, Resolution::Undefined { weak, object: o }) => {
                Resolution::Undefined {
                    weak: weak && symbol.is_weak(),
                    object: o || symbol.kind() == elf::STT_OBJECT,
                }
            }
            (Place::Undefined, defined) => defined,
            (Place::Common, Resolution::Undefined { .. }) => Resolution::Common {
                object: index,
                symbol: symbol_index,
            },
            (Place::Common, Resolution::Common { object, symbol: s }) => {
                if symbol.size > self.objects[object].symbols[s].size {
                    Resolution::Common {
                        object: index,
                        symbol: symbol_index,
                    }
                } else {
                    current
                }
            }
            (Place::Common, Resolution::Defined { object, symbol: s }) => {
                // A common symbol overrides a weak definition, not a strong one.
                if self.objects[object].symbols[s].is_weak() {
                    Resolution::Common {
                        object: index,
                        symbol: symbol_index,
                    }
                } else {
                    current
                }
            }
            (_, Resolution::Undefined { .. } | Resolution::Common { .. }) => {
                if symbol.is_weak() && matches!(current, Resolution::Common { .. }) {
                    current
                } else {
                    Resolution::Defined {
                        object: index,
                        symbol: symbol_index,
                    }
                }
            }
            (
                _,
                Resolution::Defined {
                    object: o,
                    symbol: s,
                },
            ) => {
                let existing = &self.objects[o].symbols[s];
                match (existing.is_weak(), symbol.is_weak()) {
                    (true, false) => Resolution::Defined {
                        object: index,
                        symbol: symbol_index,
                    },
                    (false, false) => {
                        return Err(PredictError::Link(format!(
                            "multiple definition of `{}`: in {} and in {} (the link would \
                             fail)",
                            String::from_utf8_lossy(symbol.name),
                            self.objects[o].name.display,
                            object.name.display
                        )))
                    }
                    _ => current,
                }
            }
        };
        self.globals[slot].resolution = new;
        Ok(())
    }
}

fn endian_name(big: bool) -> &'static str {
    if big {
        "big"
    } else {
        "little"
    }
}

/// The more constraining of two visibilities: internal, hidden, protected, default
/// (`elf_merge_st_other`).
fn more_constraining(a: u8, b: u8) -> u8 {
    // STV_DEFAULT (0) wraps around to the least constraining.
    if b.wrapping_sub(1) < a.wrapping_sub(1) {
        b
    } else {
        a
    }
}

/// Whether `object` defines `name` other than as a common symbol.
fn defines_non_common(object: &Object, name: &[u8]) -> bool {
    object
        .globals()
        .any(|(_, s)| s.name == name && matches!(s.place, Place::Absolute | Place::Section(_)))
}

impl Link<'_> {
    /// Whether input section `section` of `object` takes part in the link: placed
    /// somewhere, and not a discarded COMDAT duplicate.
    pub fn is_live(&self, object: usize, section: usize) -> bool {
        self.objects[object].sections[section].is_placed()
            && !self.comdat_discarded[object][section]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_merges_to_the_most_constraining() {
        use elf::{STV_DEFAULT, STV_HIDDEN, STV_INTERNAL, STV_PROTECTED};
        let order = [STV_INTERNAL, STV_HIDDEN, STV_PROTECTED, STV_DEFAULT];
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                let expected = order[i.min(j)];
                assert_eq!(more_constraining(a, b), expected, "{a} and {b}");
            }
        }
    }
}
