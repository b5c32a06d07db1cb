//! The check that a linked file's `.BTF` fits the file, without a second pahole: the BTF was
//! made from the link's inputs, so what it says about the link's outcome is confirmed
//! against the outcome. pahole takes three things from the file it reads: the size of each
//! data section it describes, each variable's offset and size in it (from the symbol table),
//! and which functions are symbols. Each is checked here against the linked file's section
//! headers and symbol table; the functions, with the file pahole read (the view), as the
//! functions of the view that the link kept. Where symbols alias one per-cpu variable, the
//! name pahole takes depends on their order in the symbol table: each per-cpu variable's
//! name is checked to be the one pahole 1.24 would take from the linked file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use kslink_schema::{BtfFit, DatasecFit};
use object::{elf, Object, ObjectSection, ObjectSymbol, SymbolFlags, SymbolKind};

use crate::format::{Btf, FormatError};
use crate::view::PERCPU_SECTION;

/// How the `.BTF` of a file differs from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misfit {
    /// The `.BTF` section cannot be read (so nothing of it can be confirmed).
    Format(FormatError),
    /// A data section of the BTF is not a section of the file.
    NoSection(String),
    /// A data section's size differs from the file's.
    SectionSize {
        /// The section.
        section: String,
        /// The BTF's size.
        btf: u64,
        /// The file's.
        file: u64,
    },
    /// A variable of a data section is not a symbol of that section at its offset and of its
    /// size.
    Variable {
        /// The section.
        section: String,
        /// The variable.
        name: String,
        /// Its offset and size in the BTF.
        offset: u32,
        /// Its size in the BTF.
        size: u32,
        /// Where the file has symbols of that name in the section: (offset, size).
        found: Vec<(u64, u64)>,
    },
    /// A per-cpu variable of the BTF is not the one of the symbols at its offset that pahole
    /// takes from the file.
    PerCpuName {
        /// The variable, as the BTF names it.
        name: String,
        /// Its offset in the per-cpu section.
        offset: u32,
        /// The name pahole takes from the file for that offset.
        file: String,
    },
    /// A data section's entry is not a variable.
    NotAVariable {
        /// The section.
        section: String,
        /// The type id it names.
        id: u32,
    },
    /// A function of the BTF that pahole read from the view is not a function of the file.
    Function(String),
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misfit::Format(err) => write!(f, "its .BTF cannot be read: {err}"),
            Misfit::NoSection(name) => {
                write!(
                    f,
                    "the BTF describes section {name}, which the file does not have"
                )
            }
            Misfit::SectionSize { section, btf, file } => {
                write!(f, "the BTF gives {section} {btf} bytes, the file {file}")
            }
            Misfit::Variable {
                section,
                name,
                offset,
                size,
                found,
            } => {
                write!(
                    f,
                    "the BTF puts {name} at {section}+{offset:#x} ({size} bytes), "
                )?;
                if found.is_empty() {
                    write!(f, "the file has no such symbol there")
                } else {
                    let places: Vec<String> = found
                        .iter()
                        .map(|(offset, size)| format!("+{offset:#x} ({size} bytes)"))
                        .collect();
                    write!(f, "the file at {}", places.join(", "))
                }
            }
            Misfit::PerCpuName { name, offset, file } => write!(
                f,
                "the BTF names the per-cpu variable at {}+{offset:#x} {name}, where pahole 1.24 reading the file would name it {file} (the symbol there its search finds)",
                String::from_utf8_lossy(PERCPU_SECTION)
            ),
            Misfit::NotAVariable { section, id } => {
                write!(
                    f,
                    "{section}'s entry names type {id}, which is not a variable"
                )
            }
            Misfit::Function(name) => write!(
                f,
                "the BTF has function {name} of the view, which is not a function of the file"
            ),
        }
    }
}

impl std::error::Error for Misfit {}

/// Every (offset in its section, size) of the data symbols of one name in one section.
type Places = Vec<(u64, u64)>;

/// pahole 1.24's per-cpu variables of a file (`btf_encoder__collect_percpu_var`): the
/// `STT_OBJECT` symbols of its per-cpu section (index `section`, at `base`) that are not
/// empty, as (offset, name), in symbol table order and then sorted by offset with a stable
/// sort, as glibc's `qsort` (a merge sort) sorts them.
fn percpu_variables<'d>(
    file: &object::File<'d>,
    section: object::SectionIndex,
    base: u64,
) -> Vec<(u64, &'d [u8])> {
    let mut variables: Vec<(u64, &[u8])> = file
        .symbols()
        .filter(|symbol| {
            let object = matches!(symbol.flags(), SymbolFlags::Elf { st_info, .. } if st_info & 0xf == elf::STT_OBJECT);
            object && symbol.section_index() == Some(section) && symbol.size() != 0
        })
        .filter_map(|symbol| {
            let name = symbol.name_bytes().ok()?;
            Some((symbol.address().wrapping_sub(base), name))
        })
        .collect();
    variables.sort_by_key(|&(offset, _)| offset);
    variables
}

