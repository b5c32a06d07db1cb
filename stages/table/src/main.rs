//! `kslink-table`: the table stage's command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_schema::fsio::{OutputError, OutputSet};
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

/// Positions of the outputs in the run's [`OutputSet`].
const ASM: usize = 0;
const OBJECT: usize = 1;
const RAW: usize = 2;
const ARTIFACT: usize = 3;

fn output_error(err: OutputError) -> TableError {
    TableError::io(err.path, err.source)
}

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

    let mut outputs = OutputSet::create(&[
        cli.emit_asm.as_deref(),
        cli.emit_object.as_deref(),
        cli.emit_raw.as_deref(),
        cli.output.as_deref(),
    ])
    .map_err(output_error)?;
    let wants_image = [OBJECT, RAW, ARTIFACT]
        .iter()
        .any(|&o| outputs.requested(o));
    if outputs.requested(ASM) {
        outputs
            .write(ASM, |file| built.write_asm(file))
            .map_err(output_error)?;
    } else if !wants_image {
        built
            .write_asm(std::io::stdout())
            .map_err(|e| TableError::io("standard output", e))?;
    }
    if wants_image {
        let table = built.to_artifact(arch.layout());
        drop(built);
        outputs
            .write(OBJECT, |file| {
                write_object(&table, arch, file).map_err(|e| std::io::Error::other(e.to_string()))
            })
            .map_err(output_error)?;
        outputs
            .write(RAW, |file| file.write_all(&table.data))
            .map_err(output_error)?;
        outputs
            .write(ARTIFACT, |file| file.write_all(&artifact::encode(&table)))
            .map_err(output_error)?;
    }
    outputs.commit().map_err(output_error)?;
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
