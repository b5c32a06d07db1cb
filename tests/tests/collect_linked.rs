//! `kslink-collect --linked` against the real tools: GNU nm (binutils 2.40, the target's own
//! `nm` for other architectures) and each kernel version's own `scripts/mksysmap` (Linux
//! 6.12's and 7.3's `sed` scripts, 6.1's shell script with its `grep -v`), from Debian's
//! `linux-source-*` (`--profile linux-6.12`, the default, `linux-7.3` and `linux-6.1`).
//! Every file below is checked with every version's script.
//!
//! - hand-made assembly with every kind of symbol (local, global, weak, unique, ifunc,
//!   common, absolute, TLS; object and not; in text, data, read-only, bss, init and custom
//!   sections with all sorts of flags; ties and duplicates), assembled and linked for x86-64,
//!   i386, AArch64 and Arm little and big endian, 64- and 32-bit RISC-V, as an executable, a
//!   shared object, an object and a relocatable link;
//! - the order of ties between symbols of several objects, both link orders;
//! - a large generated file (tens of thousands of symbols, many ties and duplicate names);
//! - every rule of every version on real files: names for each rule, assembled; a C
//!   program built by gcc with what `MODULE_DEVICE_TABLE()`, `MODULE_INFO()` and
//!   `EXPORT_SYMBOL()` define, linked, and stripped as 7.x's Kbuild strips
//!   `vmlinux.unstripped` into `vmlinux`; veneers and thunks made by GNU ld and ld.lld for
//!   AArch64 and Arm. Each rule of each version deletes some line no other rule of it does;
//! - mksysmap's rules against each version's script on lines that real files do not have
//!   (spaces in names);
//! - Debian's 6.12.117 vmlinux (354 MB, downloaded once into the test cache) against `nm`,
//!   `sed` and the System.map in `tests/data`, and the artifact through kslink-table;
//! - bad inputs: exit status 1, one line on stderr, no output file.
//!
//! The cross binutils (Debian `binutils-aarch64-linux-gnu`, `binutils-arm-linux-gnueabihf`,
//! `binutils-riscv64-linux-gnu`) are optional: without them those targets are skipped with a
//! note on stderr. x86-64 and i386 need `binutils`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kslink_schema::{artifact, SymbolOrigin, SymbolSet};
use kslink_system_map::mksysmap::{deleting_rule, Mksysmap};
use kslink_system_map::read_linked;
use kslink_tests::tempdir;
use kslink_tests::{apply_mksysmap, bin_path, debian_system_map, debian_vmlinux, KernelVersion};

const V6_12: KernelVersion = KernelVersion::V6_12;

/// Every version whose System.map `--linked --profile` makes.
const VERSIONS: [KernelVersion; 3] = [V6_12, KernelVersion::V6_1, KernelVersion::V7_3];

/// The profile of `version`: `linux-6.12`.
fn profile_of(version: KernelVersion) -> String {
    format!("linux-{version}")
}

/// The rules kslink-collect has for `version`.
fn mksysmap_of(version: KernelVersion) -> &'static Mksysmap {
    Mksysmap::of_profile(&profile_of(version))
        .unwrap_or_else(|| panic!("kslink-collect has no mksysmap rules for {version}"))
}

/// `program args` in `cwd`, which must succeed ([`kslink_tests::run_checked`]).
fn run(program: &str, args: &[&str], cwd: &Path) -> Output {
    kslink_tests::run_checked(Command::new(program).args(args).current_dir(cwd), program)
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn kslink_collect(args: &[&Path]) -> Output {
    Command::new(bin_path("kslink-collect"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kslink-collect")
}

/// The first line where two texts differ, for a message.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let e: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let a: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    for i in 0..e.len().max(a.len()) {
        let el = e.get(i).copied();
        let al = a.get(i).copied();
        if el != al {
            let show = |l: Option<&[u8]>| match l {
                Some(l) => format!("{:?}", String::from_utf8_lossy(l)),
                None => "(end)".into(),
            };
            return format!(
                "line {}: expected {}, got {} ({} vs {} lines)",
                i + 1,
                show(el),
                show(al),
                e.len(),
                a.len()
            );
        }
    }
    "no difference".into()
}

#[track_caller]
fn assert_same(expected: &[u8], actual: &[u8], what: &str) {
    if expected != actual {
        panic!("{what}: {}", first_difference(expected, actual));
    }
}

// ---------------------------------------------------------------------------------------
// Targets and the hand-made source
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Target {
    name: &'static str,
    assembler: &'static str,
    as_flags: &'static [&'static str],
    linker: &'static str,
    ld_flags: &'static [&'static str],
    /// The target's own nm: what Kbuild's `$(NM)` is.
    nm: &'static str,
    /// The prefix of `.type` and section type names (`@` or `%`).
    type_prefix: char,
    /// The directive for a pointer-sized word.
    word: &'static str,
    /// Optional cross tools: skip the target when they are missing.
    optional: bool,
}

