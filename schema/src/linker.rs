//! The words processes say about a link: which linker runs it ([`LinkerFlavour`]: GNU ld's
//! or LLVM lld's rules) and what it writes ([`LinkKind`]).
//!
//! Both link a kernel from the same inputs and script to the same symbol names, but they
//! place script symbols and flag empty output sections by different rules, so `nm` gives
//! some symbols other letters. the linker model (`kslink-linker-model`'s `predict`) takes the
//! flavour as data and every stage that differs asks it:
//!
//! | | GNU ld 2.40 | lld 14 |
//! | --- | --- | --- |
//! | archives | searched where they stand, groups again | a member is taken whenever a later reference needs it |
//! | script symbols | referenced only by what is evaluated | every symbol a script expression names is a reference (pulls archive members, enables `PROVIDE`) |
//! | `.gnu.linkonce.*` | one per name | no special meaning |
//! | file patterns | the member's name, or `archive:member` | matched against `archive:member` |
//! | the linker's own inputs | an empty `.rela.iplt` | `.comment` and the symbol tables |
//! | empty output section | flags from its name (or none), removed unless `.` moves in it | flags of the previous section with inputs; kept if it has any command but an input description, is named by `ADDR`/`LOADADDR`, or its header names a symbol |
//! | `x = .` outside sections | the neighbouring section `ld` moves it to | the last output section laid out before it |
//! | expression sections | the model's `assign` GNU rules | the first operand in a section, unless made absolute |
//! | hidden input symbols | stay global | become local |
//! | undefined weak symbols | left out | kept (`v`, `w`) |
//! | `__start_SEC` | `SEC` an input section name | `SEC` an output section name |
//! | merge-section locals | `.L…`, `..…` dropped | only `.L…` dropped |
//!
//! The model's `layout`, `assign`, `resolve` and `predict` modules say where each is
//! modelled.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The linker a prediction models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LinkerFlavour {
    /// GNU ld (binutils 2.40).
    #[default]
    Gnu,
    /// LLVM's lld (`ld.lld` 14; the 7.3 test kernel links with lld 19 too).
    Lld,
}

impl LinkerFlavour {
    /// Every flavour, by the name `--linker` takes.
    pub const ALL: [(&'static str, LinkerFlavour); 2] =
        [("gnu", LinkerFlavour::Gnu), ("lld", LinkerFlavour::Lld)];

    /// The name `--linker` takes: `gnu` or `lld`.
    pub fn name(self) -> &'static str {
        match self {
            LinkerFlavour::Gnu => "gnu",
            LinkerFlavour::Lld => "lld",
        }
    }

    /// The flavour of a linker by the first line of its `--version`: lld's says `LLD`
    /// (`Debian LLD 14.0.6 (compatible with GNU linkers)`), GNU ld's `GNU ld`.
    pub fn from_version_line(text: &str) -> LinkerFlavour {
        if text.lines().next().is_some_and(|line| line.contains("LLD")) {
            LinkerFlavour::Lld
        } else {
            LinkerFlavour::Gnu
        }
    }

    /// The flavour a program's name says: `ld.lld`, `ld.lld-14`, `lld`; else GNU ld.
    pub fn from_program_name(program: &Path) -> LinkerFlavour {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("ld.lld") || name == "lld" || name.starts_with("lld-") {
            LinkerFlavour::Lld
        } else {
            LinkerFlavour::Gnu
        }
    }
}

impl fmt::Display for LinkerFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LinkerFlavour {
    type Err = String;

    /// The flavour's name, or a name its program goes by: `ld`, `ld.bfd`, `bfd` for GNU ld;
    /// `ld.lld` for lld (what `kslink demo --linker` and Kbuild's `LD=` take).
    fn from_str(name: &str) -> Result<LinkerFlavour, String> {
        let canonical = match name {
            "ld" | "ld.bfd" | "bfd" => "gnu",
            "ld.lld" => "lld",
            other => other,
        };
        LinkerFlavour::ALL
            .iter()
            .find(|(n, _)| *n == canonical)
            .map(|&(_, flavour)| flavour)
            .ok_or_else(|| {
                format!("unknown linker {name}: use gnu (GNU ld: ld, ld.bfd) or lld (ld.lld)")
            })
    }
}

/// The kind of file a final link writes, which decides what the linker adds to the symbols.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkKind {
    /// An executable without dynamic sections (`ld` without `-shared` or `-pie`).
    #[default]
    Static,
    /// A shared object (`ld -shared`, `-Bshareable`), as arm64 and riscv link a relocatable
    /// kernel.
    Shared,
    /// A position-independent executable (`ld -pie`).
    Pie,
}

