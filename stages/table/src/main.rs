//! `kslink-table`: the table stage's command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_schema::fsio::AtomicFile;
use kslink_schema::{artifact, TableOptions};
use kslink_table::{build, read_input, write_object, Arch, Profile, TableError, DEFAULT_PROFILE};

/// Build the kernel's kallsyms table from a symbol list, byte-identical to what the
/// kernel's own scripts/kallsyms makes.
///
/// INPUT is an nm-style map (`nm -n vmlinux | sed -f scripts/mksysmap`, i.e. System.map, for
/// 6.12; plain `nm -n` output for 6.1) or a SymbolSet artifact from kslink-collect.
///
/// Without any output option the assembly goes to standard output, as upstream's does, so
/// `kslink-table --all-symbols System.map > .tmp_vmlinux.kallsyms.S` is a drop-in.
///
/// Examples:
///
///   kslink-table --all-symbols --emit-object kallsyms.o System.map
///
///   kslink-table --profile linux-6.1 --base-relative -o table.bin map
///
/// Exit status: 0 on success, 1 when the input cannot be turned into a table (a malformed
/// line, an address out of range, an unreadable file), 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "kslink-table", version, verbatim_doc_comment)]
struct Cli {
    /// Kernel version whose generator to reproduce: linux-6.12 or linux-6.1.
    #[arg(long, default_value = DEFAULT_PROFILE, value_name = "PROFILE")]
    profile: String,
    /// Keep all symbols, not only text (CONFIG_KALLSYMS_ALL).
    #[arg(long)]
    all_symbols: bool,
    /// Store per-cpu symbols as absolute values (CONFIG_KALLSYMS_ABSOLUTE_PERCPU).
    #[arg(long)]
    absolute_percpu: bool,
    /// linux-6.1 only: offsets from a relative base instead of addresses
    /// (CONFIG_KALLSYMS_BASE_RELATIVE).
    #[arg(long)]
    base_relative: bool,
    /// linux-6.1 only: ignore `.llvm.` suffixes when ordering names (CONFIG_LTO_CLANG).
    #[arg(long)]
    lto_clang: bool,
    /// Target of the object and the artifact's byte order and word size: x86_64, i386,
    /// aarch64, aarch64_be, arm, armeb, riscv64, riscv32, ppc64, ppc64le, ppc, s390x,
    /// loongarch64. Default: this machine.
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// Write the KallsymsTable artifact that kslink-pad and kslink-patch read.
    #[arg(short = 'o', long = "output", value_name = "TABLE")]
    output: Option<PathBuf>,
    /// Write the assembly source that upstream's generator prints.
    #[arg(long, value_name = "FILE.S")]
    emit_asm: Option<PathBuf>,
    /// Write an ELF relocatable object with the table in `.rodata`; no assembler needed.
    #[arg(long, value_name = "FILE.o")]
    emit_object: Option<PathBuf>,
    /// Write the table's bytes alone, pointers resolved with the map's addresses.
    #[arg(long, value_name = "FILE")]
    emit_raw: Option<PathBuf>,
    /// The symbols: a text map or a SymbolSet artifact.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
}

/// The output files of one run: all created before anything is written, committed together
/// at the end, so that a failed run leaves none of them behind, new or half-written.
struct Outputs {
    files: Vec<Option<(String, AtomicFile)>>,
}

impl Outputs {
    /// Creates a temporary file for each requested path; `write` takes the same positions.
    fn create(paths: &[&Option<PathBuf>]) -> Result<Outputs, TableError> {
        let mut files = Vec::new();
        for path in paths {
            files.push(match path {
                None => None,
                Some(path) => {
                    let shown = path.display().to_string();
                    let file = AtomicFile::create(path).map_err(|e| TableError::io(&shown, e))?;
                    Some((shown, file))
                }
            });
        }
        Ok(Outputs { files })
    }

    fn requested(&self, position: usize) -> bool {
        self.files[position].is_some()
    }

    /// Writes the output at `position`, if it was requested.
    fn write(
        &mut self,
        position: usize,
        write: impl FnOnce(&mut AtomicFile) -> Result<(), Box<dyn std::error::Error>>,
    ) -> Result<(), TableError> {
        match &mut self.files[position] {
            None => Ok(()),
            Some((shown, file)) => write(file)
                .map_err(|e| TableError::io(shown.as_str(), std::io::Error::other(e.to_string()))),
        }
    }

    fn commit(self) -> Result<(), TableError> {
        for (shown, file) in self.files.into_iter().flatten() {
            file.commit().map_err(|e| TableError::io(shown, e))?;
        }
        Ok(())
    }
}

/// Positions of the outputs in [`Outputs`].
const ASM: usize = 0;
const OBJECT: usize = 1;
const RAW: usize = 2;
const ARTIFACT: usize = 3;

fn run(cli: Cli) -> Result<(), TableError> {
    let profile = Profile::by_name(&cli.profile).ok_or_else(|| {
        TableError::Usage(format!(
            "unknown profile {:?}; known profiles: {}",
            cli.profile,
            Profile::names().join(", ")
        ))
    })?;
    let arch = match &cli.arch {
        None => Arch::host(),
        Some(name) => Arch::by_name(name).ok_or_else(|| {
            TableError::Usage(format!(
                "unknown arch {name:?}; known: {}",
                Arch::names().join(", ")
            ))
        })?,
    };
    let options = TableOptions {
        all_symbols: cli.all_symbols,
        absolute_percpu: cli.absolute_percpu,
        base_relative: cli.base_relative,
        lto_clang: cli.lto_clang,
    };
    let symbols = read_input(&cli.input, profile)?;
    for warning in &symbols.warnings {
        eprintln!("kslink-table: warning: {warning}");
    }
    let built = build(symbols, profile, options)?;

    let mut outputs =
        Outputs::create(&[&cli.emit_asm, &cli.emit_object, &cli.emit_raw, &cli.output])?;
    let wants_image = [OBJECT, RAW, ARTIFACT]
        .iter()
        .any(|&o| outputs.requested(o));
    if outputs.requested(ASM) {
        outputs.write(ASM, |file| Ok(built.write_asm(file)?))?;
    } else if !wants_image {
        built
            .write_asm(std::io::stdout())
            .map_err(|e| TableError::io("standard output", e))?;
    }
    if wants_image {
        let table = built.to_artifact(arch.layout());
        drop(built);
        outputs.write(OBJECT, |file| write_object(&table, arch, file))?;
        outputs.write(RAW, |file| Ok(file.write_all(&table.data)?))?;
        outputs.write(ARTIFACT, |file| {
            Ok(file.write_all(&artifact::encode(&table))?)
        })?;
    }
    outputs.commit()?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-table: error: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
