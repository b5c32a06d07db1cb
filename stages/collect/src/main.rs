//! `kslink-collect`: the collect stage's command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_collect::{CollectError, MappedFile};
use kslink_schema::fsio::{OutputError, OutputSet};
use kslink_schema::{artifact, SymbolOrigin};

/// Collect the symbols of a linked ELF file, as the kernel's System.map lists them.
///
/// Reads the symbol table (.symtab) of ELF (32- or 64-bit, either byte order) and keeps what
/// `nm -n ELF | sed -f scripts/mksysmap` (GNU nm 2.40, Linux 6.12) prints, in the same order
/// and with the same type letters. Without an output option the System.map goes to standard
/// output.
///
/// Examples:
///
///   kslink-collect --linked vmlinux -o vmlinux.symbols
///
///   kslink-collect --linked vmlinux --emit-map System.map
///
/// Exit status: 0 on success, 1 when the ELF file cannot be read (missing, not ELF,
/// truncated, stripped) or an output cannot be written, 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "kslink-collect", version, verbatim_doc_comment)]
struct Cli {
    /// The linked ELF file (vmlinux).
    #[arg(long, value_name = "ELF", required = true)]
    linked: PathBuf,
    /// Write the SymbolSet artifact that kslink-table reads.
    #[arg(short = 'o', long = "output", value_name = "SYMBOLS")]
    output: Option<PathBuf>,
    /// Write System.map: `nm -n ELF | sed -f scripts/mksysmap`.
    #[arg(long, value_name = "FILE")]
    emit_map: Option<PathBuf>,
    /// Write what `nm -n ELF` prints, unfiltered (the input of Linux 6.1's kallsyms).
    #[arg(long, value_name = "FILE")]
    emit_nm: Option<PathBuf>,
}

fn output_error(err: OutputError) -> CollectError {
    CollectError::io(err.path, err.source)
}

/// Positions of the outputs in the run's [`OutputSet`].
const NM: usize = 0;
const MAP: usize = 1;
const SET: usize = 2;

fn run(cli: Cli) -> Result<(), CollectError> {
    let named: Vec<&PathBuf> = [&cli.emit_nm, &cli.emit_map, &cli.output]
        .into_iter()
        .flatten()
        .collect();
    if let Some(twice) = named
        .iter()
        .enumerate()
        .find_map(|(i, path)| named[..i].contains(path).then_some(path))
    {
        return Err(CollectError::Usage(format!(
            "{} is named for two outputs",
            twice.display()
        )));
    }
    let input = MappedFile::open(&cli.linked)?;
    let mut symbols = input.symbols()?;

    // Every output is written under a temporary name and renamed into place only when all
    // are complete: a failed run leaves none behind.
    let mut outputs = OutputSet::create(&[
        cli.emit_nm.as_deref(),
        cli.emit_map.as_deref(),
        cli.output.as_deref(),
    ])
    .map_err(output_error)?;
    if outputs.requested(NM) {
        let mut all = symbols.clone();
        all.sort_nm_numeric();
        outputs
            .write(NM, |file| all.write_nm(file))
            .map_err(output_error)?;
    }
    symbols.retain_mksysmap();
    symbols.sort_nm_numeric();
    outputs
        .write(MAP, |file| symbols.write_nm(file))
        .map_err(output_error)?;
    if outputs.requested(SET) {
        let set = symbols.to_symbol_set(SymbolOrigin::Linked {
            path: input.shown().to_owned(),
        });
        outputs
            .write(SET, |file| file.write_all(&artifact::encode(&set)))
            .map_err(output_error)?;
    }
    if outputs.is_empty() {
        let stdout = std::io::stdout().lock();
        symbols
            .write_nm(stdout)
            .map_err(|e| CollectError::io("standard output", e))?;
    }
    outputs.commit().map_err(output_error)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-collect: error: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
