//! The script of the BTF input view: how [`crate::executable`] gathers vmlinux's inputs into
//! the file that pahole reads as it reads the linked vmlinux (and how `ld -r` would).
//!
//! pahole encodes the types and functions of the DWARF it is given, the functions that are
//! symbols of the file, and the per-cpu variables with their offsets in the file's
//! `.data..percpu` section. Of the kernel's linker script, two kinds of statement change what
//! it sees there: the output section that gathers `.data..percpu` from its input sections
//! (`..page_aligned`, `..hot.*`, `..read_mostly`, `..shared_aligned`, with alignments
//! between them), which a relocatable link would otherwise keep apart, and `/DISCARD/`,
//! whose input sections take their symbols out of the linked file. The view's script holds
//! those statements' contents, copied from the tree's own preprocessed script; nothing else
//! of it (addresses, load addresses and program headers have no meaning in the view), but the
//! per-cpu section's address: the kernel's own where it is a constant (zero-based, x86_64
//! 6.x), else one that aligns its contents as the linked file's ([`PERCPU_VIEW_ADDRESS`]).

use std::fmt;

use kslink_linker_script::{
    Expr, Glob, Script, SectionCommand, SectionKind, SortForm, Statement, Target, UnaryOp,
};

/// The output section whose layout pahole encodes (its `PERCPU_SECTION`).
pub const PERCPU_SECTION: &[u8] = b".data..percpu";

/// Where the view's per-cpu section starts: a multiple of every page size (4 KiB to 64 KiB)
/// and of the 2 MiB of a huge page.
pub const PERCPU_VIEW_ADDRESS: u64 = 0x20_0000;

/// Why the view's script could not be made.
#[derive(Debug)]
pub struct ViewError(String);

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ViewError {}

impl ViewError {
    /// The error `message` says.
    pub(crate) fn new(message: String) -> ViewError {
        ViewError(message)
    }
}

/// The script of the BTF input view (one for `ld -r` too), from the text of the kernel's
/// preprocessed linker script (`file` names it in messages).
pub fn view_script(text: &[u8], file: &str) -> Result<String, ViewError> {
    let script = Script::parse(text, file).map_err(|e| ViewError(e.to_string()))?;
    let mut out = format!(
        "/* The statements of {file} that shape what pahole reads, for kslink's BTF input view. */\nSECTIONS\n{{\n"
    );
    let mut percpu = 0;
    for statement in &script.statements {
        let Statement::Section(section) = statement else {
            continue;
        };
        if section.name != PERCPU_SECTION && !section.is_discard() {
            continue;
        }
        let constant = section.address.as_ref().and_then(|a| a.constant());
        if section.name == PERCPU_SECTION {
            percpu += 1;
        }
        let body = std::str::from_utf8(&text[section.body.clone()]).map_err(|_| {
            ViewError(format!(
                "{file}:{}: output section `{}` is not UTF-8 text",
                section.line,
                String::from_utf8_lossy(&section.name)
            ))
        })?;
        // The per-cpu section's body aligns to absolute addresses. A zero-based one (x86_64
        // 6.x) keeps its address, 0, which pahole reads in the executable view as in the
        // linked file. Any other starts where the kernel's script aligns it to a page: the
        // view's starts at an address aligned to any page size, so that its padding is the
        // linked file's (`ld -r` would start it wherever its other sections end: 0x40 on
        // arm64 7.3, 4,032 bytes of padding too many).
        let address = match (section.name == PERCPU_SECTION, constant) {
            (true, Some(address)) => format!(" {address:#x}"),
            (true, None) => format!(" {PERCPU_VIEW_ADDRESS:#x}"),
            (false, _) => String::new(),
        };
        out.push_str(&format!(
            "  {}{address} : {{{}}}\n",
            String::from_utf8_lossy(&section.name),
            body.trim()
        ));
    }
    if percpu > 1 {
        return Err(ViewError(format!(
            "{file} has {percpu} `{}` output sections; kslink knows one",
            String::from_utf8_lossy(PERCPU_SECTION)
        )));
    }
    out.push_str("}\n");
    Ok(out)
}

