//! `kslink-btf view`: the BTF input view, made from the link's objects or from a relocatable
//! link of them, is what pahole reads as it reads the linked file, with the real cc, ld and
//! pahole.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use kslink_tests::{bin_path, run_checked, tempdir};

/// A per-cpu variable defined after its declaration (its DWARF definition names it only
/// through DW_AT_specification, as the kernel's `DEFINE_PER_CPU_FIRST(fixed_percpu_data)`
/// after its `DECLARE_PER_CPU_FIRST`) at offset 0 of a zero-based per-cpu section, as x86_64
/// 6.x has it; two more after it, in another object too. One of them has a hidden alias, as
/// 7.x's `SYM_PIC_ALIAS(gdt_page)` is `__pi_gdt_page`: pahole names the variable after the
/// symbol its search finds, the second of the two, and the object has `counter` first where
/// GNU ld writes the alias first (its hash table's order) and ld.lld too (as a local symbol).
const FIRST_C: &str = "struct fixed_data { char stack_canary[40]; unsigned long canary; };\n\
extern struct fixed_data fixed_data;\n\
__attribute__((section(\".data..percpu..first\"))) struct fixed_data fixed_data = { .canary = 1 };\n\
__attribute__((section(\".data..percpu\"))) int counter = 1;\n\
extern int counter_alias __attribute__((alias(\"counter\"), visibility(\"hidden\")));\n\
int read_counter(void) { return counter + fixed_data.stack_canary[0]; }\n";

/// Two more variables in a section the script discards, the second 64 bytes into it: its
/// DWARF location is that section plus 64, where a zero-based per-cpu section has `counter`.
/// The link leaves the location 0, so pahole finds no per-cpu variable there (cc keeps them
/// in order with `-fno-toplevel-reorder`).
const SECOND_C: &str = "__attribute__((section(\".data..percpu\"))) long other = 3;\n\
static char gone_pad[64] __attribute__((used, section(\".discard.addressable\"))) = { 1 };\n\
static int gone __attribute__((used, section(\".discard.addressable\"))) = 2;\n\
long read_other(void) { return other; }\n\
void _start(void) {}\n";

/// The kernel's shape of script: the per-cpu section at address 0, its input sections in
/// order with an alignment between them, and a `/DISCARD/`.
const SCRIPT: &str = "SECTIONS\n{\n . = 0x400000;\n .text : { *(.text .text.*) }\n .data : { *(.data) }\n \
.data..percpu 0 : AT(0x500000) { __per_cpu_start = .; *(.data..percpu..first) . = ALIGN(64); *(.data..percpu) __per_cpu_end = .; }\n \
/DISCARD/ : { *(.note.GNU-stack) *(.comment) *(.discard.*) }\n}\n";

fn pahole_available() -> bool {
    if Command::new("pahole").arg("--version").output().is_ok() {
        return true;
    }
    kslink_tests::skip_for_missing_tool("the BTF input view", "pahole", "dwarves");
    false
}

fn btf(dir: &Path, file: &str) -> Vec<u8> {
    let copy = format!("{file}.pahole");
    fs::copy(dir.join(file), dir.join(&copy)).unwrap();
    run_checked(
        Command::new("pahole")
            .env("LLVM_OBJCOPY", "objcopy")
            .args(["-J", &copy])
            .current_dir(dir),
        "pahole -J (Debian's dwarves)",
    );
    let dumped = format!("{file}.BTF");
    run_checked(
        Command::new("objcopy")
            .arg(format!("--dump-section=.BTF={dumped}"))
            .args([&copy, "/dev/null"])
            .current_dir(dir),
        "objcopy --dump-section .BTF",
    );
    fs::read(dir.join(dumped)).unwrap()
}