const TARGETS: &[Target] = &[
    Target {
        name: "x86_64",
        assembler: "as",
        as_flags: &["--64"],
        linker: "ld",
        ld_flags: &["-m", "elf_x86_64"],
        nm: "nm",
        type_prefix: '@',
        word: ".quad",
        optional: false,
    },
    Target {
        name: "i386",
        assembler: "as",
        as_flags: &["--32"],
        linker: "ld",
        ld_flags: &["-m", "elf_i386"],
        nm: "nm",
        type_prefix: '@',
        word: ".long",
        optional: false,
    },
    Target {
        name: "aarch64",
        assembler: "aarch64-linux-gnu-as",
        as_flags: &[],
        linker: "aarch64-linux-gnu-ld",
        ld_flags: &[],
        nm: "aarch64-linux-gnu-nm",
        type_prefix: '%',
        word: ".quad",
        optional: true,
    },
    Target {
        name: "aarch64_be",
        assembler: "aarch64-linux-gnu-as",
        as_flags: &["-EB"],
        linker: "aarch64-linux-gnu-ld",
        ld_flags: &["-EB"],
        nm: "aarch64-linux-gnu-nm",
        type_prefix: '%',
        word: ".quad",
        optional: true,
    },
    Target {
        name: "arm",
        assembler: "arm-linux-gnueabihf-as",
        as_flags: &[],
        linker: "arm-linux-gnueabihf-ld",
        ld_flags: &[],
        nm: "arm-linux-gnueabihf-nm",
        type_prefix: '%',
        word: ".long",
        optional: true,
    },
    Target {
        name: "armeb",
        assembler: "arm-linux-gnueabihf-as",
        as_flags: &["-EB"],
        linker: "arm-linux-gnueabihf-ld",
        ld_flags: &["-EB"],
        nm: "arm-linux-gnueabihf-nm",
        type_prefix: '%',
        word: ".long",
        optional: true,
    },
    Target {
        name: "riscv32",
        assembler: "riscv64-linux-gnu-as",
        as_flags: &["-march=rv32imac", "-mabi=ilp32"],
        linker: "riscv64-linux-gnu-ld",
        ld_flags: &["-m", "elf32lriscv"],
        nm: "riscv64-linux-gnu-nm",
        type_prefix: '%',
        word: ".long",
        optional: true,
    },
    Target {
        name: "riscv64",
        assembler: "riscv64-linux-gnu-as",
        as_flags: &[],
        linker: "riscv64-linux-gnu-ld",
        ld_flags: &[],
        nm: "riscv64-linux-gnu-nm",
        type_prefix: '%',
        word: ".quad",
        optional: true,
    },
];

impl Target {
    fn available(&self) -> bool {
        let ok = have(self.assembler) && have(self.linker) && have(self.nm);
        if !ok {
            if self.optional {
                kslink_tests::skip_for_missing_tool(
                    self.name,
                    &format!("{} / {} / {}", self.assembler, self.linker, self.nm),
                    "binutils for the target",
                );
            } else {
                panic!(
                    "{} / {} / {} not found: install binutils",
                    self.assembler, self.linker, self.nm
                );
            }
        }
        ok
    }

    fn assemble(&self, dir: &Path, source: &str, stem: &str) -> PathBuf {
        let s = dir.join(format!("{stem}.s"));
        fs::write(&s, source).unwrap();
        let o = format!("{stem}.o");
        // -L keeps .L labels, so that mksysmap's `.L` rule meets some.
        let mut args: Vec<&str> = self.as_flags.to_vec();
        args.extend(["-L", "-o", &o, s.to_str().unwrap()]);
        run(self.assembler, &args, dir);
        dir.join(o)
    }

    fn link(&self, dir: &Path, out: &str, extra: &[&str], inputs: &[&Path]) -> PathBuf {
        let mut args: Vec<&str> = self.ld_flags.to_vec();
        args.extend(["--discard-none", "-o", out]);
        args.extend(extra);
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        run(self.linker, &args, dir);
        dir.join(out)
    }

    /// The hand-made object linked as an executable: undefined `undef_g` stays undefined.
    fn link_exe(&self, dir: &Path, out: &str, object: &Path) -> PathBuf {
        self.link(
            dir,
            out,
            &["-e", "_start", "--unresolved-symbols=ignore-all"],
            &[object],
        )
    }

    fn nm_n(&self, file: &Path) -> Vec<u8> {
        run(self.nm, &["-n", file.to_str().unwrap()], Path::new(".")).stdout
    }

    /// The target's binutils or gcc program `name`: `aarch64-linux-gnu-objcopy`.
    fn tool(&self, name: &str) -> String {
        let prefix = self
            .assembler
            .strip_suffix("as")
            .expect("an assembler ends in as");
        format!("{prefix}{name}")
    }
}

/// Every kind of symbol, in gas syntax that all the targets accept. `{T}` is the `.type`
/// and section-type prefix, `{WORD}` a pointer-sized data directive.
const KINDS: &str = r#"
	.text
	.globl _start
	.type _start,{T}function
_start:
	nop
	.globl gfunc
	.type gfunc,{T}function
gfunc:
lfunc:
	.weak wfunc
	.type wfunc,{T}function
wfunc:
	.weak wobj_in_text
	.type wobj_in_text,{T}object
wobj_in_text:
	.globl ifn
	.type ifn,{T}gnu_indirect_function
ifn:
	.type lifn,{T}gnu_indirect_function
lifn:
	.weak wifn
	.type wifn,{T}gnu_indirect_function
wifn:
	nop
zeta:
alpha:
	.globl Beta
Beta:
_under:
	.globl __dunder
__dunder:
Alpha:
	.globl alpha2
alpha2:
"alpha 2":
	nop
"$dollar": nop
"$x.foo": nop
"$d.bar": nop
"$m": nop
"$p.q": nop
"$f": nop
"$b": nop
"$a.z": nop
"$t": nop
"$xx": nop
"$": nop
"$B": nop
".Lkeep": nop
"..dots": nop
"_.L_x": nop
"_.L": nop
"": nop
"L0": nop
"L01": nop
"__kstrtab_foo": nop
"__kstrtabns_foo": nop
"__efistub_start": nop
"__pi_$x": nop
"__kvm_nvhe_.Lfoo": nop
"__AArch64ADRPThunk_foo": nop
"__ThumbV7PILongThunk_bar": nop
"__a_Thunk_keep": nop
"__kcfi_typeid_foo": nop
"foo_veneer": nop
"foo_from_arm": nop
"foo_from_thumb": nop
"foo_veneer_keep": nop
"_SDA_BASE_": nop
"x.long_branch.y": nop
"x.plt_branch.y": nop
"x.long_branch": nop
	.globl __crc_foo
	.set __crc_foo, 0x12345678
	.globl abs_g
	.set abs_g, 0x1234
	.set abs_l, 0x5678
	.weak abs_w
	.set abs_w, 0x9
	.set abs_tie, 0x1234
	.data
	.globl gdata
	.type gdata,{T}object
gdata: .long 1
ldata: .long 2
	.globl uniq
	.type uniq,{T}gnu_unique_object