/// The view's script (as [`view_script`] wrote it), read for where the view puts each input
/// section: the descriptions of its `/DISCARD/` and per-cpu output sections, matched in
/// script order as ld matches them, and the per-cpu section's layout.
#[derive(Debug)]
pub struct ViewScript {
    /// The script's input section descriptions, in script order.
    pub descriptions: Vec<Description>,
    /// The per-cpu output section, if the script has one.
    pub percpu: Option<PercpuLayout>,
    /// The script, as messages name it.
    pub file: String,
}

/// An input section description of the view's script: every file's sections whose names
/// match one of its patterns go to its destination.
#[derive(Debug)]
pub struct Description {
    /// The section name patterns.
    pub patterns: Vec<Glob>,
    /// Where the sections go.
    pub destination: Destination,
}

/// Where the view puts the sections an input section description matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Nowhere (`/DISCARD/`): their symbols are not in the view.
    Discard,
    /// The per-cpu section, by the command of [`PercpuLayout::commands`] with this index.
    Percpu(usize),
}

/// The per-cpu output section of the view's script.
#[derive(Debug)]
pub struct PercpuLayout {
    /// Its address: the kernel's own where that is a constant, else [`PERCPU_VIEW_ADDRESS`].
    pub address: u64,
    /// Its commands in order; its symbol assignments are left out (pahole reads no symbol
    /// that is not a function or an object).
    pub commands: Vec<PercpuCommand>,
}

/// A command of the per-cpu output section that moves where its contents go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PercpuCommand {
    /// `. = ALIGN(n)`: the location counter aligned up to `n`.
    Align(u64),
    /// An input section description: its sections in link order, or sorted by descending
    /// alignment (`SORT_BY_ALIGNMENT`, a stable sort in ld and lld).
    Inputs {
        /// `SORT_BY_ALIGNMENT`.
        by_alignment: bool,
    },
}

