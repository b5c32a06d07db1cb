//! Self-test of the test harness: builds both upstream tools, runs them on generated maps
//! and on Debian's System.map, assembles the output for every available architecture, and
//! checks that `compare_objects` accepts identical objects and reports different ones.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kslink_tests::gen::{corner_cases_described, random_map_spec, Percpu};
use kslink_tests::tempdir;
use kslink_tests::upstream::{upstream_debian_version, upstream_source_dir};
use kslink_tests::*;
use object::{Object, ObjectSection, ObjectSymbol};

/// Runs upstream on `map`, writes the `.S`, assembles it for `arch`, returns the object.
fn build_object(
    dir: &Path,
    tag: &str,
    version: KernelVersion,
    flags: &[&str],
    map: &[u8],
    arch: Arch,
) -> PathBuf {
    let map_path = dir.join(format!("{tag}.map"));
    std::fs::write(&map_path, map).unwrap();
    let out = run_upstream(version, flags, &map_path);
    let s = out.expect_success(tag);
    let s_path = dir.join(format!("{tag}.S"));
    std::fs::write(&s_path, s).unwrap();
    let obj = dir.join(format!("{tag}.o"));
    assemble(&s_path, arch, &obj);
    obj
}

/// The compressed lengths (the ULEB128 prefix) of `kallsyms_names` in a 6.12 `.S`.
fn name_lengths_6_12(s: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(s);
    let mut inside = false;
    let mut lens = Vec::new();
    for line in text.lines() {
        if line == "kallsyms_names:" {
            inside = true;
            continue;
        }
        if inside {
            let Some(rest) = line.trim_start().strip_prefix(".byte ") else {
                break;
            };
            let bytes: Vec<u32> = rest
                .split('\t')
                .next()
                .unwrap()
                .split(", ")
                .map(|b| u32::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
                .collect();
            if bytes[0] & 0x80 != 0 {
                lens.push(((bytes[0] & 0x7f) | (bytes[1] << 7)) as usize);
            } else {
                lens.push(bytes[0] as usize);
            }
        }
    }
    lens
}

#[test]
fn upstream_tools_build() {
    for v in KernelVersion::ALL {
        let t = Instant::now();
        let tool = upstream_kallsyms(v);
        eprintln!("{v}: {} ready in {:?}", tool.display(), t.elapsed());
        assert!(tool.is_file());
        let deb = upstream_debian_version(v);
        assert!(deb.starts_with(v.as_str()), "{v}: Debian version {deb}");
        assert!(upstream_mksysmap(v).is_file());
        assert!(upstream_source_dir(v).join("scripts/kallsyms.c").is_file());
        // The tool prints its usage and fails without arguments.
        let out = std::process::Command::new(&tool).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: kallsyms"));
    }
    let out = run_upstream_text(KernelVersion::V6_12, &[], b"");
    assert!(String::from_utf8_lossy(out.expect_success("empty text")).contains(".long\t0\n"));
}

#[test]
fn concurrent_calls_agree() {
    let handles: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let v = KernelVersion::ALL[i % 2];
                (
                    v,
                    upstream_kallsyms(v),
                    upstream_mksysmap(v),
                    asm::include_shim(Arch::ALL[i % 5]),
                )
            })
        })
        .collect();
    for h in handles {
        let (v, tool, mksysmap, shim) = h.join().unwrap();
        assert_eq!(tool, upstream_kallsyms(v));
        assert_eq!(mksysmap, upstream_mksysmap(v));
        assert!(shim.join("asm/bitsperlong.h").is_file());
    }
}

