//! `kslink-btf` as a caller runs it, on small ELF files made here with a hand-built `.BTF`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kslink_schema::{artifact, BtfFit, DatasecFit};
use object::write::{Object, Symbol, SymbolSection};
use object::SymbolScope;
use object::{Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind};

fn kslink_btf(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kslink-btf"))
        .args(args)
        .output()
        .unwrap()
}

/// `kslink-btf check --view VIEW --report REPORT FILE`.
fn check(view: &Path, report: &Path, file: &Path) -> Output {
    kslink_btf(&[
        Path::new("check"),
        Path::new("--view"),
        view,
        Path::new("--report"),
        report,
        file,
    ])
}

/// `kslink-btf view-script -T SCRIPT -o OUTPUT`.
fn view_script(script: &Path, output: &Path) -> Output {
    kslink_btf(&[
        Path::new("view-script"),
        Path::new("-T"),
        script,
        Path::new("-o"),
        output,
    ])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A little-endian BTF of `types` (kind, name offset, vlen, size or type, the kind's data)
/// over `strings`.
fn btf(types: &[(u32, u32, u32, u32, Vec<u8>)], strings: &[u8]) -> Vec<u8> {
    let mut type_data = Vec::new();
    for (kind, name, vlen, size, data) in types {
        for word in [*name, (kind << 24) | vlen, *size] {
            type_data.extend(word.to_le_bytes());
        }
        type_data.extend(data);
    }
    let mut out = vec![0x9f, 0xeb, 1, 0];
    let (types_len, strings_len) = (type_data.len() as u32, strings.len() as u32);
    for word in [24, 0, types_len, types_len, strings_len] {
        out.extend(word.to_le_bytes());
    }
    out.extend(type_data);
    out.extend(strings);
    out
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

const STRINGS: &[u8] = b"\0int\0x\0.data..percpu\0f\0";

/// The BTF of one function `f`, an int variable `x` at `offset` in a 64-byte
/// `.data..percpu`, and a type of kind `extra_kind` if given.
fn percpu_btf(offset: u32, extra_kind: Option<u32>) -> Vec<u8> {
    let mut types = vec![
        (1, 1, 0, 4, words(&[0x20])),
        (14, 5, 0, 1, words(&[1])),
        (15, 7, 1, 64, words(&[2, offset, 4])),
        (13, 0, 0, 0, Vec::new()),
        (12, 21, 0, 4, Vec::new()),
    ];
    if let Some(kind) = extra_kind {
        types.push((kind, 0, 0, 0, Vec::new()));
    }
    btf(&types, STRINGS)
}

/// An ELF file with function `function`, a 4-byte `x` at `x_at` in a 64-byte
/// `.data..percpu`, and `btf` as its `.BTF` (none if `None`).
fn elf_with(dir: &Path, name: &str, function: &str, x_at: u64, btf: Option<Vec<u8>>) -> PathBuf {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
    obj.append_section_data(text, &[0xc3; 16], 16);
    let percpu = obj.add_section(Vec::new(), b".data..percpu".to_vec(), SectionKind::Data);
    obj.append_section_data(percpu, &[0; 64], 64);
    for (symbol, section, value, size, kind) in [
        (function, text, 0, 16, SymbolKind::Text),
        ("x", percpu, x_at, 4, SymbolKind::Data),
    ] {
        obj.add_symbol(Symbol {
            name: symbol.as_bytes().to_vec(),
            value,
            size,
            kind,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
    }
    if let Some(btf) = btf {
        let section = obj.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::ReadOnlyData);
        obj.append_section_data(section, &btf, 4);
    }
    let path = dir.join(name);
    fs::write(&path, obj.write().unwrap()).unwrap();
    path
}

/// [`elf_with`] function `f`.
fn elf(dir: &Path, name: &str, x_at: u64, btf: Option<Vec<u8>>) -> PathBuf {
    elf_with(dir, name, "f", x_at, btf)
}

#[test]
fn a_btf_that_fits_is_confirmed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = elf(dir.path(), "fits.o", 8, Some(percpu_btf(8, None)));
    let view = elf(dir.path(), "view.o", 8, None);
    let report = dir.path().join("btf.fit");
    let out = check(&view, &report, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the BTF fits: 5 types, 1 functions, 1 variables in 1 sections"),
        "{out:?}"
    );
    let fit: BtfFit = artifact::read(&report).unwrap();
    assert_eq!(fit.functions, 1);
    let quiet = kslink_btf(&[
        Path::new("check"),
        Path::new("--quiet"),
        Path::new("--view"),
        &view,
        &file,
    ]);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(quiet.stdout.is_empty(), "{quiet:?}");
    assert_eq!(
        fit.sections,
        [DatasecFit {
            name: ".data..percpu".to_string(),
            size: 64,
            variables: 1
        }]
    );
}

#[test]
fn a_btf_that_does_not_fit_is_one_line_and_status_3_with_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("btf.fit");
    let cases = [
        (
            elf(dir.path(), "moved.o", 16, Some(percpu_btf(8, None))),
            "the BTF puts x at .data..percpu+0x8 (4 bytes), the file at +0x10 (4 bytes)",
        ),
        (
            elf(dir.path(), "unknown.o", 8, Some(percpu_btf(8, Some(31)))),
            "its .BTF cannot be read: type 6 has kind 31, which this reader does not know",
        ),
        (
            elf_with(
                dir.path(),
                "nofunction.o",
                "g",
                8,
                Some(percpu_btf(8, None)),
            ),
            "the BTF has function f of the view, which is not a function of the file",
        ),
    ];
    let view = elf(dir.path(), "view.o", 8, None);
    for (file, message) in cases {
        let out = check(&view, &report, &file);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err}");
        assert!(!report.exists());
    }
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let whole = elf(dir.path(), "whole.o", 8, Some(percpu_btf(8, None)));
    let cut = dir.path().join("cut.o");
    fs::write(&cut, &fs::read(&whole).unwrap()[..100]).unwrap();
    let report = dir.path().join("btf.fit");
    let no_btf = elf(dir.path(), "nobtf.o", 8, None);
    for (file, message) in [
        (cut.as_path(), "not a readable ELF file"),
        (no_btf.as_path(), "no .BTF section to check"),
        (dir.path(), "is a directory"),
    ] {
        let out = check(&whole, &report, file);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err}");
        assert!(!report.exists());
    }

    let view = dir.path().join("view.lds");
    let script = dir.path().join("vmlinux.lds");
    fs::write(&script, "SECTIONS { .data..percpu : { *(.data..percpu) ").unwrap();
    for (input, message) in [
        (dir.path().join("missing.lds"), "No such file or directory"),
        (script, "vmlinux.lds:1:"),
    ] {
        let out = view_script(&input, &view);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
        assert!(!view.exists());
    }
}

#[test]
fn the_view_script_holds_the_kernels_percpu_and_discard_statements() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("vmlinux.lds");
    fs::write(
        &script,
        "SECTIONS {\n .text : { *(.text) } :text\n .data..percpu 0x1000 : AT(0x1000) { *(.data..percpu..first) . = ALIGN(64); *(.data..percpu) } :percpu\n /DISCARD/ : { *(.exit.text) }\n}\n",
    )
    .unwrap();
    let view = dir.path().join("view.lds");
    let out = view_script(&script, &view);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = fs::read_to_string(&view).unwrap();
    assert!(
        text.ends_with("SECTIONS\n{\n  .data..percpu 0x1000 : {*(.data..percpu..first) . = ALIGN(64); *(.data..percpu)}\n  /DISCARD/ : {*(.exit.text)}\n}\n"),
        "{text}"
    );
}
