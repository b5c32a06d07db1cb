//! The kernel fixture (`kslink_tests::kernel`): builds, or reuses from the cache, the small
//! x86_64 kernels of Linux 6.12 and 6.1 and the arm64 one of 6.12 (cross-built,
//! relocatable) and checks what the later stages rely on: the configuration, System.map
//! against the tree's own `scripts/mksysmap`, the kallsyms labels in vmlinux, the link
//! inputs, and the recorded final link, re-run.
//!
//! The first run builds the kernels (a few minutes each on two cores); later runs find
//! them in the cache.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kslink_tests::kernel::{kernel_tree_for, required_config, KernelArch, KernelTree};
use kslink_tests::tempdir;
use kslink_tests::KernelVersion;
use object::{Object, ObjectKind, ObjectSymbol};

/// The arrays and scalars of the kallsyms table that both 6.12 and 6.1 emit (x86_64,
/// `CONFIG_KALLSYMS_ALL`, base-relative offsets).
const KALLSYMS_LABELS: &[&str] = &[
    "kallsyms_num_syms",
    "kallsyms_names",
    "kallsyms_markers",
    "kallsyms_token_table",
    "kallsyms_token_index",
    "kallsyms_offsets",
    "kallsyms_seqs_of_names",
];

/// Gets the tree (timing the first call and a cached reuse) and checks that reuse is fast.
fn tree(version: KernelVersion, arch: KernelArch) -> KernelTree {
    let start = Instant::now();
    let tree = kernel_tree_for(version, arch);
    let first = start.elapsed();
    let start = Instant::now();
    let again = kernel_tree_for(version, arch);
    let reuse = start.elapsed();
    eprintln!(
        "Linux {version} ({}): kernel_tree took {:.1} s, a cached reuse {:.3} ms; {}",
        tree.debian_version,
        first.as_secs_f64(),
        reuse.as_secs_f64() * 1e3,
        tree.dir.display()
    );
    assert_eq!(tree, again);
    assert!(
        reuse < Duration::from_millis(500),
        "a cached kernel_tree({version}) took {reuse:?}"
    );
    tree
}

/// The first line where `a` and `b` differ, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: {x:?} vs {y:?}", i + 1);
        }
    }
    format!("{} lines vs {} lines", a.lines().count(), b.lines().count())
}

fn check_files_and_config(tree: &KernelTree) {
    let v = tree.version;
    for path in [
        tree.vmlinux(),
        tree.system_map(),
        tree.vmlinux_o(),
        tree.vmlinux_a(),
        tree.version_timestamp_o(),
        tree.linker_script(),
        tree.boot_image(),
        tree.config(),
    ] {
        assert!(path.is_file(), "Linux {v}: {} is missing", path.display());
    }
    for option in required_config(v, tree.arch) {
        assert_eq!(
            tree.config_value(&format!("CONFIG_{option}")).as_deref(),
            Some("y"),
            "Linux {v}: CONFIG_{option}"
        );
    }
    // 6.1 has no KALLSYMS_SELFTEST: olddefconfig drops the line scripts/config added.
    let selftest = tree.config_value("CONFIG_KALLSYMS_SELFTEST");
    match v {
        KernelVersion::V7_3 | KernelVersion::V6_12 => {
            assert_eq!(selftest.as_deref(), Some("y"))
        }
        KernelVersion::V6_1 => assert_eq!(selftest, None),
    }
    // No modules, so no .vmlinux.export.o before 7.x, which always links one.
    assert_eq!(tree.config_value("CONFIG_MODULES"), None);
    assert_eq!(tree.export_o().is_some(), v == KernelVersion::V7_3);

    let script = fs::read_to_string(tree.linker_script()).unwrap();
    assert!(
        script.contains("SECTIONS") && script.contains("/DISCARD/"),
        "Linux {v}: {} is not the preprocessed linker script",
        tree.linker_script().display()
    );
    let data = fs::read(tree.vmlinux_o()).unwrap();
    let obj = object::File::parse(&*data).unwrap();
    assert_eq!(obj.kind(), ObjectKind::Relocatable, "Linux {v}: vmlinux.o");
    let architecture = match tree.arch {
        KernelArch::X86_64 => object::Architecture::X86_64,
        KernelArch::Arm64 => object::Architecture::Aarch64,
        KernelArch::I386 => object::Architecture::I386,
    };
    assert_eq!(obj.architecture(), architecture);
    // arm64 and x86_64 7.3 are relocatable (tinyconfig has it off).
    let relocatable = tree.config_value("CONFIG_RELOCATABLE");
    let relocatable_expected = tree.arch == KernelArch::Arm64
        || (v == KernelVersion::V7_3 && tree.arch == KernelArch::X86_64);
    assert_eq!(relocatable.as_deref() == Some("y"), relocatable_expected);
    let thin = fs::read(tree.vmlinux_a()).unwrap();
    assert!(
        thin.starts_with(b"!<thin>\n"),
        "Linux {v}: vmlinux.a is not a thin archive"
    );
}