#[test]
fn random_map_x86_64_both_versions() {
    let dir = tempdir();
    let map = random_map(1, GenOptions::default());
    let runs: &[(KernelVersion, &[&str])] = &[
        (
            KernelVersion::V6_12,
            &["--all-symbols", "--absolute-percpu"],
        ),
        (KernelVersion::V6_12, &[]),
        (KernelVersion::V6_12, &["--absolute-percpu"]),
        (
            KernelVersion::V6_1,
            &["--all-symbols", "--absolute-percpu", "--base-relative"],
        ),
        (KernelVersion::V6_1, &["--all-symbols"]),
        (KernelVersion::V6_1, &["--base-relative"]),
    ];
    for (i, (v, flags)) in runs.iter().enumerate() {
        let tag = format!("rand-{v}-{i}");
        let obj = build_object(dir.path(), &tag, *v, flags, map.as_bytes(), Arch::X86_64);
        compare_objects(&obj, &obj).unwrap();
        let data = std::fs::read(&obj).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let rodata = file.section_by_name(".rodata").expect(".rodata");
        assert!(rodata.size() > 0);
        let globals: Vec<String> = file
            .symbols()
            .filter(|s| s.is_global())
            .map(|s| s.name().unwrap().to_string())
            .collect();
        for label in [
            "kallsyms_num_syms",
            "kallsyms_names",
            "kallsyms_markers",
            "kallsyms_token_table",
            "kallsyms_token_index",
        ] {
            assert!(globals.iter().any(|g| g == label), "{tag}: no {label}");
        }
        assert!(
            globals.iter().any(|g| g == "_text"),
            "{tag}: no _text reference"
        );
        assert!(rodata.relocations().count() >= 1, "{tag}: no relocation");
    }
}

#[test]
fn debian_map_6_12() {
    let dir = tempdir();
    let map = debian_system_map();
    assert_eq!(map.iter().filter(|&&b| b == b'\n').count(), 163_210);
    let t = Instant::now();
    let obj = build_object(
        dir.path(),
        "debian",
        KernelVersion::V6_12,
        &["--all-symbols", "--absolute-percpu"],
        &map,
        Arch::X86_64,
    );
    eprintln!("debian map: upstream + assemble in {:?}", t.elapsed());
    compare_objects(&obj, &obj).unwrap();
    let data = std::fs::read(&obj).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let rodata = file.section_by_name(".rodata").unwrap();
    assert!(
        rodata.size() > 3_000_000,
        ".rodata is {} bytes",
        rodata.size()
    );
    let num = file
        .symbols()
        .find(|s| s.name() == Ok("kallsyms_num_syms"))
        .unwrap();
    let bytes = rodata.data().unwrap();
    let n = u32::from_le_bytes(bytes[num.address() as usize..][..4].try_into().unwrap());
    // Everything but the 5 ignored absolute symbols (text_size, phys_startup_64,
    // init_per_cpu__*): the map has no 'u'/'n' lines and no name of 512 bytes or more.
    assert_eq!(n, 163_205, "kallsyms_num_syms");

    // A different map's object differs, and the report says where.
    let other = build_object(
        dir.path(),
        "other",
        KernelVersion::V6_12,
        &["--all-symbols", "--absolute-percpu"],
        random_map(2, GenOptions::default()).as_bytes(),
        Arch::X86_64,
    );
    let err = compare_objects(&obj, &other).unwrap_err();
    assert!(err.contains(".rodata size differs"), "{err}");
    assert!(err.contains(".rodata bytes differ"), "{err}");
    assert!(err.contains("kallsyms_num_syms+0x0"), "{err}");
}

#[test]
fn every_available_arch() {
    assert!(arch_available(Arch::X86_64), "gcc is needed");
    let dir = tempdir();
    let mut objects = Vec::new();
    for arch in Arch::ALL {
        if !arch_available(arch) {
            kslink_tests::skip_for_missing_tool(
                &arch.to_string(),
                "its assembler",
                arch.debian_package(),
            );
            continue;
        }
        let width = if arch.bits() == 64 {
            AddrWidth::Bits64
        } else {
            AddrWidth::Bits32
        };
        let opts = GenOptions {
            width,
            symbols: 400,
            ..GenOptions::default()
        };
        let map = random_map(3, opts);
        for (v, flags) in [
            (
                KernelVersion::V6_12,
                &["--all-symbols", "--absolute-percpu"][..],
            ),
            (
                KernelVersion::V6_1,
                &["--all-symbols", "--absolute-percpu", "--base-relative"][..],
            ),
            (KernelVersion::V6_1, &["--all-symbols"][..]),
        ] {
            let tag = format!("{arch}-{v}-{}", flags.len());
            let obj = build_object(dir.path(), &tag, v, flags, map.as_bytes(), arch);
            compare_objects(&obj, &obj).unwrap();
            let data = std::fs::read(&obj).unwrap();
            let file = object::File::parse(&*data).unwrap();
            assert_eq!(file.is_64(), arch.bits() == 64, "{tag}");
            assert!(file.is_little_endian(), "{tag}");
            let endian_machine = u16::from_le_bytes([data[18], data[19]]);
            assert_eq!(endian_machine, arch.e_machine(), "{tag}");
            let rodata = file.section_by_name(".rodata").unwrap();
            assert_eq!(rodata.align(), u64::from(arch.bits() / 8), "{tag}");
            // 6.1 without --base-relative: one relocation per symbol.
            if flags.len() == 1 {
                assert!(rodata.relocations().count() > 400, "{tag}");
            }
            objects.push((tag, obj));
        }
    }
    // Objects of different architectures differ in their header at least.
    let (first_tag, first) = &objects[0];
    for (tag, obj) in &objects[1..] {
        let err = compare_objects(first, obj).unwrap_err();
        assert!(!err.is_empty(), "{first_tag} vs {tag}");
    }
    if arch_available(Arch::Aarch64) {
        let x = objects.iter().find(|(t, _)| t == "x86_64-6.12-2").unwrap();
        let a = objects.iter().find(|(t, _)| t == "aarch64-6.12-2").unwrap();
        let err = compare_objects(&x.1, &a.1).unwrap_err();
        assert!(
            err.contains("e_machine differs: expected 62, actual 183"),
            "{err}"
        );
        assert!(err.contains("relocations differ"), "{err}");
    }
}

