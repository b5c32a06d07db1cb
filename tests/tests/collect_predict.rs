//! `kslink-collect --predict` and `--compare` against real links.
//!
//! - The tinyconfig kernels of the fixture (Linux 6.12, 6.1 and 7.3, x86_64, and 6.12
//!   arm64, relocatable and so linked `-shared`, built from Debian's `linux-source-*`): the
//!   prediction from the final link's inputs and linker script equals the linked file's
//!   System.map as a multiset of (type letter, name), both from `vmlinux.o` and from
//!   `vmlinux.a` with the library archives, in the order and with the
//!   `--whole-archive`/group structure of Kbuild's link. "System.map" is the kernel
//!   version's own mksysmap (6.12's and 7.3's `sed` scripts, 6.1's `grep -v`) run on
//!   `nm -n` of the file the link wrote (7.x: `vmlinux.unstripped`), which the kernel's
//!   own System.map must equal; `--predict --profile P` follows the same rules.
//! - The hand-made link below with each version's table: `--predict --profile P` equals
//!   that version's mksysmap on the output, with symbols the versions' rules differ on.
//! - A hand-made link, assembled and linked by GNU as and ld 2.40, with what kernels do
//!   and more: weak and strong definitions, a regular and a thin archive searched in a
//!   group, whole-archive, common symbols (one pulling an archive member), COMDAT groups
//!   and linkonce sections, `/DISCARD/`, `EXCLUDE_FILE`, an orphan section, `PROVIDE`,
//!   `PROVIDE_HIDDEN`, `HIDDEN`, assignments inside and outside output sections (absolute,
//!   relative, from `.`, mixed sections, a copied ifunc type), an output section removed
//!   for being empty, empty sections kept by `ALIGN` (with and without a special name) and
//!   one the location counter moves through.
//! - The same kernels' final links run with LLVM's `ld.lld` instead of GNU ld (into a
//!   temporary file; the cached tree is read-only): `--predict --linker lld` from the same
//!   inputs equals that output's System.map (`--compare` exit status 0).
//! - A hand-made link for lld, linked by `ld.lld` 14, with a case for each rule in which
//!   lld differs from GNU ld: archive members taken for later references and for names the
//!   script refers to, both `.gnu.linkonce` copies kept, hidden input symbols made local,
//!   undefined weak symbols kept, `__start_`/`__stop_` of an output section, merge-section
//!   locals, `archive:member` file patterns, inputs of two types, `(INFO)`, lld's own
//!   `.comment`, output sections without inputs (flags of the previous section with inputs,
//!   `(NOLOAD)`; kept by an assignment, `ADDR` or a symbol in the header, removed
//!   otherwise), `.` outside sections (before any, after one, after a removed one),
//!   numbers and `ALIGN` inside sections,
//!   `PROVIDE` for names only the script refers to, `DEFINED` of a later symbol, and the
//!   sections of `+`, `-`, `&`, `*`, `ABSOLUTE`, `ALIGN(a, n)`, `ADDR` and copied types.
//! - The real arm64 and riscv linker scripts of Linux 6.12 (preprocessed from Debian's
//!   source, `tests/src/lds.rs`): parsed, and linked by the target's GNU ld with a small
//!   object that has what the scripts refer to; the prediction equals the output's symbols.
//!   Needs Debian's `binutils-aarch64-linux-gnu` and `binutils-riscv64-linux-gnu`; without
//!   them that part is skipped with a note.
//! - `--compare` on an exact prediction (exit 0) and on a damaged one (exit 1, the
//!   differences listed, the table cost).
//! - Bad input: truncated and non-ELF objects, a thin archive whose member is missing,
//!   an unreadable or unparseable script, an option among the inputs: one line on stderr
//!   naming the file, exit status 1 (2 for usage errors), no output written.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kslink_linker_model::{predict, PredictError, TableLabels};
use kslink_linker_script::{Script, Statement};
use kslink_schema::{artifact, LinkKind, LinkerFlavour, SymbolOrigin, SymbolSet, TableOptions};
use kslink_table::{Profile, LINUX_6_1, LINUX_6_12, LINUX_7_3};
use kslink_tests::tempdir;
use kslink_tests::{
    apply_mksysmap, bin_path, kernel_linker_script, kernel_tree, kernel_tree_for, KernelArch,
    KernelTree, KernelVersion, LinkInputs, ScriptArch,
};

/// The table options of `tree`'s `.config` but `--all-symbols` (which each test sets
/// itself), as the drop-in passes them to kslink-collect.
fn table_flags(tree: &KernelTree) -> Vec<&'static str> {
    common::kbuild_flags(tree)
        .into_iter()
        .filter(|flag| *flag != "--all-symbols")
        .collect()
}

/// A multiset of (type letter, name).
type Multiset = BTreeMap<(u8, Vec<u8>), usize>;

fn set_multiset(set: &SymbolSet) -> Multiset {
    let mut m = Multiset::new();
    for s in &set.symbols {
        *m.entry((s.type_letter, s.name.clone())).or_default() += 1;
    }
    m
}

/// The (type, name) multiset of `ADDR TYPE NAME` lines (an undefined symbol's address is
/// blank).
fn map_multiset(text: &[u8]) -> Multiset {
    let mut m = Multiset::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let width = if line[0] == b' ' {
            line.iter().take_while(|&&b| b == b' ').count() - 1
        } else {
            line.iter().position(|&b| b == b' ').unwrap_or(line.len())
        };
        match line.get(width..) {
            Some([b' ', letter, b' ', name @ ..]) => {
                *m.entry((*letter, name.to_vec())).or_default() += 1;
            }
            _ => panic!("not a map line: {:?}", String::from_utf8_lossy(line)),
        }
    }
    m
}

/// Panics with the first differences if the multisets differ.
#[track_caller]
fn assert_same_multiset(expected: &Multiset, actual: &Multiset, what: &str) {
    if expected == actual {
        return;
    }
    let show = |(letter, name): &(u8, Vec<u8>), n: usize| {
        format!(
            "{} {} (x{n})",
            char::from(*letter),
            String::from_utf8_lossy(name)
        )
    };
    let missing: Vec<String> = expected
        .iter()
        .filter(|(k, n)| actual.get(*k) != Some(n))
        .map(|(k, n)| show(k, n - actual.get(k).copied().unwrap_or(0).min(*n)))
        .take(20)
        .collect();
    let extra: Vec<String> = actual
        .iter()
        .filter(|(k, n)| expected.get(*k).copied().unwrap_or(0) < **n)
        .map(|(k, n)| show(k, n - expected.get(k).copied().unwrap_or(0)))
        .take(20)
        .collect();
    panic!(
        "{what}: the prediction differs ({} expected, {} predicted)\nnot predicted \
         (first 20): {missing:#?}\npredicted but not expected (first 20): {extra:#?}",
        expected.values().sum::<usize>(),
        actual.values().sum::<usize>()
    );
}

fn run(cmd: &mut Command) -> Output {
    kslink_tests::run_checked(cmd, "a step of the test")
}

// ---------------------------------------------------------------------------------------
// The kernels of the fixture
// ---------------------------------------------------------------------------------------

/// A kernel version's table as the prediction is told of it: the profile, and 6.1's
/// `--base-relative`.
#[derive(Clone, Copy, Debug)]
struct KernelTable {
    profile: &'static Profile,
    base_relative: bool,
}

impl KernelTable {
    /// The labels the table adds to the link, as the collect stage gives them to the model.
    fn labels(&self) -> TableLabels {
        kslink_collect::table_labels(self.profile, self.base_relative)
    }
}

/// [`predict`] of a link that adds `table`, listed by the System.map rules of its version.
fn predict_with(
    script: &Path,
    inputs: &[OsString],
    table: KernelTable,
    flavour: LinkerFlavour,
    kind: LinkKind,
) -> Result<SymbolSet, PredictError> {
    let mksysmap = kslink_collect::mksysmap_of(table.profile).expect("every profile has rules");
    predict(script, inputs, &table.labels(), mksysmap, flavour, kind)
}

/// The table labels the kernel's link adds: 6.1 runs `scripts/kallsyms --base-relative`.
fn labels(version: KernelVersion) -> KernelTable {
    match version {
        KernelVersion::V6_12 => KernelTable {
            profile: &LINUX_6_12,
            base_relative: false,
        },
        KernelVersion::V6_1 => KernelTable {
            profile: &LINUX_6_1,
            base_relative: true,
        },
        KernelVersion::V7_3 => KernelTable {
            profile: &LINUX_7_3,
            base_relative: false,
        },
    }
}

/// The prediction for `link` in `tree`, in-process, for GNU ld.
fn predict_kernel(tree: &KernelTree, link: &LinkInputs) -> SymbolSet {
    predict_kernel_for(tree, link, LinkerFlavour::Gnu)
}

/// The prediction for `link` in `tree`, in-process, for `flavour`.
fn predict_kernel_for(tree: &KernelTree, link: &LinkInputs, flavour: LinkerFlavour) -> SymbolSet {
    let inputs: Vec<OsString> = link
        .inputs
        .iter()
        .map(|w| {
            if w.starts_with('-') {
                OsString::from(w)
            } else {
                tree.dir.join(w).into_os_string()
            }
        })
        .collect();
    let set = predict_with(
        &tree.dir.join(&link.script),
        &inputs,
        labels(tree.version),
        flavour,
        link.kind,
    )
    .unwrap_or_else(|e| panic!("predicting Linux {}: {e}", tree.version));
    assert!(!set.addresses_known);
    assert!(matches!(set.origin, SymbolOrigin::Predicted { .. }));
    assert!(set.symbols.iter().all(|s| s.address == 0));
    set
}

/// What the prediction must equal: the kernel version's own mksysmap run on `nm -n` of the
/// file the final link wrote (7.x's `vmlinux.unstripped`), with the architecture's `nm`:
/// the kernel's System.map.
fn expected_map(tree: &KernelTree) -> Multiset {
    let nm = run(Command::new(tree.arch.tool("nm"))
        .arg("-n")
        .arg(tree.linked()))
    .stdout;
    let map = apply_mksysmap(tree.version, &nm);
    let system_map = fs::read(tree.system_map()).expect("System.map");
    assert!(
        map == system_map,
        "Linux {}'s System.map is its mksysmap run on nm -n {}",
        tree.version,
        tree.linked().display()
    );
    map_multiset(&map)
}

