//! The script of the BTF input view's relocatable link (`ld -r` of vmlinux's inputs), which
//! [`crate::executable`] makes the file that pahole reads as it reads the linked vmlinux.
//!
//! pahole encodes the types and functions of the DWARF it is given, the functions that are
//! symbols of the file, and the per-cpu variables with their offsets in the file's
//! `.data..percpu` section. Of the kernel's linker script, two kinds of statement change what
//! it sees there: the output section that gathers `.data..percpu` from its input sections
//! (`..page_aligned`, `..hot.*`, `..read_mostly`, `..shared_aligned`, with alignments
//! between them), which a relocatable link would otherwise keep apart, and `/DISCARD/`,
//! whose input sections take their symbols out of the linked file. The view's script holds
//! those statements' contents, copied from the tree's own preprocessed script; nothing else
//! of it (addresses, load addresses and program headers have no meaning in `ld -r`), but the
//! per-cpu section's address: the kernel's own where it is a constant (zero-based, x86_64
//! 6.x), else one that aligns its contents as the linked file's ([`PERCPU_VIEW_ADDRESS`]).

use std::fmt;

use kslink_linker_script::{Script, Statement};

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

/// The script for `ld -r` of the BTF input view, from the text of the kernel's preprocessed
/// linker script (`file` names it in messages).
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

/// The address that the view's script (`text`, as [`view_script`] wrote it; `file` names it
/// in messages) gives the per-cpu section, `None` if it has none. The executable view puts
/// the section there whatever address the relocatable link left it at: `ld.lld -r` leaves
/// every section at 0.
pub fn percpu_address(text: &[u8], file: &str) -> Result<Option<u64>, ViewError> {
    let script = Script::parse(text, file).map_err(|e| ViewError(e.to_string()))?;
    let mut found = None;
    for statement in &script.statements {
        let Statement::Section(section) = statement else {
            continue;
        };
        if section.name != PERCPU_SECTION {
            continue;
        }
        let address = section.address.as_ref().and_then(|a| a.constant());
        match (found, address) {
            (None, Some(address)) => found = Some(address),
            _ => {
                return Err(ViewError(format!(
                    "{file}:{}: not a script of kslink's BTF input view (its `{}` needs one constant address; write it with `kslink-btf view-script`)",
                    section.line,
                    String::from_utf8_lossy(PERCPU_SECTION)
                )))
            }
        }
    }
    Ok(found)
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
    fn the_percpu_address_is_read_back_from_the_view_script() {
        let kernel = b"SECTIONS {\n . = 0xffffffff81000000;\n .data..percpu : AT(ADDR(.data..percpu) - 0xffffffff80000000) { *(.data..percpu) }\n}\n";
        let view = view_script(kernel, "vmlinux.lds").unwrap();
        assert_eq!(
            percpu_address(view.as_bytes(), "view.lds").unwrap(),
            Some(PERCPU_VIEW_ADDRESS)
        );
        let zero_based = view_script(
            b"SECTIONS { .data..percpu 0 : { *(.data..percpu) } }",
            "vmlinux.lds",
        )
        .unwrap();
        assert_eq!(
            percpu_address(zero_based.as_bytes(), "view.lds").unwrap(),
            Some(0)
        );
        assert_eq!(
            percpu_address(b"SECTIONS { .text : { *(.text) } }", "view.lds").unwrap(),
            None
        );
        let err = percpu_address(kernel, "vmlinux.lds").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("vmlinux.lds:3: not a script of kslink's BTF input view"),
            "{err}"
        );
    }

    #[test]
    fn a_script_that_does_not_parse_is_an_error_with_its_place() {
        let err = view_script(b"SECTIONS { .data : { *(.data) ", "vmlinux.lds").unwrap_err();
        assert!(err.to_string().starts_with("vmlinux.lds:"), "{err}");
    }
}
