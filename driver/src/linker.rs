//! The linker command a user gives after `--`: what it links, and where the table goes.
//!
//! kslink runs the command as given, with two changes: the table's object is inserted where
//! the argument `{kallsyms}` stands (or appended at the end), because its place among the
//! inputs decides where the table lands, and `-o` names kslink's intermediate file. To predict
//! the symbols before the link, it also needs the inputs and the linker script: the inputs are
//! the arguments that are not options (GNU ld and lld syntax), with the archive switches that
//! change how they are read (`--whole-archive`, `--start-group`, …) kept in place, and which
//! linker it is ([`LinkerCommand::flavour`]), since GNU ld and lld give some symbols other
//! type letters.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kslink_schema::{InputSwitch, LinkKind, LinkerFlavour};

/// The argument a user writes where the table's object belongs.
pub const TABLE_PLACEHOLDER: &str = "{kallsyms}";

/// Options of GNU ld and lld whose value is the next argument.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-A",
    "-a",
    "-b",
    "-c",
    "-e",
    "-F",
    "-f",
    "-G",
    "-h",
    "-L",
    "-m",
    "-R",
    "-T",
    "-u",
    "-Y",
    "-y",
    "-z",
    "-Map",
    "-Ttext",
    "-Tdata",
    "-Tbss",
    "-Ttext-segment",
    "-dynamic-linker",
    "-plugin",
    "-plugin-opt",
    "-rpath",
    "-rpath-link",
    "-soname",
    "--architecture",
    "--auxiliary",
    "--defsym",
    "--dependency-file",
    "--dynamic-linker",
    "--dynamic-list",
    "--entry",
    "--filter",
    "--format",
    "--hash-style",
    "--image-base",
    "--just-symbols",
    "--library-path",
    "--Map",
    "--mri-script",
    "--oformat",
    "--plugin",
    "--plugin-opt",
    "--rpath",
    "--rpath-link",
    "--script",
    "--section-start",
    "--sort-section",
    "--soname",
    "--trace-symbol",
    "--undefined",
    "--version-script",
    "--wrap",
];

/// A linker command line, understood as far as kslink needs.
#[derive(Clone, Debug)]
pub struct LinkerCommand {
    /// The linker program and its arguments, as given.
    pub argv: Vec<OsString>,
    /// The linker script named with `-T`/`--script`, if any.
    pub script: Option<PathBuf>,
    /// The inputs in order, with the archive switches among them, for `kslink-collect
    /// --predict`.
    pub inputs: Vec<OsString>,
    /// The kind of file it writes (the last of `-shared`, `-pie` and `-no-pie` decides).
    pub kind: LinkKind,
}

