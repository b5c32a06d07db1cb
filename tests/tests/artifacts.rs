//! The artifact file format of `kslink_schema::artifact`: round trips, and a distinct
//! `ArtifactError` with a message that says what is wrong for every kind of bad file.

use std::fs;
use std::path::{Path, PathBuf};

use kslink_schema::artifact::{self, Lookalike, HEADER_LEN, MAGIC, SCHEMA_VERSION};
use kslink_schema::{
    ArrayKind, ArtifactError, ArtifactKind, DataLayout, KallsymsTable, Symbol, SymbolOrigin,
    SymbolSet, TableArray, TableOptions, TextReference, TextRelocation,
};
use kslink_table::{build, read_map, Arch as TableArch, LINUX_6_1, LINUX_6_12, LINUX_7_3};
use kslink_tests::gen::Percpu;
use kslink_tests::tempdir;
use kslink_tests::{random_map, GenOptions};

fn sample_set() -> SymbolSet {
    let symbol = |address, type_letter, name: &[u8], section, source| Symbol {
        address,
        type_letter,
        name: name.to_vec(),
        section,
        source,
        text: None,
    };
    SymbolSet {
        origin: SymbolOrigin::Predicted {
            script: "arch/x86/kernel/vmlinux.lds".into(),
            inputs: vec!["vmlinux.a".into(), "init/main.o".into()],
        },
        addresses_known: false,
        address_bits: 64,
        sections: vec![".text".into(), ".data..percpu".into()],
        sources: vec!["init/main.o".into()],
        symbols: vec![
            symbol(0xffff_ffff_8100_0000, b'T', b"_text", Some(0), None),
            symbol(0, b'D', b"__per_cpu_start", Some(1), Some(0)),
            symbol(u64::MAX, b'A', b"", None, None),
            // Names need not be UTF-8.
            symbol(
                0x10,
                b't',
                b"\xff\xfe not utf-8 \x00 with nul",
                Some(0),
                Some(0),
            ),
        ],
    }
}

/// A table built from a real map, with `_text` relocations (6.1 absolute addresses).
fn built_table(
    arch: &str,
    profile: &'static kslink_table::Profile,
    opts: TableOptions,
) -> KallsymsTable {
    let map = random_map(
        90,
        GenOptions {
            symbols: 400,
            percpu: Percpu::Absent,
            ..GenOptions::default()
        },
    );
    let symbols = read_map(map.as_bytes(), "map", profile).unwrap();
    let built = build(symbols, profile, opts).unwrap();
    built.to_artifact(TableArch::by_name(arch).unwrap().layout())
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn symbol_set_round_trips() {
    let dir = tempdir();
    let set = sample_set();
    let path = dir.path().join("symbols");
    artifact::write(&path, &set).unwrap();
    let back: SymbolSet = artifact::read(&path).unwrap();
    assert_eq!(back, set);
    // The file is exactly what `encode` makes, and `decode` reads it too.
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes, artifact::encode(&set));
    assert_eq!(artifact::decode::<SymbolSet>(&bytes).unwrap(), set);
    // The header says what it is.
    assert_eq!(bytes[..8], MAGIC);
    assert_eq!(
        u16::from_le_bytes([bytes[8], bytes[9]]),
        ArtifactKind::SymbolSet as u16
    );
    assert_eq!(u16::from_le_bytes([bytes[10], bytes[11]]), SCHEMA_VERSION);
    assert_eq!(bytes[12..16], [0; 4]);
    let payload = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
    assert_eq!(payload as usize + HEADER_LEN, bytes.len());
    assert!(matches!(
        artifact::sniff(&bytes),
        Some(Ok(ArtifactKind::SymbolSet))
    ));
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["symbols"]);

    // An empty set, and overwriting an existing artifact.
    let empty = SymbolSet {
        origin: SymbolOrigin::Linked {
            path: "vmlinux".into(),
        },
        addresses_known: true,
        address_bits: 32,
        sections: vec![],
        sources: vec![],
        symbols: vec![],
    };
    artifact::write(&path, &empty).unwrap();
    assert_eq!(artifact::read::<SymbolSet>(&path).unwrap(), empty);
}