uniq: .long 3
	.weak wdata
	.type wdata,{T}object
wdata: .long 4
	.weak wnotype
wnotype: .long 5
	{WORD} undef_w
	{WORD} undef_wo
	{WORD} undef_g
	.section .rodata,"a"
	.globl grodata
grodata: .long 1
lrodata: .long 1
	.bss
	.globl gbss
gbss: .zero 8
lbss: .zero 8
	.comm gcommon,16,8
	.lcomm lcommon,16
	.section .init.text,"ax",{T}progbits
	.globl init_fn
init_fn: nop
linit: nop
	.section .custom_ro,"a",{T}progbits
cro: .byte 1
	.globl gcro
gcro: .byte 1
	.section .custom_rw,"aw",{T}progbits
crw: .byte 1
	.section .custom_nobits_ro,"a",{T}nobits
cnb: .zero 4
	.section .custom_nobits_rw,"aw",{T}nobits
cnbw: .zero 4
	.section .custom_wx,"awx",{T}progbits
cxw: .long 0
	.section .nonalloc,"",{T}progbits
nonalloc_sym: .byte 1
	.section .nonalloc_w,"w",{T}progbits
naw: .byte 1
	.globl gnaw
gnaw: .byte 1
	.section .nonalloc_x,"x",{T}progbits
nax: .byte 1
	.section .nonalloc_nobits,"",{T}nobits
nan_sym: .zero 4
	.section .note.custom,"",{T}note
note_sym: .zero 4
	.section .debug_foo,"",{T}progbits
dbg_sym: .byte 1
	.section .debug_alloc,"a",{T}progbits
dalloc: .byte 1
	.section .gnu.debuglto_.debug_x,"",{T}progbits
dl_sym: .byte 1
	.section .line,"",{T}progbits
line_sym: .byte 1
	.section .gdb_index,"",{T}progbits
gi_sym: .byte 1
	.section .zdebug_x,"",{T}progbits
zd_sym: .byte 1
	.section .gnu.linkonce.wi.x,"",{T}progbits
wi_sym: .byte 1
	.section .idata$5,"a"
idata_sym: .byte 1
	.section .idatax,"a"
idatax_sym: .byte 1
	.section .edata,"aw"
edata_sym: .byte 1
	.section .pdata2,"a"
pdata_sym: .byte 1
	.section .drectve.x,"a"
drectve_sym: .byte 1
	.section .tdata,"awT",{T}progbits
	.globl tls_g
	.type tls_g,{T}tls_object
tls_g: .long 1
	.weak tls_w
	.type tls_w,{T}tls_object
tls_w: .long 1
	.section .tbss,"awT",{T}nobits
tls_l: .zero 4
	.weak undef_w
	.weak undef_wo
	.type undef_wo,{T}object
	.globl undef_g
"#;

/// Extras only some assemblers take.
fn extras(target: &Target) -> &'static str {
    match target.name {
        "x86_64" => "\t.largecomm lcommon_large, 32, 8\n",
        "arm" | "armeb" => concat!(
            "\t.syntax unified\n\t.text\n\t.thumb\n\t.globl thumb_fn\n\t.type thumb_fn,%function\n",
            "\t.thumb_func\nthumb_fn: nop\n\t.type thumb_obj,%object\nthumb_obj: nop\n",
            "\t.type lthumb_fn,%function\n\t.thumb_func\nlthumb_fn: nop\n\t.arm\n",
            "\t.data\n\t.long thumb_fn\n",
        ),
        _ => "",
    }
}

fn kinds_source(target: &Target) -> String {
    let mut source = KINDS
        .replace("{T}", &target.type_prefix.to_string())
        .replace("{WORD}", target.word);
    source.push_str(extras(target));
    source
}

/// What kslink-collect writes for `file`: (`--emit-nm`, `--emit-map`, `-o` artifact).
fn collect_outputs(file: &Path, dir: &Path) -> (Vec<u8>, Vec<u8>, SymbolSet) {
    let nm = dir.join("out.nm");
    let map = dir.join("out.map");
    let set = dir.join("out.symbols");
    let out = kslink_collect(&[
        Path::new("--linked"),
        file,
        Path::new("--emit-nm"),
        &nm,
        Path::new("--emit-map"),
        &map,
        Path::new("-o"),
        &set,
    ]);
    assert!(
        out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
        "kslink-collect --linked {}: {}\n{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result = (
        fs::read(&nm).unwrap(),
        fs::read(&map).unwrap(),
        artifact::read(&set).unwrap(),
    );
    for f in [nm, map, set] {
        fs::remove_file(f).unwrap();
    }
    result
}

/// Checks `--linked FILE --profile P` for every version against that version's own
/// mksysmap run on `nm` (the listing of `file`): the map and the artifact. Returns each
/// version's map, in the order of [`VERSIONS`].
fn check_versions(file: &Path, nm: &[u8], dir: &Path, what: &str) -> Vec<Vec<u8>> {
    VERSIONS
        .iter()
        .map(|&version| {
            let expected = apply_mksysmap(version, nm);
            let map = dir.join("profile.map");
            let set = dir.join("profile.symbols");
            let profile = profile_of(version);
            let out = kslink_collect(&[
                Path::new("--linked"),
                file,
                Path::new("--profile"),
                Path::new(&profile),
                Path::new("--emit-map"),
                &map,
                Path::new("-o"),
                &set,
            ]);
            assert!(
                out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
                "{what}: --profile {profile}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_same(
                &expected,
                &fs::read(&map).unwrap(),
                &format!("{what}: --profile {profile} against Linux {version}'s mksysmap"),
            );
            let mut written = Vec::new();
            artifact::read::<SymbolSet>(&set)
                .unwrap()
                .write_map(&mut written)
                .unwrap();
            assert_same(
                &expected,
                &written,
                &format!("{what}: --profile {profile}: the artifact"),
            );
            fs::remove_file(map).unwrap();
            fs::remove_file(set).unwrap();
            expected
        })
        .collect()
}

