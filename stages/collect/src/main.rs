//! `kslink-collect`: the collect stage's command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_collect::{CollectError, MappedFile};
use kslink_schema::fsio::AtomicFile;
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

/// Creates `path`'s temporary file (nothing appears under `path` before [`commit`]).
fn create(path: &Option<PathBuf>) -> Result<Option<(String, AtomicFile)>, CollectError> {
    path.as_ref()
        .map(|path| {
            let shown = path.display().to_string();
            let file = AtomicFile::create(path).map_err(|e| CollectError::io(&shown, e))?;
            Ok((shown, file))
        })
        .transpose()
}

fn write(
    output: &mut Option<(String, AtomicFile)>,
    write: impl FnOnce(&mut AtomicFile) -> std::io::Result<()>,
) -> Result<(), CollectError> {
    match output {
        Some((shown, file)) => write(file).map_err(|e| CollectError::io(shown.as_str(), e)),
        None => Ok(()),
    }
}

fn commit(outputs: Vec<Option<(String, AtomicFile)>>) -> Result<(), CollectError> {
    for (shown, file) in outputs.into_iter().flatten() {
        file.commit().map_err(|e| CollectError::io(shown, e))?;
    }
    Ok(())
}

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
    let mut nm_out = create(&cli.emit_nm)?;
    let mut map_out = create(&cli.emit_map)?;
    let mut set_out = create(&cli.output)?;
    if nm_out.is_some() {
        let mut all = symbols.clone();
        all.sort_nm_numeric();
        write(&mut nm_out, |file| all.write_nm(file))?;
    }
    symbols.retain_mksysmap();
    symbols.sort_nm_numeric();
    if map_out.is_some() {
        write(&mut map_out, |file| symbols.write_nm(file))?;
    }
    if set_out.is_some() {
        let set = symbols.to_symbol_set(SymbolOrigin::Linked {
            path: input.shown().to_owned(),
        });
        write(&mut set_out, |file| file.write_all(&artifact::encode(&set)))?;
    }
    if nm_out.is_none() && map_out.is_none() && set_out.is_none() {
        let stdout = std::io::stdout().lock();
        symbols
            .write_nm(stdout)
            .map_err(|e| CollectError::io("standard output", e))?;
    }
    commit(vec![nm_out, map_out, set_out])
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