fn check_system_map(tree: &KernelTree) {
    let v = tree.version;
    let map = fs::read(tree.system_map()).unwrap();
    let expected = tree.mksysmap(&tree.linked());
    assert!(
        map == expected,
        "Linux {v}: System.map differs from mksysmap(vmlinux): {}",
        first_difference(&map, &expected)
    );
    let map = String::from_utf8(map).unwrap();
    let names: BTreeSet<&str> = map.lines().filter_map(|l| l.split(' ').nth(2)).collect();

    let data = fs::read(tree.vmlinux()).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    // arm64's relocatable vmlinux is linked -shared: ET_DYN.
    let kind = match tree.arch {
        KernelArch::X86_64 | KernelArch::I386 => ObjectKind::Executable,
        KernelArch::Arm64 => ObjectKind::Dynamic,
    };
    assert_eq!(elf.kind(), kind, "Linux {v}: vmlinux");
    let symbols: BTreeSet<&str> = elf.symbols().filter_map(|s| s.name().ok()).collect();
    let relative_base = (v != KernelVersion::V7_3).then_some("kallsyms_relative_base");
    for label in KALLSYMS_LABELS.iter().chain(&relative_base) {
        assert!(symbols.contains(label), "Linux {v}: vmlinux lacks {label}");
        assert!(names.contains(label), "Linux {v}: System.map lacks {label}");
    }
    // kallsyms_num_syms in vmlinux counts the System.map lines (KALLSYMS_ALL, x86_64: every
    // System.map symbol is in the table).
    let num = elf
        .symbols()
        .find(|s| s.name() == Ok("kallsyms_num_syms"))
        .unwrap();
    let bytes = read_at(&elf, &data, num.address(), 4);
    let count = u32::from_le_bytes(bytes.try_into().unwrap()) as usize;
    let lines = map.lines().count();
    assert!(
        count > 10_000 && count <= lines,
        "Linux {v}: kallsyms_num_syms = {count}, System.map has {lines} lines"
    );
    eprintln!("Linux {v}: System.map has {lines} symbols, kallsyms_num_syms = {count}");
}

/// `len` bytes at virtual address `addr` of a linked ELF.
fn read_at<'a>(elf: &object::File<'a>, data: &'a [u8], addr: u64, len: usize) -> &'a [u8] {
    use object::ObjectSegment;
    for seg in elf.segments() {
        let (off, size) = seg.file_range();
        if addr >= seg.address() && addr + len as u64 <= seg.address() + size {
            let at = (off + addr - seg.address()) as usize;
            return &data[at..at + len];
        }
    }
    panic!("address {addr:#x} is in no segment's file data");
}