impl LinkKind {
    /// The link creates dynamic sections.
    pub fn is_dynamic(self) -> bool {
        self != LinkKind::Static
    }

    /// The option of `kslink-collect --predict` that says so.
    pub fn predict_flag(self) -> Option<&'static str> {
        match self {
            LinkKind::Static => None,
            LinkKind::Shared => Some("--shared"),
            LinkKind::Pie => Some("--pie"),
        }
    }
}

/// A switch among a link's inputs that changes how the archives after it are read. The
/// driver keeps these in place when it hands the inputs to the prediction, and the
/// prediction follows them: both read them with [`InputSwitch::parse`], so they agree on
/// every spelling GNU ld takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSwitch {
    /// `--whole-archive`: the following archives are included whole.
    WholeArchive,
    /// `--no-whole-archive`.
    NoWholeArchive,
    /// `--start-group` or `-(`: the archives up to the end of the group are searched
    /// repeatedly.
    StartGroup,
    /// `--end-group` or `-)`.
    EndGroup,
}

impl InputSwitch {
    /// The switch `word` spells, in any of GNU ld's spellings (`--whole-archive`,
    /// `-whole-archive`; `--start-group`, `-start-group`, `-(`; ...); `None` for any other
    /// word.
    pub fn parse(word: &str) -> Option<InputSwitch> {
        match word {
            "--whole-archive" | "-whole-archive" => Some(InputSwitch::WholeArchive),
            "--no-whole-archive" | "-no-whole-archive" => Some(InputSwitch::NoWholeArchive),
            "--start-group" | "-start-group" | "-(" => Some(InputSwitch::StartGroup),
            "--end-group" | "-end-group" | "-)" => Some(InputSwitch::EndGroup),
            _ => None,
        }
    }

    /// GNU ld's long spelling: `--whole-archive`, `--no-whole-archive`, `--start-group`,
    /// `--end-group`.
    pub fn name(self) -> &'static str {
        match self {
            InputSwitch::WholeArchive => "--whole-archive",
            InputSwitch::NoWholeArchive => "--no-whole-archive",
            InputSwitch::StartGroup => "--start-group",
            InputSwitch::EndGroup => "--end-group",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_switches_in_every_spelling() {
        for (words, switch) in [
            (
                &["--whole-archive", "-whole-archive"][..],
                InputSwitch::WholeArchive,
            ),
            (
                &["--no-whole-archive", "-no-whole-archive"],
                InputSwitch::NoWholeArchive,
            ),
            (
                &["--start-group", "-start-group", "-("],
                InputSwitch::StartGroup,
            ),
            (&["--end-group", "-end-group", "-)"], InputSwitch::EndGroup),
        ] {
            for word in words {
                assert_eq!(InputSwitch::parse(word), Some(switch), "{word}");
            }
            assert_eq!(InputSwitch::parse(switch.name()), Some(switch));
        }
        for word in ["--whole", "-(x", "vmlinux.a", "-T"] {
            assert_eq!(InputSwitch::parse(word), None, "{word}");
        }
    }

    #[test]
    fn names_parse_back() {
        for (name, flavour) in LinkerFlavour::ALL {
            assert_eq!(name.parse::<LinkerFlavour>(), Ok(flavour));
            assert_eq!(flavour.to_string(), name);
        }
        assert!("gold".parse::<LinkerFlavour>().is_err());
        for (alias, flavour) in [
            ("ld", LinkerFlavour::Gnu),
            ("ld.bfd", LinkerFlavour::Gnu),
            ("ld.lld", LinkerFlavour::Lld),
        ] {
            assert_eq!(alias.parse::<LinkerFlavour>(), Ok(flavour));
        }
    }
}
