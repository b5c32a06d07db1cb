//! `kslink-collect`: the collect stage's command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use kslink_collect::compare::{compare, TableSettings};
use kslink_collect::{
    linked_symbols, mksysmap_of, open_input, profile_named, table_labels, CollectError,
};
use kslink_linker_model::predict;
use kslink_schema::fsio::{OutputError, OutputSet};
use kslink_schema::{
    artifact, DataLayout, LinkKind, LinkerFlavour, SymbolOrigin, SymbolSet, TableOptions,
};
use kslink_table::Profile;

/// Collect the symbols of a linked ELF file as the kernel's System.map lists them, or
/// predict them from the link's inputs before the link.
///
///   kslink-collect --linked ELF [--profile P] [-o SYMBOLS] [--emit-map FILE] [--emit-nm FILE]
///
/// reads the symbol table (.symtab) of ELF (32- or 64-bit, either byte order) and keeps
/// what the kernel version P makes System.map of (GNU nm 2.40; linux-6.12 and linux-7.3:
/// `nm -n ELF | sed -f scripts/mksysmap`, each with its own script; linux-6.1: `nm -n ELF`
/// filtered by its mksysmap's `grep -v`), in the same order and with the same type letters.
///
///   kslink-collect --predict -T SCRIPT [--profile P] [--base-relative] [--linker gnu|lld]
///                  [--shared|--pie]
///                  [-o SYMBOLS] [--emit-map FILE] INPUT...
///
/// predicts the same set for the file that `ld -T SCRIPT INPUT...` (GNU ld 2.40, or with
/// --linker lld LLVM's ld.lld 14) will write, with the
/// kallsyms table's labels added: INPUTs are objects, archives and thin archives, in link
/// order, with --whole-archive, --no-whole-archive, --start-group/-( and --end-group/-)
/// among them as on an ld command line (every other option is an error; give this tool's
/// options before the first INPUT). --shared and --pie say that the link has ld's -shared
/// (as arm64 and riscv link a relocatable kernel) or -pie: it then has dynamic sections,
/// and hidden symbols become local with -shared. Addresses are unknown: they are 0 in the
/// outputs, and the artifact says so.
///
///   kslink-collect --compare PREDICTED --linked ELF [--profile P] [--all-symbols]
///                  [--absolute-percpu] [--base-relative] [--pc-relative] [--json]
///
/// reports how good a prediction (a SymbolSet artifact from --predict) was: the names
/// missing from it, extra in it, or with another type letter, and the kallsyms table
/// bytes each set gives, array by array (built as kslink-table builds it, with the given
/// options).
///
/// Without an output option, --linked and --predict print the System.map to standard
/// output.
///
/// Examples:
///
///   kslink-collect --linked vmlinux -o vmlinux.symbols
///
///   kslink-collect --predict -T arch/x86/kernel/vmlinux.lds -o predicted.symbols \
///       --whole-archive vmlinux.o init/version-timestamp.o --no-whole-archive
///
///   kslink-collect --compare predicted.symbols --linked vmlinux --all-symbols
///
/// Exit status: --linked and --predict: 0 on success, 1 when an input cannot be read (a
/// missing, non-ELF or truncated file, a stripped ELF file, an archive member that is
/// missing, a linker script that cannot be read or followed) or an output cannot be
/// written, 2 on a usage error. --compare: 0 when the prediction is exact, 1 when it
/// differs, 2 on any error.
#[derive(Parser, Debug)]
#[command(
    name = "kslink-collect",
    version,
    verbatim_doc_comment,
    arg_required_else_help = true
)]
struct Cli {
    /// The linked ELF file (vmlinux).
    #[arg(long, value_name = "ELF", required_unless_present = "predict")]
    linked: Option<PathBuf>,
    /// Predict the symbols of the link of INPUT... with SCRIPT.
    #[arg(long, requires = "script", conflicts_with_all = ["linked", "compare"])]
    predict: bool,
    /// With --linked: compare this prediction (a SymbolSet artifact) with ELF.
    #[arg(long, value_name = "PREDICTED", requires = "linked")]
    compare: Option<PathBuf>,
    /// The linker script of the link to predict.
    #[arg(
        short = 'T',
        long = "script",
        value_name = "SCRIPT",
        requires = "predict"
    )]
    script: Option<PathBuf>,
    /// The kernel version: its System.map rules, the kallsyms table's labels (--predict)
    /// and layout (--compare): linux-6.12, linux-6.1 or linux-7.3.
    #[arg(long, value_name = "PROFILE", default_value = kslink_table::DEFAULT_PROFILE)]
    profile: String,
    /// 6.1's --base-relative table (kallsyms_offsets and kallsyms_relative_base instead
    /// of kallsyms_addresses).
    #[arg(long)]
    base_relative: bool,
    /// --predict: the linker whose rules to follow: gnu (GNU ld; ld and ld.bfd say the
    /// same) or lld (LLVM's; ld.lld too).
    #[arg(
        long,
        value_name = "LINKER",
        default_value = "gnu",
        requires = "predict"
    )]
    linker: LinkerFlavour,
    /// --predict: the link is `ld -shared` (a shared object; the kernel of arm64 and riscv
    /// with CONFIG_RELOCATABLE).
    #[arg(long, requires = "predict", conflicts_with = "pie")]
    shared: bool,
    /// --predict: the link is `ld -pie` (a position-independent executable).
    #[arg(long, requires = "predict")]
    pie: bool,
    /// --compare: build the tables with --all-symbols (CONFIG_KALLSYMS_ALL).
    #[arg(long, requires = "compare")]
    all_symbols: bool,
    /// --compare: build the tables with --absolute-percpu (6.1, 6.12).
    #[arg(long, requires = "compare")]
    absolute_percpu: bool,
    /// --compare: build the tables with --pc-relative (7.x: each offset relative to its
    /// own place).
    #[arg(long, requires = "compare")]
    pc_relative: bool,
    /// --compare: print one JSON object instead of the text report.
    #[arg(long, requires = "compare")]
    json: bool,
    /// Write the SymbolSet artifact that kslink-table reads.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "SYMBOLS",
        conflicts_with = "compare"
    )]
    output: Option<PathBuf>,
    /// Write System.map: what the profile's `scripts/mksysmap` keeps of `nm -n ELF`.
    #[arg(long, value_name = "FILE", conflicts_with = "compare")]
    emit_map: Option<PathBuf>,
    /// Write what `nm -n ELF` prints, unfiltered (the input of Linux 6.1's kallsyms).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["compare", "predict"])]
    emit_nm: Option<PathBuf>,
    /// --predict: the link's inputs, in link order.
    #[arg(
        value_name = "INPUT",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        requires = "predict"
    )]
    inputs: Vec<OsString>,
}

