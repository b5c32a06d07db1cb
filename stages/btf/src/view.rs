//! The script of the BTF input view: a relocatable link (`ld -r`) of vmlinux's inputs that
//! pahole reads as it would read the linked vmlinux.
//!
//! pahole encodes the types and functions of the DWARF it is given, the functions that are
//! symbols of the file, and the per-cpu variables with their offsets in the file's
//! `.data..percpu` section. Of the kernel's linker script, two kinds of statement change what
//! it sees there: the output section that gathers `.data..percpu` from its input sections
//! (`..page_aligned`, `..hot.*`, `..read_mostly`, `..shared_aligned`, with alignments
//! between them), which a relocatable link would otherwise keep apart, and `/DISCARD/`,
//! whose input sections take their symbols out of the linked file. The view's script holds
//! those statements' contents, copied from the tree's own preprocessed script; nothing else
//! of it (addresses, load addresses and program headers have no meaning in `ld -r`), but an
//! address for the per-cpu section that aligns its contents as the linked file's
//! ([`PERCPU_VIEW_ADDRESS`]).

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
        if section.name == PERCPU_SECTION {
            percpu += 1;
            // pahole sets a variable at address 0 apart: from a zero-based per-cpu section
            // (x86_64 6.x) it encodes one more variable from the view than from vmlinux.
            if section.address.as_ref().and_then(|a| a.constant()) == Some(0) {
                return Err(ViewError(format!(
                    "{file}:{}: the per-cpu section is zero-based, where pahole reads the view \
                     otherwise than the linked vmlinux; link the kernel's own way",
                    section.line
                )));
            }
        }
        let body = std::str::from_utf8(&text[section.body.clone()]).map_err(|_| {
            ViewError(format!(
                "{file}:{}: output section `{}` is not UTF-8 text",
                section.line,
                String::from_utf8_lossy(&section.name)
            ))
        })?;
        // The kernel's script aligns the per-cpu section's start to a page, and its body
        // aligns within it to absolute addresses: the view's section starts at an address
        // aligned to any page size, so that its padding is the linked file's (`ld -r` would
        // start it wherever its other sections end: 0x40 on arm64 7.3, 4,032 bytes of
        // padding too many).
        let address = match section.name == PERCPU_SECTION {
            true => format!(" {PERCPU_VIEW_ADDRESS:#x}"),
            false => String::new(),
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
    fn a_zero_based_percpu_section_is_refused() {
        let script = b"SECTIONS {\n .data..percpu 0 : AT(0x1000) { *(.data..percpu) } :percpu\n}\n";
        let err = view_script(script, "vmlinux.lds").unwrap_err().to_string();
        assert!(
            err.starts_with("vmlinux.lds:2: the per-cpu section is zero-based"),
            "{err}"
        );
    }

    #[test]
    fn a_script_that_does_not_parse_is_an_error_with_its_place() {
        let err = view_script(b"SECTIONS { .data : { *(.data) ", "vmlinux.lds").unwrap_err();
        assert!(err.to_string().starts_with("vmlinux.lds:"), "{err}");
    }
}