/// Checks kslink-collect on `file` against `nm -n` and `nm -n | sed -f mksysmap`, the
/// artifact against the map, the library against the executable, and every version's
/// `--profile` against its own mksysmap. Returns the (default, 6.12) map.
fn check_file(target: &Target, file: &Path, dir: &Path) -> Vec<u8> {
    let what = format!("{} {}", target.name, file.display());
    let nm = target.nm_n(file);
    let map = apply_mksysmap(V6_12, &nm);
    check_versions(file, &nm, dir, &what);
    let (our_nm, our_map, set) = collect_outputs(file, dir);
    assert_same(&nm, &our_nm, &format!("{what}: --emit-nm against nm -n"));
    assert_same(
        &map,
        &our_map,
        &format!("{what}: --emit-map against nm -n | mksysmap"),
    );

    // The artifact holds the map's symbols.
    assert_eq!(
        set.origin,
        SymbolOrigin::Linked {
            path: file.display().to_string()
        }
    );
    assert!(set.addresses_known);
    let mut written = Vec::new();
    set.write_map(&mut written).unwrap();
    assert_same(&map, &written, &format!("{what}: SymbolSet::write_map"));
    let bits = set.address_bits;
    assert_eq!(bits, if map_width(&nm) == 8 { 32 } else { 64 }, "{what}");
    for symbol in &set.symbols {
        if let Some(section) = symbol.section {
            assert!(
                (section as usize) < set.sections.len() && section != 0,
                "{what}: section index {section} of {:?}",
                String::from_utf8_lossy(&symbol.name)
            );
        }
    }

    // The library, in-process, agrees with the executable.
    let data = fs::read(file).unwrap();
    let mut listing = read_linked(&data).unwrap();
    listing.sort_nm_numeric();
    let mut lib_nm = Vec::new();
    listing.write_nm(&mut lib_nm).unwrap();
    assert_same(&nm, &lib_nm, &format!("{what}: read_linked"));
    map
}

/// Width of the addresses in an nm listing (8 or 16).
fn map_width(nm: &[u8]) -> usize {
    nm.split(|&b| b == b'\n')
        .find(|l| !l.starts_with(b" ") && !l.is_empty())
        .map(|l| l.iter().position(|&b| b == b' ').unwrap())
        .unwrap_or(16)
}

#[test]
fn every_kind_of_symbol_on_every_target() {
    let mut checked = Vec::new();
    for target in TARGETS {
        if !target.available() {
            continue;
        }
        let dir = tempdir();
        let d = dir.path();
        let object = target.assemble(d, &kinds_source(target), "kinds");
        let exe = target.link_exe(d, "kinds", &object);
        let shared = target.link(d, "kinds.so", &["-shared"], &[&object]);
        let relocatable = target.link(d, "kinds-r.o", &["-r"], &[&object]);
        for file in [&exe, &shared, &object, &relocatable] {
            let map = check_file(target, file, d);
            assert!(!map.is_empty(), "{}: empty map", file.display());
        }
        checked.push(target.name);
    }
    eprintln!("checked: {}", checked.join(", "));
}

/// The letters the hand-made file must show, so that a change of assembler or linker cannot
/// quietly remove a case from the comparison above.
#[test]
fn hand_made_file_has_every_letter() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    let object = target.assemble(d, &kinds_source(target), "kinds");
    let shared = target.link(d, "kinds.so", &["-shared"], &[&object]);
    let mut letters = HashSet::new();
    for file in [&object, &shared] {
        let data = fs::read(file).unwrap();
        for symbol in read_linked(&data).unwrap().symbols {
            letters.insert(symbol.type_letter as char);
        }
    }
    let expected = "TtWVwviuAaDdRrBbCNnUe?p";
    for letter in expected.chars() {
        assert!(
            letters.contains(&letter),
            "no {letter:?} symbol in {letters:?}"
        );
    }
}

/// Symbols of several objects at one address with one name are listed in symbol-table
/// order, which follows the link order: both orders against nm.
#[test]
fn ties_between_objects_keep_table_order() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    // `same` is absolute (a) in one object and a data label (d) in the other, at the same
    // address; `other` the reverse.
    let abs = target.assemble(
        d,
        "\t.set same, 0x600000\n\t.set same2, 0x600000\n\t.text\n\t.globl _start\n_start: nop\n",
        "abs",
    );
    let lab = target.assemble(
        d,
        "\t.data\nsame: same2: zz: .long 1\n\t.set other, 0x600000\n",
        "lab",
    );
    let mut orders = Vec::new();
    for (name, inputs) in [("ab", [&abs, &lab]), ("ba", [&lab, &abs])] {
        let exe = target.link(
            d,
            name,
            &["-e", "_start", "-Tdata=0x600000"],
            &[inputs[0], inputs[1]],
        );
        let nm = target.nm_n(&exe);
        let text = String::from_utf8_lossy(&nm).into_owned();
        let order: String = text
            .lines()
            .filter(|l| l.ends_with(" same") || l.ends_with(" same2"))
            .map(|l| &l[17..18])
            .collect();
        assert_eq!(order.len(), 4, "{text}");
        orders.push(order);
        check_file(target, &exe, d);
    }
    // The link order decides, so the test does test table order.
    assert_eq!(orders, ["adad", "dada"]);
}

/// More than 65,280 sections: symbols' section indices go through `SHN_XINDEX` and the
/// `.symtab_shndx` table, and the section-name table's index through section 0.
#[test]
fn extended_section_indices() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    let mut source = String::from("\t.text\n\t.globl _start\n_start: nop\n");
    let flags = [
        "\"ax\",@progbits",
        "\"aw\",@progbits",
        "\"a\",@progbits",
        "\"aw\",@nobits",
    ];
    for i in 0..66_000 {
        let content = if i % 4 == 3 { ".zero 1" } else { ".byte 0" };
        writeln!(
            source,
            "\t.section .s{i},{}\nsym{i}: {content}",
            flags[i % 4]
        )
        .unwrap();
    }
    let object = target.assemble(d, &source, "many");
    let data = fs::read(&object).unwrap();
    let shnum = u16::from_le_bytes([data[60], data[61]]);
    assert_eq!(
        shnum, 0,
        "the section count should be in section 0's sh_size"
    );
    check_file(target, &object, d);
    let relocatable = target.link(d, "many-r.o", &["-r"], &[&object]);
    check_file(target, &relocatable, d);
}