fn output_error(err: OutputError) -> CollectError {
    CollectError::io(err.path, err.source)
}

/// Positions of the outputs in the run's [`OutputSet`].
const NM: usize = 0;
const MAP: usize = 1;
const SET: usize = 2;

/// Fails if one path is named for two outputs.
fn check_distinct(named: &[&PathBuf]) -> Result<(), CollectError> {
    match named
        .iter()
        .enumerate()
        .find_map(|(i, path)| named[..i].contains(path).then_some(path))
    {
        Some(twice) => Err(CollectError::Usage(format!(
            "{} is named for two outputs",
            twice.display()
        ))),
        None => Ok(()),
    }
}

/// The table options of the command line (those of --compare are false in other modes).
fn table_options(cli: &Cli) -> TableOptions {
    TableOptions {
        all_symbols: cli.all_symbols,
        absolute_percpu: cli.absolute_percpu,
        base_relative: cli.base_relative,
        lto_clang: false,
        pc_relative: cli.pc_relative,
    }
}

/// The profile `--profile` names, if its kernel version takes the table options given
/// (in kslink-table's words otherwise).
fn profile(cli: &Cli) -> Result<&'static Profile, CollectError> {
    let profile = profile_named(&cli.profile)?;
    profile
        .check_options(table_options(cli))
        .map_err(CollectError::Usage)?;
    Ok(profile)
}