fn check_kernel(version: KernelVersion, arch: KernelArch, archives: bool) {
    let tree = kernel_tree_for(version, arch);
    let log = tree.link_log();
    let recorded = log.final_link_inputs();
    let link = if archives {
        recorded.with_vmlinux_a(&log.vmlinux_libs())
    } else {
        recorded.with_vmlinux_o()
    };
    let predicted = predict_kernel(&tree, &link);
    let expected = expected_map(&tree);
    assert_same_multiset(
        &expected,
        &set_multiset(&predicted),
        &format!("Linux {version} from {:?}", link.inputs),
    );
}

/// The symbols a table without `--all-symbols` holds, built from `list`, sorted.
fn text_table_symbols(list: kslink_table::SymbolList, version: KernelVersion) -> Vec<Vec<u8>> {
    let labels = labels(version);
    let options = TableOptions {
        base_relative: labels.base_relative,
        ..TableOptions::default()
    };
    let table = kslink_table::build(list, labels.profile, options).expect("the table");
    let mut symbols: Vec<Vec<u8>> = table.symbols().map(<[u8]>::to_vec).collect();
    symbols.sort();
    symbols
}

/// The prediction's word on the text ranges gives a table without `--all-symbols` exactly
/// the text symbols of the kernel's System.map (upstream's own, from the linked file).
fn check_text_only(version: KernelVersion, arch: KernelArch) {
    let tree = kernel_tree_for(version, arch);
    let predicted = predict_kernel(&tree, &tree.link_log().final_link_inputs());
    let profile = labels(version).profile;
    let map = fs::read(tree.system_map()).expect("System.map");
    let linked = kslink_table::read_map(&map[..], "System.map", profile).expect("the map");
    let expected = text_table_symbols(linked, version);
    let list = kslink_table::symbols_from_set(&predicted, profile, "the prediction");
    let actual = text_table_symbols(list, version);
    let show = |v: &[Vec<u8>]| -> Vec<String> {
        let shown = v.iter().take(40);
        shown
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    };
    let missing: Vec<_> = expected
        .iter()
        .filter(|s| !actual.contains(s))
        .cloned()
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|s| !expected.contains(s))
        .cloned()
        .collect();
    assert!(
        expected == actual,
        "Linux {version} {}: {} text symbols predicted, {} in System.map; missing {:?}, extra {:?}",
        arch.name(),
        actual.len(),
        expected.len(),
        show(&missing),
        show(&extra)
    );
}

#[test]
fn linux_6_12_text_only() {
    check_text_only(KernelVersion::V6_12, KernelArch::X86_64);
}

#[test]
fn linux_6_1_text_only() {
    check_text_only(KernelVersion::V6_1, KernelArch::X86_64);
}

#[test]
fn linux_7_3_text_only() {
    check_text_only(KernelVersion::V7_3, KernelArch::X86_64);
}

#[test]
fn linux_6_12_arm64_text_only() {
    check_text_only(KernelVersion::V6_12, KernelArch::Arm64);
}

#[test]
fn linux_7_3_arm64_text_only() {
    check_text_only(KernelVersion::V7_3, KernelArch::Arm64);
}

#[test]
fn linux_7_3_i386_text_only() {
    check_text_only(KernelVersion::V7_3, KernelArch::I386);
}

#[test]
fn linux_6_12_from_vmlinux_o() {
    // Kbuild's own final link (CONFIG_X86_KERNEL_IBT: vmlinux.o).
    let tree = kernel_tree(KernelVersion::V6_12);
    let recorded = tree.link_log().final_link_inputs();
    assert!(
        recorded.inputs.iter().any(|w| w == "vmlinux.o"),
        "{recorded:?}"
    );
    check_kernel(KernelVersion::V6_12, KernelArch::X86_64, false);
}

#[test]
fn linux_6_12_from_vmlinux_a() {
    check_kernel(KernelVersion::V6_12, KernelArch::X86_64, true);
}

#[test]
fn linux_6_12_arm64_from_vmlinux_a() {
    // Kbuild's own final link of the relocatable arm64 kernel: -shared, vmlinux.a and the
    // libraries; hidden references from its startup code make the __pi_ aliases local.
    let tree = kernel_tree_for(KernelVersion::V6_12, KernelArch::Arm64);
    let recorded = tree.link_log().final_link_inputs();
    assert_eq!(recorded.kind, LinkKind::Shared, "{recorded:?}");
    check_kernel(KernelVersion::V6_12, KernelArch::Arm64, true);
}

#[test]
fn linux_6_1_from_vmlinux_a() {
    // Kbuild's own final link (vmlinux.a and the library archives).
    let tree = kernel_tree(KernelVersion::V6_1);
    let recorded = tree.link_log().final_link_inputs();
    assert!(
        recorded.inputs.iter().any(|w| w == "vmlinux.a"),
        "{recorded:?}"
    );
    check_kernel(KernelVersion::V6_1, KernelArch::X86_64, true);
}

#[test]
fn linux_6_1_from_vmlinux_o() {
    check_kernel(KernelVersion::V6_1, KernelArch::X86_64, false);
}

#[test]
fn linux_7_3_from_vmlinux_a() {
    // Kbuild's own final link writes vmlinux.unstripped, which still has .modinfo and the
    // __mod_device_table__ aliases that 7.3's rules drop.
    let tree = kernel_tree(KernelVersion::V7_3);
    assert_eq!(tree.link_log().link_output(), "vmlinux.unstripped");
    check_kernel(KernelVersion::V7_3, KernelArch::X86_64, true);
}

#[test]
fn linux_7_3_from_vmlinux_o() {
    check_kernel(KernelVersion::V7_3, KernelArch::X86_64, false);
}

/// 7.3 on the command line: `--predict --profile linux-7.3`, then `--compare` with
/// `--pc-relative` (as a 64-bit kernel's link runs `scripts/kallsyms`) on the unstripped
/// and on the stripped vmlinux, whose difference 7.3's rules remove.
#[test]
fn cli_predicts_and_compares_linux_7_3() {
    let tree = kernel_tree(KernelVersion::V7_3);
    let link = tree.link_log().final_link_inputs();
    let dir = tempdir();
    let symbols = dir.path().join("predicted.symbols");
    run(Command::new(bin_path("kslink-collect"))
        .current_dir(&tree.dir)
        .args([
            "--predict",
            "--profile",
            "linux-7.3",
            "-T",
            &link.script,
            "-o",
        ])
        .arg(&symbols)
        .args(&link.inputs));
    for linked in [tree.linked(), tree.vmlinux()] {
        let out = Command::new(bin_path("kslink-collect"))
            .arg("--compare")
            .arg(&symbols)
            .arg("--linked")
            .arg(&linked)
            .args(["--profile", "linux-7.3", "--pc-relative", "--json"])
            .stdin(Stdio::null())
            .output()
            .expect("run kslink-collect --compare");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            linked.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(value["table"]["pc_relative"], true);
        let labels: Vec<&str> = value["table"]["arrays"]
            .as_array()
            .expect("arrays")
            .iter()
            .map(|a| a["label"].as_str().expect("a label"))
            .collect();
        assert_eq!(
            labels,
            [
                "kallsyms_num_syms",
                "kallsyms_names",
                "kallsyms_markers",
                "kallsyms_token_table",
                "kallsyms_token_index",
                "kallsyms_offsets",
                "kallsyms_seqs_of_names",
            ]
        );
    }
}

/// The kernel's final link as Kbuild ran it, with `ld.lld` for `ld` (without the one
/// option lld 14 does not know, which Kbuild leaves out for lld) and `output` for
/// `vmlinux`; the table object is the one the recorded link had.
fn lld_final_link(tree: &KernelTree, output: &Path) {
    let words = tree.link_log().final_link();
    let mut cmd = Command::new("ld.lld");
    cmd.current_dir(&tree.dir);
    let mut args = words[1..].iter().peekable();
    while let Some(word) = args.next() {
        match word.as_str() {
            "--no-warn-rwx-segments" => {}
            "-o" => {
                args.next();
                cmd.arg("-o").arg(output);
            }
            _ => {
                cmd.arg(word);
            }
        }
    }
    run(&mut cmd);
}

/// The kernel linked by `ld.lld`: `--predict --linker lld` from the same inputs (those of
/// the recorded link, and in-process from `vmlinux.o` and from `vmlinux.a` with the
/// libraries) equals that output's System.map, which `kslink-collect --compare` confirms
/// (exit status 0); lld's letters differ from GNU ld's for this kernel.
fn check_kernel_lld(version: KernelVersion) {
    let tree = kernel_tree(version);
    let dir = tempdir();
    let linked = dir.path().join("vmlinux.lld");
    lld_final_link(&tree, &linked);
    let expected = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .arg("--linked")
            .arg(&linked)
            .args(["--profile", labels(version).profile.name]))
        .stdout,
    );

    let log = tree.link_log();
    let recorded = log.final_link_inputs();
    for link in [
        recorded.with_vmlinux_o(),
        recorded.with_vmlinux_a(&log.vmlinux_libs()),
    ] {
        let predicted = predict_kernel_for(&tree, &link, LinkerFlavour::Lld);
        assert_same_multiset(
            &expected,
            &set_multiset(&predicted),
            &format!("Linux {version} linked by ld.lld, from {:?}", link.inputs),
        );
    }
    let gnu = set_multiset(&predict_kernel(&tree, &recorded));
    assert_ne!(gnu, expected, "lld's letters differ from GNU ld's here");

    let symbols = dir.path().join("predicted.symbols");
    let mut predict_cmd = Command::new(bin_path("kslink-collect"));
    predict_cmd
        .current_dir(&tree.dir)
        .args(["--predict", "--linker", "lld", "-T", &recorded.script, "-o"])
        .arg(&symbols);
    if version == KernelVersion::V6_1 {
        predict_cmd.args(["--profile", "linux-6.1"]);
    }
    run(predict_cmd.args(table_flags(&tree)).args(&recorded.inputs));
    let mut compare = Command::new(bin_path("kslink-collect"));
    compare
        .arg("--compare")
        .arg(&symbols)
        .arg("--linked")
        .arg(&linked)
        .arg("--all-symbols")
        .args(table_flags(&tree));
    if version == KernelVersion::V6_1 {
        compare.args(["--profile", "linux-6.1"]);
    }
    let out = compare
        .stdin(Stdio::null())
        .output()
        .expect("run --compare");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn linux_6_12_linked_by_lld() {
    check_kernel_lld(KernelVersion::V6_12);
}

#[test]
fn linux_6_1_linked_by_lld() {
    check_kernel_lld(KernelVersion::V6_1);
}