#[test]
fn compare_detects_flag_differences() {
    let dir = tempdir();
    let map = random_map(4, GenOptions::default());
    let a = build_object(
        dir.path(),
        "abs",
        KernelVersion::V6_12,
        &["--all-symbols", "--absolute-percpu"],
        map.as_bytes(),
        Arch::X86_64,
    );
    let b = build_object(
        dir.path(),
        "text-only",
        KernelVersion::V6_12,
        &["--absolute-percpu"],
        map.as_bytes(),
        Arch::X86_64,
    );
    let a2 = build_object(
        dir.path(),
        "abs-again",
        KernelVersion::V6_12,
        &["--all-symbols", "--absolute-percpu"],
        map.as_bytes(),
        Arch::X86_64,
    );
    compare_objects(&a, &a2).unwrap();
    let err = compare_objects(&a, &b).unwrap_err();
    assert!(err.contains(".rodata"), "{err}");
    // Relocation addends: 6.1 absolute addresses, one `_text + D` per symbol.
    let c = build_object(
        dir.path(),
        "v61",
        KernelVersion::V6_1,
        &["--all-symbols"],
        b"ffffffff81000000 T _text\nffffffff81000010 T foo\n",
        Arch::X86_64,
    );
    let d = build_object(
        dir.path(),
        "v61b",
        KernelVersion::V6_1,
        &["--all-symbols"],
        b"ffffffff81000000 T _text\nffffffff81000020 T foo\n",
        Arch::X86_64,
    );
    let err = compare_objects(&c, &d).unwrap_err();
    assert!(err.contains("+ 0x10") && err.contains("+ 0x20"), "{err}");
}

