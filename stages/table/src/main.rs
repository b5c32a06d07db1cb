//! `kslink-table`: the table stage's command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use kslink_schema::artifact::{self, Artifact};
use kslink_schema::fsio::{OutputError, OutputSet};
use kslink_schema::names::did_you_mean;
use kslink_schema::{KallsymsTable, PadSpec, TableOptions};
use kslink_table::{
    build_reusing, fit_in_frame, frame_padding, read_input, write_object, Arch, FrameError,
    Profile, TableError, DEFAULT_PROFILE,
};

/// Build the kernel's kallsyms table from a symbol list, byte-identical to what the
/// kernel's own scripts/kallsyms makes.
///
/// INPUT is an nm-style map (`nm -n vmlinux | sed -f scripts/mksysmap`, i.e. System.map, for
/// 6.12; plain `nm -n` output for 6.1) or a SymbolSet artifact from kslink-collect. A
/// SymbolSet predicted before the link has no addresses: the table then has the sizes the
/// final one will have if the prediction holds; every symbol stays even without
/// --all-symbols (an upper bound), and --absolute-percpu takes the per-cpu symbols from
/// their .data..percpu section.
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
/// With --frame PADSPEC (from kslink-pad), every output is laid out in that frame: each
/// array at the offset the frame reserves for it, zero bytes after its content to the end of
/// its room (`.zero` in the .S), so that this table can be written over one built in the
/// same frame without moving any array:
///
///   kslink-table --all-symbols --frame first.pad -o final.tbl final.symbols
///
/// With --tokens-from TABLE (an earlier KallsymsTable, such as the first table), the
/// compression is taken over from it when INPUT's symbols are, as a multiset of type letters
/// and names, the ones it was made from: the compression depends on nothing else, so the
/// outputs are the same, and made faster. Otherwise INPUT is compressed as usual.
///
/// Exit status: 0 on success, 1 when the input cannot be turned into a table (a malformed
/// line, an address out of range, an unreadable file, a frame for another kind of table),
/// 2 on a usage error, 3 when the table does not fit the frame given with --frame (the
/// message names each array that is too large and by how much; link again with a frame
/// sized from this table).
#[derive(Parser, Debug)]
#[command(name = "kslink-table", version, verbatim_doc_comment)]
struct Cli {
    /// Kernel version whose generator to reproduce: linux-6.12, linux-6.1 or linux-7.3.
    #[arg(long, default_value = DEFAULT_PROFILE, value_name = "PROFILE")]
    profile: String,
    /// Keep all symbols, not only text (CONFIG_KALLSYMS_ALL).
    #[arg(long)]
    all_symbols: bool,
    /// linux-6.12 and linux-6.1 only: store per-cpu symbols as absolute values
    /// (CONFIG_KALLSYMS_ABSOLUTE_PERCPU).
    #[arg(long)]
    absolute_percpu: bool,
    /// linux-7.3 only: each kallsyms_offsets entry as its symbol's distance from the entry
    /// (`.long _text - . + D`; link-vmlinux.sh passes it with CONFIG_64BIT or
    /// CONFIG_RELOCATABLE); without it, the addresses truncated to 32 bits.
    #[arg(long)]
    pc_relative: bool,
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
    /// Write the table's bytes alone, pointers resolved with the map's addresses
    /// (place-relative entries hold their symbol's distance from _text: their place is
    /// known only once linked).
    #[arg(long, value_name = "FILE")]
    emit_raw: Option<PathBuf>,
    /// Lay every output out in this frame (a PadSpec artifact from kslink-pad); exit
    /// status 3 if the table does not fit.
    #[arg(long, value_name = "PADSPEC")]
    frame: Option<PathBuf>,
    /// Take the compression over from this KallsymsTable artifact when it was made from
    /// the same symbols (in any order, at any addresses); the outputs are the same.
    #[arg(long, value_name = "TABLE")]
    tokens_from: Option<PathBuf>,
    /// Only check the options (profile, arch, and the flags the profile takes) and exit: 0
    /// if this stage builds such tables, 2 and the reason if not. `kslink link` asks this
    /// before anything runs, so that a mistyped name costs no link.
    #[arg(long)]
    check: bool,
    /// The symbols: a text map or a SymbolSet artifact.
    #[arg(value_name = "INPUT", required_unless_present = "check")]
    input: Option<PathBuf>,
}

/// Positions of the outputs in the run's [`OutputSet`].
const ASM: usize = 0;
const OBJECT: usize = 1;
const RAW: usize = 2;
const ARTIFACT: usize = 3;

fn output_error(err: OutputError) -> TableError {
    TableError::io(err.path, err.source)
}