fn check_link_log(tree: &KernelTree) {
    let v = tree.version;
    let log = tree.link_log();
    eprintln!(
        "Linux {v}: Kbuild ran scripts/link-vmlinux.sh {:?}",
        log.args
    );
    let ld = tree.arch.tool("ld");
    assert_eq!(log.ld(), ld);
    // 7.x names the output: vmlinux.unstripped.
    let args = if v == KernelVersion::V7_3 { 4 } else { 3 };
    assert_eq!(log.args.len(), args, "{:?}", log.args);
    assert_eq!(log.env.get("LD"), Some(&ld));
    let script = format!("arch/{}/kernel/vmlinux.lds", tree.arch.srcarch());
    assert_eq!(log.env.get("KBUILD_LDS"), Some(&script));
    assert_eq!(log.env.get("LDFLAGS_vmlinux"), Some(&log.args[2]));
    assert_eq!(log.env.get("KBUILD_LDFLAGS"), Some(&log.args[1]));
    assert_eq!(
        log.env.get("KBUILD_BUILD_TIMESTAMP").map(String::as_str),
        Some("Thu Jan  1 00:00:00 UTC 2026")
    );
    assert!(log.env.contains_key("KBUILD_VMLINUX_LIBS"));
    let makeflags = &log.env["MAKEFLAGS"];
    assert!(
        !makeflags.contains("jobserver") && !makeflags.contains("SHELL="),
        "MAKEFLAGS {makeflags:?}"
    );

    let links = log.links();
    assert!(links.len() >= 3, "Linux {v}: {} links traced", links.len());
    let last = log.final_link();
    assert_eq!(&last, links.last().unwrap());
    eprintln!("Linux {v}: final link: {}", last.join(" "));
    assert!(last.contains(&format!("--script=./{script}")));
    // x86_64 6.12 enables CONFIG_X86_KERNEL_IBT (gcc 12 has -fcf-protection), so the final
    // link takes vmlinux.o; 6.1 and arm64 do not, and link vmlinux.a and the libraries.
    let input = match (v, tree.arch) {
        (KernelVersion::V6_12 | KernelVersion::V7_3, KernelArch::X86_64) => "vmlinux.o",
        _ => "vmlinux.a",
    };
    assert!(last.contains(&input.to_string()), "Linux {v}: {last:?}");
    assert_eq!(
        last.contains(&"-shared".to_string()),
        tree.arch == KernelArch::Arm64,
        "Linux {v}: {last:?}"
    );
    assert!(last.contains(&"init/version-timestamp.o".to_string()));
    let table = last.last().unwrap();
    assert!(
        table.starts_with(".tmp_vmlinux") && table.ends_with(".o"),
        "Linux {v}: the final link's last input {table:?} is not the kallsyms object"
    );
    assert!(tree.dir.join(table).is_file());

    let runs = log.kallsyms_runs();
    assert!(runs.len() >= 2, "Linux {v}: {runs:?}");
    let flags: Vec<&str> = runs[runs.len() - 1][1..runs[runs.len() - 1].len() - 1]
        .iter()
        .map(String::as_str)
        .collect();
    let expected: &[&str] = match v {
        // 32-bit and not relocatable: the table holds addresses.
        KernelVersion::V7_3 if tree.arch == KernelArch::I386 => &["--all-symbols"],
        KernelVersion::V7_3 => &["--all-symbols", "--pc-relative"],
        // SMP on x86_64 (for BTF) turns on CONFIG_KALLSYMS_ABSOLUTE_PERCPU.
        KernelVersion::V6_12 if tree.arch == KernelArch::X86_64 => {
            &["--all-symbols", "--absolute-percpu"]
        }
        KernelVersion::V6_12 => &["--all-symbols"],
        KernelVersion::V6_1 => &["--all-symbols", "--base-relative"],
    };
    assert_eq!(flags, expected, "Linux {v}: kallsyms options");
}