#[test]
fn corner_cases_under_upstream() {
    let dir = tempdir();
    let cases = corner_cases_described();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "corner case names are unique");
    assert_eq!(corner_cases().len(), cases.len());

    let combos_6_12 = KernelVersion::V6_12.flag_combinations();
    let combos_6_1 = KernelVersion::V6_1.flag_combinations();
    for case in &cases {
        let path = dir.path().join(format!("{}.map", case.name));
        std::fs::write(&path, &case.map).unwrap();
        if !case.name.starts_with("quirk_") {
            for line in case.map.lines() {
                assert_eq!(
                    line.split(' ').filter(|f| !f.is_empty()).count(),
                    if line.starts_with(' ') { 2 } else { 3 },
                    "{}: {line:.80}",
                    case.name
                );
            }
        }
        let mut overflowed = false;
        for (v, combos) in [
            (KernelVersion::V6_12, combos_6_12),
            (KernelVersion::V6_1, combos_6_1),
        ] {
            for flags in combos {
                let out = run_upstream(v, flags, &path);
                assert!(
                    out.status.code().is_some(),
                    "{} {v} {flags:?}: killed by a signal: {}",
                    case.name,
                    out.status
                );
                if out.stderr.contains("out of range in relative mode") {
                    overflowed = true;
                }
                let plain_ok =
                    !case.name.starts_with("overflow_") && !case.name.starts_with("nm_raw_");
                if v == KernelVersion::V6_12 && flags.is_empty() && plain_ok {
                    assert!(out.success(), "{} {v}: {}", case.name, out.stderr);
                }
                if case.name.starts_with("nm_raw_") && v == KernelVersion::V6_12 {
                    assert!(out.stderr.contains("line format error"), "{}", case.name);
                }
                if case.name.starts_with("nm_raw_") && v == KernelVersion::V6_1 && flags.is_empty()
                {
                    assert!(out.success(), "{} {v}: {}", case.name, out.stderr);
                }
            }
        }
        assert_eq!(
            overflowed,
            case.name.starts_with("overflow_")
                || matches!(
                    case.name,
                    "percpu_zero"
                        | "percpu_in_data"
                        | "percpu_int_max"
                        | "rel_span_max"
                        | "nm_raw_random_small"
                        | "quirk_name_over_2048_record"
                ),
            "{}: overflow status",
            case.name
        );
    }

    let path = |name: &str| dir.path().join(format!("{name}.map"));
    // The empty map: 6.12 writes an empty table, 6.1 refuses.
    let out = run_upstream(KernelVersion::V6_12, &[], &path("empty"));
    assert!(String::from_utf8_lossy(out.expect_success("empty"))
        .contains("kallsyms_num_syms:\n\t.long\t0\n"));
    let out = run_upstream(KernelVersion::V6_1, &["--base-relative"], &path("empty"));
    assert!(!out.success() && out.stderr.contains("No valid symbol."));
    // Too-long names are reported and skipped.
    for v in KernelVersion::ALL {
        let out = run_upstream(v, &["--all-symbols"], &path("name_512"));
        assert!(out.success() && out.stderr.contains("too long for kallsyms (512 >= 512)"));
        let out = run_upstream(v, &["--all-symbols"], &path("name_511"));
        assert!(
            out.success() && !out.stderr.contains("too long"),
            "{v}: {}",
            out.stderr
        );
    }
    // Long high-entropy names need the 2-byte length prefix.
    let out = run_upstream(KernelVersion::V6_12, &[], &path("long_compressed"));
    let lens = name_lengths_6_12(out.expect_success("long_compressed"));
    assert!(lens.iter().any(|&l| l > 0x7f), "lengths {lens:?}");
    // A 511-byte name is kept whole (its table entry expands to TYPE + 511 bytes).
    let out = run_upstream(KernelVersion::V6_12, &["--all-symbols"], &path("name_511"));
    let s = String::from_utf8_lossy(out.expect_success("name_511")).into_owned();
    assert!(s.lines().any(|l| l
        .split("/* ")
        .nth(1)
        .is_some_and(|c| c.trim_end_matches(" */").len() == 512)));
    // Assemble a few corner cases: they must be valid input for gas too.
    for name in [
        "skeleton",
        "many_ties",
        "long_compressed",
        "name_511",
        "empty",
    ] {
        let out = run_upstream(KernelVersion::V6_12, &["--all-symbols"], &path(name));
        let obj = dir.path().join(format!("{name}.o"));
        asm::assemble_source(out.expect_success(name), Arch::X86_64, &obj);
        compare_objects(&obj, &obj).unwrap();
    }
}