/// The command line on Kbuild's own paths (relative, in the tree), then `--compare`.
#[test]
fn cli_predicts_and_compares_linux_6_12() {
    let tree = kernel_tree(KernelVersion::V6_12);
    let link = tree.link_log().final_link_inputs();
    let dir = tempdir();
    let symbols = dir.path().join("predicted.symbols");
    let map = dir.path().join("predicted.map");
    let out = run(Command::new(bin_path("kslink-collect"))
        .current_dir(&tree.dir)
        .args(["--predict", "-T", &link.script, "-o"])
        .arg(&symbols)
        .args(table_flags(&tree))
        .arg("--emit-map")
        .arg(&map)
        .args(&link.inputs));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let set: SymbolSet = artifact::read(&symbols).expect("the artifact");
    let SymbolOrigin::Predicted { script, inputs } = &set.origin else {
        panic!("origin {:?}", set.origin);
    };
    assert_eq!(script, &link.script);
    assert_eq!(inputs, &link.inputs);
    let map_text = fs::read(&map).expect("the map");
    assert_eq!(map_multiset(&map_text), set_multiset(&set));
    assert!(map_text.starts_with(b"0000000000000000 "));

    let compare = |extra: &[&str]| {
        Command::new(bin_path("kslink-collect"))
            .current_dir(&tree.dir)
            .arg("--compare")
            .arg(&symbols)
            .args(["--linked", "vmlinux", "--all-symbols"])
            .args(table_flags(&tree))
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("run kslink-collect --compare")
    };
    let text = compare(&[]);
    assert_eq!(text.status.code(), Some(0), "{text:?}");
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(report.contains("the prediction is exact"), "{report}");
    let json = compare(&["--json"]);
    assert_eq!(json.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["exact"], true);
    assert_eq!(value["missing"].as_array().map(Vec::len), Some(0));
    let arrays = value["table"]["arrays"].as_array().expect("arrays");
    assert_eq!(arrays.len(), 8);
    for array in arrays {
        assert_eq!(array["predicted"], array["linked"], "{array}");
    }

    // Without --all-symbols, as for a kernel without KALLSYMS_ALL: the text-only tables
    // agree as well, by the prediction's own word on the text ranges.
    let text_only = Command::new(bin_path("kslink-collect"))
        .current_dir(&tree.dir)
        .arg("--compare")
        .arg(&symbols)
        .args(["--linked", "vmlinux", "--json"])
        .args(table_flags(&tree))
        .stdin(Stdio::null())
        .output()
        .expect("run kslink-collect --compare");
    assert_eq!(text_only.status.code(), Some(0), "{text_only:?}");
    let value: serde_json::Value = serde_json::from_slice(&text_only.stdout).expect("JSON");
    let table = &value["table"];
    assert_eq!(table["all_symbols"], false);
    assert_eq!(
        table["predicted_symbols"], table["linked_symbols"],
        "{table}"
    );
    assert!(
        table["linked_symbols"].as_u64().unwrap() < value["linked_symbols"].as_u64().unwrap(),
        "{table}"
    );
    for array in table["arrays"].as_array().expect("arrays") {
        assert_eq!(array["predicted"], array["linked"], "{array}");
    }
}

/// `--compare` on a prediction with a name missing, one extra, and one with another letter.
#[test]
fn compare_lists_differences_and_their_cost() {
    let tree = kernel_tree(KernelVersion::V6_12);
    let mut set = predict_kernel(&tree, &tree.link_log().final_link_inputs());
    let removed = set
        .symbols
        .iter()
        .position(|s| s.name == b"start_kernel")
        .expect("start_kernel");
    set.symbols.remove(removed);
    let retyped = set
        .symbols
        .iter_mut()
        .find(|s| s.name == b"jiffies")
        .expect("jiffies");
    retyped.type_letter = b'B';
    let mut extra = set.symbols[0].clone();
    extra.name = b"a_symbol_the_link_does_not_have_with_a_long_name".to_vec();
    extra.type_letter = b't';
    set.symbols.push(extra);
    let dir = tempdir();
    let path = dir.path().join("damaged.symbols");
    artifact::write(&path, &set).expect("write the artifact");
    let out = Command::new(bin_path("kslink-collect"))
        .arg("--compare")
        .arg(&path)
        .arg("--linked")
        .arg(tree.vmlinux())
        .args(["--all-symbols", "--json"])
        .args(table_flags(&tree))
        .stdin(Stdio::null())
        .output()
        .expect("run kslink-collect");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["exact"], false);
    assert_eq!(
        value["missing"],
        serde_json::json!([{"type": "T", "name": "start_kernel"}])
    );
    assert_eq!(
        value["extra"],
        serde_json::json!([{"type": "t", "name": "a_symbol_the_link_does_not_have_with_a_long_name"}])
    );
    assert_eq!(
        value["retyped"],
        serde_json::json!([{"name": "jiffies", "predicted": "B", "linked": "D"}])
    );
    // One symbol out and one in: the same count, longer names.
    let table = &value["table"];
    assert_eq!(table["predicted_symbols"], table["linked_symbols"]);
    let names = table["arrays"]
        .as_array()
        .expect("arrays")
        .iter()
        .find(|a| a["label"] == "kallsyms_names")
        .expect("kallsyms_names");
    assert!(
        names["predicted"].as_u64() > names["linked"].as_u64(),
        "{names}"
    );
}

// ---------------------------------------------------------------------------------------
// A hand-made link, linked by GNU ld
// ---------------------------------------------------------------------------------------

const MAIN_S: &str = r#"
	.text
	.globl	main_func
	.type	main_func, @function
main_func:
	call	lib_func1
	call	provided_func
	ret
local_func:
	ret
	.weak	weak_def
weak_def:
	ret
	.weak	weak_kept
weak_kept:
	ret
	.globl	ifunc_impl
	.type	ifunc_impl, @gnu_indirect_function
ifunc_impl:
	ret
	.section .text.hot,"ax",@progbits
hot_local:
	ret
	.section .rodata,"a",@progbits
	.globl	ro_sym
ro_sym:	.byte 1
	.section .rodata.str1.1,"aMS",@progbits,1
..merge_local:
	.string "hello"
	.section .special,"a",@progbits
	.globl	special_main
special_main: .byte 0
	.section .data.rw,"aw",@progbits
	.globl	rw_sym
	.hidden	rw_sym
rw_sym:	.quad provided_data
	.section .discard.addressable,"aw",@progbits
	.globl	discarded_global
discarded_global:
	.quad	0
discarded_local:
	.quad	0
	.section .exitcall.exit,"aw",@progbits
exit_local:
	.quad	0
	.section .mydata,"aw",@progbits
	.globl	orphan_sym
orphan_sym:
	.byte 0
	.section .bss,"aw",@nobits
	.globl	bss_sym
bss_sym:
	.zero	8
local_bss:
	.zero	8
	.comm	common_sym,16,8
	.comm	common_pulls,8,8
	.weak	weak_undef_obj
	.type	weak_undef_obj, @object
	.weak	weak_undef_func
	.section .data.refs,"aw",@progbits
	.quad	weak_undef_obj
	.quad	weak_undef_func
	.quad	__start_my_table
	.quad	__stop_my_table
	.section my_table,"aw",@progbits
	.quad	1
	.section .text.comdat,"axG",@progbits,comdat_sig,comdat
	.globl	comdat_func
comdat_func:
	ret
comdat_local:
	ret
	.section .gnu.linkonce.t.once,"ax",@progbits
	.globl	once_func
once_func:
	ret
	.section .note.GNU-stack,"",@progbits
"#;

const SECOND_S: &str = r#"
	.text
	.globl	weak_def
weak_def:
	ret
	.globl	second_func
second_func:
	ret
	.section .special,"aw",@progbits
	.globl	special_second
special_second: .byte 0
	.section .data
	.quad	provided_hidden
	.section .exact,"a",@progbits
	.globl	exact_sym
exact_sym: .byte 0
	.section .text.comdat,"axG",@progbits,comdat_sig,comdat
	.globl	comdat_func
comdat_func:
	ret
comdat_local:
	ret
	.section .gnu.linkonce.t.once,"ax",@progbits
	.globl	once_func
once_func:
	ret
	.section .note.GNU-stack,"",@progbits
"#;

/// Members of `lib.a` (a regular archive with an index) and of `thin.a` (a thin one).
const LIB_MEMBERS: &[(&str, &str)] = &[
    (
        "m1",
        ".text\n.globl lib_func1\nlib_func1:\n call thin_func\n ret\nm1_local:\n ret\n",
    ),
    ("m2", ".text\n.globl lib_func2\nlib_func2:\n ret\n"),
    (
        "m3",
        ".text\n.globl unused_func\nunused_func:\n ret\nm3_local:\n ret\n",
    ),
    (
        "m4",
        ".data\n.globl common_pulls\ncommon_pulls:\n .quad 1\n",
    ),
];
const THIN_MEMBERS: &[(&str, &str)] = &[(
    "t1",
    ".text\n.globl thin_func\nthin_func:\n call lib_func2\n ret\n",
)];
const WHOLE_MEMBERS: &[(&str, &str)] = &[("w1", ".text\n.globl whole_func\nwhole_func:\n ret\n")];

/// The kallsyms table as `scripts/kallsyms` 6.12 lays it out, for the real link.
const TABLE_S: &str = r#"
	.section .rodata,"a"
	.balign 8
	.globl kallsyms_num_syms
kallsyms_num_syms: .long 0
	.globl kallsyms_names
kallsyms_names: .byte 0
	.globl kallsyms_markers
kallsyms_markers: .long 0
	.globl kallsyms_token_table
kallsyms_token_table: .byte 0
	.globl kallsyms_token_index
kallsyms_token_index: .short 0
	.globl kallsyms_offsets
kallsyms_offsets: .long 0
	.balign 8
	.globl kallsyms_relative_base
kallsyms_relative_base: .quad _text
	.globl kallsyms_seqs_of_names
kallsyms_seqs_of_names: .byte 0
	.section .note.GNU-stack,"",@progbits
"#;