/// Re-runs the recorded final `ld` (output elsewhere), then `scripts/sorttable` as
/// link-vmlinux.sh does: the result must be vmlinux, byte for byte.
fn check_final_link_rerun(tree: &KernelTree) {
    let v = tree.version;
    let log = tree.link_log();
    let tmp = tempdir();
    let out = tmp.path().join("vmlinux");
    let mut words = log.final_link();
    let o = words.iter().position(|w| w == "-o").unwrap();
    words[o + 1] = out.display().to_string();
    let start = Instant::now();
    run(Command::new(&words[0])
        .args(&words[1..])
        .current_dir(&tree.dir));
    // 7.x writes the .BTF_ids that resolve_btfids made from the first link's BTF after the
    // final one; 6.x's resolve_btfids makes them from the final link's own.
    if tree.config_value("CONFIG_DEBUG_INFO_BTF").as_deref() == Some("y") {
        let mut resolve = Command::new(tree.dir.join("tools/bpf/resolve_btfids/resolve_btfids"));
        if v == KernelVersion::V7_3 {
            resolve
                .arg("--patch_btfids")
                .arg(tree.dir.join(".tmp_vmlinux1.BTF_ids"));
        }
        run(resolve.arg(&out));
    }
    let sorttable = tree.dir.join("scripts/sorttable");
    match v {
        KernelVersion::V7_3 | KernelVersion::V6_12 => {
            let nm = run(Command::new(tree.arch.tool("nm")).arg("-S").arg(&out));
            let sort_syms = tmp.path().join("nm-sort");
            fs::write(&sort_syms, nm).unwrap();
            run(Command::new(&sorttable).arg("-s").arg(&sort_syms).arg(&out));
        }
        KernelVersion::V6_1 => {
            run(Command::new(&sorttable).arg(&out));
        }
    }
    eprintln!(
        "Linux {v}: final link re-run (ld + sorttable) in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert_same_file(&out, &tree.linked(), "the re-run final link");
}

fn run(cmd: &mut Command) -> Vec<u8> {
    kslink_tests::run_checked(cmd, "a step of the test").stdout
}

fn assert_same_file(a: &Path, b: &Path, what: &str) {
    let (x, y) = (fs::read(a).unwrap(), fs::read(b).unwrap());
    if x != y {
        let at = x.iter().zip(&y).position(|(p, q)| p != q);
        panic!(
            "{what}: {} ({} bytes) differs from {} ({} bytes), first at byte {at:?}",
            a.display(),
            x.len(),
            b.display(),
            y.len()
        );
    }
}

/// Runs `scripts/link-vmlinux.sh` with the recorded arguments and environment in a copy of
/// the tree: vmlinux and System.map must come out the same.
fn check_link_script_rerun(tree: &KernelTree) {
    let v = tree.version;
    let tmp = tempdir();
    let start = Instant::now();
    let copy = tree.copy_to(&tmp.path().join("tree"));
    let copied = start.elapsed();
    fs::remove_file(copy.linked()).unwrap();
    fs::remove_file(copy.system_map()).unwrap();
    let start = Instant::now();
    let out = tree
        .link_log()
        .link_vmlinux_command(&copy.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Linux {v}: link-vmlinux.sh failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "Linux {v}: copied the tree in {:.1} s, re-ran scripts/link-vmlinux.sh in {:.1} s",
        copied.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    assert_same_file(&copy.linked(), &tree.linked(), "link-vmlinux.sh re-run");
    assert_same_file(
        &copy.system_map(),
        &tree.system_map(),
        "link-vmlinux.sh re-run",
    );

    // Kbuild in the copy: vmlinux is up to date (same command, older inputs), the boot image
    // is remade from the new vmlinux, and comes out the same; nothing else is rebuilt
    // (objtool's records were moved to the copy's path).
    let start = Instant::now();
    let boot = tree.arch.boot_target();
    let out = copy.make().arg("vmlinux").arg(boot).output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Linux {v}: make in the copy failed: {}\n{log}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "Linux {v}: make vmlinux {boot} in the copy took {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let boot_dir = format!("arch/{}/boot", tree.arch.srcarch());
    let rebuilt: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("  CC ") || l.starts_with("  LD ") || l.contains("objtool"))
        .filter(|l| !l.contains(&boot_dir) && !l.contains("DESCEND"))
        .collect();
    assert!(
        rebuilt.is_empty(),
        "Linux {v}: make in the copy rebuilt more than {boot}: {rebuilt:?}"
    );
    assert_same_file(&copy.vmlinux(), &tree.vmlinux(), "make in the copy");
    assert_same_file(&copy.boot_image(), &tree.boot_image(), "make in the copy");
}

fn check(version: KernelVersion, arch: KernelArch) {
    let tree = tree(version, arch);
    check_files_and_config(&tree);
    check_system_map(&tree);
    check_link_log(&tree);
    check_final_link_rerun(&tree);
    check_link_script_rerun(&tree);
}

#[test]
fn kernel_7_3() {
    check(KernelVersion::V7_3, KernelArch::X86_64);
}

#[test]
fn kernel_7_3_arm64() {
    check(KernelVersion::V7_3, KernelArch::Arm64);
}

#[test]
fn kernel_7_3_i386() {
    check(KernelVersion::V7_3, KernelArch::I386);
}

#[test]
fn kernel_6_12() {
    check(KernelVersion::V6_12, KernelArch::X86_64);
}

#[test]
fn kernel_6_1() {
    check(KernelVersion::V6_1, KernelArch::X86_64);
}

#[test]
fn kernel_6_12_arm64() {
    check(KernelVersion::V6_12, KernelArch::Arm64);
}