#[test]
fn generator_properties() {
    let opts = GenOptions::default();
    let a = random_map(11, opts.clone());
    assert_eq!(a, random_map(11, opts.clone()), "deterministic");
    assert_ne!(a, random_map(12, opts.clone()), "seed matters");
    let lines: Vec<&str> = a.lines().collect();
    assert!(lines.len() > 2000, "{} lines", lines.len());
    for line in &lines {
        let mut it = line.splitn(3, ' ');
        let addr = it.next().unwrap();
        assert_eq!(addr.len(), 16, "{line}");
        u64::from_str_radix(addr, 16).unwrap();
        assert_eq!(it.next().unwrap().len(), 1, "{line}");
        let name = it.next().unwrap();
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "{line}"
        );
        assert!(name.len() < 511, "{line}");
    }
    // Sorted by address, like nm -n.
    let addrs: Vec<u64> = lines
        .iter()
        .map(|l| u64::from_str_radix(&l[..16], 16).unwrap())
        .collect();
    assert!(addrs.windows(2).all(|w| w[0] <= w[1]));
    for needle in [
        " D __per_cpu_start\n",
        " D __per_cpu_end\n",
        " T _text\n",
        " T _stext\n",
        " T _etext\n",
        " T _sinittext\n",
        " T _einittext\n",
        " A __gp\n",
        " A __kernel_sigtramp\n",
        " R kallsyms_names\n",
    ] {
        assert!(a.contains(needle), "missing {needle:?}");
    }
    assert!(a.starts_with("0000000000000000 "));
    for ty in [" W ", " V ", " u ", " n ", " A "] {
        assert!(a.contains(ty), "no type {ty:?}");
    }
    assert!(lines.iter().any(|l| l.len() > 17 + 300), "a long name");

    // 32-bit maps print 8 digits.
    let b = random_map(
        11,
        GenOptions {
            width: AddrWidth::Bits32,
            ..opts.clone()
        },
    );
    assert!(b.lines().all(|l| l.as_bytes()[8] == b' '));

    // nm extras: blank-address undefined symbols first.
    let c = random_map(
        11,
        GenOptions {
            nm_extras: true,
            ..opts.clone()
        },
    );
    assert!(c.starts_with("                 "));
    assert!(c.contains(" U ") && c.contains(" N ") && c.contains(" a "));

    // offsets_fit agrees with upstream.
    let dir = tempdir();
    for (i, (width, percpu)) in [
        (AddrWidth::Bits64, Percpu::AtZero),
        (AddrWidth::Bits64, Percpu::InData),
        (AddrWidth::Bits64, Percpu::Absent),
        (AddrWidth::Bits32, Percpu::AtZero),
        (AddrWidth::Bits32, Percpu::InData),
    ]
    .into_iter()
    .enumerate()
    {
        let opts = GenOptions {
            width,
            percpu,
            symbols: 300,
            ..GenOptions::default()
        };
        let spec = random_map_spec(20 + i as u64, opts.clone());
        let path = dir.path().join(format!("fit{i}.map"));
        std::fs::write(&path, spec.render()).unwrap();
        for all in [false, true] {
            for abs in [false, true] {
                let mut flags = Vec::new();
                if all {
                    flags.push("--all-symbols");
                }
                if abs {
                    flags.push("--absolute-percpu");
                }
                let out = run_upstream(KernelVersion::V6_12, &flags, &path);
                assert_eq!(
                    out.success(),
                    opts.offsets_fit(all, abs),
                    "{width:?} {percpu:?} {flags:?}: {}",
                    out.stderr
                );
            }
        }
    }
}

#[test]
fn mksysmap_filters() {
    let case = corner_cases()
        .into_iter()
        .find(|(n, _)| *n == "mksysmap_names")
        .unwrap()
        .1;
    let filtered =
        String::from_utf8(apply_mksysmap(KernelVersion::V6_12, case.as_bytes())).unwrap();
    for name in gen::MKSYSMAP_6_12_NAMES {
        assert!(
            !filtered.lines().any(|l| l.ends_with(&format!(" {name}"))),
            "6.12 mksysmap kept {name}"
        );
    }
    assert!(filtered.contains(" T _stext\n"));
    let filtered_61 =
        String::from_utf8(apply_mksysmap(KernelVersion::V6_1, case.as_bytes())).unwrap();
    assert!(filtered_61.len() > filtered.len());
    assert!(!filtered_61.contains(" $x\n") && !filtered_61.contains(" __crc_vfs_read\n"));
    assert!(filtered_61.contains(" bar_veneer\n"));

    // A raw nm map becomes 6.12 input.
    let raw = random_map(
        5,
        GenOptions {
            nm_extras: true,
            symbols: 500,
            ..GenOptions::default()
        },
    );
    let sysmap = apply_mksysmap(KernelVersion::V6_12, raw.as_bytes());
    assert!(!sysmap.starts_with(b" "));
    let dir = tempdir();
    let path = dir.path().join("sysmap");
    std::fs::write(&path, &sysmap).unwrap();
    let out = run_upstream(
        KernelVersion::V6_12,
        &["--all-symbols", "--absolute-percpu"],
        &path,
    );
    out.expect_success("filtered raw map");
}

#[test]
fn bin_path_reports_missing_binaries() {
    let r = std::panic::catch_unwind(|| bin_path("kslink-no-such-binary"));
    let err = r.unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("cargo build"), "{msg}");
}