const SCRIPT: &str = r#"
OUTPUT_FORMAT("elf64-x86-64")
ENTRY(main_func)
first_abs = 0x1000;
SECTIONS
{
  . = 0x400000;
  .text : {
    _text = .;
    *(.text.hot)
    *(.text .text.*)
    *(.gnu.linkonce.t.*)
    _etext_inner = .;
  }
  _etext = .;
  . = ALIGN(4096);
  after_align = .;
  .rodata : {
    __start_rodata = .;
    *(.rodata) *(.rodata.*)
    *(EXCLUDE_FILE(*second.o) .special)
  }
  .empty_removed : { __empty_start = .; KEEP(*(.nothing)) __empty_end = .; }
  .data : {
    second.o(.exact)
    *(.data .data.*)
    *(.special)
    PROVIDE(provided_data = .);
    PROVIDE(provided_unused = .);
    HIDDEN(hidden_in_data = .);
    PROVIDE_HIDDEN(provided_hidden = .);
    in_data = rw_sym + 8;
  }
  . = ALIGN(4096);
  .data..percpu : { __per_cpu_start = .; . = ALIGN(64); __per_cpu_end = .; }
  .smp : { __smp_start = .; . = ALIGN(64); __smp_end = .; }
  .adv : { __adv_start = .; . += 16; __adv_end = .; }
  .bss : { __bss_start = .; *(.bss) *(COMMON) __bss_stop = .; }
  _end = .;
  PROVIDE(provided_func = main_func);
  abs_sym = ABSOLUTE(_end - 0x400000);
  mixed = ABSOLUTE(main_func) + __bss_start;
  rel_copy = ro_sym;
  ifunc_copy = ifunc_impl;
  number_outside = 42;
  /DISCARD/ : { *(.discard) *(.discard.*) *(.exitcall.exit) *(.note.GNU-stack) *(.comment) }
}
after_sections = __start_rodata + 4;
ASSERT(_end > 0x400000, "the end is after the start");
"#;

fn assemble(dir: &Path, name: &str, source: &str) -> PathBuf {
    let s = dir.join(format!("{name}.s"));
    let o = dir.join(format!("{name}.o"));
    fs::write(&s, source).expect("write the source");
    run(Command::new("as").arg("--64").arg("-o").arg(&o).arg(&s));
    o
}

fn archive(dir: &Path, name: &str, flags: &str, members: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(name);
    let objects: Vec<PathBuf> = members
        .iter()
        .map(|(m, source)| assemble(dir, m, source))
        .collect();
    run(Command::new("ar").arg(flags).arg(&path).args(&objects));
    path
}

/// Builds the hand-made inputs in `dir`; returns the link's input words (relative to
/// `dir`).
fn hand_made_inputs(dir: &Path) -> Vec<String> {
    assemble(dir, "main", MAIN_S);
    assemble(dir, "second", SECOND_S);
    archive(dir, "lib.a", "rcs", LIB_MEMBERS);
    archive(dir, "thin.a", "rcsT", THIN_MEMBERS);
    archive(dir, "whole.a", "rcs", WHOLE_MEMBERS);
    fs::write(dir.join("test.lds"), SCRIPT).expect("write the script");
    [
        "main.o",
        "second.o",
        "--whole-archive",
        "whole.a",
        "--no-whole-archive",
        "--start-group",
        "lib.a",
        "thin.a",
        "--end-group",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn hand_made_link_matches_gnu_ld() {
    let dir = tempdir();
    let dir = dir.path();
    let inputs = hand_made_inputs(dir);
    assemble(dir, "table", TABLE_S);
    run(Command::new("ld")
        .current_dir(dir)
        .args(["-m", "elf_x86_64", "-T", "test.lds", "-o", "linked"])
        .args(&inputs)
        .arg("table.o"));
    let expected = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .arg("--linked")
            .arg(dir.join("linked")))
        .stdout,
    );

    let predicted_out = run(Command::new(bin_path("kslink-collect"))
        .current_dir(dir)
        .args(["--predict", "-T", "test.lds"])
        .args(&inputs));
    let predicted = map_multiset(&predicted_out.stdout);
    assert_same_multiset(&expected, &predicted, "the hand-made link");

    // What the link should have, spelled out: the behaviours this test is about.
    let letter = |name: &str| -> Vec<char> {
        predicted
            .iter()
            .filter(|((_, n), _)| n == name.as_bytes())
            .flat_map(|((l, _), count)| std::iter::repeat_n(char::from(*l), *count))
            .collect()
    };
    let cases: &[(&str, &[char])] = &[
        ("weak_def", &['T']),
        ("weak_kept", &['W']),
        ("local_func", &['t']),
        ("hot_local", &['t']),
        ("comdat_func", &['T']),
        ("comdat_local", &['t']),
        ("once_func", &['T']),
        ("lib_func1", &['T']),
        ("lib_func2", &['T']),
        ("thin_func", &['T']),
        ("whole_func", &['T']),
        ("unused_func", &[]),
        ("m3_local", &[]),
        ("m1_local", &['t']),
        ("common_sym", &['B']),
        ("common_pulls", &['D']),
        // A static link drops undefined symbols, even weak data objects (nm's `v`).
        ("weak_undef_obj", &[]),
        ("weak_undef_func", &[]),
        ("discarded_global", &[]),
        ("discarded_local", &[]),
        ("exit_local", &[]),
        ("..merge_local", &[]),
        ("special_main", &['R']),
        ("special_second", &['D']),
        ("rw_sym", &['D']),
        ("orphan_sym", &['D']),
        // ld defines these for a referenced section with a C-identifier name.
        ("__start_my_table", &['D']),
        ("__stop_my_table", &['D']),
        // Named by its file: a read-only section in a writable output section.
        ("exact_sym", &['D']),
        ("first_abs", &['A']),
        ("_etext", &['T']),
        ("after_align", &['R']),
        ("__empty_start", &['D']),
        ("provided_data", &['D']),
        ("provided_unused", &[]),
        ("hidden_in_data", &['d']),
        ("provided_hidden", &['d']),
        ("in_data", &['D']),
        ("__per_cpu_start", &['D']),
        ("__smp_start", &['?']),
        ("__adv_start", &['B']),
        ("_end", &['B']),
        ("provided_func", &['T']),
        ("abs_sym", &['A']),
        ("mixed", &['A']),
        ("rel_copy", &['R']),
        ("ifunc_copy", &['i']),
        ("number_outside", &['A']),
        // Outside output sections a number is absolute, and a section-relative value
        // plus an absolute one is absolute; inside (`in_data`) the number is plain.
        ("after_sections", &['A']),
        ("kallsyms_num_syms", &['R']),
    ];
    for (name, letters) in cases {
        assert_eq!(letter(name), *letters, "{name}");
    }
}

/// Symbols that the System.map rules of 6.1, 6.12 and 7.3 treat differently.
const VERSIONED_S: &str = r#"
	.data
	.globl __efistub_data
__efistub_data: .long 1
"__pi_$x": .long 1
	.globl data_veneer
data_veneer: .long 1
__kcfi_typeid_data: .long 1
__mod_device_table__kmod_x__pci__x_tbl: .long 1
__UNIQUE_ID_modinfo_3: .long 1
__UNIQUE_ID_modinfo_x: .long 1
__kstrtab_data: .long 1
"#;

/// The kallsyms table of `labels` (the profile's), in `.rodata`, referring to `_text` as
/// the profile's table does: `PTR _text` for a relative base or addresses, `.long _text - .`
/// for 7.x's place-relative offsets.
fn table_source(labels: &KernelTable) -> String {
    let mut source = String::from("\t.section .rodata,\"a\"\n\t.balign 8\n");
    let labels = labels.labels();
    for &label in &labels.labels {
        let content = match label {
            "kallsyms_relative_base" | "kallsyms_addresses" => ".quad _text",
            "kallsyms_offsets" if !labels.text_pointer => ".long _text - .",
            _ => ".long 0",
        };
        source.push_str(&format!("\t.globl {label}\n{label}: {content}\n"));
    }
    source.push_str("\t.section .note.GNU-stack,\"\",@progbits\n");
    source
}

/// The hand-made link with each version's table, linked by GNU ld: `--predict --profile P`
/// equals the version's own mksysmap run on `nm -n` of the output, and `--compare` agrees.
#[test]
fn hand_made_link_per_version() {
    let dir = tempdir();
    let dir = dir.path();
    let mut inputs = hand_made_inputs(dir);
    assemble(dir, "versioned", VERSIONED_S);
    inputs.push("versioned.o".to_string());
    let versions: [(KernelVersion, KernelTable, &[&str]); 4] = [
        (KernelVersion::V6_12, labels(KernelVersion::V6_12), &[]),
        (
            KernelVersion::V6_1,
            labels(KernelVersion::V6_1),
            &["--base-relative"],
        ),
        (
            KernelVersion::V6_1,
            KernelTable {
                profile: &LINUX_6_1,
                base_relative: false,
            },
            &[],
        ),
        (KernelVersion::V7_3, labels(KernelVersion::V7_3), &[]),
    ];
    let mut predictions = Vec::new();
    for (version, table, flags) in versions {
        let profile = table.profile.name;
        let what = format!("{profile} {flags:?}");
        let table_name = format!("table-{profile}-{}", flags.len());
        assemble(dir, &table_name, &table_source(&table));
        let linked = format!("linked-{profile}-{}", flags.len());
        run(Command::new("ld")
            .current_dir(dir)
            .args(["-m", "elf_x86_64", "-T", "test.lds", "-o", &linked])
            .args(&inputs)
            .arg(format!("{table_name}.o")));
        let nm = run(Command::new("nm").arg("-n").arg(dir.join(&linked))).stdout;
        let expected = map_multiset(&apply_mksysmap(version, &nm));

        let symbols = format!("{linked}.symbols");
        let map = format!("{linked}.predicted.map");
        run(Command::new(bin_path("kslink-collect"))
            .current_dir(dir)
            .args(["--predict", "--profile", profile])
            .args(flags)
            .args(["-T", "test.lds", "--emit-map", &map, "-o", &symbols])
            .args(&inputs));
        let predicted = map_multiset(&fs::read(dir.join(&map)).expect("the predicted map"));
        assert_same_multiset(&expected, &predicted, &what);
        let labels_of = |m: &Multiset| -> Vec<String> {
            m.keys()
                .map(|(_, name)| String::from_utf8_lossy(name).into_owned())
                .filter(|name| name.starts_with("kallsyms_"))
                .collect()
        };
        let mut labels = table.labels().labels;
        labels.sort_unstable();
        assert_eq!(labels_of(&predicted), labels, "{what}");

        let compare = Command::new(bin_path("kslink-collect"))
            .current_dir(dir)
            .args([
                "--compare",
                &symbols,
                "--linked",
                &linked,
                "--profile",
                profile,
            ])
            .args(flags)
            .stdin(Stdio::null())
            .output()
            .expect("run --compare");
        assert_eq!(
            compare.status.code(),
            Some(0),
            "{what}: {}{}",
            String::from_utf8_lossy(&compare.stdout),
            String::from_utf8_lossy(&compare.stderr)
        );
        predictions.push(predicted);
    }
    let has = |m: &Multiset, name: &str| m.keys().any(|(_, n)| n == name.as_bytes());
    let [v6_12, v6_1, _, v7_3] = &predictions[..] else {
        unreachable!("four links");
    };
    // Each version's rules decided: 7.3 drops what MODULE_DEVICE_TABLE() and MODULE_INFO()
    // define, 6.1 keeps what only 6.12's rules drop, and 7.3 has no relative base.
    for (map, name, kept) in [
        (v6_12, "__mod_device_table__kmod_x__pci__x_tbl", true),
        (v7_3, "__mod_device_table__kmod_x__pci__x_tbl", false),
        (v6_12, "__UNIQUE_ID_modinfo_3", true),
        (v7_3, "__UNIQUE_ID_modinfo_3", false),
        (v7_3, "__UNIQUE_ID_modinfo_x", true),
        (v6_12, "__efistub_data", false),
        (v6_1, "__efistub_data", true),
        (v6_12, "__pi_$x", false),
        (v6_1, "__pi_$x", true),
        (v6_12, "data_veneer", false),
        (v6_1, "data_veneer", true),
        (v6_1, "__kcfi_typeid_data", true),
        (v6_1, "__kstrtab_data", false),
        (v6_12, "kallsyms_relative_base", true),
        (v7_3, "kallsyms_relative_base", false),
    ] {
        assert_eq!(has(map, name), kept, "{name}");
    }
}