impl LinkerCommand {
    /// Reads a linker command line. Fails on what would make the prediction or the output
    /// wrong: an `-o` (kslink names the output), a library found by search (`-lNAME`).
    pub fn parse(argv: Vec<OsString>) -> Result<LinkerCommand, String> {
        if argv.is_empty() {
            return Err(
                "no linker command after `--` (for example `-- ld -T script.lds a.o`)".to_string(),
            );
        }
        let places = argv[1..]
            .iter()
            .filter(|arg| *arg == TABLE_PLACEHOLDER)
            .count();
        if places > 1 {
            return Err(format!(
                "`{TABLE_PLACEHOLDER}` appears {places} times in the linker command: it marks the \
                 one place of the table's object; keep one"
            ));
        }
        let mut script = None;
        let mut inputs = Vec::new();
        let mut kind = LinkKind::Static;
        let mut args = argv[1..].iter();
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy();
            if text == TABLE_PLACEHOLDER {
                continue;
            }
            if text == "-o"
                || text.starts_with("--output")
                || (text.starts_with("-o") && text.len() > 2)
            {
                return Err(format!(
                    "the linker command has its own output (`{text}`): give the output to kslink \
                     with -o, and leave it out of the linker's arguments"
                ));
            }
            if text.starts_with("-l") && text.len() > 2 || text == "-l" {
                return Err(format!(
                    "`{text}`: kslink cannot predict a library found by search; name the \
                     archive's path instead"
                ));
            }
            // The prediction needs the switches that change how the inputs after them are
            // read: kept in place, in GNU ld's long spelling.
            if let Some(switch) = InputSwitch::parse(&text) {
                inputs.push(OsString::from(switch.name()));
                continue;
            }
            match text.as_ref() {
                "-shared" | "--shared" | "-Bshareable" => kind = LinkKind::Shared,
                "-pie" | "--pie" | "-pic-executable" | "--pic-executable" => kind = LinkKind::Pie,
                "-no-pie" | "--no-pie" if kind == LinkKind::Pie => kind = LinkKind::Static,
                _ => {}
            }
            if let Some(value) = script_value(&text, &mut args) {
                script = Some(PathBuf::from(value));
                continue;
            }
            if text.starts_with('-') && text.len() > 1 {
                let name = text.split_once('=').map_or(text.as_ref(), |(name, _)| name);
                if OPTIONS_WITH_VALUE.contains(&name) && !text.contains('=') {
                    args.next();
                }
                continue;
            }
            inputs.push(arg.clone());
        }
        Ok(LinkerCommand {
            argv,
            script,
            inputs,
            kind,
        })
    }

    /// Which linker the command runs: lld if a compiler driver is told `-fuse-ld=lld`, else
    /// what the program says of itself in the first line of `--version`, or, if it cannot
    /// be run, what its name says.
    pub fn flavour(&self) -> LinkerFlavour {
        let fuse_ld = self.argv[1..]
            .iter()
            .filter_map(|arg| arg.to_str()?.strip_prefix("-fuse-ld="))
            .next_back();
        if let Some(linker) = fuse_ld {
            return if linker == "lld" {
                LinkerFlavour::Lld
            } else {
                LinkerFlavour::from_program_name(Path::new(linker))
            };
        }
        let program = Path::new(&self.argv[0]);
        match Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => {
                LinkerFlavour::from_version_line(&String::from_utf8_lossy(&out.stdout))
            }
            _ => LinkerFlavour::from_program_name(program),
        }
    }

    /// The input files (without the switches).
    pub fn input_files(&self) -> impl Iterator<Item = &OsStr> {
        self.inputs
            .iter()
            .filter(|arg| InputSwitch::parse(&arg.to_string_lossy()).is_none())
            .map(OsString::as_os_str)
    }

    /// The command to run: the table's object in place of `{kallsyms}` (or at the end), and
    /// `-o output`.
    pub fn with_table(&self, table_object: &OsStr, output: &OsStr) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::with_capacity(self.argv.len() + 3);
        argv.push(self.argv[0].clone());
        argv.push("-o".into());
        argv.push(output.to_owned());
        let mut placed = false;
        for arg in &self.argv[1..] {
            if arg == TABLE_PLACEHOLDER {
                argv.push(table_object.to_owned());
                placed = true;
            } else {
                argv.push(arg.clone());
            }
        }
        if !placed {
            argv.push(table_object.to_owned());
        }
        argv
    }
}

