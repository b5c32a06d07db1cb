//! kslink-table against what a real kernel build made: for the small 7.3, 6.12 and 6.1 kernels
//! of the test fixture, the table kslink builds from the symbol map of Kbuild's last
//! kallsyms pass equals, byte for byte, the `.S` Kbuild's own `scripts/kallsyms` wrote in that
//! pass, and kslink's object equals the object Kbuild assembled from it.

mod common;

use std::path::PathBuf;

use common::*;
use kslink_table::{write_object, Arch as TableArch};
use kslink_tests::kernel::{kernel_tree_for, KernelArch};
use kslink_tests::{compare_objects, KernelTree, KernelVersion};

/// The last kallsyms pass of a 7.3, 6.12 or 6.1 link: its map, its `.S`, its object.
struct KallsymsPass {
    map: PathBuf,
    asm: PathBuf,
    object: PathBuf,
}

fn last_pass(tree: &KernelTree) -> KallsymsPass {
    let file = |name: &str| tree.dir.join(name);
    match tree.version {
        KernelVersion::V7_3 | KernelVersion::V6_12 => KallsymsPass {
            map: file(".tmp_vmlinux2.syms"),
            asm: file(".tmp_vmlinux2.kallsyms.S"),
            object: file(".tmp_vmlinux2.kallsyms.o"),
        },
        KernelVersion::V6_1 => KallsymsPass {
            map: file(".tmp_vmlinux.kallsyms2.syms"),
            asm: file(".tmp_vmlinux.kallsyms2.S"),
            object: file(".tmp_vmlinux.kallsyms2.o"),
        },
    }
}

fn same_as_kbuild(version: KernelVersion, arch: KernelArch) {
    let tree = kernel_tree_for(version, arch);
    let pass = last_pass(&tree);
    let flags = kbuild_flags(&tree);
    assert!(
        flags.contains(&"--all-symbols"),
        "the fixture has KALLSYMS_ALL"
    );
    let map = std::fs::read(&pass.map).unwrap();
    let built = kslink_build(version, &flags, &map)
        .unwrap_or_else(|e| panic!("{}: {e}", pass.map.display()));
    assert!(built.num_syms() > 10_000, "a real kernel's table");

    let mut asm = Vec::new();
    built.write_asm(&mut asm).unwrap();
    assert_same_asm(
        &std::fs::read(&pass.asm).unwrap(),
        &asm,
        &format!("{} {flags:?}", pass.map.display()),
    );

    let dir = tempdir();
    let object = dir.path().join("kallsyms.o");
    let arch = TableArch::by_name(arch.name()).unwrap();
    let table = built.to_artifact(arch.layout());
    write_object(&table, arch, std::fs::File::create(&object).unwrap()).unwrap();
    compare_objects(&pass.object, &object)
        .unwrap_or_else(|e| panic!("{} against kslink's object: {e}", pass.object.display()));
}

#[test]
fn tinyconfig_6_12_table_equals_kbuilds() {
    same_as_kbuild(KernelVersion::V6_12, KernelArch::X86_64);
}

#[test]
fn tinyconfig_6_1_table_equals_kbuilds() {
    same_as_kbuild(KernelVersion::V6_1, KernelArch::X86_64);
}

#[test]
fn tinyconfig_7_3_table_equals_kbuilds() {
    same_as_kbuild(KernelVersion::V7_3, KernelArch::X86_64);
}

/// 32-bit and not relocatable: 7.3's table of addresses, without relocations.
#[test]
fn tinyconfig_7_3_i386_table_equals_kbuilds() {
    same_as_kbuild(KernelVersion::V7_3, KernelArch::I386);
}
