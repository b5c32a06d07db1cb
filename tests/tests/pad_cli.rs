//! The `kslink-pad` binary: the frame it makes from a table (rooms, offsets, slack only where
//! sizes depend on the symbols), `--at-least` raising rooms as the driver does after a
//! misfit, and how it fails on bad input (exit status 1, one line, no output left behind).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use kslink_schema::{artifact, ArrayKind, KallsymsTable, PadSpec};
use kslink_tests::gen::Percpu;
use kslink_tests::{bin_path, random_map, AddrWidth, GenOptions};

fn run_kslink_pad<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let bin = bin_path("kslink-pad");
    Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// `kslink-pad -o OUT ARGS...`, which must succeed silently; the frame it wrote.
fn pad(args: &[&Path], out: &Path) -> PadSpec {
    let mut all: Vec<&Path> = vec![Path::new("-o"), out];
    all.extend(args);
    let run = run_kslink_pad(&all);
    assert!(
        run.status.success() && run.stderr.is_empty() && run.stdout.is_empty(),
        "kslink-pad {all:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    artifact::read(out).unwrap()
}

/// The table artifact kslink-table makes of a generated map: `--profile`, `--arch` and
/// flags in `args`.
fn table(dir: &Path, name: &str, args: &[&str], map: &str) -> (PathBuf, KallsymsTable) {
    let map_path = write_file(dir, &format!("{name}.map"), map.as_bytes());
    let path = dir.join(format!("{name}.tbl"));
    let mut all: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    all.extend(["-o".into(), path.clone(), map_path]);
    let out = run_kslink_table(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = artifact::read(&path).unwrap();
    (path, table)
}

fn map(seed: u64, symbols: usize, width: AddrWidth) -> String {
    random_map(
        seed,
        GenOptions {
            width,
            symbols,
            percpu: Percpu::Absent,
            ..GenOptions::default()
        },
    )
}

/// Tables of every profile, both widths and byte orders, 6.1 with addresses and offsets,
/// 7.3 with place-relative offsets (4-byte alignment on a 64-bit target) and addresses.
fn tables(dir: &Path) -> Vec<(PathBuf, KallsymsTable)> {
    let big = map(1, 3000, AddrWidth::Bits64);
    let small = map(2, 700, AddrWidth::Bits32);
    vec![
        table(dir, "6.12-x86_64", &["--all-symbols"], &big),
        table(
            dir,
            "6.1-i386",
            &[
                "--profile",
                "linux-6.1",
                "--arch",
                "i386",
                "--all-symbols",
                "--base-relative",
            ],
            &small,
        ),
        table(
            dir,
            "6.1-ppc",
            &["--profile", "linux-6.1", "--arch", "ppc", "--all-symbols"],
            &small,
        ),
        table(
            dir,
            "7.3-x86_64",
            &[
                "--profile",
                "linux-7.3",
                "--arch",
                "x86_64",
                "--all-symbols",
                "--pc-relative",
            ],
            &big,
        ),
        table(
            dir,
            "7.3-armeb",
            &["--profile", "linux-7.3", "--arch", "armeb", "--all-symbols"],
            &small,
        ),
    ]
}

/// Offsets laid out by hand: each array at the end of the previous room, aligned to
/// `align` (the pointer size in 6.x, 4 in 7.x).
fn expected_offsets(rooms: &[(ArrayKind, u64)], align: u64) -> (Vec<u64>, u64) {
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for &(_, room) in rooms {
        at = at.next_multiple_of(align);
        offsets.push(at);
        at += room;
    }
    (offsets, at)
}

#[test]
fn without_slack_the_frame_is_the_tables_own_layout() {
    let dir = tempdir();
    for (path, table) in tables(dir.path()) {
        let frame = pad(&[&path], &path.with_extension("pad"));
        assert_eq!(frame.profile, table.profile);
        assert_eq!(frame.layout, table.layout);
        assert_eq!(frame.arrays, table.arrays, "{}", path.display());
        assert_eq!(frame.size, table.data.len() as u64);
        assert_eq!(frame.num_syms, table.num_syms);
        assert_eq!(frame.slack_per_mille, 0);
    }
}

#[test]
fn slack_goes_to_the_arrays_whose_size_depends_on_the_symbols() {
    let dir = tempdir();
    for (path, table) in tables(dir.path()) {
        let out = path.with_extension("pad");
        let slack = Path::new("125");
        let frame = pad(&[Path::new("--slack-per-mille"), slack, &path], &out);
        let mut rooms = Vec::new();
        for (room, array) in frame.arrays.iter().zip(&table.arrays) {
            let expected = match array.kind {
                ArrayKind::NumSyms | ArrayKind::TokenIndex | ArrayKind::RelativeBase => array.size,
                _ => array.size + (array.size * 125).div_ceil(1000),
            };
            assert_eq!(
                (room.kind, room.size),
                (array.kind, expected),
                "{}",
                path.display()
            );
            rooms.push((room.kind, room.size));
        }
        let align = if table.profile == "linux-7.3" {
            4
        } else {
            table.layout.pointer_bytes.into()
        };
        let (offsets, size) = expected_offsets(&rooms, align);
        let found: Vec<u64> = frame.arrays.iter().map(|a| a.offset).collect();
        assert_eq!(found, offsets, "{}", path.display());
        if table.profile == "linux-7.3" && table.layout.pointer_bytes == 8 {
            assert!(
                found.iter().any(|offset| offset % 8 == 4),
                "{}: some array only 4-aligned",
                path.display()
            );
        }
        assert_eq!(frame.size, size);
        assert_eq!(frame.slack_per_mille, 125);
        assert!(frame.size > table.data.len() as u64);
    }
}

/// The driver's relink: the final table did not fit the first table's frame; the frame
/// raised to the final table's sizes holds it, and so does the next build's.
#[test]
fn at_least_raises_each_room_to_the_largest_size() {
    let dir = tempdir();
    let text = map(3, 2500, AddrWidth::Bits64);
    let fewer: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 7 != 3)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let flags = ["--all-symbols"];
    let (first_path, first) = table(dir.path(), "first", &flags, &fewer);
    let (final_path, last) = table(dir.path(), "final", &flags, &text);
    let max_rooms: Vec<(ArrayKind, u64)> = first
        .arrays
        .iter()
        .zip(&last.arrays)
        .map(|(a, b)| (a.kind, a.size.max(b.size)))
        .collect();
    assert!(max_rooms
        .iter()
        .zip(&first.arrays)
        .any(|(room, array)| room.1 > array.size));

    let raised_path = dir.path().join("raised.pad");
    let at_least = Path::new("--at-least");
    let raised = pad(&[at_least, &final_path, &first_path], &raised_path);
    assert_eq!(raised.rooms(), max_rooms);
    let (offsets, size) = expected_offsets(&max_rooms, 8);
    assert_eq!(
        raised.arrays.iter().map(|a| a.offset).collect::<Vec<_>>(),
        offsets
    );
    assert_eq!(raised.size, size);
    assert_eq!(raised.num_syms, first.num_syms);

    // The final table fits the raised frame but not the first table's own.
    let own_path = dir.path().join("own.pad");
    pad(&[&first_path], &own_path);
    let final_map = dir.path().join("final.map");
    for (frame, fits) in [(&own_path, false), (&raised_path, true)] {
        let out = run_kslink_table([
            Path::new("--all-symbols"),
            Path::new("--frame"),
            frame,
            Path::new("-o"),
            &dir.path().join("framed.tbl"),
            &final_map,
        ]);
        let code = if fits { 0 } else { 3 };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A frame as a floor counts its rooms; several floors, the largest of all; a smaller
    // floor lowers nothing.
    let slack_path = dir.path().join("slack.pad");
    let slack = pad(
        &[Path::new("--slack-per-mille"), Path::new("40"), &first_path],
        &slack_path,
    );
    let both = pad(
        &[at_least, &slack_path, at_least, &final_path, &first_path],
        &dir.path().join("both.pad"),
    );
    let expected: Vec<(ArrayKind, u64)> = max_rooms
        .iter()
        .zip(&slack.arrays)
        .map(|(&(kind, room), floor)| (kind, room.max(floor.size)))
        .collect();
    assert_eq!(both.rooms(), expected);
    assert_eq!(both.slack_per_mille, 0);
    let from_frame = pad(
        &[at_least, &raised_path, &first_path],
        &dir.path().join("from-frame.pad"),
    );
    assert_eq!(from_frame, raised);
    let lowered = pad(
        &[at_least, &first_path, &final_path],
        &dir.path().join("lowered.pad"),
    );
    assert_eq!(lowered.rooms(), max_rooms);
}

/// Runs `kslink-pad -o OUT ARGS...` twice, with OUT fresh and with OUT holding a file; both
/// must fail with status 1 and one line containing every needle, and leave the directory
/// as it was.
fn expect_pad_failure(args: &[&Path], needles: &[&str]) {
    let what = format!("kslink-pad {args:?}");
    let out_dir = tempdir();
    let output = out_dir.path().join("frame.pad");
    let mut all: Vec<&Path> = vec![Path::new("-o"), &output];
    all.extend(args);

    let out = run_kslink_pad(&all);
    check_one_line_error(&out, "kslink-pad", 1, needles, &format!("{what} (fresh)"));
    let left: Vec<String> = dir_contents(out_dir.path()).into_keys().collect();
    assert!(left.is_empty(), "{what}: left behind {left:?}");

    fs::write(&output, SENTINEL).unwrap();
    let out = run_kslink_pad(&all);
    check_one_line_error(
        &out,
        "kslink-pad",
        1,
        needles,
        &format!("{what} (existing)"),
    );
    assert_eq!(
        dir_contents(out_dir.path()),
        [("frame.pad".to_string(), SENTINEL.to_vec())].into(),
        "{what}: the existing output changed"
    );
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let dir = tempdir();
    let tables = tables(dir.path());
    let (x86_64, i386) = (&tables[0].0, &tables[1].0);
    let (i386_addresses, _) = table(
        dir.path(),
        "6.1-i386-addresses",
        &["--profile", "linux-6.1", "--arch", "i386", "--all-symbols"],
        &map(2, 700, AddrWidth::Bits32),
    );
    let (_, v6_1_x86_64) = table(
        dir.path(),
        "6.1-x86_64",
        &["--profile", "linux-6.1", "--all-symbols"],
        &map(4, 100, AddrWidth::Bits64),
    );
    let v6_1_path = dir.path().join("6.1-x86_64.tbl");
    let (_, i386_6_12) = table(
        dir.path(),
        "6.12-i386",
        &["--arch", "i386", "--all-symbols"],
        &map(5, 100, AddrWidth::Bits32),
    );
    let i386_6_12_path = dir.path().join("6.12-i386.tbl");
    assert_eq!(v6_1_x86_64.profile, "linux-6.1");
    assert_eq!(i386_6_12.layout.pointer_bytes, 4);

    let symbols = dir.path().join("map.symbols");
    artifact::write(
        &symbols,
        &symbol_set(&map(6, 10, AddrWidth::Bits64), AddrWidth::Bits64),
    )
    .unwrap();
    let frame = dir.path().join("x86_64.pad");
    pad(&[x86_64], &frame);
    let mut inconsistent: PadSpec = artifact::read(&frame).unwrap();
    inconsistent.size += 1;
    let inconsistent_path = dir.path().join("inconsistent.pad");
    artifact::write(&inconsistent_path, &inconsistent).unwrap();
    let mut corrupt = fs::read(x86_64).unwrap();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x40;
    let corrupt = write_file(dir.path(), "corrupt.tbl", &corrupt);
    let mut truncated = fs::read(x86_64).unwrap();
    truncated.truncate(truncated.len() - 10);
    let truncated = write_file(dir.path(), "truncated.tbl", &truncated);
    let text = write_file(dir.path(), "System.map", b"ffffffff81000000 T _text\n");
    let missing = dir.path().join("missing.tbl");

    let at_least = Path::new("--at-least");
    let shown = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<&Path>, &Path, &str)> = vec![
        (
            vec![&symbols],
            &symbols,
            "holds a SymbolSet artifact, expected a KallsymsTable",
        ),
        (
            vec![&frame],
            &frame,
            "holds a PadSpec artifact, expected a KallsymsTable",
        ),
        (vec![&corrupt], &corrupt, "corrupt artifact"),
        (vec![&truncated], &truncated, "truncated artifact"),
        (vec![&text], &text, "not a kslink artifact"),
        (vec![&missing], &missing, "No such file"),
        (
            vec![at_least, &symbols, x86_64],
            &symbols,
            "holds a SymbolSet artifact, expected a PadSpec or a KallsymsTable",
        ),
        (
            vec![at_least, &text, x86_64],
            &text,
            "not a kslink artifact",
        ),
        (
            vec![at_least, &corrupt, x86_64],
            &corrupt,
            "corrupt artifact",
        ),
        (vec![at_least, &missing, x86_64], &missing, "No such file"),
        (
            vec![at_least, &v6_1_path, x86_64],
            &v6_1_path,
            "sizes of a linux-6.1 table cannot raise the frame of",
        ),
        (
            vec![at_least, &i386_6_12_path, x86_64],
            &i386_6_12_path,
            "with 4-byte pointers, little-endian cannot raise the frame of",
        ),
        (
            vec![at_least, &i386_addresses, i386],
            &i386_addresses,
            "sizes of kallsyms_addresses kallsyms_num_syms",
        ),
        (
            vec![at_least, &inconsistent_path, x86_64],
            &inconsistent_path,
            "not a consistent frame: the frame is",
        ),
    ];
    for (args, culprit, needle) in cases {
        expect_pad_failure(&args, &[needle, &format!("{}: ", shown(culprit))]);
    }
}