// ---------------------------------------------------------------------------------------
// A large generated file
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `files` assembly sources with `labels` labels in all: runs of up to four labels at one
/// address in six sections, names like kernel names and like mksysmap's prefixes, local,
/// global and weak, function, object and untyped. Global names are unique; local names
/// repeat across files (one file cannot define a name twice).
fn generated_sources(seed: u64, files: usize, labels: usize) -> Vec<String> {
    const CHARS: &[u8] = b"abcxyzABCXYZ_____0189.$";
    const PREFIXES: &[&str] = &["", "", "", "__", "_", "__crc_", "__kstrtab_", ".L", "$"];
    const SECTIONS: &[&str] = &[
        ".text",
        ".data",
        ".bss",
        ".section .rodata,\"a\"",
        ".section .init.text,\"ax\",@progbits",
        ".section .data..percpu,\"aw\",@progbits",
    ];
    let mut rng = Rng(seed);
    let mut globals: HashSet<String> = HashSet::new();
    let mut locals: Vec<String> = Vec::new();
    let mut sources = Vec::new();
    for file in 0..files {
        let mut src = String::new();
        if file == 0 {
            src.push_str("\t.text\n\t.globl _start\n_start: nop\n");
            globals.insert("_start".into());
        }
        let mut defined: HashSet<String> = HashSet::new();
        let mut made = 0;
        while made < labels / files {
            writeln!(
                src,
                "\t{}",
                SECTIONS[rng.below(SECTIONS.len() as u64) as usize]
            )
            .unwrap();
            // A run of labels at one address, then (mostly) a byte of content.
            for _ in 0..=rng.below(4) {
                let reuse = !locals.is_empty() && rng.below(6) == 0;
                let name = if reuse {
                    locals[rng.below(locals.len() as u64) as usize].clone()
                } else {
                    let mut name =
                        String::from(PREFIXES[rng.below(PREFIXES.len() as u64) as usize]);
                    name.push((b'a' + rng.below(26) as u8) as char);
                    for _ in 0..rng.below(12) {
                        name.push(CHARS[rng.below(CHARS.len() as u64) as usize] as char);
                    }
                    name
                };
                if globals.contains(&name) || !defined.insert(name.clone()) {
                    continue;
                }
                let quoted = format!("\"{name}\"");
                let binding = if reuse || name.starts_with(".L") {
                    2
                } else {
                    rng.below(6)
                };
                match binding {
                    0 => writeln!(src, "\t.globl {quoted}").unwrap(),
                    1 => writeln!(src, "\t.weak {quoted}").unwrap(),
                    _ => {}
                }
                if binding < 2 {
                    globals.insert(name.clone());
                } else if !reuse {
                    locals.push(name.clone());
                }
                match rng.below(3) {
                    0 => writeln!(src, "\t.type {quoted},@function").unwrap(),
                    1 => writeln!(src, "\t.type {quoted},@object").unwrap(),
                    _ => {}
                }
                writeln!(src, "{quoted}:").unwrap();
                made += 1;
            }
            if rng.below(5) != 0 {
                src.push_str("\t.byte 0\n");
            }
        }
        sources.push(src);
    }
    sources
}

#[test]
fn large_generated_file() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    let objects: Vec<PathBuf> = generated_sources(42, 4, 40_000)
        .iter()
        .enumerate()
        .map(|(i, source)| target.assemble(d, source, &format!("big{i}")))
        .collect();
    let inputs: Vec<&Path> = objects.iter().map(|p| p.as_path()).collect();
    let exe = target.link(d, "big", &["-e", "_start"], &inputs);
    let map = check_file(target, &exe, d);
    let lines = map.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 10_000, "only {lines} lines in the map");
    // The file has what the comparison is for: ties at one address and repeated names.
    let nm = target.nm_n(&exe);
    let lines: Vec<&[u8]> = nm.split(|&b| b == b'\n').filter(|l| l.len() > 19).collect();
    let ties = lines
        .windows(2)
        .filter(|w| w[0][..16] == w[1][..16])
        .count();
    let mut names = HashSet::new();
    let repeated = lines.iter().filter(|l| !names.insert(&l[19..])).count();
    assert!(
        ties > 1000 && repeated > 1000,
        "{ties} ties, {repeated} repeated names"
    );
    let relocatable = target.link(d, "big-r.o", &["-r"], &inputs);
    check_file(target, &relocatable, d);
}

// ---------------------------------------------------------------------------------------
// mksysmap's rules against sed
// ---------------------------------------------------------------------------------------