#[test]
fn kallsyms_table_round_trips() {
    let dir = tempdir();
    let tables = [
        built_table(
            "x86_64",
            &LINUX_6_12,
            TableOptions {
                all_symbols: true,
                absolute_percpu: true,
                ..TableOptions::default()
            },
        ),
        built_table(
            "i386",
            &LINUX_6_1,
            TableOptions {
                all_symbols: true,
                lto_clang: true,
                ..TableOptions::default()
            },
        ),
        built_table("ppc64", &LINUX_6_1, TableOptions::default()),
        built_table(
            "aarch64",
            &LINUX_7_3,
            TableOptions {
                all_symbols: true,
                pc_relative: true,
                ..TableOptions::default()
            },
        ),
        KallsymsTable {
            profile: "linux-6.12".into(),
            options: TableOptions::default(),
            layout: DataLayout {
                pointer_bytes: 4,
                big_endian: true,
            },
            num_syms: 0,
            text_address: 0,
            relative_base: 0,
            data: vec![0; 8],
            arrays: vec![TableArray {
                kind: ArrayKind::NumSyms,
                offset: 0,
                size: 4,
            }],
            text_relocations: vec![TextRelocation {
                offset: 4,
                addend: -0x1000,
                reference: TextReference::Pointer,
            }],
            tokens: vec![kslink_schema::ByteBuf::from(b"ab".to_vec()); 256],
        },
    ];
    assert!(
        !tables[1].text_relocations.is_empty(),
        "6.1 addresses: relocations"
    );
    assert!(tables[2].layout.big_endian);
    assert!(
        tables[3]
            .text_relocations
            .iter()
            .all(|r| r.reference == TextReference::PlaceRelative),
        "7.3 --pc-relative: place-relative relocations"
    );
    for (i, table) in tables.iter().enumerate() {
        let path = dir.path().join(format!("table{i}"));
        artifact::write(&path, table).unwrap();
        let back: KallsymsTable = artifact::read(&path).unwrap();
        assert_eq!(&back, table, "table {i}");
    }
}

/// A valid SymbolSet artifact's bytes.
fn good_bytes() -> Vec<u8> {
    artifact::encode(&sample_set())
}

/// Reads `bytes` from a file as a SymbolSet, expecting an error; returns it and its message.
fn read_error(bytes: &[u8]) -> (ArtifactError, String) {
    let dir = tempdir();
    let path = write_bytes(dir.path(), "artifact", bytes);
    let err = artifact::read::<SymbolSet>(&path).expect_err("reading must fail");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    // decode of the same bytes fails the same way.
    let again = artifact::decode::<SymbolSet>(bytes).expect_err("decoding must fail");
    assert_eq!(again.to_string(), msg);
    (err, msg)
}