/// The script of a `-T FILE`, `-TFILE`, `--script FILE` or `--script=FILE` argument (taking
/// the value from `rest` when it is separate); `None` for any other argument.
fn script_value<'a>(text: &str, rest: &mut impl Iterator<Item = &'a OsString>) -> Option<OsString> {
    if text == "-T" || text == "--script" || text == "-script" {
        return rest.next().cloned();
    }
    for prefix in ["--script=", "-script=", "-T"] {
        if let Some(value) = text.strip_prefix(prefix) {
            // -Ttext, -Tdata, -Tbss and -Ttext-segment are addresses, not scripts.
            if prefix == "-T" && ["text", "data", "bss"].iter().any(|s| value.starts_with(s)) {
                return None;
            }
            return Some(value.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LinkerCommand, String> {
        LinkerCommand::parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn kbuild_final_link() {
        let cmd = parse(&[
            "ld",
            "-m",
            "elf_x86_64",
            "-z",
            "noexecstack",
            "--emit-relocs",
            "--build-id=sha1",
            "--script=./arch/x86/kernel/vmlinux.lds",
            "--whole-archive",
            "vmlinux.a",
            "init/version-timestamp.o",
            "--no-whole-archive",
            "--start-group",
            "lib/lib.a",
            "--end-group",
            "{kallsyms}",
        ])
        .unwrap();
        assert_eq!(
            cmd.script,
            Some(PathBuf::from("./arch/x86/kernel/vmlinux.lds"))
        );
        let inputs: Vec<_> = cmd.inputs.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            inputs,
            [
                "--whole-archive",
                "vmlinux.a",
                "init/version-timestamp.o",
                "--no-whole-archive",
                "--start-group",
                "lib/lib.a",
                "--end-group"
            ]
        );
        let argv = cmd.with_table("t.o".as_ref(), "out".as_ref());
        assert_eq!(argv[1..3], ["-o", "out"]);
        assert_eq!(argv.last().unwrap(), "t.o");
    }

    #[test]
    fn input_switches_in_gnu_lds_short_spellings_are_kept() {
        let cmd = parse(&[
            "ld",
            "-whole-archive",
            "a.a",
            "-no-whole-archive",
            "-start-group",
            "b.a",
            "-end-group",
            "-(",
            "c.a",
            "-)",
        ])
        .unwrap();
        let inputs: Vec<_> = cmd.inputs.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            inputs,
            [
                "--whole-archive",
                "a.a",
                "--no-whole-archive",
                "--start-group",
                "b.a",
                "--end-group",
                "--start-group",
                "c.a",
                "--end-group"
            ]
        );
        let files: Vec<_> = cmd.input_files().map(|f| f.to_str().unwrap()).collect();
        assert_eq!(files, ["a.a", "b.a", "c.a"]);
    }

    #[test]
    fn script_forms_and_appended_table() {
        for form in [&["-T", "s.lds"][..], &["-Ts.lds"], &["--script", "s.lds"]] {
            let mut args = vec!["ld.lld"];
            args.extend_from_slice(form);
            args.push("a.o");
            let cmd = parse(&args).unwrap();
            assert_eq!(cmd.script, Some(PathBuf::from("s.lds")), "{form:?}");
            assert_eq!(cmd.input_files().collect::<Vec<_>>(), ["a.o"]);
            let argv = cmd.with_table("t.o".as_ref(), "out".as_ref());
            assert_eq!(argv.last().unwrap(), "t.o");
        }
        let cmd = parse(&["ld", "-Ttext", "0x1000", "-Ttext=0x1000", "a.o"]).unwrap();
        assert_eq!(cmd.script, None);
        assert_eq!(cmd.input_files().collect::<Vec<_>>(), ["a.o"]);
    }

    #[test]
    fn flavour_by_version_line_fuse_ld_and_name() {
        assert_eq!(
            LinkerFlavour::from_version_line("Debian LLD 14.0.6 (compatible with GNU linkers)\n"),
            LinkerFlavour::Lld
        );
        assert_eq!(
            LinkerFlavour::from_version_line("GNU ld (GNU Binutils for Debian) 2.40\nLLD"),
            LinkerFlavour::Gnu
        );
        let flavour = |args: &[&str]| parse(args).unwrap().flavour();
        assert_eq!(flavour(&["cc", "-fuse-ld=lld", "a.o"]), LinkerFlavour::Lld);
        assert_eq!(
            flavour(&["cc", "-fuse-ld=/opt/llvm/bin/ld.lld", "a.o"]),
            LinkerFlavour::Lld
        );
        assert_eq!(flavour(&["cc", "-fuse-ld=bfd", "a.o"]), LinkerFlavour::Gnu);
        // Programs that cannot be run: by name.
        assert_eq!(
            flavour(&["/nonexistent/ld.lld-14", "a.o"]),
            LinkerFlavour::Lld
        );
        assert_eq!(
            flavour(&["/nonexistent/x86_64-linux-gnu-ld", "a.o"]),
            LinkerFlavour::Gnu
        );
    }

    #[test]
    fn output_kind_is_the_last_one_named() {
        let kind = |args: &[&str]| parse(args).unwrap().kind;
        assert_eq!(kind(&["ld", "a.o"]), LinkKind::Static);
        // arm64's relocatable kernel
        let arm64 = [
            "aarch64-linux-gnu-ld",
            "-EL",
            "-maarch64elf",
            "-z",
            "noexecstack",
            "--no-undefined",
            "-X",
            "--pic-veneer",
            "-shared",
            "-Bsymbolic",
            "-z",
            "notext",
            "--no-apply-dynamic-relocs",
            "--script=./arch/arm64/kernel/vmlinux.lds",
            "vmlinux.a",
        ];
        let cmd = parse(&arm64).unwrap();
        assert_eq!(cmd.kind, LinkKind::Shared);
        assert_eq!(cmd.input_files().collect::<Vec<_>>(), ["vmlinux.a"]);
        assert_eq!(kind(&["ld", "-pie", "a.o"]), LinkKind::Pie);
        assert_eq!(kind(&["ld", "--pic-executable", "a.o"]), LinkKind::Pie);
        assert_eq!(kind(&["ld", "-pie", "-shared", "a.o"]), LinkKind::Shared);
        assert_eq!(kind(&["ld", "-shared", "-pie", "a.o"]), LinkKind::Pie);
        assert_eq!(kind(&["ld", "-pie", "--no-pie", "a.o"]), LinkKind::Static);
        assert_eq!(kind(&["ld", "-shared", "-no-pie", "a.o"]), LinkKind::Shared);
        assert_eq!(LinkKind::Shared.predict_flag(), Some("--shared"));
        assert_eq!(LinkKind::Static.predict_flag(), None);
    }

    #[test]
    fn refuses_output_and_searched_libraries() {
        assert!(parse(&["ld", "-o", "x", "a.o"])
            .unwrap_err()
            .contains("own output"));
        assert!(parse(&["ld", "a.o", "-lc"])
            .unwrap_err()
            .contains("library"));
        assert!(parse(&[]).unwrap_err().contains("no linker command"));
    }
}