/// nm-style lines that no linked kernel has (spaces in names, every letter, near misses of
/// each rule of each version) through each version's own mksysmap, against the rules here.
#[test]
fn mksysmap_rules_match_each_versions_script() {
    let names = [
        "foo",
        "",
        "a b",
        "x a y",
        "x U",
        "U x",
        "x N y",
        "x w",
        " leading",
        "trailing ",
        "two  spaces",
        "x $y",
        "$x",
        "x$",
        "x .Ly",
        ".L",
        "x.L",
        "__efistub_",
        "__efistub",
        "x __efistub_y",
        "__pi_$",
        "__pi_.L",
        "__pi_x",
        "__kvm_nvhe_$",
        "__kvm_nvhe_.L",
        "__kvm_nvhe_x",
        "__Thunk_",
        "__aThunk_",
        "__a1Thunk_x",
        "__a_Thunk_",
        "__a.Thunk_",
        "__ThunkThunk_",
        "__Thunk",
        "x __abcThunk_y",
        "___Thunk_",
        "__kcfi_typeid_",
        "__kvm_nvhe___kcfi_typeid_x",
        "__pi___kcfi_typeid_x",
        "__crc_",
        "__crc",
        "__kstrtab_",
        "__kstrtabns_x",
        "x_from_arm",
        "x_from_arm_",
        "_from_thumb",
        "x_veneer",
        "x_veneer y",
        "L0",
        "L0 ",
        "x L0",
        "xL0",
        "_SDA_BASE_",
        "x _SDA2_BASE_",
        "_SDA2_BASE_x",
        "a.long_branch.b",
        ".long_branch.",
        "a.long_branch",
        "a.plt_branch.b",
        "x \u{e9}Thunk_",
        "__mod_device_table__",
        "__mod_device_table__kmod_x__pci__y",
        "x __mod_device_table__y",
        "x__mod_device_table__y",
        "__mod_device_table_",
        "__UNIQUE_ID_modinfo_",
        "__UNIQUE_ID_modinfo_12",
        "__UNIQUE_ID_modinfo_12x",
        "__UNIQUE_ID_modinfo_x",
        "__UNIQUE_ID_modinfo_ 12",
        "__UNIQUE_ID_modinfo_12 ",
        "x __UNIQUE_ID_modinfo_9",
        "x__UNIQUE_ID_modinfo_9",
        "__UNIQUE_ID_modinfo_x __UNIQUE_ID_modinfo_1",
        "__UNIQUE_ID_modinfo_1 __UNIQUE_ID_modinfo_x",
        "x__crc_",
        "x __crc_y",
        "__kstrtab",
        "x __kstrtabns_",
        "__pi_$x",
        "L0x",
    ];
    let letters = "aAbBCdDgGiNnprRsStTuUvVwW?";
    let mut kept_by_all = Vec::new();
    for version in VERSIONS {
        let mksysmap = mksysmap_of(version);
        let mut nm = Vec::new();
        let mut expected_kept = Vec::new();
        for name in names {
            for letter in letters.bytes() {
                let undefined = matches!(letter, b'U' | b'w' | b'v');
                let mut line = if undefined {
                    " ".repeat(16).into_bytes()
                } else {
                    b"ffffffff81000000".to_vec()
                };
                line.extend_from_slice(&[b' ', letter, b' ']);
                line.extend_from_slice(name.as_bytes());
                line.push(b'\n');
                let kept = mksysmap.keeps(letter, name.as_bytes());
                let rule = deleting_rule(mksysmap.rules, letter, name.as_bytes());
                assert_eq!(
                    kept,
                    rule.is_none(),
                    "{version}: {name:?} {}",
                    letter as char
                );
                if kept {
                    expected_kept.extend_from_slice(&line);
                }
                nm.extend_from_slice(&line);
            }
        }
        let upstream = apply_mksysmap(version, &nm);
        assert_same(
            &upstream,
            &expected_kept,
            &format!("Linux {version}'s mksysmap rules against its script"),
        );
        kept_by_all.push(upstream);
    }
    // The versions' scripts differ on these lines, so each comparison tests its own rules.
    for (i, a) in kept_by_all.iter().enumerate() {
        for b in &kept_by_all[i + 1..] {
            assert_ne!(a, b, "two versions keep the same lines");
        }
    }
}

/// Names that a rule of some version deletes, and near misses: quoted labels in `.text`.
const RULE_NAMES: &[&str] = &[
    "$x.rule",
    "$d",
    ".Lrule",
    "__efistub_rule",
    "__pi_$x",
    "__pi_.Lrule",
    "__kvm_nvhe_$d",
    "__kvm_nvhe_.Lrule",
    "__AArch64ADRPThunk_rule",
    "__ARMV7PILongThunk_rule",
    "__kcfi_typeid_rule",
    "__kvm_nvhe___kcfi_typeid_rule",
    "__pi___kcfi_typeid_rule",
    "__crc_rule",
    "x__crc_rule",
    "__kstrtab_rule",
    "__kstrtabns_rule",
    "__mod_device_table__kmod_rule__pci__rule_tbl",
    "__mod_device_table_rule",
    "rule_from_arm",
    "rule_from_thumb",
    "rule_veneer",
    "rule_veneer2",
    "L0",
    "L01",
    "_SDA_BASE_",
    "_SDA2_BASE_",
    "__UNIQUE_ID_modinfo_12",
    "__UNIQUE_ID_modinfo_",
    "__UNIQUE_ID_modinfo_x",
    "__UNIQUE_ID_modinfo_12x",
    "rule.long_branch.x",
    "rule.plt_branch.x",
];

/// What built-in kernel code defines with `MODULE_DEVICE_TABLE()` and `MODULE_INFO()`
/// (Linux 7.3's macros, expanded), `EXPORT_SYMBOL()` and modversions.
const MODULE_C: &str = r#"
struct pci_device_id { unsigned int vendor, device; };
static const struct pci_device_id e1000_pci_tbl[] = { { 0x8086, 0x100e }, { 0, 0 } };
static typeof(e1000_pci_tbl) __mod_device_table__kmod_e1000__pci__e1000_pci_tbl
	__attribute__((used, alias("e1000_pci_tbl")));
static const char __UNIQUE_ID_modinfo_12[]
	__attribute__((used, section(".modinfo"), aligned(1))) = "e1000.license=GPL";
static const char __UNIQUE_ID_modinfo_x[]
	__attribute__((used, section(".modinfo"), aligned(1))) = "e1000.author=x";
static const char __kstrtab_e1000_probe[]
	__attribute__((used, section("__ksymtab_strings"))) = "e1000_probe";
unsigned int __crc_e1000_probe = 0x1234;
int e1000_probe(void) { return e1000_pci_tbl[0].vendor; }
int main(void) { return e1000_probe(); }
"#;

/// Branches too far for the instruction: GNU ld adds veneers (`__far_veneer`, Arm's
/// `__thumbfar_from_arm`), ld.lld thunks (`__AArch64AbsLongThunk_far`).
const FAR_BRANCHES: &str = r#"
	.text
	.globl _start
_start:
	bl far
	bl thumbfar
	.section .far,"ax",%progbits
	.globl far