#[test]
fn wrong_kind_is_reported_with_both_kinds() {
    let dir = tempdir();
    let table = built_table("x86_64", &LINUX_6_12, TableOptions::default());
    let path = dir.path().join("table");
    artifact::write(&path, &table).unwrap();
    let err = artifact::read::<SymbolSet>(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::WrongKind {
                expected: ArtifactKind::SymbolSet,
                found: ArtifactKind::KallsymsTable
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("KallsymsTable") && msg.contains("SymbolSet"),
        "{msg}"
    );
    // And the other way round.
    let path = write_bytes(dir.path(), "set", &good_bytes());
    let err = artifact::read::<KallsymsTable>(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::WrongKind {
                expected: ArtifactKind::KallsymsTable,
                found: ArtifactKind::SymbolSet
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_kind_is_reported() {
    let mut bytes = good_bytes();
    bytes[8..10].copy_from_slice(&77u16.to_le_bytes());
    let (err, msg) = read_error(&bytes);
    assert!(matches!(err, ArtifactError::UnknownKind(77)), "{err:?}");
    assert!(msg.contains("unknown artifact kind 77"), "{msg}");
    assert!(matches!(
        artifact::sniff(&bytes),
        Some(Err(ArtifactError::UnknownKind(77)))
    ));
}

#[test]
fn other_schema_version_is_reported() {
    for version in [0u16, SCHEMA_VERSION + 1, u16::MAX] {
        let mut bytes = good_bytes();
        bytes[10..12].copy_from_slice(&version.to_le_bytes());
        let (err, msg) = read_error(&bytes);
        assert!(
            matches!(err, ArtifactError::WrongVersion { found } if found == version),
            "{err:?}"
        );
        assert!(
            msg.contains(&format!("schema version {version}"))
                && msg.contains(&format!("reads version {SCHEMA_VERSION}")),
            "{msg}"
        );
    }
}

#[test]
fn truncated_file_is_reported() {
    let bytes = good_bytes();
    let total = bytes.len() as u64;
    for cut in [1usize, 7, bytes.len() - HEADER_LEN] {
        let short = &bytes[..bytes.len() - cut];
        let (err, msg) = read_error(short);
        assert!(
            matches!(err, ArtifactError::Truncated { expected, found }
                if expected == total && found == short.len() as u64),
            "{err:?}"
        );
        assert!(
            msg.contains("truncated artifact") && msg.contains(&total.to_string()),
            "{msg}"
        );
    }
    // Cut inside the header (after the kind): the header's own length is promised.
    let (err, msg) = read_error(&bytes[..30]);
    assert!(
        matches!(err, ArtifactError::Truncated { expected, found: 30 } if expected == HEADER_LEN as u64),
        "{err:?}"
    );
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn trailing_bytes_are_reported() {
    let mut bytes = good_bytes();
    let expected = bytes.len() as u64;
    bytes.extend_from_slice(b"tail");
    let (err, msg) = read_error(&bytes);
    assert!(
        matches!(err, ArtifactError::TrailingBytes { expected: e, found } if e == expected && found == expected + 4),
        "{err:?}"
    );
    assert!(msg.contains("4 bytes after its payload"), "{msg}");
}

#[test]
fn corrupted_payload_is_reported() {
    let good = good_bytes();
    for at in [HEADER_LEN, HEADER_LEN + 5, good.len() - 1] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x01;
        let (err, msg) = read_error(&bytes);
        assert!(matches!(err, ArtifactError::Corrupt), "byte {at}: {err:?}");
        assert!(
            msg.contains("corrupt artifact") && msg.contains("digest"),
            "{msg}"
        );
    }
    // A damaged digest is the same thing.
    let mut bytes = good.clone();
    bytes[30] ^= 0x80;
    assert!(matches!(read_error(&bytes).0, ArtifactError::Corrupt));
}

#[test]
fn payload_of_another_type_with_a_valid_digest_is_a_decode_error() {
    // A SymbolSet payload under a KallsymsTable header: digest fine, shape wrong.
    let mut bytes = good_bytes();
    bytes[8..10].copy_from_slice(&(ArtifactKind::KallsymsTable as u16).to_le_bytes());
    let err = artifact::decode::<KallsymsTable>(&bytes).unwrap_err();
    assert!(matches!(err, ArtifactError::Decode(_)), "{err:?}");
    assert!(err.to_string().contains("does not decode"), "{err}");
}

#[test]
fn non_artifacts_are_reported() {
    let map = b"ffffffff81000000 T _text\nffffffff81000010 T foo\n";
    let mut elf = vec![0x7f, b'E', b'L', b'F'];
    elf.resize(64, 0);
    for (bytes, looks, says) in [
        (&map[..], Lookalike::Text, "a text file"),
        (&elf[..], Lookalike::Elf, "an ELF file"),
        (b"", Lookalike::Empty, "an empty file"),
        (b"\x00\x01binary", Lookalike::Other, "not a kslink artifact"),
    ] {
        let (err, msg) = read_error(bytes);
        assert!(
            matches!(err, ArtifactError::NotAnArtifact(l) if l == looks),
            "{bytes:?}: {err:?}"
        );
        assert!(msg.contains(says), "{msg}");
        assert!(msg.contains("not a kslink artifact"), "{msg}");
        assert!(artifact::sniff(bytes).is_none());
    }
    // The start of an artifact, cut short: truncated, not foreign.
    for bytes in [&MAGIC[..1], &MAGIC[..7], &MAGIC[..]] {
        let (err, msg) = read_error(bytes);
        assert!(
            matches!(err, ArtifactError::Truncated { expected: 56, found } if found == bytes.len() as u64),
            "{bytes:?}: {err:?}"
        );
        assert!(msg.contains("truncated artifact"), "{msg}");
    }
}

#[test]
fn missing_file_and_unwritable_destination_are_io_errors() {
    let dir = tempdir();
    let missing = dir.path().join("nope");
    let err = artifact::read::<SymbolSet>(&missing).unwrap_err();
    assert!(
        matches!(&err, ArtifactError::Io { path, .. } if *path == missing),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&missing.display().to_string()) && msg.contains("No such file"),
        "{msg}"
    );

    let target = dir.path().join("no-such-dir").join("out");
    let err = artifact::write(&target, &sample_set()).unwrap_err();
    assert!(
        matches!(&err, ArtifactError::Io { path, .. } if *path == target),
        "{err:?}"
    );
    assert!(!dir.path().join("no-such-dir").exists());
}

/// A write that fails leaves an existing artifact as it was.
#[test]
fn failed_write_keeps_the_old_file() {
    let dir = tempdir();
    let path = dir.path().join("set");
    artifact::write(&path, &sample_set()).unwrap();
    let before = fs::read(&path).unwrap();
    // Writing into a path below a regular file fails before anything is created.
    let err = artifact::write(&path.join("child"), &sample_set()).unwrap_err();
    assert!(matches!(err, ArtifactError::Io { .. }), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["set"]);
}