fn run_linked(cli: &Cli, linked: &Path) -> Result<(), CollectError> {
    let named: Vec<&PathBuf> = [&cli.emit_nm, &cli.emit_map, &cli.output]
        .into_iter()
        .flatten()
        .collect();
    check_distinct(&named)?;
    let mksysmap = mksysmap_of(profile(cli)?)?;
    let input = open_input(linked)?;
    let mut symbols = linked_symbols(&input)?;

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
    symbols.retain_mksysmap_of(mksysmap);
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

fn run_predict(cli: &Cli) -> Result<(), CollectError> {
    let script = cli
        .script
        .as_ref()
        .expect("clap requires -T with --predict");
    let named: Vec<&PathBuf> = [&cli.emit_map, &cli.output].into_iter().flatten().collect();
    check_distinct(&named)?;
    let profile = profile(cli)?;
    let mksysmap = mksysmap_of(profile)?;
    let table = table_labels(profile, cli.base_relative);
    let kind = if cli.shared {
        LinkKind::Shared
    } else if cli.pie {
        LinkKind::Pie
    } else {
        LinkKind::Static
    };
    let set = predict(script, &cli.inputs, &table, mksysmap, cli.linker, kind)?;
    let mut outputs = OutputSet::create(&[None, cli.emit_map.as_deref(), cli.output.as_deref()])
        .map_err(output_error)?;
    outputs
        .write(MAP, |file| set.write_map(file))
        .map_err(output_error)?;
    outputs
        .write(SET, |file| file.write_all(&artifact::encode(&set)))
        .map_err(output_error)?;
    if outputs.is_empty() {
        set.write_map(std::io::stdout().lock())
            .map_err(|e| CollectError::io("standard output", e))?;
    }
    outputs.commit().map_err(output_error)
}

/// Runs --compare; true if the prediction is exact.
fn run_compare(cli: &Cli, predicted: &Path, linked: &Path) -> Result<bool, CollectError> {
    let profile = profile(cli)?;
    let mksysmap = mksysmap_of(profile)?;
    let shown = predicted.display().to_string();
    let prediction: SymbolSet = artifact::read(predicted).map_err(|e| match e {
        kslink_schema::ArtifactError::Io { source, .. } => CollectError::io(shown, source),
        other => CollectError::Input {
            path: shown,
            message: other.to_string(),
        },
    })?;
    let input = open_input(linked)?;
    let mut symbols = linked_symbols(&input)?;
    symbols.retain_mksysmap_of(mksysmap);
    symbols.sort_nm_numeric();
    let linked_set = symbols.to_symbol_set(SymbolOrigin::Linked {
        path: input.shown().to_owned(),
    });
    let settings = TableSettings {
        profile,
        options: table_options(cli),
        layout: DataLayout {
            pointer_bytes: symbols.address_bits / 8,
            big_endian: symbols.big_endian,
        },
    };
    let comparison = compare(&prediction, &linked_set, settings)?;
    let report = if cli.json {
        let mut text = serde_json::to_string(&comparison).expect("the report serializes");
        text.push('\n');
        text
    } else {
        comparison.to_text(20)
    };
    std::io::stdout()
        .lock()
        .write_all(report.as_bytes())
        .map_err(|e| CollectError::io("standard output", e))?;
    Ok(comparison.exact)
}

/// `--compare`'s statuses, as cmp(1)'s: the prediction differs from the linked file.
const COMPARE_DIFFERENT: u8 = 1;
/// `--compare` could not compare.
const COMPARE_TROUBLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.compare, &cli.linked) {
        (Some(predicted), Some(linked)) => match run_compare(&cli, predicted, linked) {
            Ok(true) => return ExitCode::SUCCESS,
            Ok(false) => return ExitCode::from(COMPARE_DIFFERENT),
            Err(err) => {
                eprintln!("kslink-collect: error: {err}");
                return ExitCode::from(COMPARE_TROUBLE);
            }
        },
        (None, Some(linked)) => run_linked(&cli, linked),
        _ => run_predict(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-collect: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