impl ViewScript {
    /// Reads the view's script `text` (`file` names it in messages).
    pub fn parse(text: &[u8], file: &str) -> Result<ViewScript, ViewError> {
        let script = Script::parse(text, file).map_err(|e| ViewError(e.to_string()))?;
        let refuse = |line: u32, what: &str| {
            ViewError(format!(
                "{file}:{line}: not a script of kslink's BTF input view ({what}; write it with `kslink-btf view-script`)"
            ))
        };
        let mut view = ViewScript {
            descriptions: Vec::new(),
            percpu: None,
            file: file.to_string(),
        };
        for statement in &script.statements {
            let Statement::Section(section) = statement else {
                return Err(refuse(
                    script_line(statement),
                    "it has a statement outside its output sections",
                ));
            };
            let percpu = section.name == PERCPU_SECTION;
            if !percpu && !section.is_discard() {
                return Err(refuse(
                    section.line,
                    &format!(
                        "it has output section `{}`",
                        String::from_utf8_lossy(&section.name)
                    ),
                ));
            }
            if section.align.is_some()
                || section.subalign.is_some()
                || section.constraint.is_some()
                || section.kind != SectionKind::Normal
            {
                return Err(refuse(
                    section.line,
                    "an output section with a type, an alignment or a constraint",
                ));
            }
            let mut commands = Vec::new();
            for command in &section.commands {
                match command {
                    SectionCommand::Assignment(a) if percpu => match (&a.target, &a.expr) {
                        (Target::Symbol(_), _) => {}
                        (Target::Dot, Expr::Unary(UnaryOp::Align, align)) => {
                            let Some(align) = align.constant() else {
                                return Err(refuse(a.line, "an alignment that is not a number"));
                            };
                            commands.push(PercpuCommand::Align(align));
                        }
                        (Target::Dot, _) => {
                            return Err(refuse(a.line, "a move of `.` that is not an ALIGN"))
                        }
                    },
                    SectionCommand::Input(spec) => {
                        let mut by_alignment = None;
                        for pattern in &spec.sections {
                            let sort = match pattern.sort.as_slice() {
                                [] => false,
                                [SortForm::ByAlignment] if percpu => true,
                                _ => return Err(refuse(spec.line, "a SORT it does not lay out")),
                            };
                            if *by_alignment.get_or_insert(sort) != sort
                                || !pattern.exclude_files.is_empty()
                            {
                                return Err(refuse(spec.line, "mixed section patterns"));
                            }
                        }
                        if !spec.file.is_star()
                            || spec.sorted
                            || !spec.exclude_files.is_empty()
                            || spec.flags.is_some()
                        {
                            return Err(refuse(
                                spec.line,
                                "an input section description that is not for every file",
                            ));
                        }
                        let destination = if percpu {
                            commands.push(PercpuCommand::Inputs {
                                by_alignment: by_alignment.unwrap_or(false),
                            });
                            Destination::Percpu(commands.len() - 1)
                        } else {
                            Destination::Discard
                        };
                        view.descriptions.push(Description {
                            patterns: spec.sections.iter().map(|p| p.name.clone()).collect(),
                            destination,
                        });
                    }
                    _ => return Err(refuse(section.line, "a command it does not lay out")),
                }
            }
            if percpu {
                let address = section.address.as_ref().and_then(|a| a.constant());
                match (&view.percpu, address) {
                    (None, Some(address)) => view.percpu = Some(PercpuLayout { address, commands }),
                    _ => {
                        return Err(refuse(
                            section.line,
                            &format!(
                                "its `{}` needs one constant address",
                                String::from_utf8_lossy(PERCPU_SECTION)
                            ),
                        ))
                    }
                }
            }
        }
        Ok(view)
    }

    /// Where the view puts an input section named `name`: the first description that
    /// matches it, `None` for none (the section goes to the output section of its name).
    pub fn destination(&self, name: &[u8]) -> Option<Destination> {
        self.descriptions
            .iter()
            .find(|d| d.patterns.iter().any(|p| p.matches(name)))
            .map(|d| d.destination)
    }
}

