//! The model's rules one at a time: each case a few lines of assembly and a five-line script,
//! linked by the real GNU ld and predicted in-process, so that a change to symbol resolution,
//! script assignments or the layout is checked in seconds against the linker itself.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;

use kslink_linker_model::{predict, TableLabels};
use kslink_schema::{LinkKind, LinkerFlavour};
use kslink_system_map::MKSYSMAP_6_12;

/// (type letter, name) → how many times.
type Listing = BTreeMap<(char, String), usize>;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install binutils)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One link: `objects` (file stem, x86_64 assembly) assembled, `archive` members (stem,
/// assembly) put in `lib.a`, all linked in that order with `script`.
struct Case<'a> {
    objects: &'a [(&'a str, &'a str)],
    archive: &'a [(&'a str, &'a str)],
    script: &'a str,
}

impl Case<'_> {
    /// GNU ld's listing (`nm`, kept by 6.12's System.map rules) and the model's, for the
    /// link of the case in `dir`.
    fn listings(&self, dir: &Path) -> (Listing, Listing) {
        let assemble = |stem: &str, source: &str| {
            let s = dir.join(format!("{stem}.s"));
            fs::write(&s, source).unwrap();
            let o = format!("{stem}.o");
            run(Command::new("as")
                .current_dir(dir)
                .args(["--64", "-o", &o])
                .arg(&s));
            o
        };
        let mut inputs: Vec<String> = self.objects.iter().map(|(s, a)| assemble(s, a)).collect();
        if !self.archive.is_empty() {
            let members: Vec<String> = self.archive.iter().map(|(s, a)| assemble(s, a)).collect();
            run(Command::new("ar")
                .current_dir(dir)
                .arg("rcs")
                .arg("lib.a")
                .args(&members));
            inputs.push("lib.a".to_string());
        }
        fs::write(dir.join("case.lds"), self.script).unwrap();
        run(Command::new("ld")
            .current_dir(dir)
            .args(["-m", "elf_x86_64", "-T", "case.lds", "-o", "linked"])
            .args(&inputs));
        let nm = run(Command::new("nm").arg(dir.join("linked")));
        let mut linked = Listing::new();
        for line in String::from_utf8(nm).unwrap().lines() {
            let mut words = line.split_whitespace().rev();
            let (Some(name), Some(letter)) = (words.next(), words.next()) else {
                continue;
            };
            let letter = letter.chars().next().unwrap();
            if MKSYSMAP_6_12.keeps(letter as u8, name.as_bytes()) {
                *linked.entry((letter, name.to_string())).or_default() += 1;
            }
        }
        let paths: Vec<OsString> = inputs
            .iter()
            .map(|i| dir.join(i).into_os_string())
            .collect();
        let no_table = TableLabels {
            labels: Vec::new(),
            text_pointer: false,
        };
        let set = predict(
            &dir.join("case.lds"),
            &paths,
            &no_table,
            &MKSYSMAP_6_12,
            LinkerFlavour::Gnu,
            LinkKind::Static,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut predicted = Listing::new();
        for symbol in set.symbols {
            let name = String::from_utf8(symbol.name).unwrap();
            *predicted
                .entry((symbol.type_letter as char, name))
                .or_default() += 1;
        }
        (linked, predicted)
    }

    /// Links and predicts the case; the two listings must be equal, and each of `expected`
    /// (name, the letters it has) must hold in them.
    fn check(&self, expected: &[(&str, &[char])]) {
        let dir = tempfile::tempdir().unwrap();
        let (linked, predicted) = self.listings(dir.path());
        assert_eq!(predicted, linked, "the model against GNU ld");
        for (name, letters) in expected {
            let found: Vec<char> = linked
                .iter()
                .filter(|((_, n), _)| n == name)
                .flat_map(|((l, _), count)| std::iter::repeat_n(*l, *count))
                .collect();
            assert_eq!(&found, letters, "{name} in {linked:?}");
        }
    }
}

const TEXT_ONLY: &str =
    "SECTIONS {\n  .text : { *(.text) }\n  .data : { *(.data) }\n  .bss : { *(.bss) }\n}\n";

#[test]
fn resolution_strong_over_weak_and_archive_members_by_need() {
    Case {
        objects: &[
            (
                "main",
                ".globl _start\n.weak both\n.text\n_start: call needed\nboth: ret\n",
            ),
            ("strong", ".globl both\n.text\nboth: ret\n"),
        ],
        archive: &[
            ("needed", ".globl needed\n.text\nneeded: ret\n"),
            ("unused", ".globl unused\n.text\nunused: ret\n"),
        ],
        script: TEXT_ONLY,
    }
    .check(&[
        ("both", &['T']),
        ("needed", &['T']),
        ("unused", &[]),
        ("_start", &['T']),
    ]);
}

#[test]
fn resolution_drops_duplicate_comdat_groups_and_discarded_sections() {
    let comdat = ".section .text.once,\"axG\",@progbits,once,comdat\n.globl once\nonce: ret\n";
    Case {
        objects: &[
            ("a", comdat),
            ("b", comdat),
            (
                "c",
                ".globl _start\n.text\n_start: ret\n.section .discard,\"aw\"\ngone: .long 0\n",
            ),
        ],
        archive: &[],
        script: "SECTIONS {\n  .text : { *(.text .text.*) }\n  /DISCARD/ : { *(.discard) }\n}\n",
    }
    .check(&[("once", &['T']), ("gone", &[])]);
}

#[test]
fn assignments_provide_only_what_is_referenced_and_take_their_section() {
    Case {
        objects: &[(
            "main",
            ".globl _start\n.text\n_start: .quad provided_used\n.data\nd: .long 1\n",
        )],
        archive: &[],
        script: "SECTIONS {\n  .text : { *(.text) text_end = .; }\n  PROVIDE(provided_used = 0x1000);\n  PROVIDE(provided_unused = 0x2000);\n  absolute = 0x3000;\n  relative = ADDR(.text) + 4;\n  .data : { *(.data) }\n}\n",
    }
    .check(&[
        ("text_end", &['T']),
        ("provided_used", &['A']),
        ("provided_unused", &[]),
        ("absolute", &['A']),
        ("d", &['d']),
    ]);
}

#[test]
fn layout_moves_the_symbols_of_a_removed_empty_section_to_a_neighbour() {
    Case {
        objects: &[(
            "main",
            ".globl _start\n.text\n_start: ret\n.data\nd: .long 1\n",
        )],
        archive: &[],
        script: "SECTIONS {\n  .text : { *(.text) }\n  .empty : { *(.nothing) }\n  after_empty = .;\n  .data : { data_start = .; *(.data) }\n  .tail : { tail = .; }\n}\n",
    }
    .check(&[
        ("after_empty", &['T']),
        ("data_start", &['D']),
        ("tail", &['D']),
        ("d", &['d']),
    ]);
}