fn btf_stage(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin_path("kslink-btf"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The kernel's shape of script where the per-cpu section is not zero-based (7.x, arm64):
/// it starts at a page after the data.
const PAGED_SCRIPT: &str = "SECTIONS\n{\n . = 0x400000;\n .text : { *(.text .text.*) }\n .data : { *(.data) }\n \
. = ALIGN(4096);\n .data..percpu : AT(ADDR(.data..percpu) - 0x100000) { __per_cpu_start = .; *(.data..percpu..first) . = ALIGN(64); *(.data..percpu) __per_cpu_end = .; }\n \
/DISCARD/ : { *(.note.GNU-stack) *(.comment) *(.discard.*) }\n}\n";

/// The BTF that pahole encodes from the file that `linker` links with `script` (the kernel's),
/// from `linker -r` with the view's script, from the view made from that and from the view
/// made from the objects (its global symbols in the linker's order); and the views' per-cpu
/// sections' lines in `readelf -S`, after
/// checking that each view is an executable file without relocations.
struct Encoded {
    linked: Vec<u8>,
    relocatable: Vec<u8>,
    view: Vec<u8>,
    direct: Vec<u8>,
    percpu: [String; 2],
}

impl Encoded {
    /// Both views' BTF is the linked file's, and their per-cpu sections are at `address` (as
    /// `readelf -S` prints it).
    fn assert_views_are_linked(&self, linker: &str, address: &str) {
        for (view, btf) in [
            ("view of the relocatable link", &self.view),
            ("view of the objects", &self.direct),
        ] {
            assert!(
                *btf == self.linked,
                "{linker}: the {view}'s BTF differs from the linked file's ({} bytes, linked {})",
                btf.len(),
                self.linked.len()
            );
        }
        for percpu in &self.percpu {
            assert!(
                percpu.contains(address),
                "{linker}: the per-cpu section is not where the view's script places it: {percpu}"
            );
        }
    }
}

/// Compiles the two objects in `dir` and links them with `linker` and `script` (the kernel's)
/// into `linked`.
fn compile_and_link(dir: &Path, linker: &str, script: &str) {
    fs::write(dir.join("first.c"), FIRST_C).unwrap();
    fs::write(dir.join("second.c"), SECOND_C).unwrap();
    fs::write(dir.join("vmlinux.lds"), script).unwrap();
    run_checked(
        Command::new("cc")
            .args([
                "-g",
                "-O2",
                "-fno-toplevel-reorder",
                "-c",
                "first.c",
                "second.c",
            ])
            .current_dir(dir),
        "cc",
    );
    run_checked(
        Command::new(linker)
            .args(["-T", "vmlinux.lds", "-o", "linked", "first.o", "second.o"])
            .current_dir(dir),
        linker,
    );
}

/// `linker -r --strip-debug -T view.lds -o order.o OBJECTS` in `dir`: the relocatable link
/// whose global symbols are in the order the linker writes them.
fn order_link(dir: &Path, linker: &str, objects: &[&str]) {
    run_checked(
        Command::new(linker)
            .args(["-r", "--strip-debug", "-T", "view.lds", "-o", "order.o"])
            .args(objects)
            .current_dir(dir),
        &format!("{linker} -r --strip-debug"),
    );
}

fn encode(linker: &str, script: &str) -> Encoded {
    let dir = tempdir();
    let dir = dir.path();
    compile_and_link(dir, linker, script);
    let out = btf_stage(dir, &["view-script", "-T", "vmlinux.lds", "-o", "view.lds"]);
    assert!(out.status.success(), "{out:?}");
    run_checked(
        Command::new(linker)
            .args([
                "-r", "-T", "view.lds", "-o", "view.o", "first.o", "second.o",
            ])
            .current_dir(dir),
        &format!("{linker} -r"),
    );
    order_link(dir, linker, &["first.o", "second.o"]);
    // The symbols' order: GNU ld -r writes its own; ld.lld's is the view's rule.
    let (view, direct) = match linker {
        "ld" => ("view.o", "--symbol-order order.o first.o second.o"),
        _ => ("--hidden-first view.o", "--hidden-first first.o second.o"),
    };
    let percpu = [("view", view), ("direct", direct)].map(|(view, inputs)| {
        let mut args = vec!["view", "-T", "view.lds", "-o", view];
        args.extend(inputs.split(' '));
        let out = btf_stage(dir, &args);
        assert!(out.status.success(), "{out:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
        let sections = run_checked(
            Command::new("readelf")
                .args(["-hSW", view])
                .current_dir(dir),
            "readelf",
        );
        let text = String::from_utf8_lossy(&sections.stdout);
        assert!(text.contains("EXEC (Executable file)"), "{view}: {text}");
        assert!(!text.contains(" RELA "), "{view}: {text}");
        text.lines()
            .find(|line| line.contains(" .data..percpu "))
            .unwrap_or_else(|| panic!("{view}: no per-cpu section: {text}"))
            .to_string()
    });
    if linker == "ld" {
        // The order link that the view runs itself gives the view of the order link above.
        let out = btf_stage(
            dir,
            &[
                "view", "-T", "view.lds", "-o", "ordered", "first.o", "second.o", "--", "ld",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
        assert!(
            fs::read(dir.join("ordered")).unwrap() == fs::read(dir.join("direct")).unwrap(),
            "the view with its own order link differs from the view with --symbol-order"
        );
        assert!(!dir.join("ordered.order.o").exists());
    }
    Encoded {
        linked: btf(dir, "linked"),
        relocatable: btf(dir, "view.o"),
        view: btf(dir, "view"),
        direct: btf(dir, "direct"),
        percpu,
    }
}

/// pahole leaves out the nameless definition at address 0 of a linked file and keeps it from
/// the relocatable link (28 bytes more); from the view, whose zero-based per-cpu section
/// keeps its address, it encodes the linked file's BTF, byte for byte.
#[test]
fn pahole_reads_the_view_as_it_reads_the_linked_file() {
    if !pahole_available() {
        return;
    }
    let encoded = encode("ld", SCRIPT);
    assert_eq!(
        encoded.relocatable.len(),
        encoded.linked.len() + 28,
        "pahole encodes fixed_data from the relocatable link only"
    );
    encoded.assert_views_are_linked("ld", " 0000000000000000 ");
}

/// Where the per-cpu section is not zero-based, the view puts it where the view's script
/// does, whichever linker made the relocatable link: GNU ld -r keeps that address, ld.lld -r
/// leaves it 0, where pahole would leave out the variable at the section's start.
#[test]
fn the_view_places_the_percpu_section_as_its_script_does_after_either_linker() {
    if !pahole_available() {
        return;
    }
    for linker in ["ld", "ld.lld"] {
        encode(linker, PAGED_SCRIPT).assert_views_are_linked(linker, " 0000000000200000 ");
    }
}

/// C source of `count` global symbols named `{prefix}_N`: per-cpu and other variables,
/// functions that read variables of `other` (undefined here), weak definitions that `other`
/// makes strong, hidden aliases.
fn many_symbols_c(prefix: &str, other: &str, count: usize) -> String {
    let mut c = String::new();
    for i in 0..count {
        c += &match i % 5 {
            0 => format!(
                "__attribute__((section(\".data..percpu\"))) long {prefix}_{i} = {i};\n\
                 extern long {prefix}_alias_{i} __attribute__((alias(\"{prefix}_{i}\"), visibility(\"hidden\")));\n"
            ),
            1 => format!("int {prefix}_{i} = {i};\n"),
            2 => format!(
                "extern int {other}_{n};\nint {prefix}_{i}(void) {{ return {other}_{n}; }}\n",
                n = i - 1
            ),
            3 => format!("__attribute__((weak)) int weak_{prefix}_{i} = 1;\nint weak_{other}_{i} = 2;\n"),
            _ => format!("const char *{prefix}_{i} = \"{prefix} {i}\";\n"),
        };
    }
    c
}

/// GNU ld orders the global symbols of a relocatable link by its hash table, which grows and
/// is rehashed as names come: thousands of them, defined and undefined, weak, hidden and
/// per-cpu, in two objects with debug information. The view that runs its own order link
/// (of the objects' symbol skeletons) orders them as the relocatable link of the objects
/// does, byte for byte, which is not the objects' own order; and leaves no file of it.
#[test]
fn the_order_link_of_the_symbol_skeletons_orders_thousands_of_symbols_as_the_objects_link() {
    let dir = tempdir();
    let dir = dir.path();
    fs::write(dir.join("many_a.c"), many_symbols_c("a", "b", 4000)).unwrap();
    fs::write(dir.join("many_b.c"), many_symbols_c("b", "a", 4000)).unwrap();
    fs::write(dir.join("vmlinux.lds"), SCRIPT).unwrap();
    run_checked(
        Command::new("cc")
            .args([
                "-g",
                "-O2",
                "-fno-asynchronous-unwind-tables",
                "-c",
                "many_a.c",
                "many_b.c",
            ])
            .current_dir(dir),
        "cc",
    );
    let out = btf_stage(dir, &["view-script", "-T", "vmlinux.lds", "-o", "view.lds"]);
    assert!(out.status.success(), "{out:?}");
    order_link(dir, "ld", &["many_a.o", "many_b.o"]);
    for (view, order) in [
        (
            "direct",
            &["--symbol-order", "order.o", "many_a.o", "many_b.o"][..],
        ),
        ("own", &["many_a.o", "many_b.o", "--", "ld"][..]),
        ("plain", &["many_a.o", "many_b.o"][..]),
    ] {
        let mut args = vec!["view", "-T", "view.lds", "-o", view];
        args.extend(order);
        let out = btf_stage(dir, &args);
        assert!(out.status.success(), "{view}: {out:?}");
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{view}: {out:?}"
        );
    }
    let view = |name: &str| fs::read(dir.join(name)).unwrap();
    assert!(
        view("own") == view("direct"),
        "the view with the skeletons' order link differs from the view with the objects' order"
    );
    assert!(
        view("plain") != view("direct"),
        "the linker's order is the objects' own: the test orders nothing"
    );
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("own."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// What is not a relocatable ELF file is one line and exit status 1, and nothing is written.
#[test]
fn a_view_of_what_is_not_a_relocatable_link_is_refused() {
    let dir = tempdir();
    let dir = dir.path();
    fs::write(dir.join("text"), "not an ELF file\n").unwrap();
    fs::copy(bin_path("kslink-btf"), dir.join("executable")).unwrap();
    fs::write(dir.join("second.c"), SECOND_C).unwrap();
    run_checked(
        Command::new("cc")
            .args(["-g", "-c", "second.c"])
            .current_dir(dir),
        "cc",
    );
    let object = fs::read(dir.join("second.o")).unwrap();
    fs::write(dir.join("cut"), &object[..object.len() / 2]).unwrap();
    fs::write(
        dir.join("view.lds"),
        "SECTIONS { .data..percpu 0x200000 : { *(.data..percpu) } }\n",
    )
    .unwrap();
    fs::write(dir.join("kernel.lds"), PAGED_SCRIPT).unwrap();
    let out = btf_stage(dir, &["view", "-T", "kernel.lds", "-o", "view", "second.o"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "kslink-btf: error: kernel.lds:3: not a script of kslink's BTF input view"
        ),
        "{stderr}"
    );
    assert!(!dir.join("view").exists());
    for (input, says) in [
        ("text", "text: not an ELF file"),
        ("executable", "executable: not a relocatable file"),
        ("cut", "cut: not a readable ELF file"),
        ("missing", "missing: No such file or directory"),
        ("second.o cut", "cut: not a readable ELF file"),
        (
            "second.o second.o",
            "second.o: symbol other is defined in second.o too",
        ),
        (
            "second.o -- ld --no-such-option",
            "ld: the symbol-order link (-r --strip-debug) failed (exit status: 1): ",
        ),
        (
            "second.o -- no-such-linker",
            "no-such-linker: cannot run it for the symbol order: No such file or directory",
        ),
        ("second.o text -- ld", "text: not an ELF file"),
        (
            "second.o executable -- ld",
            "executable: not a relocatable file",
        ),
        ("second.o cut -- ld", "cut: not a readable ELF file"),
    ] {
        let mut args = vec!["view", "-T", "view.lds", "-o", "view"];
        args.extend(input.split(' '));
        let out = btf_stage(dir, &args);
        assert_eq!(out.status.code(), Some(1), "{input}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{input}: {stderr}");
        assert!(
            stderr.starts_with(&format!("kslink-btf: error: {says}")),
            "{input}: {stderr}"
        );
        assert!(!dir.join("view").exists(), "{input}");
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| {
                let name = name.to_string_lossy();
                name.starts_with(".view") || name.starts_with("view.order")
            })
            .collect();
        assert!(left.is_empty(), "{input}: {left:?}");
    }
}

/// The check after the link names a per-cpu variable's misfit when the BTF takes its name from
/// another of the symbols at its address than pahole would take from the linked file: the
/// view of the objects in their own order names `counter` after `counter_alias`, where GNU ld's
/// linked file gives pahole `counter`.
#[test]
fn the_check_finds_a_per_cpu_variable_named_after_another_alias() {
    if !pahole_available() {
        return;
    }
    let dir = tempdir();
    let dir = dir.path();
    compile_and_link(dir, "ld", SCRIPT);
    let out = btf_stage(dir, &["view-script", "-T", "vmlinux.lds", "-o", "view.lds"]);
    assert!(out.status.success(), "{out:?}");
    let out = btf_stage(
        dir,
        &[
            "view", "-T", "view.lds", "-o", "view", "first.o", "second.o",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let view_btf = btf(dir, "view");
    assert_ne!(
        view_btf,
        btf(dir, "linked"),
        "the inputs' order names the alias"
    );
    fs::write(dir.join("view.BTF"), &view_btf).unwrap();
    run_checked(
        Command::new("objcopy")
            .args(["--add-section", ".BTF=view.BTF", "linked", "with-btf"])
            .current_dir(dir),
        "objcopy --add-section .BTF",
    );
    let out = btf_stage(dir, &["check", "--view", "view", "with-btf"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "kslink-btf: error: with-btf: the BTF does not fit the file: the BTF names the per-cpu variable at .data..percpu+0x40 counter_alias, where pahole 1.24 reading the file would name it counter (the symbol there its search finds)\n"
    );
}