/// The line of a statement outside the output sections, for messages.
fn script_line(statement: &Statement) -> u32 {
    match statement {
        Statement::Assignment(a) => a.line,
        Statement::Assert { line, .. } => *line,
        Statement::Section(s) => s.line,
        Statement::Extern(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_percpu_and_discard_statements_only() {
        let script = b"OUTPUT_FORMAT(\"elf64-x86-64\")\nSECTIONS {\n . = 0xffffffff81000000;\n .text : AT(ADDR(.text) - 0xffffffff80000000) { *(.text .text.*) } :text = 0xcccc\n . = ALIGN(((1 << 12)));\n .data..percpu : AT(ADDR(.data..percpu) - 0xffffffff80000000) { __per_cpu_start = .; . = ALIGN(((1 << 12))); *(.data..percpu..page_aligned) . = ALIGN(64); *(.data..percpu) __per_cpu_end = .; }\n /DISCARD/ : { *(.discard) *(.discard.*) }\n}\n";
        let view = view_script(script, "vmlinux.lds").unwrap();
        assert_eq!(
            view,
            "/* The statements of vmlinux.lds that shape what pahole reads, for kslink's BTF input view. */\nSECTIONS\n{\n  .data..percpu 0x200000 : {__per_cpu_start = .; . = ALIGN(((1 << 12))); *(.data..percpu..page_aligned) . = ALIGN(64); *(.data..percpu) __per_cpu_end = .;}\n  /DISCARD/ : {*(.discard) *(.discard.*)}\n}\n"
        );
    }

    #[test]
    fn a_zero_based_percpu_section_keeps_its_address() {
        let script = b"SECTIONS {\n .data..percpu 0 : AT(0x1000) { *(.data..percpu) } :percpu\n}\n";
        let view = view_script(script, "vmlinux.lds").unwrap();
        assert!(
            view.contains("\n  .data..percpu 0x0 : {*(.data..percpu)}\n"),
            "{view}"
        );
    }

    #[test]
    fn the_view_script_is_read_back_for_its_layout() {
        let kernel = b"SECTIONS {\n . = 0xffffffff81000000;\n /DISCARD/ : { *(.note.GNU-stack) }\n .data..percpu : AT(ADDR(.data..percpu) - 0xffffffff80000000) { __per_cpu_start = .; . = ALIGN((1 << 12)); *(.data..percpu..page_aligned) . = ALIGN(64); *(SORT_BY_ALIGNMENT(.data..percpu..hot.*)) *(.data..percpu) }\n /DISCARD/ : { *(.discard) *(.discard.*) }\n}\n";
        let view = view_script(kernel, "vmlinux.lds").unwrap();
        let read = ViewScript::parse(view.as_bytes(), "view.lds").unwrap();
        let percpu = read.percpu.as_ref().unwrap();
        assert_eq!(percpu.address, PERCPU_VIEW_ADDRESS);
        assert_eq!(
            percpu.commands,
            [
                PercpuCommand::Align(4096),
                PercpuCommand::Inputs {
                    by_alignment: false
                },
                PercpuCommand::Align(64),
                PercpuCommand::Inputs { by_alignment: true },
                PercpuCommand::Inputs {
                    by_alignment: false
                },
            ]
        );
        assert_eq!(
            read.destination(b".note.GNU-stack"),
            Some(Destination::Discard)
        );
        assert_eq!(
            read.destination(b".discard.addressable"),
            Some(Destination::Discard)
        );
        assert_eq!(
            read.destination(b".data..percpu..hot.x"),
            Some(Destination::Percpu(3))
        );
        assert_eq!(
            read.destination(b".data..percpu"),
            Some(Destination::Percpu(4))
        );
        assert_eq!(read.destination(b".text"), None);
        let zero_based = view_script(
            b"SECTIONS { .data..percpu 0 : { *(.data..percpu) } }",
            "vmlinux.lds",
        )
        .unwrap();
        let read = ViewScript::parse(zero_based.as_bytes(), "view.lds").unwrap();
        assert_eq!(read.percpu.unwrap().address, 0);
        for (script, says) in [
            (&kernel[..], "vmlinux.lds:2: not a script of kslink's BTF input view"),
            (
                b"SECTIONS { .data..percpu 0 : { . = . + 8; } }",
                "view.lds:1: not a script of kslink's BTF input view (a move of `.`",
            ),
            (
                b"SECTIONS { .data..percpu 0 : { *(SORT(.x.*)) } }",
                "view.lds:1: not a script of kslink's BTF input view (a SORT",
            ),
            (
                b"SECTIONS { .data..percpu 0 : SUBALIGN(8) { *(.x) } }",
                "view.lds:1: not a script of kslink's BTF input view (an output section with",
            ),
            (
                b"SECTIONS { .data..percpu 0 : { vmlinux.o(.x) } }",
                "view.lds:1: not a script of kslink's BTF input view (an input section description that is not for every file",
            ),
        ] {
            let file = if script == &kernel[..] { "vmlinux.lds" } else { "view.lds" };
            let err = ViewScript::parse(script, file).unwrap_err();
            assert!(err.to_string().starts_with(says), "{err}");
        }
    }

    #[test]
    fn a_script_that_does_not_parse_is_an_error_with_its_place() {
        let err = view_script(b"SECTIONS { .data : { *(.data) ", "vmlinux.lds").unwrap_err();
        assert!(err.to_string().starts_with("vmlinux.lds:"), "{err}");
    }
}