/// The name pahole 1.24 takes for a per-cpu variable at `offset`: the entry of `variables`
/// that glibc's `bsearch` finds (`btf_encoder__percpu_var_exists`), which among symbols at
/// one offset depends on where they are in the array.
fn percpu_name<'d>(variables: &[(u64, &'d [u8])], offset: u64) -> Option<&'d [u8]> {
    let (mut low, mut high) = (0, variables.len());
    while low < high {
        let middle = (low + high) / 2;
        match offset.cmp(&variables[middle].0) {
            std::cmp::Ordering::Less => high = middle,
            std::cmp::Ordering::Greater => low = middle + 1,
            std::cmp::Ordering::Equal => return Some(variables[middle].1),
        }
    }
    None
}

/// The names of the function symbols of `file`.
fn function_names<'d>(file: &object::File<'d>) -> HashSet<&'d [u8]> {
    file.symbols()
        .filter(|symbol| symbol.kind() == SymbolKind::Text)
        .filter_map(|symbol| symbol.name_bytes().ok())
        .collect()
}

/// Checks `section`, the `.BTF` of `elf`, a linked file shown as `shown`, against the file;
/// and its functions against `view`, the file pahole read, if given.
pub fn check(
    elf: &object::File<'_>,
    section: &object::Section<'_, '_>,
    shown: &str,
    view: Option<&object::File<'_>>,
) -> Result<BtfFit, Misfit> {
    let data = section
        .data()
        .map_err(|e| Misfit::Format(FormatError::from_object(e)))?;
    let btf = Btf::parse(data).map_err(Misfit::Format)?;

    let mut objects: HashMap<(object::SectionIndex, &[u8]), Places> = HashMap::new();
    let section_addresses: HashMap<object::SectionIndex, u64> =
        elf.sections().map(|s| (s.index(), s.address())).collect();
    for symbol in elf.symbols() {
        let Ok(name) = symbol.name_bytes() else {
            continue;
        };
        if symbol.kind() == SymbolKind::Data {
            if let Some(index) = symbol.section_index() {
                let base = section_addresses.get(&index).copied().unwrap_or(0);
                objects
                    .entry((index, name))
                    .or_default()
                    .push((symbol.address().wrapping_sub(base), symbol.size()));
            }
        }
    }

    let mut sections = Vec::new();
    for datasec in btf.datasecs() {
        let name = String::from_utf8_lossy(datasec.name).into_owned();
        let file_section = elf
            .section_by_name_bytes(datasec.name)
            .ok_or_else(|| Misfit::NoSection(name.clone()))?;
        let size = u64::from(datasec.size_or_type);
        if file_section.size() != size {
            return Err(Misfit::SectionSize {
                section: name,
                btf: size,
                file: file_section.size(),
            });
        }
        let vars = btf.secinfos(datasec);
        let percpu = (datasec.name == PERCPU_SECTION)
            .then(|| percpu_variables(elf, file_section.index(), file_section.address()));
        for var in &vars {
            let var_name = btf.var_name(var.var).ok_or(Misfit::NotAVariable {
                section: name.clone(),
                id: var.var,
            })?;
            let found = objects
                .get(&(file_section.index(), var_name))
                .map_or(&[][..], Vec::as_slice);
            let wanted = (u64::from(var.offset), u64::from(var.size));
            if !found.contains(&wanted) {
                return Err(Misfit::Variable {
                    section: name,
                    name: String::from_utf8_lossy(var_name).into_owned(),
                    offset: var.offset,
                    size: var.size,
                    found: found.to_vec(),
                });
            }
            if let Some(variables) = &percpu {
                let picked = percpu_name(variables, u64::from(var.offset));
                if picked != Some(var_name) {
                    return Err(Misfit::PerCpuName {
                        name: String::from_utf8_lossy(var_name).into_owned(),
                        offset: var.offset,
                        file: String::from_utf8_lossy(picked.unwrap_or_default()).into_owned(),
                    });
                }
            }
        }
        sections.push(DatasecFit {
            name,
            size,
            variables: vars.len() as u32,
        });
    }
    // resolve_btfids adds functions of its own (7.x's `_impl` kfuncs), so the BTF's
    // functions are checked against those of the view pahole read: one that the view has as
    // a function symbol the linked file must have too.
    let mut function_count = 0;
    if let Some(view) = view {
        let (functions, view_functions) = (function_names(elf), function_names(view));
        for name in btf.functions() {
            if view_functions.contains(name) {
                if !functions.contains(name) {
                    return Err(Misfit::Function(String::from_utf8_lossy(name).into_owned()));
                }
                function_count += 1;
            }
        }
    }
    Ok(BtfFit {
        file: shown.to_string(),
        btf_bytes: data.len() as u64,
        types: btf.len() as u32,
        functions: function_count,
        sections,
    })
}