/// The frame of `--frame`, and its path as shown in messages.
fn read_frame(path: &Path) -> Result<(PadSpec, String), TableError> {
    let shown = path.display().to_string();
    Ok((read_artifact(path)?, shown))
}

/// An artifact given on the command line, or an error that names the file.
fn read_artifact<T: Artifact>(path: &Path) -> Result<T, TableError> {
    artifact::read(path).map_err(|source| TableError::Artifact {
        path: path.display().to_string(),
        source,
    })
}

/// The final table of a link is built with the first table's profile and options, or it
/// would decode differently from what the link was laid out for (forgetting `--all-symbols`
/// on the final table still fits, and leaves a wrong kernel): a usage error naming the flags.
fn same_options(
    earlier: &KallsymsTable,
    profile: &Profile,
    options: TableOptions,
    path: &Path,
) -> Result<(), TableError> {
    let flags = |o: TableOptions| {
        [
            (o.all_symbols, "--all-symbols"),
            (o.absolute_percpu, "--absolute-percpu"),
            (o.base_relative, "--base-relative"),
            (o.lto_clang, "--lto-clang"),
            (o.pc_relative, "--pc-relative"),
        ]
    };
    let mut differences: Vec<String> = flags(earlier.options)
        .into_iter()
        .zip(flags(options))
        .filter(|((was, _), (is, _))| was != is)
        .map(|((was, flag), _)| format!("{} {flag}", if was { "with" } else { "without" }))
        .collect();
    if earlier.profile != profile.name {
        differences.insert(0, format!("for --profile {}", earlier.profile));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(TableError::Usage(format!(
        "{}: it was built {}, and this table is not: build both tables with the same options",
        path.display(),
        differences.join(", ")
    )))
}

fn run(cli: Cli) -> Result<(), TableError> {
    let profile = Profile::by_name(&cli.profile).ok_or_else(|| {
        TableError::Usage(format!(
            "unknown profile {:?}{}; known profiles: {}",
            cli.profile,
            did_you_mean(&cli.profile, Profile::names()),
            Profile::names().join(", ")
        ))
    })?;
    let arch = match &cli.arch {
        None => Arch::host(),
        Some(name) => Arch::by_name(name).ok_or_else(|| {
            TableError::Usage(format!(
                "unknown arch {name:?}{}; known: {}",
                did_you_mean(name, Arch::names()),
                Arch::names().join(", ")
            ))
        })?,
    };
    let options = TableOptions {
        all_symbols: cli.all_symbols,
        absolute_percpu: cli.absolute_percpu,
        base_relative: cli.base_relative,
        lto_clang: cli.lto_clang,
        pc_relative: cli.pc_relative,
    };
    profile.check_options(options).map_err(TableError::Usage)?;
    let Some(input) = cli.input.as_deref() else {
        return Ok(());
    };
    let frame = cli.frame.as_deref().map(read_frame).transpose()?;
    let symbols = read_input(input, profile)?;
    for warning in &symbols.warnings {
        eprintln!("kslink-table: warning: {warning}");
    }
    let empty = symbols.entries.is_empty();
    let earlier: Option<KallsymsTable> =
        cli.tokens_from.as_deref().map(read_artifact).transpose()?;
    if let (Some(earlier), Some(path)) = (&earlier, &cli.tokens_from) {
        same_options(earlier, profile, options, path)?;
    }
    let built = build_reusing(symbols, profile, options, earlier.as_ref())?;
    if empty {
        // Upstream's generator takes an empty list too, but it is rarely what was meant.
        eprintln!(
            "kslink-table: warning: {}: no symbols to keep: the table is empty",
            input.display()
        );
    }
    drop(earlier);
    // In a frame, the image is made, and found to fit or not, before any output exists.
    let (framed, padding) = match &frame {
        Some((frame, frame_path)) => {
            let table =
                fit_in_frame(built.to_artifact(arch.layout()), frame).map_err(|err| match err {
                    FrameError::Mismatch(what) => TableError::Frame {
                        path: frame_path.clone(),
                        what,
                    },
                    FrameError::Misfit(misfits) => TableError::Misfit {
                        source: input.display().to_string(),
                        misfits,
                    },
                })?;
            let padding = frame_padding(frame, &table);
            (Some(table), padding)
        }
        None => (None, Vec::new()),
    };

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
            .write(ASM, |file| built.write_asm_padded(&padding, file))
            .map_err(output_error)?;
    } else if !wants_image {
        built
            .write_asm_padded(&padding, std::io::stdout())
            .map_err(|e| TableError::io("standard output", e))?;
    }
    if wants_image {
        let table = match framed {
            Some(table) => table,
            None => built.to_artifact(arch.layout()),
        };
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
            ExitCode::from(err.exit_code())
        }
    }
}