far: nop
	.globl thumbfar
	.type thumbfar,%function
thumbfar: nop
"#;

/// Where the far section goes, beyond the reach of a branch.
const FAR_SCRIPT: &str =
    "SECTIONS { .text 0x400000 : { *(.text) } .far 0x20000000 : { *(.far) } }\n";

/// The files of `target` that the rules of some version matter for, with their names.
fn rule_files(target: &Target, dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let kinds = target.assemble(dir, &kinds_source(target), "kinds");
    files.push(target.link_exe(dir, "kinds", &kinds));
    files.push(kinds);
    let mut source = String::from("\t.text\n\t.globl _start\n_start: nop\n");
    for name in RULE_NAMES {
        writeln!(source, "\"{name}\": nop").unwrap();
    }
    let rules = target.assemble(dir, &source, "rules");
    files.push(target.link(dir, "rules", &["-e", "_start"], &[&rules]));
    files.push(target.link(dir, "rules.so", &["-shared"], &[&rules]));
    files.push(rules);

    if matches!(target.name, "aarch64" | "arm") {
        let far_source = if target.name == "arm" {
            FAR_BRANCHES.replace(
                "\t.type thumbfar,%function\n",
                "\t.thumb\n\t.type thumbfar,%function\n\t.thumb_func\n",
            )
        } else {
            FAR_BRANCHES.replace("\tbl thumbfar\n", "")
        };
        let far = target.assemble(dir, &far_source, "far");
        let far = far.to_str().unwrap();
        let gnu = format!("{}-far-gnu", target.name);
        run(
            target.linker,
            &[
                "-e",
                "_start",
                "--section-start=.far=0x20000000",
                "-o",
                &gnu,
                far,
            ],
            dir,
        );
        files.push(dir.join(gnu));
        if have("ld.lld") {
            let script = dir.join("far.lds");
            fs::write(&script, FAR_SCRIPT).unwrap();
            let script = script.to_str().unwrap();
            for (out, extra) in [("far-lld", &[][..]), ("far-lld-pie", &["-pie"][..])] {
                let out = format!("{}-{out}", target.name);
                let mut args = vec!["-e", "_start", "-T", script, "-o", &out, far];
                args.extend(extra);
                run("ld.lld", &args, dir);
                files.push(dir.join(out));
            }
        } else {
            eprintln!("note: no ld.lld: no lld thunks for {}", target.name);
        }
    }

    let gcc = if target.name == "x86_64" {
        "gcc".to_string()
    } else {
        target.tool("gcc")
    };
    if matches!(target.name, "x86_64" | "aarch64") && have(&gcc) {
        let c = dir.join("module.c");
        fs::write(&c, MODULE_C).unwrap();
        let object = format!("{}-module.o", target.name);
        let unstripped = format!("{}-module.unstripped", target.name);
        let stripped = format!("{}-module", target.name);
        let c = c.to_str().unwrap();
        run(&gcc, &["-O2", "-c", "-o", &object, c], dir);
        run(&gcc, &["-o", &unstripped, &object], dir);
        // As 7.3's scripts/Makefile.vmlinux strips vmlinux.unstripped into vmlinux.
        let objcopy = target.tool("objcopy");
        run(
            &objcopy,
            &[
                "--set-section-flags",
                ".modinfo=noload",
                &unstripped,
                &stripped,
            ],
            dir,
        );
        run(
            &objcopy,
            &[
                "--remove-section=.modinfo",
                "-w",
                "--strip-unneeded-symbol=__mod_device_table__*",
                &stripped,
            ],
            dir,
        );
        files.extend([object, unstripped, stripped].map(|f| dir.join(f)));
    } else if target.name == "aarch64" {
        eprintln!("note: no {gcc}: no C program for aarch64");
    }
    files
}

/// Lines `nm` prints that a version's script keeps or deletes: the listing's lines.
fn nm_lines(nm: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    nm.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let width = line.iter().position(|&b| b != b' ').map_or(0, |first| {
                if first == 0 {
                    line.iter().position(|&b| b == b' ').unwrap()
                } else {
                    first - 1
                }
            });
            (line[width + 1], &line[width + 3..])
        })
}

/// Real files (assembled, compiled, linked by GNU ld and ld.lld, stripped as 7.x's Kbuild
/// strips vmlinux) through `--linked --profile` against each version's own script; every
/// rule of every version deletes some line of them that no other rule of its version does.
#[test]
fn every_rule_of_every_version_on_real_files() {
    let mut unique_deletions: Vec<Vec<usize>> = VERSIONS
        .iter()
        .map(|&v| vec![0; mksysmap_of(v).rules.len()])
        .collect();
    let mut checked = Vec::new();
    for target in TARGETS {
        if !matches!(target.name, "x86_64" | "aarch64" | "arm" | "riscv64") || !target.available() {
            continue;
        }
        let dir = tempdir();
        let d = dir.path();
        for file in rule_files(target, d) {
            let what = format!("{} {}", target.name, file.display());
            let nm = target.nm_n(&file);
            let maps = check_versions(&file, &nm, d, &what);
            for (v, version) in VERSIONS.iter().enumerate() {
                let rules = mksysmap_of(*version).rules;
                for (letter, name) in nm_lines(&nm) {
                    let mut deleting = rules.iter().enumerate().filter(|(_, rule)| {
                        deleting_rule(std::slice::from_ref(*rule), letter, name).is_some()
                    });
                    if let (Some((only, _)), None) = (deleting.next(), deleting.next()) {
                        unique_deletions[v][only] += 1;
                    }
                }
            }
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with("-module.unstripped") {
                // 7.3's rules matter on the unstripped file: its map lacks what 6.12 keeps.
                let kept =
                    |map: &[u8], symbol: &str| nm_lines(map).any(|(_, n)| n == symbol.as_bytes());
                for symbol in [
                    "__mod_device_table__kmod_e1000__pci__e1000_pci_tbl",
                    "__UNIQUE_ID_modinfo_12",
                ] {
                    assert!(
                        kept(&maps[0], symbol) && !kept(&maps[2], symbol),
                        "{what}: {symbol}"
                    );
                }
                assert!(kept(&maps[2], "__UNIQUE_ID_modinfo_x"), "{what}");
            } else if name.ends_with("-module") {
                // Kbuild's strip removes what 7.3's new rules are for.
                assert_same(
                    &maps[0],
                    &maps[2],
                    &format!("{what}: 6.12 and 7.3, stripped"),
                );
                assert!(!nm.windows(14).any(|w| w == b"__mod_device_t"), "{what}");
            }
        }
        checked.push(target.name);
    }
    eprintln!("checked: {}", checked.join(", "));
    for (v, version) in VERSIONS.iter().enumerate() {
        let unused: Vec<&str> = mksysmap_of(*version)
            .rules
            .iter()
            .zip(&unique_deletions[v])
            .filter(|(_, &n)| n == 0)
            .map(|(rule, _)| rule.source)
            .collect();
        assert!(
            unused.is_empty(),
            "Linux {version}: no line of the files is deleted by these rules alone: {unused:?}"
        );
        eprintln!(
            "Linux {version}: lines deleted by one rule alone, per rule: {:?}",
            unique_deletions[v]
        );
    }
}

