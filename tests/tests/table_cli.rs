//! The `kslink-table` binary: its outputs against upstream and the library, artifact input,
//! and how it fails on bad input (exit code, one-line message, no output left behind).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use kslink_schema::artifact::{self, HEADER_LEN};
use kslink_schema::{KallsymsTable, Symbol};
use kslink_table::{write_object, Arch as TableArch};
use kslink_tests::gen::corner_cases_described;
use kslink_tests::{
    asm::assemble_source, compare_objects, random_map, run_upstream, AddrWidth, Arch, GenOptions,
    KernelVersion,
};

const V6_12: KernelVersion = KernelVersion::V6_12;
const V6_1: KernelVersion = KernelVersion::V6_1;
const V7_3: KernelVersion = KernelVersion::V7_3;

fn case_map(name: &str) -> String {
    corner_cases_described()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no corner case {name}"))
        .map
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--profile P FLAGS... [more...] INPUT` as arguments.
fn args(version: KernelVersion, flags: &[&str], more: &[&Path], input: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = vec!["--profile".into(), profile_name(version).into()];
    v.extend(flags.iter().map(PathBuf::from));
    v.extend(more.iter().map(|p| p.to_path_buf()));
    v.push(input.to_path_buf());
    v
}

// ---------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------

#[test]
fn cli_stdout_and_emit_asm_match_upstream_on_debian_map() {
    let dir = tempdir();
    let map = write_file(dir.path(), "System.map", debian_map());
    let flags = ["--all-symbols", "--absolute-percpu"];
    let up = run_upstream(V6_12, &flags, &map);
    let upstream = up.expect_success("Debian System.map");

    let out = run_kslink_table(args(V6_12, &flags, &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    assert_same_asm(upstream, &out.stdout, "kslink-table stdout");

    // Without --profile the default is linux-6.12.
    let s = dir.path().join("table.S");
    let mut a: Vec<PathBuf> = flags.iter().map(PathBuf::from).collect();
    a.extend(["--emit-asm".into(), s.clone(), map.clone()]);
    let out = run_kslink_table(&a);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        out.stdout.is_empty(),
        "an output option was given: nothing on stdout"
    );
    assert_same_asm(upstream, &fs::read(&s).unwrap(), "kslink-table --emit-asm");
}

/// `--tokens-from` an earlier table of the same symbols (here listed in the opposite order,
/// so that equal addresses tie the other way) gives upstream's `.S` of the new input, and so
/// does a table of other symbols, for which the compression is made again.
#[test]
fn cli_tokens_from_an_earlier_table_changes_no_output() {
    let dir = tempdir();
    let flags = ["--all-symbols", "--absolute-percpu"];
    let map = write_file(dir.path(), "System.map", debian_map());
    let first = dir.path().join("first.table");
    let out = run_kslink_table(args(V6_12, &flags, &[Path::new("-o"), &first], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));

    let text = String::from_utf8(debian_map().to_vec()).unwrap();
    let reversed: String = text.lines().rev().map(|l| format!("{l}\n")).collect();
    let fewer: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 1000 != 7)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    for (name, input) in [("reversed", reversed), ("fewer", fewer)] {
        let input = write_file(dir.path(), name, input.as_bytes());
        let upstream = run_upstream(V6_12, &flags, &input);
        let s = dir.path().join(format!("{name}.S"));
        let more = [
            Path::new("--tokens-from"),
            &first,
            Path::new("--emit-asm"),
            &s,
        ];
        let out = run_kslink_table(args(V6_12, &flags, &more, &input));
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        assert_same_asm(
            upstream.expect_success(name),
            &fs::read(&s).unwrap(),
            &format!("--tokens-from, {name}"),
        );
    }

    // A --tokens-from that is not a table is an error that names it.
    expect_failure(
        &["--tokens-from", &map.display().to_string()],
        &map,
        1,
        &[&map.display().to_string()],
    );
}

/// Every output option in one run, for several targets and both profiles: the `.S` is
/// upstream's, the object is what the assembler makes of upstream's `.S` and what
/// `write_object` writes in-process, the artifact is the in-process `to_artifact`, and the
/// raw bytes are the artifact's data.
#[test]
fn cli_every_output_agrees_with_upstream_and_library() {
    let dir = tempdir();
    let runs: &[(Arch, KernelVersion, &[&str])] = &[
        (Arch::X86_64, V6_12, &["--all-symbols", "--absolute-percpu"]),
        (Arch::X86_64, V6_1, &["--all-symbols"]),
        (Arch::I386, V6_12, &["--all-symbols"]),
        (Arch::I386, V6_1, &["--all-symbols"]),
        (Arch::Aarch64, V6_1, &["--all-symbols", "--base-relative"]),
        (Arch::Arm, V6_12, &[]),
        (Arch::Riscv64, V6_12, &["--all-symbols"]),
        (Arch::X86_64, V7_3, &["--all-symbols", "--pc-relative"]),
        (Arch::I386, V7_3, &["--pc-relative"]),
        (Arch::Aarch64, V7_3, &["--all-symbols", "--pc-relative"]),
        (Arch::Riscv64, V7_3, &["--pc-relative"]),
        (Arch::Arm, V7_3, &["--all-symbols"]),
    ];
    let mut tested = 0;
    for (i, &(arch, version, flags)) in runs.iter().enumerate() {
        if !kslink_tests::arch_available(arch) {
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
            symbols: 500,
            percpu: kslink_tests::gen::Percpu::Absent,
            ..GenOptions::default()
        };
        let map = write_file(
            dir.path(),
            &format!("{i}.map"),
            random_map(50 + i as u64, opts).as_bytes(),
        );
        let tag = format!("{arch} {version} {flags:?}");
        let [table, s, o, raw] = ["table.bin", "table.S", "table.o", "table.raw"]
            .map(|n| dir.path().join(format!("{i}-{n}")));
        let mut a: Vec<PathBuf> = vec!["--arch".into(), arch.name().into()];
        a.extend(args(version, flags, &[], &map));
        let input = a.pop().unwrap();
        for (opt, path) in [
            ("-o", &table),
            ("--emit-asm", &s),
            ("--emit-object", &o),
            ("--emit-raw", &raw),
        ] {
            a.push(opt.into());
            a.push(path.clone());
        }
        a.push(input);
        let out = run_kslink_table(&a);
        assert!(out.status.success(), "{tag}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{tag}");

        let up = run_upstream(version, flags, &map);
        let upstream = up.expect_success(&tag);
        assert_same_asm(upstream, &fs::read(&s).unwrap(), &tag);
        let expected_o = dir.path().join(format!("{i}-upstream.o"));
        assemble_source(upstream, arch, &expected_o);
        compare_objects(&expected_o, &o).unwrap_or_else(|e| panic!("{tag}: {e}"));

        let tarch = TableArch::by_name(arch.name()).unwrap();
        let built = kslink_build(version, flags, &fs::read(&map).unwrap()).unwrap();
        let expected_table = built.to_artifact(tarch.layout());
        let written: KallsymsTable = artifact::read(&table).unwrap();
        assert_eq!(written, expected_table, "{tag}: -o artifact");
        assert_eq!(
            written.layout.pointer_bytes as u32 * 8,
            arch.bits(),
            "{tag}"
        );
        assert_eq!(fs::read(&raw).unwrap(), written.data, "{tag}: --emit-raw");
        let mut object = Vec::new();
        write_object(&expected_table, tarch, &mut object).unwrap();
        assert_eq!(
            fs::read(&o).unwrap(),
            object,
            "{tag}: --emit-object vs write_object"
        );
        tested += 1;
    }
    assert!(tested >= 3, "only {tested} runs");
}

#[test]
fn cli_long_names_warn_on_stderr_and_match_upstream() {
    let dir = tempdir();
    let map = write_file(dir.path(), "name_512.map", case_map("name_512").as_bytes());
    for version in KernelVersion::ALL {
        let up = run_upstream(version, &["--all-symbols"], &map);
        let out = run_kslink_table(args(version, &["--all-symbols"], &[], &map));
        assert!(out.status.success(), "{version}: {}", stderr_of(&out));
        assert_same_asm(up.expect_success("name_512"), &out.stdout, "name_512");
        let stderr = stderr_of(&out);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{version}: one warning per long name: {stderr}"
        );
        for line in lines {
            assert!(line.starts_with("kslink-table: warning: "), "{line}");
            assert!(line.contains(&map.display().to_string()), "{line}");
            assert!(line.contains("too long"), "{line}");
        }
    }
}

#[test]
fn symbol_set_artifact_input_gives_the_same_asm_as_the_text_map() {
    let dir = tempdir();
    let maps = [
        (
            "random",
            random_map(60, GenOptions::default()),
            AddrWidth::Bits64,
        ),
        (
            "random32",
            random_map(
                61,
                GenOptions {
                    width: AddrWidth::Bits32,
                    symbols: 800,
                    ..GenOptions::default()
                },
            ),
            AddrWidth::Bits32,
        ),
        ("name_512", case_map("name_512"), AddrWidth::Bits64),
        (
            "duplicate_names",
            case_map("duplicate_names"),
            AddrWidth::Bits64,
        ),
    ];
    let runs: &[(KernelVersion, &[&str])] = &[
        (V6_12, &["--all-symbols", "--absolute-percpu"]),
        (V6_12, &[]),
        (
            V6_1,
            &["--all-symbols", "--base-relative", "--absolute-percpu"],
        ),
        (V6_1, &["--all-symbols"]),
    ];
    for (name, map, width) in &maps {
        let text = write_file(dir.path(), &format!("{name}.map"), map.as_bytes());
        let set = symbol_set(map, *width);
        // The set prints back as the same map (nm prints no address for undefined `U`, `w`,
        // `v`): the two inputs really hold the same symbols.
        let mut printed = Vec::new();
        set.write_map(&mut printed).unwrap();
        let expected: String = map
            .lines()
            .map(|line| match line.split_once(' ') {
                Some((addr, rest))
                    if matches!(rest.as_bytes().first(), Some(b'U' | b'w' | b'v')) =>
                {
                    format!("{} {rest}\n", " ".repeat(addr.len()))
                }
                _ => format!("{line}\n"),
            })
            .collect();
        assert_eq!(String::from_utf8(printed).unwrap(), expected, "{name}");
        let art = dir.path().join(format!("{name}.symbols"));
        artifact::write(&art, &set).unwrap();
        for (version, flags) in runs {
            let from_text = run_kslink_table(args(*version, flags, &[], &text));
            let from_set = run_kslink_table(args(*version, flags, &[], &art));
            assert!(
                from_text.status.success(),
                "{name}: {}",
                stderr_of(&from_text)
            );
            assert!(
                from_set.status.success(),
                "{name}: {}",
                stderr_of(&from_set)
            );
            let up = run_upstream(*version, flags, &text);
            let what = format!("{name} {version} {flags:?}");
            assert_same_asm(up.expect_success(&what), &from_text.stdout, &what);
            assert_same_asm(
                &from_text.stdout,
                &from_set.stdout,
                &format!("{what} (SymbolSet)"),
            );
            // The same warnings (for name_512), each naming where the symbol is.
            assert_eq!(
                stderr_of(&from_set).lines().count(),
                stderr_of(&from_text).lines().count(),
                "{what}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

/// A small valid map.
fn good_map(dir: &Path) -> PathBuf {
    write_file(dir, "good.map", case_map("skeleton").as_bytes())
}

#[test]
fn cli_malformed_map_line_fails_naming_file_and_line() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "bad.map",
        b"ffffffff81000000 T _text\nffffffff81000010 T fine\nthis is not a map line\n",
    );
    let shown = map.display().to_string();
    for profile in ["linux-6.12", "linux-6.1"] {
        expect_failure(
            &["--profile", profile],
            &map,
            1,
            &[&format!("{shown}:3:"), "malformed map line"],
        );
    }
    // 6.12: a name is required after the type.
    let map = write_file(
        dir.path(),
        "short.map",
        b"ffffffff81000000 T _text\nffffffff81000010 T\n",
    );
    expect_failure(
        &[],
        &map,
        1,
        &[&format!("{}:2:", map.display()), "malformed map line"],
    );
    // 6.1: exactly three fields.
    let map = write_file(
        dir.path(),
        "two.map",
        b"ffffffff81000000 T _text\nffffffff81000010 T\n",
    );
    expect_failure(
        &["--profile", "linux-6.1"],
        &map,
        1,
        &[&format!("{}:2:", map.display()), "three fields"],
    );
}

#[test]
fn cli_non_hex_address_fails_naming_file_and_line() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "nonhex.map",
        b"ffffffff81000000 T _text\nffffffff8100zz10 T foo\n",
    );
    let at = format!("{}:2:", map.display());
    expect_failure(&[], &map, 1, &[&at, "malformed map line", "zz10"]);
    expect_failure(
        &["--profile", "linux-6.1"],
        &map,
        1,
        &[&at, "malformed map line", "bad address", "ffffffff8100zz10"],
    );
}

#[test]
fn cli_address_wider_than_64_bits_fails_naming_file_and_line() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "wide.map",
        b"ffffffff81000000 T _text\nffffffff81000010 T a\n1ffffffff81000020 T too_wide\n",
    );
    let at = format!("{}:3:", map.display());
    for profile in ["linux-6.12", "linux-6.1"] {
        expect_failure(
            &["--profile", profile],
            &map,
            1,
            &[&at, "malformed map line", "1ffffffff81000020", "64 bits"],
        );
    }
    // Leading zeros are not width: 17 digits with a leading 0 still fit.
    let map = write_file(dir.path(), "zeros.map", b"0ffffffff81000000 T _text\n");
    let out = run_kslink_table(args(V6_12, &["--all-symbols"], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn cli_unknown_profile_is_a_usage_error() {
    let dir = tempdir();
    let map = good_map(dir.path());
    expect_failure(
        &["--profile", "linux-5.4"],
        &map,
        2,
        &["unknown profile", "linux-5.4", "linux-6.12", "linux-6.1"],
    );
}

#[test]
fn cli_unknown_arch_is_a_usage_error() {
    let dir = tempdir();
    let map = good_map(dir.path());
    expect_failure(
        &["--arch", "vax"],
        &map,
        2,
        &["unknown arch", "vax", "x86_64", "i386"],
    );
}

#[test]
fn cli_base_relative_and_lto_clang_with_6_12_are_usage_errors() {
    let dir = tempdir();
    let map = good_map(dir.path());
    for flag in ["--base-relative", "--lto-clang"] {
        expect_failure(&[flag], &map, 2, &["--base-relative", "linux-6.12"]);
        expect_failure(
            &["--profile", "linux-6.12", "--all-symbols", flag],
            &map,
            2,
            &["linux-6.1"],
        );
    }
    // Both are fine with 6.1.
    let out = run_kslink_table(args(V6_1, &["--base-relative", "--lto-clang"], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn cli_options_of_other_versions_with_7_3_are_usage_errors() {
    let dir = tempdir();
    let map = good_map(dir.path());
    expect_failure(
        &["--profile", "linux-7.3", "--absolute-percpu"],
        &map,
        2,
        &["--absolute-percpu", "linux-7.3"],
    );
    for flag in ["--base-relative", "--lto-clang"] {
        expect_failure(
            &["--profile", "linux-7.3", flag],
            &map,
            2,
            &["--base-relative", "linux-7.3"],
        );
    }
    for profile in ["linux-6.12", "linux-6.1"] {
        expect_failure(
            &["--profile", profile, "--pc-relative"],
            &map,
            2,
            &["--pc-relative", "linux-7.3", profile],
        );
    }
    // The usage error comes before the input is read.
    expect_failure(
        &["--profile", "linux-7.3", "--absolute-percpu"],
        &dir.path().join("missing.map"),
        2,
        &["--absolute-percpu"],
    );
    let out = run_kslink_table(args(V7_3, &["--all-symbols", "--pc-relative"], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// A symbol more than 2 GiB from `_text` cannot be a place-relative entry: upstream fails,
/// and so does kslink, naming the symbol; without `--pc-relative` it is stored truncated.
#[test]
fn cli_place_relative_overflow_fails() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "overflow.map",
        case_map("overflow_rel_span_4g").as_bytes(),
    );
    let up = run_upstream(V7_3, &["--pc-relative"], &map);
    assert!(
        !up.success() && up.stderr.contains("relative symbol value"),
        "{}",
        up.stderr
    );
    expect_failure(
        &["--profile", "linux-7.3", "--pc-relative"],
        &map,
        1,
        &["relative symbol", "out of range", "_text", "overflow.map"],
    );
    let out = run_kslink_table(args(V7_3, &[], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// A SymbolSet artifact of the skeleton map, as bytes.
fn symbol_set_bytes() -> Vec<u8> {
    artifact::encode(&symbol_set(&case_map("skeleton"), AddrWidth::Bits64))
}

#[test]
fn cli_corrupt_artifact_fails() {
    let dir = tempdir();
    let mut bytes = symbol_set_bytes();
    assert!(bytes.len() > HEADER_LEN + 20);
    bytes[HEADER_LEN + 17] ^= 0x40;
    let input = write_file(dir.path(), "corrupt.symbols", &bytes);
    expect_failure(
        &[],
        &input,
        1,
        &[&input.display().to_string(), "corrupt artifact"],
    );
    // The same file unflipped is fine.
    let good = write_file(dir.path(), "good.symbols", &symbol_set_bytes());
    let out = run_kslink_table(args(V6_12, &[], &[], &good));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn cli_wrong_kind_artifact_fails() {
    let dir = tempdir();
    let map = good_map(dir.path());
    let table = dir.path().join("table.bin");
    let out = run_kslink_table(args(V6_12, &[], &[Path::new("-o"), &table], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let _: KallsymsTable = artifact::read(&table).expect("a KallsymsTable artifact");
    expect_failure(
        &[],
        &table,
        1,
        &[&table.display().to_string(), "KallsymsTable", "SymbolSet"],
    );
}

#[test]
fn cli_truncated_artifact_fails() {
    let dir = tempdir();
    let bytes = symbol_set_bytes();
    let input = write_file(dir.path(), "short.symbols", &bytes[..bytes.len() - 7]);
    expect_failure(
        &[],
        &input,
        1,
        &[&input.display().to_string(), "truncated artifact"],
    );
    // Cut inside the header.
    let input = write_file(dir.path(), "header.symbols", &bytes[..HEADER_LEN - 10]);
    expect_failure(
        &[],
        &input,
        1,
        &[&input.display().to_string(), "truncated artifact"],
    );
}

#[test]
fn cli_missing_or_unreadable_input_fails() {
    let dir = tempdir();
    let missing = dir.path().join("no-such.map");
    expect_failure(
        &[],
        &missing,
        1,
        &[&missing.display().to_string(), "No such file"],
    );
    // A directory opens but cannot be read (root can read any file, so this stands in for
    // an unreadable one).
    let sub = dir.path().join("a-directory");
    fs::create_dir(&sub).unwrap();
    expect_failure(&[], &sub, 1, &[&sub.display().to_string(), "directory"]);
}

#[test]
fn cli_relative_overflow_fails() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "overflow.map",
        case_map("overflow_rel_span_4g").as_bytes(),
    );
    let up = run_upstream(V6_12, &[], &map);
    assert!(!up.success() && up.stderr.contains("out of range in relative mode"));
    expect_failure(
        &[],
        &map,
        1,
        &[
            "out of range in relative mode",
            "too_far",
            "0xffffffff00000000",
        ],
    );
    expect_failure(
        &["--profile", "linux-6.1", "--base-relative"],
        &map,
        1,
        &["out of range in relative mode", "too_far"],
    );
    // 6.1 without --base-relative stores addresses: no overflow.
    let out = run_kslink_table(args(V6_1, &[], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn cli_no_valid_symbol_fails_for_6_1() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "only_ignored.map",
        case_map("only_ignored").as_bytes(),
    );
    expect_failure(
        &["--profile", "linux-6.1", "--all-symbols"],
        &map,
        1,
        &["no valid symbol"],
    );
    // 6.12 writes an empty table.
    let out = run_kslink_table(args(V6_12, &[], &[], &map));
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// Errors found after the input was read (an overflow, an empty table) still name the input
/// file, as every other input error does.
#[test]
fn cli_errors_after_reading_name_the_input_file() {
    let dir = tempdir();
    let map = write_file(
        dir.path(),
        "overflow.map",
        case_map("overflow_rel_span_4g").as_bytes(),
    );
    expect_failure(&[], &map, 1, &[&map.display().to_string(), "out of range"]);
    let map = write_file(
        dir.path(),
        "only_ignored.map",
        case_map("only_ignored").as_bytes(),
    );
    expect_failure(
        &["--profile", "linux-6.1"],
        &map,
        1,
        &[&map.display().to_string(), "no valid symbol"],
    );
}

#[test]
fn cli_unwritable_output_fails_naming_it() {
    let dir = tempdir();
    let map = good_map(dir.path());
    let missing_dir = dir.path().join("no-such-dir");
    for opt in ["-o", "--emit-asm", "--emit-object", "--emit-raw"] {
        let target = missing_dir.join("out");
        let out = run_kslink_table([Path::new(opt), &target, &map]);
        check_failure(&out, 1, &[&target.display().to_string()], opt);
        assert!(!missing_dir.exists());
    }
}

/// An error message names each path once (`-o` into a missing directory printed
/// `PATH: PATH: No such file or directory`).
#[test]
fn cli_output_error_names_the_path_once() {
    let dir = tempdir();
    let map = good_map(dir.path());
    let target = dir.path().join("no-such-dir").join("table.bin");
    let out = run_kslink_table([Path::new("-o"), &target, &map]);
    let stderr = stderr_of(&out);
    check_failure(&out, 1, &[&target.display().to_string()], "-o");
    assert_eq!(
        stderr.matches(&target.display().to_string()).count(),
        1,
        "{stderr}"
    );
}

/// When the destination of an output is a directory, the run fails and leaves nothing
/// behind: not even the temporary file that was to be renamed into place.
#[test]
fn cli_output_onto_a_directory_leaves_no_temporary_file() {
    let dir = tempdir();
    let map = good_map(dir.path());
    let out_dir = tempdir();
    let target = out_dir.path().join("is-a-directory");
    fs::create_dir(&target).unwrap();
    for opt in ["-o", "--emit-asm", "--emit-object", "--emit-raw"] {
        let out = run_kslink_table([Path::new(opt), &target, &map]);
        check_failure(&out, 1, &[&target.display().to_string()], opt);
        let left: Vec<String> = dir_contents(out_dir.path()).into_keys().collect();
        assert_eq!(left, ["is-a-directory"], "{opt}: left behind");
    }
}

/// A run that fails leaves no output behind, also when the failure comes from a later
/// output after an earlier one was written.
#[test]
fn cli_failed_run_leaves_no_earlier_output_behind() {
    let dir = tempdir();
    let map = good_map(dir.path());
    let out_dir = tempdir();
    let s = out_dir.path().join("table.S");
    let o = out_dir.path().join("no-such-dir").join("table.o");
    let out = run_kslink_table([
        Path::new("--emit-asm"),
        &s,
        Path::new("--emit-object"),
        &o,
        &map,
    ]);
    check_failure(
        &out,
        1,
        &[&o.display().to_string()],
        "--emit-asm ok, --emit-object fails",
    );
    assert!(
        !s.exists(),
        "{} was left behind by a failed run",
        s.display()
    );
}

/// A SymbolSet name with a NUL byte: the text map that the set prints is read up to the NUL
/// (as upstream does); the set itself must give the same table, or be refused, but must not
/// put a NUL inside a name (the kernel reads tokens as NUL-terminated strings).
#[test]
fn symbol_set_name_with_nul_matches_the_text_map_or_is_rejected() {
    let dir = tempdir();
    let mut set = symbol_set(&case_map("skeleton"), AddrWidth::Bits64);
    set.symbols.push(Symbol {
        address: 0xffff_ffff_8100_1000,
        type_letter: b't',
        name: b"foo\0bar".to_vec(),
        section: None,
        source: None,
        text: None,
    });
    let mut map = Vec::new();
    set.write_map(&mut map).unwrap();
    let text = write_file(dir.path(), "nul.map", &map);
    let art = dir.path().join("nul.symbols");
    artifact::write(&art, &set).unwrap();
    for (version, flags) in [
        (V6_12, &["--all-symbols"][..]),
        (V6_1, &["--all-symbols"][..]),
    ] {
        let from_set = run_kslink_table(args(version, flags, &[], &art));
        if !from_set.status.success() {
            check_failure(&from_set, 1, &[&art.display().to_string()], "NUL in a name");
            continue;
        }
        let up = run_upstream(version, flags, &text);
        let what = format!("{version} {flags:?} SymbolSet with a NUL in a name");
        assert_same_asm(up.expect_success(&what), &from_set.stdout, &what);
    }
}

/// Inputs of the wrong kind are named by what they are, a final table built with other
/// options than its `--tokens-from` table is refused (it would fit, and decode wrongly), an
/// artifact cut short is truncated, and an empty map is warned about.
#[test]
fn cli_says_what_a_wrong_input_is() {
    let dir = tempdir();
    let map = write_file(dir.path(), "System.map", debian_map());
    let first = dir.path().join("first.table");
    let out = run_kslink_table(args(
        V6_12,
        &["--all-symbols", "--absolute-percpu"],
        &[Path::new("-o"), &first],
        &map,
    ));
    assert!(out.status.success(), "{}", stderr_of(&out));

    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(64, 0);
    let elf = write_file(dir.path(), "vmlinux", &elf);
    expect_failure(
        &[],
        &elf,
        1,
        &["an ELF file, not a symbol list", "kslink-collect --linked"],
    );

    let first_arg = first.display().to_string();
    expect_failure(
        &["--absolute-percpu", "--tokens-from", &first_arg],
        &map,
        2,
        &["it was built with --all-symbols", "the same options"],
    );
    expect_failure(
        &[
            "--profile",
            "linux-7.3",
            "--all-symbols",
            "--tokens-from",
            &first_arg,
        ],
        &map,
        2,
        &["it was built for --profile linux-6.12"],
    );

    let cut = dir.path().join("cut.table");
    fs::write(&cut, &fs::read(&first).unwrap()[..8]).unwrap();
    expect_failure(
        &["--tokens-from", &cut.display().to_string()],
        &map,
        1,
        &["truncated artifact: 8 bytes of 56"],
    );

    let empty = write_file(dir.path(), "empty.map", b"");
    let out = run_kslink_table(args(V6_12, &[], &[], &empty));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("no symbols to keep: the table is empty"),
        "{}",
        stderr_of(&out)
    );
}