/// A profile no stage knows, or a table option its version does not take: exit status 2,
/// one line in kslink-table's words, before any file is read.
#[test]
fn profile_errors_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--linked", "missing", "--profile", "linux-5.4"],
            "unknown profile \"linux-5.4\"; known profiles: linux-6.12, linux-6.1, linux-7.3",
        ),
        (
            &[
                "--predict",
                "-T",
                "missing.lds",
                "--profile",
                "linux-5.4",
                "missing.o",
            ],
            "unknown profile \"linux-5.4\"",
        ),
        (
            &[
                "--compare",
                "missing",
                "--linked",
                "missing",
                "--profile",
                "linux-5.4",
            ],
            "unknown profile \"linux-5.4\"",
        ),
        (
            &[
                "--compare",
                "missing",
                "--linked",
                "missing",
                "--profile",
                "linux-7.3",
                "--absolute-percpu",
            ],
            "--absolute-percpu is an option of linux-6.12 and linux-6.1, not of linux-7.3",
        ),
        (
            &[
                "--compare",
                "missing",
                "--linked",
                "missing",
                "--pc-relative",
            ],
            "--pc-relative is an option of linux-7.3, not of linux-6.12",
        ),
        (
            &[
                "--linked",
                "missing",
                "--profile",
                "linux-7.3",
                "--base-relative",
            ],
            "--base-relative and --lto-clang are options of linux-6.1, not of linux-7.3",
        ),
    ];
    for (args, message) in cases {
        let out = Command::new(bin_path("kslink-collect"))
            .args(*args)
            .stdin(Stdio::null())
            .output()
            .expect("run kslink-collect");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("kslink-collect: error: ") && stderr.contains(message),
            "{args:?}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A hand-made link, linked by lld
// ---------------------------------------------------------------------------------------

/// The main object of the lld link: a case of each lld rule.
const LLD_MAIN_S: &str = r#"
	.text
	.globl	main_func
main_func:
	call	lib_late
	ret
local_func:
	ret
	.globl	ifunc_impl
	.type	ifunc_impl, @gnu_indirect_function
ifunc_impl:
	ret
	.globl	hidden_func
	.hidden	hidden_func
hidden_func:
	ret
	.section .rodata,"a",@progbits
	.globl	ro_sym
ro_sym:	.byte 1
	.section .rodata.str1.1,"aMS",@progbits,1
..merge_local:
	.string "x"
.Lmerge_label:
	.string "y"
	.section .xt,"ax",@progbits
xt_local:
	ret
	.section .special,"a",@progbits
	.globl	special_sym
special_sym: .byte 0
	.section .tdata,"awT",@progbits
	.globl	tls_var
tls_var: .long 1
	.section .data,"aw",@progbits
	.globl	data_sym
data_sym: .quad 0
	.quad	hidden_by_input
	.quad	weak_undef_obj
	.quad	weak_undef_func
	.quad	__start_lld_table
	.quad	__stop_lld_table
	.quad	provided_by_input
	.hidden	hidden_by_input
	.weak	weak_undef_obj
	.type	weak_undef_obj, @object
	.weak	weak_undef_func
	.section lld_table,"aw",@progbits
	.quad	1
	.section .mixed_bss,"aw",@nobits
mixed_bss_local: .zero 4
	.section .mixed_data,"aw",@progbits
	.byte	1
	.section .infosec,"a",@progbits
info_local: .byte 1
	.section .discard.me,"aw",@progbits
	.globl	discarded_global
discarded_global: .quad 0
	.section .bss,"aw",@nobits
	.globl	bss_sym
bss_sym: .zero 8
	.comm	common_hidden,8,8
	.hidden	common_hidden
	.section .gnu.linkonce.t.once,"ax",@progbits
	.globl	once_main
once_main:
	ret
	.section .note.GNU-stack,"",@progbits
"#;

/// A second `.gnu.linkonce.t.once`, which lld keeps beside the first.
const LLD_SECOND_S: &str = r#"
	.section .gnu.linkonce.t.once,"ax",@progbits
	.globl	once_second
once_second:
	ret
	.section .note.GNU-stack,"",@progbits
"#;

/// `early.a`, given before the objects that need it: `late` is taken for `main.o`'s
/// reference, `scriptref` for the script's, `unused` for nothing.
const LLD_EARLY_MEMBERS: &[(&str, &str)] = &[
    ("late", ".text\n.globl lib_late\nlib_late:\n ret\n"),
    (
        "scriptref",
        ".text\n.globl script_only\nscript_only:\n ret\n.globl script_member_extra\n\
         script_member_extra:\n ret\n.section .rodata,\"a\"\n.globl member_ro\nmember_ro:\n \
         .byte 1\n",
    ),
    ("unused", ".text\n.globl never_used\nnever_used:\n ret\n"),
];

const LLD_SCRIPT: &str = r#"
ENTRY(main_func)
align_value = 16;
before_sections = .;
SECTIONS
{
  . = 0x400000;
  .text : { _text = .; *(.text) *(.gnu.linkonce.t.*) }
  after_text = .;
  . = ALIGN(4096);
  after_align = .;
  .rodata : { *(EXCLUDE_FILE(*early.a:scriptref.o) .rodata) *(.rodata.*) }
  .empty_inherits : { empty_start = .; }
  .xt : { *(.xt) }
  .after_code : { . = ALIGN(16); code_empty = .; }
  .special : { *(.special) }
  .tdata : { *(.tdata) }
  .after_tls : { after_tls = .; }
  .mixed : { *(.mixed_bss) *(.mixed_data) }
  .data : {
    *(.data)
    *early.a:scriptref.o(.rodata)
    PROVIDE(provided_by_input = .);
    PROVIDE(provided_by_script = .);
    PROVIDE(provided_unused = .);
    number_in_section = 42;
    align_in_section = ALIGN(8);
    dot_in_section = .;
  }
  .nl (NOLOAD) : { nl_start = .; }
  .removed : { *(.nothing) }
  after_removed = .;
  .addressed : AT(ADDR(.addressed)) { *(.nothing) }
  after_addressed = .;
  .nl2 (NOLOAD) : { nl2_start = .; }
  .kept_by_symbol : ALIGN(align_value) { *(.nothing) }
  after_kept_by_symbol = .;
  .nl3 (NOLOAD) : { nl3_start = .; }
  .provide_only : { PROVIDE(provide_only_unused = .); *(.nothing) }
  after_provide_only = .;
  .bss : { *(.bss) *(COMMON) }
  _end = .;
  abs_minus_one = ABSOLUTE(ro_sym) - 1;
  abs_plus = ABSOLUTE(ro_sym) + 5;
  sym_plus = 5 + ro_sym;
  sym_and = ro_sym & 0xfff;
  sym_mul = ro_sym * 1;
  distance = data_sym - ro_sym;
  mixed = ABSOLUTE(main_func) + data_sym;
  aligned_sym = ALIGN(ro_sym, 8);
  ifunc_copy = ifunc_impl;
  ifunc_abs = ABSOLUTE(ifunc_impl);
  ifunc_plus = ifunc_impl + 0;
  addr_of = ADDR(.xt);
  chosen = DEFINED(defined_later) ? ro_sym : data_sym;
  defined_later = 1;
  uses_provided = provided_by_script;
  hidden_by_input = .;
  HIDDEN(hidden_script = ro_sym);
  uses_member = script_only;
  .comment 0 : { *(.comment) }
  .after_comment : { HIDDEN(after_comment = .); }
  .info (INFO) : { *(.infosec) }
  /DISCARD/ : { *(.discard.*) *(.note.GNU-stack) }
}
HIDDEN(after_all = .);
"#;

#[test]
fn hand_made_link_matches_lld() {
    let dir = tempdir();
    let dir = dir.path();
    // -L keeps the `.L` label, which lld drops from a mergeable section.
    for (name, source) in [
        ("main", LLD_MAIN_S),
        ("second", LLD_SECOND_S),
        ("table", TABLE_S),
    ] {
        fs::write(dir.join(format!("{name}.s")), source).expect("write the source");
        run(Command::new("as")
            .current_dir(dir)
            .args(["--64", "-L", "-o"])
            .arg(format!("{name}.o"))
            .arg(format!("{name}.s")));
    }
    archive(dir, "early.a", "rcs", LLD_EARLY_MEMBERS);
    fs::write(dir.join("test.lds"), LLD_SCRIPT).expect("write the script");
    let inputs = ["early.a", "main.o", "second.o"];
    run(Command::new("ld.lld")
        .current_dir(dir)
        .args(["-T", "test.lds", "-o", "linked"])
        .args(inputs)
        .arg("table.o"));
    let expected = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .arg("--linked")
            .arg(dir.join("linked")))
        .stdout,
    );
    let predicted = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .current_dir(dir)
            .args(["--predict", "--linker", "lld", "-T", "test.lds"])
            .args(inputs))
        .stdout,
    );
    assert_same_multiset(&expected, &predicted, "the hand-made lld link");

    let letter = |name: &str| -> Vec<char> {
        predicted
            .iter()
            .filter(|((_, n), _)| n == name.as_bytes())
            .flat_map(|((l, _), count)| std::iter::repeat_n(char::from(*l), *count))
            .collect()
    };
    let cases: &[(&str, &[char])] = &[
        // Archive members: for a later reference, for the script's, not for nothing.
        ("lib_late", &['T']),
        ("script_only", &['T']),
        ("script_member_extra", &['T']),
        ("uses_member", &['T']),
        ("never_used", &[]),
        // No `.gnu.linkonce` deduplication.
        ("once_main", &['T']),
        ("once_second", &['T']),
        // Hidden input symbols, and a script symbol an input declares hidden, are local.
        ("hidden_func", &['t']),
        ("common_hidden", &['b']),
        ("hidden_by_input", &['b']),
        ("hidden_script", &['r']),
        // Undefined weak symbols stay (mksysmap keeps `v`, drops `w`).
        ("weak_undef_obj", &['v']),
        ("weak_undef_func", &[]),
        ("discarded_global", &[]),
        // Of an output section (an orphan here).
        ("__start_lld_table", &['D']),
        ("__stop_lld_table", &['D']),
        // Only `.L` names leave a mergeable section.
        ("..merge_local", &['r']),
        ("xt_local", &['t']),
        ("tls_var", &['D']),
        ("special_sym", &['R']),
        // `.` outside sections: the first section before any, else the last laid out.
        ("before_sections", &['T']),
        ("after_text", &['T']),
        ("after_align", &['T']),
        ("_end", &['B']),
        // Sections without inputs take the previous inputs' flags: code too, not TLS,
        // nothing after lld's own `.comment`; `(NOLOAD)` makes them NOBITS.
        ("empty_start", &['R']),
        ("code_empty", &['T']),
        ("after_tls", &['D']),
        ("nl_start", &['B']),
        ("after_comment", &['n']),
        ("after_all", &['n']),
        // ... and are removed unless a command, `ADDR`, or a symbol in their header keeps
        // them (each follows a NOLOAD section, which it would otherwise land in).
        ("after_removed", &['B']),
        ("after_addressed", &['D']),
        ("after_kept_by_symbol", &['D']),
        ("after_provide_only", &['B']),
        ("provide_only_unused", &[]),
        // Inputs of two types make PROGBITS; (INFO) drops SHF_ALLOC.
        ("mixed_bss_local", &['d']),
        ("info_local", &['n']),
        // File patterns match `archive:member`.
        ("member_ro", &['D']),
        // Inside a section, numbers and ALIGN are absolute; `.` is the section.
        ("number_in_section", &['A']),
        ("align_in_section", &['A']),
        ("dot_in_section", &['D']),
        // PROVIDE: referenced by an input, or by any script expression.
        ("provided_by_input", &['D']),
        ("provided_by_script", &['D']),
        ("uses_provided", &['D']),
        ("provided_unused", &[]),
        // Sections of expressions.
        ("abs_minus_one", &['R']),
        ("abs_plus", &['A']),
        ("sym_plus", &['R']),
        ("sym_and", &['R']),
        ("sym_mul", &['A']),
        ("distance", &['A']),
        ("mixed", &['D']),
        ("aligned_sym", &['R']),
        ("ifunc_copy", &['i']),
        ("ifunc_abs", &['i']),
        ("ifunc_plus", &['T']),
        ("addr_of", &['T']),
        ("chosen", &['R']),
        ("defined_later", &['A']),
        ("kallsyms_num_syms", &['R']),
    ];
    for (name, letters) in cases {
        assert_eq!(letter(name), *letters, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// The arm64 and riscv kernel linker scripts, linked by the target's ld
// ---------------------------------------------------------------------------------------

/// What both scripts need from an object, plus sections of every kind.
const KERNEL_LIKE_S: &str = r#"
	.section .head.text,"ax"
	.globl _head
_head:	nop
	.text
	.globl start_kernel
start_kernel: nop
local_text: nop
	.section .rodata,"a"
	.globl ro_var
ro_var: .word 1
	.data
	.globl jiffies_64
jiffies_64: .quad 0
	.section .init.text,"ax"
	.globl init_fn
init_fn: nop
	.section .init.data,"aw"
init_local: .quad 0
	.section .data..percpu,"aw"
	.globl pcpu_var
pcpu_var: .quad 0
	.bss
	.globl bss_var
bss_var: .zero 64
	.section .exitcall.exit,"aw"
exitcall_local: .quad 0
	.section .idmap.text,"ax"
idmap_fn: nop
"#;

/// arm64's script asserts that these start their sections; its position-independent
/// startup code refers to kernel symbols through hidden `__pi_` aliases.
const ARM64_S: &str = r#"
	.hidden __pi__text
	.hidden __pi__end
	.hidden __pi_rela_start
	.section .init.data,"aw"
	.quad __pi__text
	.quad __pi__end
	.quad __pi_rela_start
	.section .hibernate_exit.text,"ax"
	.globl swsusp_arch_suspend_exit
swsusp_arch_suspend_exit: nop
	.section .kexec_relocate.text,"ax"
	.globl arm64_relocate_new_kernel
arm64_relocate_new_kernel: nop
"#;

/// riscv's script gives the EFI stub aliases of these.
const RISCV_S: &str = r#"
	.text
	.globl _start_kernel
_start_kernel: nop
	.data
	.globl screen_info
screen_info: .quad 0
"#;

#[test]
fn arm64_and_riscv_kernel_scripts_predict_what_ld_links() {
    for (arch, prefix, extra) in [
        (ScriptArch::Arm64, "aarch64-linux-gnu-", ARM64_S),
        (ScriptArch::Riscv, "riscv64-linux-gnu-", RISCV_S),
    ] {
        let (assembler, linker) = (format!("{prefix}as"), format!("{prefix}ld"));
        let have = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !have(&assembler) || !have(&linker) {
            kslink_tests::skip_for_missing_tool(
                &format!("the {} script", arch.name()),
                &format!("{assembler} or {linker}"),
                &format!(
                    "binutils-{}-linux-gnu",
                    prefix.trim_end_matches("-linux-gnu-")
                ),
            );
            continue;
        }
        let script = kernel_linker_script(arch);
        let text = fs::read(&script).expect("the script");
        let parsed =
            Script::parse(&text, &script.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let sections: Vec<&[u8]> = parsed
            .statements
            .iter()
            .filter_map(|s| match s {
                Statement::Section(s) => Some(s.name.as_slice()),
                _ => None,
            })
            .collect();
        for name in [&b".text"[..], b".init.text", b".data..percpu", b"/DISCARD/"] {
            assert!(
                sections.contains(&name),
                "{}: no {}",
                arch.name(),
                String::from_utf8_lossy(name)
            );
        }

        let dir = tempdir();
        let d = dir.path();
        let object = d.join("kernel.o");
        let table = d.join("table.o");
        for (path, source) in [
            (&object, format!("{KERNEL_LIKE_S}{extra}")),
            (
                &table,
                TABLE_S.replace("\t.section .note.GNU-stack,\"\",@progbits\n", ""),
            ),
        ] {
            let s = path.with_extension("s");
            fs::write(&s, source).expect("write the source");
            run(Command::new(&assembler).arg("-o").arg(path).arg(&s));
        }
        // Statically, and as a relocatable kernel is linked (Kbuild's LDFLAGS_vmlinux
        // with CONFIG_RELOCATABLE: arm64's, riscv's with its --emit-relocs left out).
        let relocatable: &[&str] = match arch {
            ScriptArch::Arm64 => &[
                "-shared",
                "-Bsymbolic",
                "-z",
                "notext",
                "--no-apply-dynamic-relocs",
            ],
            ScriptArch::Riscv => &["-shared", "-Bsymbolic", "-z", "notext"],
        };
        for (options, flag) in [(&[][..], None), (relocatable, Some("--shared"))] {
            let linked = d.join("linked");
            run(Command::new(&linker)
                .args(options)
                .arg("-T")
                .arg(&script)
                .arg("-o")
                .arg(&linked)
                .arg(&object)
                .arg(&table));
            let expected = map_multiset(
                &run(Command::new(bin_path("kslink-collect"))
                    .arg("--linked")
                    .arg(&linked))
                .stdout,
            );
            let predicted = map_multiset(
                &run(Command::new(bin_path("kslink-collect"))
                    .arg("--predict")
                    .args(flag)
                    .arg("-T")
                    .arg(&script)
                    .arg(&object))
                .stdout,
            );
            let what = format!("{} kernel script, ld {options:?}", arch.name());
            assert_same_multiset(&expected, &predicted, &what);
            assert!(expected.len() > 150, "{what}: {} symbols", expected.len());
            let has = |letter: u8, name: &str| expected.get(&(letter, name.as_bytes().to_vec()));
            match (arch, flag) {
                (ScriptArch::Riscv, _) => {
                    // Statically, an empty .rela.dyn holds ld's own (empty, read-only)
                    // dynamic relocation sections: its symbols move to the read-only
                    // neighbour. With -shared it holds the table's dynamic relocation.
                    assert_eq!(has(b'R', "__rela_dyn_start"), Some(&1), "{what}");
                }
                (ScriptArch::Arm64, Some(_)) => {
                    // The hidden references make the __pi_ aliases local (and drop the
                    // absolute ones); .rela.dyn holds the table's dynamic relocation; the
                    // global offset table's header keeps .got, where __end_rodata lands.
                    assert_eq!(has(b't', "__pi__text"), Some(&1), "{what}");
                    assert_eq!(has(b'A', "__pi__end"), None, "{what}");
                    assert_eq!(has(b'r', "__pi_rela_start"), Some(&1), "{what}");
                    assert_eq!(has(b'D', "__end_rodata"), Some(&1), "{what}");
                }
                (ScriptArch::Arm64, None) => {
                    assert_eq!(has(b'T', "__pi__text"), Some(&1), "{what}");
                    assert_eq!(has(b'A', "__pi__end"), Some(&1), "{what}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Links with dynamic sections (`ld -shared`, `ld -pie`) on every target
// ---------------------------------------------------------------------------------------

/// A target whose assembler and linker the dynamic-link test runs.
struct DynamicTarget {
    /// kslink-table's `--arch`.
    arch: &'static str,
    assembler: &'static str,
    as_args: &'static [&'static str],
    linker: &'static str,
    ld_args: &'static [&'static str],
    /// The directive of a pointer-sized word.
    pointer: &'static str,
    /// The prefix of `.type`'s kind (`@function` on x86, `%function` elsewhere).
    type_prefix: &'static str,
    /// Its ld links these inputs with `-shared` and `-pie` (the ld 2.40 of i386 and Arm,
    /// REL targets, fails "final link failed: bad value" on them; no kernel is linked
    /// that way on those).
    dynamic: bool,
}

const DYNAMIC_TARGETS: &[DynamicTarget] = &[
    DynamicTarget {
        arch: "x86_64",
        assembler: "as",
        as_args: &["--64"],
        linker: "ld",
        ld_args: &["-m", "elf_x86_64"],
        pointer: ".quad",
        type_prefix: "@",
        dynamic: true,
    },
    DynamicTarget {
        arch: "i386",
        assembler: "as",
        as_args: &["--32"],
        linker: "ld",
        ld_args: &["-m", "elf_i386"],
        pointer: ".long",
        type_prefix: "@",
        dynamic: false,
    },
    DynamicTarget {
        arch: "aarch64",
        assembler: "aarch64-linux-gnu-as",
        as_args: &[],
        linker: "aarch64-linux-gnu-ld",
        ld_args: &[],
        pointer: ".quad",
        type_prefix: "%",
        dynamic: true,
    },
    DynamicTarget {
        arch: "riscv64",
        assembler: "riscv64-linux-gnu-as",
        as_args: &[],
        linker: "riscv64-linux-gnu-ld",
        ld_args: &[],
        pointer: ".quad",
        type_prefix: "%",
        dynamic: true,
    },
    DynamicTarget {
        arch: "arm",
        assembler: "arm-linux-gnueabihf-as",
        as_args: &[],
        linker: "arm-linux-gnueabihf-ld",
        ld_args: &[],
        pointer: ".long",
        type_prefix: "%",
        dynamic: false,
    },
];

/// Every kind of visibility, defined and referenced, in either order; script symbols,
/// `PROVIDE`d ones and `__start_`/`__stop_` referenced as hidden; undefined weak
/// references; common symbols; absolute pointers (dynamic relocations) in a kept and in a
/// discarded section. `PTR` and `TYPE` stand for the target's pointer directive and type
/// prefix.
const DYNAMIC_MAIN_S: &str = r#"
	.text
	.globl main_func
main_func: nop
	.globl hid_def
	.hidden hid_def
hid_def: nop
	.globl prot_def
	.protected prot_def
prot_def: nop
	.globl int_def
	.internal int_def
int_def: nop
local_func: nop
	.hidden ref_hidden_first
	.hidden __pi_text
	.hidden __pi_etext
	.hidden __pi_data_sym
	.hidden after_got
	.hidden __rela_start
	.hidden __start_my_table
	.weak weak_undef_func
	.type weak_undef_func,TYPEfunction
	.weak weak_undef_obj
	.type weak_undef_obj,TYPEobject
	.weak weak_undef_hidden
	.hidden weak_undef_hidden
	.comm hid_common,8,8
	.hidden hid_common
	.comm plain_common,8,8
	.section .rodata,"a"
	.globl ro_sym
ro_sym: .long 1
	.data
	.globl data_sym
data_sym:
	PTR ref_hidden_first
	PTR __pi_text
	PTR __pi_etext
	PTR __pi_data_sym
	PTR after_got
	PTR __rela_start
	PTR weak_undef_func
	PTR weak_undef_obj
	PTR weak_undef_hidden
	PTR hid_common
	PTR plain_common
	PTR local_func
	PTR __start_my_table
	PTR __stop_my_table
	.section .exitcall.exit,"aw"
exit_local:
	PTR main_func
	.section my_table,"aw"
	.globl table_entry
table_entry: .long 0
"#;

const DYNAMIC_SECOND_S: &str = r#"
	.text
	.globl ref_hidden_first
ref_hidden_first: nop
	.globl def_default_hidden_ref
def_default_hidden_ref: nop
	.hidden hid_def
	.hidden def_default_hidden_ref
	.section .data.second,"aw"
	PTR hid_def
	PTR def_default_hidden_ref
	PTR ro_sym
"#;

/// A kernel-like script: the global offset table and the dynamic relocations named, the
/// other dynamic sections discarded (as arm64's), or given sections of their own.
fn dynamic_script(discard_dynamic: bool) -> String {
    let dynamic = if discard_dynamic {
        "  /DISCARD/ : { *(.interp .dynamic) *(.dynsym .dynstr .hash .gnu.hash) }\n"
    } else {
        "  .dynsym : { *(.dynsym) }\n  .dynstr : { *(.dynstr) }\n  .hash : { *(.hash) }\n  \
         .gnu.hash : { *(.gnu.hash) }\n  .interp : { *(.interp) }\n  \
         .dynamic : { *(.dynamic) }\n"
    };
    format!(
        r#"SECTIONS
{{
  . = 0x10000;
  .text : {{ _text = .; *(.text) }}
  _etext = .;
  .rodata : {{ *(.rodata) *(.data.rel.ro*) }}
  .got : {{ *(.got) }}
  .got.plt : {{ *(.got.plt) }}
  after_got = .;
  .rela.dyn : ALIGN(8) {{ __rela_start = .; *(.rel .rel*) __rela_end = .; }}
  .relr.dyn : ALIGN(8) {{ __relr_start = .; *(.relr.dyn) __relr_end = .; }}
  .data : {{ *(.data .data.*) }}
  my_table : {{ *(my_table) }}
  .plt : {{ *(.plt) *(.iplt) }}
  .bss : {{ *(.dynbss) *(.bss) *(COMMON) }}
  _end = .;
{dynamic}  /DISCARD/ : {{ *(.exitcall.exit) *(.note.GNU-stack) *(.comment) *(.ARM.attributes) *(.riscv.attributes) }}
}}
PROVIDE(__pi_text = _text);
PROVIDE(__pi_etext = _etext);
PROVIDE(__pi_unused = _text);
PROVIDE(__pi_data_sym = data_sym);
"#
    )
}

fn tool_available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The (letter, name) multiset of a link of `inputs` with `script` and `options`, and the
/// prediction `--predict` makes for it with `predict_flag`.
fn link_and_predict(
    target: &DynamicTarget,
    dir: &Path,
    script: &Path,
    options: &[&str],
    predict_flag: Option<&str>,
    inputs: &[&str],
) -> (Multiset, Multiset) {
    let linked = dir.join("linked");
    let _ = fs::remove_file(&linked);
    run(Command::new(target.linker)
        .current_dir(dir)
        .args(target.ld_args)
        .args(options)
        .arg("-T")
        .arg(script)
        .arg("-o")
        .arg(&linked)
        .args(inputs)
        .arg("table.o"));
    let expected = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .arg("--linked")
            .arg(&linked))
        .stdout,
    );
    let predicted = map_multiset(
        &run(Command::new(bin_path("kslink-collect"))
            .current_dir(dir)
            .arg("--predict")
            .args(predict_flag)
            .arg("-T")
            .arg(script)
            .args(inputs))
        .stdout,
    );
    (expected, predicted)
}

#[test]
fn dynamic_links_predict_what_ld_links_on_every_target() {
    for target in DYNAMIC_TARGETS {
        if !tool_available(target.assembler) || !tool_available(target.linker) {
            kslink_tests::skip_for_missing_tool(
                target.arch,
                &format!("{} or {}", target.assembler, target.linker),
                "binutils for the target",
            );
            continue;
        }
        let dir = tempdir();
        let d = dir.path();
        for (name, source) in [("main", DYNAMIC_MAIN_S), ("second", DYNAMIC_SECOND_S)] {
            let source = source
                .replace("PTR", target.pointer)
                .replace("TYPE", target.type_prefix);
            fs::write(d.join(format!("{name}.s")), source).expect("write the source");
            run(Command::new(target.assembler)
                .current_dir(d)
                .args(target.as_args)
                .args(["-o", &format!("{name}.o"), &format!("{name}.s")]));
        }
        // The table as kslink links it, with its pointer to _text.
        run(Command::new(bin_path("kslink-table")).current_dir(d).args([
            "--arch",
            target.arch,
            "--emit-object",
            "table.o",
            "/dev/null",
        ]));
        // `second.o` in an archive, so that its hidden references come after main.o's.
        run(Command::new("ar")
            .current_dir(d)
            .args(["rcs", "lib.a", "second.o"]));
        let inputs = ["main.o", "lib.a"];
        for discard_dynamic in [true, false] {
            let script = d.join(format!("dynamic-{discard_dynamic}.lds"));
            fs::write(&script, dynamic_script(discard_dynamic)).expect("write the script");
            for (options, flag) in [
                (&[][..], None),
                (
                    &["-shared", "-Bsymbolic", "-z", "notext"][..],
                    Some("--shared"),
                ),
                (&["-pie", "-z", "notext"][..], Some("--pie")),
            ] {
                if flag.is_some() && !target.dynamic {
                    continue;
                }
                let (expected, predicted) =
                    link_and_predict(target, d, &script, options, flag, &inputs);
                assert_same_multiset(
                    &expected,
                    &predicted,
                    &format!(
                        "{}: ld {options:?} with the dynamic sections {}",
                        target.arch,
                        if discard_dynamic { "discarded" } else { "kept" }
                    ),
                );
                if flag != Some("--shared") {
                    continue;
                }
                // What this test is about, spelled out for -shared.
                let letters = |name: &str| -> Vec<char> {
                    predicted
                        .iter()
                        .filter(|((_, n), _)| n == name.as_bytes())
                        .map(|((l, _), _)| char::from(*l))
                        .collect()
                };
                let x86 = target.arch == "x86_64";
                let (weak_undef_obj, dynamic): (&[char], &[char]) = match (discard_dynamic, x86) {
                    // undefined symbols are dynamic ones: none without .dynsym
                    (true, _) => (&[], &[]),
                    // _DYNAMIC is local, in .dynamic on x86, absolute elsewhere
                    (false, true) => (&['v'], &['d']),
                    (false, false) => (&['v'], &[]),
                };
                for (name, expected) in [
                    ("hid_def", &['t'][..]),
                    ("int_def", &['t']),
                    ("prot_def", &['T']),
                    ("ref_hidden_first", &['t']),
                    ("def_default_hidden_ref", &['t']),
                    ("main_func", &['T']),
                    ("hid_common", &['b']),
                    ("plain_common", &['B']),
                    ("__pi_text", &['t']),
                    ("__pi_data_sym", &['d']),
                    // a local absolute symbol: mksysmap drops it
                    ("__pi_etext", &[]),
                    ("__pi_unused", &[]),
                    // protected, whatever the references say
                    ("__start_my_table", &['D']),
                    ("__stop_my_table", &['D']),
                    // the dynamic relocations keep .rela.dyn
                    ("__rela_start", &['r']),
                    ("__rela_end", &['R']),
                    ("weak_undef_obj", weak_undef_obj),
                    ("weak_undef_hidden", &[]),
                    ("_DYNAMIC", dynamic),
                ] {
                    assert_eq!(letters(name), expected, "{}: {name}", target.arch);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

/// Runs `--predict` with `-o` and `--emit-map` into a fresh directory and checks the
/// failure: exit status `code`, one line on stderr that contains `needle`, no output.
#[track_caller]
fn assert_predict_fails(cwd: &Path, args: &[&str], code: i32, needle: &str) {
    let out_dir = tempdir();
    let symbols = out_dir.path().join("out.symbols");
    let map = out_dir.path().join("out.map");
    let out = Command::new(bin_path("kslink-collect"))
        .current_dir(cwd)
        .arg("--predict")
        .arg("-o")
        .arg(&symbols)
        .arg("--emit-map")
        .arg(&map)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kslink-collect");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(out.stdout.is_empty());
    let left: Vec<_> = fs::read_dir(out_dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = tempdir();
    let d = dir.path();
    let inputs = hand_made_inputs(d);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let with = |extra: &[&str]| -> Vec<String> {
        ["-T", "test.lds"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let call = |args: Vec<String>, code: i32, needle: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_predict_fails(d, &args, code, needle);
    };

    // It works as given.
    run(Command::new(bin_path("kslink-collect"))
        .current_dir(d)
        .arg("--predict")
        .args(with(&inputs)));

    // A truncated object.
    let main = fs::read(d.join("main.o")).expect("main.o");
    fs::write(d.join("truncated.o"), &main[..main.len() / 2]).expect("write");
    call(
        with(&["truncated.o"]),
        1,
        "truncated.o: malformed or truncated ELF file",
    );

    // Not an ELF file, and an empty one.
    fs::write(d.join("text.o"), "hello\n").expect("write");
    call(
        with(&["text.o"]),
        1,
        "text.o: not an ELF object or an archive",
    );
    fs::write(d.join("empty.o"), "").expect("write");
    call(with(&["empty.o"]), 1, "empty.o: empty file");

    // A missing file.
    call(
        with(&["missing.o"]),
        1,
        "missing.o: No such file or directory",
    );

    // A thin archive whose member file is gone, taken whole.
    let thin_dir = d.join("thin");
    fs::create_dir(&thin_dir).expect("mkdir");
    archive(
        &thin_dir,
        "gone.a",
        "rcsT",
        &[("g1", ".text\n.globl g1\ng1:\n ret\n")],
    );
    fs::remove_file(thin_dir.join("g1.o")).expect("remove the member");
    call(
        with(&["main.o", "--whole-archive", "thin/gone.a"]),
        1,
        "thin/gone.a: thin archive member ",
    );
    call(
        with(&["main.o", "--whole-archive", "thin/gone.a"]),
        1,
        "/thin/g1.o: No such file or directory",
    );

    // A script that cannot be read, or parsed.
    call(
        ["-T", "nowhere.lds", "main.o"].map(String::from).to_vec(),
        1,
        "nowhere.lds: No such file or directory",
    );
    fs::write(
        d.join("bad.lds"),
        "SECTIONS {\n  .text : { *(.text) }\n  .data : {\n",
    )
    .expect("write");
    call(
        ["-T", "bad.lds", "main.o"].map(String::from).to_vec(),
        1,
        "bad.lds:4: output section `.data` is never closed",
    );

    // A script that names an input file the link does not have.
    fs::write(
        d.join("names.lds"),
        "SECTIONS {\n  .text : {\n    other.o(.text)\n  }\n}\n",
    )
    .expect("write");
    call(
        ["-T", "names.lds", "main.o"].map(String::from).to_vec(),
        1,
        "names.lds:3: the script names input file `other.o`, which is not among the inputs",
    );

    // Two strong definitions: ld would fail too.
    call(
        with(&["main.o", "main.o"]),
        1,
        "multiple definition of `main_func`",
    );

    // An option ld would take but --predict does not follow, and unbalanced groups.
    call(
        with(&["main.o", "--gc-sections"]),
        2,
        "unsupported option among the link inputs: --gc-sections",
    );
    call(
        with(&["--start-group", "main.o"]),
        2,
        "--start-group without --end-group",
    );
}

/// A per-cpu section at address 0 with its load address taken from `.` outside it, as x86
/// links an SMP kernel: `__per_cpu_load = .;` then `.data..percpu 0 : AT(__per_cpu_load)`,
/// after an empty section that ld removes (so that ld lists `__per_cpu_load` in the per-cpu
/// section).
const PERCPU_SCRIPT: &str = r#"
SECTIONS {
  . = 0x400000;
  _text = .;
  .text : { *(.text) }
  .data : { *(.data) }
  . = ALIGN(0x1000);
  .init.begin : { __init_begin = .; }
  __per_cpu_load = .;
  .data..percpu 0 : AT(__per_cpu_load) {
    __per_cpu_start = .;
    *(.data..percpu)
    __per_cpu_end = .;
  }
  . = __per_cpu_load + SIZEOF(.data..percpu);
  .bss : { *(.bss) }
}
"#;

const PERCPU_S: &str = r#"
  .text
  .globl start
start: ret
  .data
  .globl plain_data
plain_data: .quad 1
  .section .data..percpu,"aw"
  .globl cpu_var
cpu_var: .quad 2
  .globl cpu_other
cpu_other: .quad 3
"#;

/// `--absolute-percpu` takes the symbols between `__per_cpu_start` and `__per_cpu_end` by
/// address; a prediction has none, and finds them by section. Both must pick the same names:
/// `__per_cpu_load`, which `nm` lists in the per-cpu section but whose address is its load
/// address, is not one of them.
#[test]
fn a_prediction_finds_the_per_cpu_symbols_the_linked_file_has() {
    let dir = tempdir();
    let dir = dir.path();
    assemble(dir, "percpu", PERCPU_S);
    fs::write(dir.join("percpu.lds"), PERCPU_SCRIPT).expect("write the script");
    run(Command::new("ld").current_dir(dir).args([
        "-m",
        "elf_x86_64",
        "-T",
        "percpu.lds",
        "-o",
        "linked",
        "percpu.o",
    ]));
    let collect = |args: &[&str], out: &str| -> SymbolSet {
        run(Command::new(bin_path("kslink-collect"))
            .current_dir(dir)
            .args(["-o", out])
            .args(args));
        artifact::read(&dir.join(out)).expect("a SymbolSet")
    };
    let linked = collect(&["--linked", "linked"], "linked.symbols");
    let predicted = collect(
        &["--predict", "-T", "percpu.lds", "percpu.o"],
        "predicted.symbols",
    );

    let per_cpu = |set: &SymbolSet| -> Vec<String> {
        let list = kslink_table::symbols_from_set(set, &LINUX_6_12, "set");
        let mut names: Vec<String> = list
            .entries
            .iter()
            .filter(|entry| {
                if list.addresses_known {
                    list.percpu_range.contains(entry.addr)
                } else {
                    entry.predicted_percpu
                }
            })
            .map(|entry| String::from_utf8_lossy(list.name(entry)).into_owned())
            .collect();
        names.sort();
        names
    };
    let expected = ["__per_cpu_end", "__per_cpu_start", "cpu_other", "cpu_var"];
    assert_eq!(per_cpu(&linked), expected, "by address, in the linked file");
    assert_eq!(
        per_cpu(&predicted),
        expected,
        "by section, in the prediction"
    );
    let load = linked
        .symbols
        .iter()
        .find(|s| s.name == b"__per_cpu_load")
        .expect("__per_cpu_load");
    assert_eq!(
        linked.sections[load.section.expect("in a section") as usize],
        ".data..percpu",
        "nm lists __per_cpu_load in the per-cpu section"
    );
}

/// A hand-made link whose text ranges have symbols at both ends, before them and after them,
/// and steps of unknown size (merged strings, the table) between: the text-only table built
/// from the prediction holds exactly the symbols of the one built from GNU ld's output.
#[test]
fn hand_made_text_ranges_match_gnu_ld() {
    let dir = tempdir();
    let dir = dir.path();
    let code = assemble(
        dir,
        "code",
        "\t.text\n\t.globl f1\nf1: .skip 13\n\t.globl f2\nf2: .skip 3\n\t.globl text_tail\ntext_tail:\n\
         \t.section .init.text,\"ax\"\n\t.globl init_fn\ninit_fn: .skip 21\n\t.globl init_tail\ninit_tail:\n\
         \t.section .rodata.str1.1,\"aMS\",@progbits,1\nstr: .asciz \"hello\"\n\
         \t.data\n\t.globl counter\ncounter: .quad 0\n\
         \t.section .note.GNU-stack,\"\",@progbits\n",
    );
    let table = labels(KernelVersion::V6_12);
    assemble(dir, "table", &table_source(&table));
    let script = dir.join("script.lds");
    fs::write(
        &script,
        "SECTIONS {\n  . = 0xffffffff81000000;\n\
         .text : { _text = .; _stext = .; *(.text) . = ALIGN(16); text_edge = .; }\n\
         _etext = .;\n  . = ALIGN(0x1000);\n\
         .rodata : { *(.rodata) *(.rodata.*) }\n  . = ALIGN(0x1000);\n  init_begin = .;\n\
         .init.text : { _sinittext = .; *(.init.text) _einittext = .; }\n  after_init = .;\n\
         .data : { *(.data) }\n  /DISCARD/ : { *(.note.*) }\n}\n",
    )
    .unwrap();
    let linked = dir.join("linked");
    run(Command::new("ld")
        .current_dir(dir)
        .arg("-T")
        .arg(&script)
        .arg("-o")
        .arg(&linked)
        .arg(&code)
        .arg("table.o"));
    let linked_set = kslink_collect::collect_linked(&linked).expect("the linked symbols");
    let predicted = predict_with(
        &script,
        &[code.into_os_string()],
        table,
        LinkerFlavour::Gnu,
        LinkKind::Static,
    )
    .expect("the prediction");
    let profile = table.profile;
    let from = |set: &SymbolSet, what: &str| {
        text_table_symbols(
            kslink_table::symbols_from_set(set, profile, what),
            KernelVersion::V6_12,
        )
    };
    let expected = from(&linked_set, "the linked file");
    assert_eq!(from(&predicted, "the prediction"), expected);
    // The case this link is made of: in at both starts, out at both ends and after.
    let has = |name: &str| expected.iter().any(|s| &s[1..] == name.as_bytes());
    for kept in [
        "_text",
        "f1",
        "f2",
        "init_begin",
        "init_fn",
        "_etext",
        "_einittext",
    ] {
        assert!(has(kept), "{kept} missing from {expected:?}");
    }
    for dropped in [
        "text_edge",
        "text_tail",
        "init_tail",
        "after_init",
        "counter",
    ] {
        assert!(!has(dropped), "{dropped} in {expected:?}");
    }
}