// ---------------------------------------------------------------------------------------
// Debian's vmlinux
// ---------------------------------------------------------------------------------------

#[test]
fn debian_vmlinux_matches_nm_sed_and_system_map() {
    let vmlinux = debian_vmlinux();
    let dir = tempdir();
    let target = &TARGETS[0];
    let map = check_file(target, &vmlinux, dir.path());
    assert_same(
        &debian_system_map(),
        &map,
        "nm -n | mksysmap of Debian's vmlinux against its System.map",
    );
    assert_eq!(map.iter().filter(|&&b| b == b'\n').count(), 163_210);

    // The artifact feeds kslink-table as the map does.
    let set_path = dir.path().join("vmlinux.symbols");
    let map_path = dir.path().join("System.map");
    fs::write(&map_path, &map).unwrap();
    let out = kslink_collect(&[Path::new("--linked"), &vmlinux, Path::new("-o"), &set_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile = &kslink_table::LINUX_6_12;
    let options = kslink_schema::TableOptions {
        all_symbols: true,
        absolute_percpu: true,
        ..Default::default()
    };
    let asm = |input: &Path| {
        let symbols = kslink_table::read_input(input, profile).unwrap();
        let built = kslink_table::build(symbols, profile, options).unwrap();
        let mut s = Vec::new();
        built.write_asm(&mut s).unwrap();
        s
    };
    assert_same(
        &asm(&map_path),
        &asm(&set_path),
        "kslink-table: artifact against map",
    );
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

/// Runs kslink-collect with every output option on `input`; checks exit status 1, one line
/// on stderr naming the input, nothing on stdout, and no output file (and an existing one
/// untouched). Returns the message.
#[track_caller]
fn expect_input_error(input: &Path, dir: &Path) -> String {
    let outputs = dir.join("outputs");
    fs::create_dir_all(&outputs).unwrap();
    let existing = outputs.join("existing.map");
    fs::write(&existing, b"old\n").unwrap();
    let nm = outputs.join("out.nm");
    let set = outputs.join("out.symbols");
    let out = kslink_collect(&[
        Path::new("--linked"),
        input,
        Path::new("--emit-nm"),
        &nm,
        Path::new("--emit-map"),
        &existing,
        Path::new("-o"),
        &set,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", input.display());
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let prefix = format!("kslink-collect: error: {}: ", input.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    let mut left: Vec<String> = fs::read_dir(&outputs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["existing.map"], "{}", input.display());
    assert_eq!(fs::read(&existing).unwrap(), b"old\n");
    stderr
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    let object = target.assemble(d, &kinds_source(target), "kinds");
    let exe = target.link_exe(d, "kinds", &object);
    let bytes = fs::read(&exe).unwrap();

    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    for (i, len) in [3, 10, 63, 64, 200, bytes.len() / 2, bytes.len() - 1]
        .into_iter()
        .enumerate()
    {
        let path = d.join(format!("truncated-{i}"));
        fs::write(&path, &bytes[..len]).unwrap();
        cases.push((
            path,
            if len < 4 {
                "not an ELF file"
            } else {
                "truncated"
            },
        ));
    }
    let stripped = d.join("stripped");
    run(
        "strip",
        &["-o", stripped.to_str().unwrap(), exe.to_str().unwrap()],
        d,
    );
    cases.push((stripped, "stripped"));
    let text = d.join("notes.txt");
    fs::write(&text, b"not an ELF file\n").unwrap();
    cases.push((text, "not an ELF file"));
    let empty = d.join("empty");
    fs::write(&empty, b"").unwrap();
    cases.push((empty, "not an ELF file"));
    let mut bad_class = bytes.clone();
    bad_class[4] = 7;
    let bad_class_path = d.join("bad-class");
    fs::write(&bad_class_path, &bad_class).unwrap();
    cases.push((bad_class_path, "class"));
    cases.push((d.join("missing"), "No such file"));
    cases.push((d.join("outputs"), "directory"));

    for (input, needle) in cases {
        let message = expect_input_error(&input, d);
        assert!(message.contains(needle), "{}: {message}", input.display());
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--emit-map", "x"][..],
        &["--linked", "a", "--bogus"][..],
        &["--linked"][..],
        &["--linked", "a", "--emit-map", "x", "-o", "x"][..],
    ] {
        let out = Command::new(bin_path("kslink-collect"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn stdout_gets_the_map_without_outputs() {
    let target = &TARGETS[0];
    assert!(target.available());
    let dir = tempdir();
    let d = dir.path();
    let object = target.assemble(d, &kinds_source(target), "kinds");
    let exe = target.link_exe(d, "kinds", &object);
    let out = kslink_collect(&[Path::new("--linked"), &exe]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let map = apply_mksysmap(V6_12, &target.nm_n(&exe));
    assert_same(&map, &out.stdout, "standard output");
}
