//! `kslink`: the driver's command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use kslink_driver::demo::{demo, DemoRequest};
use kslink_driver::link::{link, LinkRequest, TableFlags, STEPS};
use kslink_driver::linker::LinkerCommand;
use kslink_driver::progress::{Progress, Verbosity};
use kslink_driver::show::read_any;
use kslink_driver::stages::{default_executable, parse_override, StageSet};
use kslink_schema::names::nearest;
use kslink_schema::{exit, ArtifactError};

/// Link an image that carries a kallsyms table (a Linux kernel) once, instead of three times.
///
/// `kslink link` predicts the final symbols from the link inputs, builds the table from them,
/// links once with the table's object, then writes the final table, built from the linked
/// file's own symbols, over the first one in place, and checks it.
///
/// Examples:
///
///   kslink demo
///
///   kslink link --all-symbols -o vmlinux -- ld -m elf_x86_64 --script=vmlinux.lds \
///       --whole-archive vmlinux.a --no-whole-archive {kallsyms}
///
///   kslink table --emit-asm kallsyms.S System.map    (runs the stage kslink-table)
///
/// The stages are programs of their own (kslink-collect, kslink-table, …), which
/// `kslink link` runs in turn; `kslink STAGE ARGS` runs one by hand, and `kslink help STAGE`
/// shows its help.
///
/// Exit status: 0 on success, 1 when a step fails (its message says which and why; the
/// previous output is left as it was), 2 on a usage error, 128 + N when signal N ended it.
#[derive(Parser, Debug)]
#[command(
    name = "kslink",
    version,
    verbatim_doc_comment,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Link once, with the kallsyms table patched in place.
    ///
    /// Runs the linker command given after `--`, adding the table's object where the argument
    /// {kallsyms} stands (or at the end) and `-o` for kslink's intermediate file; the linked,
    /// patched and verified result is installed as OUT, with System.map beside it.
    ///
    /// Each step records what it read and wrote in the work directory: running the same
    /// command again skips what is up to date and resumes where a failed or interrupted build
    /// stopped. If the final table outgrows the first (the prediction missed symbols), kslink
    /// links once more with the sizes it needs and remembers them for the next build.
    #[command(verbatim_doc_comment)]
    Link(LinkArgs),
    /// Build, link once and run the embedded example, which checks its own table.
    ///
    /// A small C program with its own linker script, built with the system's cc, linked
    /// through `kslink link`; at run time it resolves its own functions and data to names
    /// and back as the kernel does. Exit status 0 only if its self-check passes.
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
    /// Stage: the symbols of a linked file (System.map), or predicted from the link's inputs.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Collect(StageArgs),
    /// Stage: the kallsyms table from symbols, byte for byte upstream's scripts/kallsyms.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Table(StageArgs),
    /// Stage: the frame (each array's room) that the final table must fit.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Pad(StageArgs),
    /// Stage: where a linked file holds the first table's arrays.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Locate(StageArgs),
    /// Stage: the final table written over the first in place, and checked.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Patch(StageArgs),
    /// Stage: a linked file's table decoded as the kernel reads it, as /proc/kallsyms.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Verify(StageArgs),
    /// Stage: the link inputs' view that pahole reads for BTF, and the BTF checked against
    /// the linked file.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Btf(StageArgs),
    /// Show any artifact of the stages (a SymbolSet, table, frame, location, report) as text.
    ///
    /// The file is decoded and checked as the stage that reads it would, so a file a stage
    /// refuses gets the same one-line reason here. Names and token expansions are shown as
    /// text; a table's image by its length and SHA-256.
    #[command(verbatim_doc_comment)]
    Show {
        /// The artifact file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print it as one JSON object (`kind`, `content`) instead.
        #[arg(long)]
        json: bool,
    },
    /// Help for kslink, one of its commands, or a stage (`kslink help table`).
    Help {
        /// A command (link, demo) or a stage (collect, table, pad, locate, patch, verify, btf).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// The arguments of a stage, passed on as they are.
#[derive(Args, Debug)]
struct StageArgs {
    /// The stage's own arguments (`kslink help STAGE` lists them).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    args: Vec<OsString>,
}

/// The stages, by the name `kslink STAGE` takes.
const STAGES: [&str; 7] = [
    "collect", "table", "pad", "locate", "patch", "verify", "btf",
];

#[derive(Args, Debug)]
struct Output {
    /// Print one JSON object with the run's figures on standard output at the end (progress
    /// lines go to standard error).
    #[arg(long)]
    json: bool,
    /// Print nothing but errors (what `make -s` wants).
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Print every command instead of the short lines (Kbuild's V=1).
    #[arg(short, long)]
    verbose: bool,
    /// Run another executable for a stage (collect, table, pad, locate, patch, btf); it
    /// reads and writes the same artifacts. Repeatable.
    #[arg(long = "stage", value_name = "NAME=EXE", value_parser = parse_override)]
    stages: Vec<(String, PathBuf)>,
}

impl Output {
    fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        }
    }
}

#[derive(Args, Debug)]
struct LinkArgs {
    /// The kernel version's table rules, layout and System.map rules: linux-7.3, linux-6.12 or
    /// linux-6.1.
    #[arg(long, value_name = "PROFILE", default_value = "linux-6.12")]
    profile: String,
    /// Keep every symbol, not only text (CONFIG_KALLSYMS_ALL).
    #[arg(long)]
    all_symbols: bool,
    /// Per-CPU symbols as absolute values (CONFIG_KALLSYMS_ABSOLUTE_PERCPU).
    #[arg(long)]
    absolute_percpu: bool,
    /// Offsets from a relative base (6.1's CONFIG_KALLSYMS_BASE_RELATIVE).
    #[arg(long)]
    base_relative: bool,
    /// Offsets relative to each entry's own address (7.x with CONFIG_64BIT or
    /// CONFIG_RELOCATABLE).
    #[arg(long)]
    pc_relative: bool,
    /// The target of the table's object: x86_64, aarch64, riscv64, i386, arm, …
    /// (default: the host's).
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// The linker script the symbols are predicted with (default: the one the linker command
    /// names with -T or --script).
    #[arg(short = 'T', long = "script", value_name = "SCRIPT")]
    script: Option<PathBuf>,
    /// The linked output.
    #[arg(short = 'o', long = "output", value_name = "OUT", required = true)]
    output: PathBuf,
    /// Where System.map goes (default: System.map beside OUT).
    #[arg(long, value_name = "FILE")]
    map: Option<PathBuf>,
    /// Keep the steps' files and records here (default: .kslink-NAME beside OUT).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Print the commands that would run, and run none.
    #[arg(long)]
    dry_run: bool,
    /// The file pahole read for the .BTF the link carries (the BTF input view: `kslink btf
    /// view-script`, then `kslink btf view`). The linked file's BTF is checked against it and the
    /// file itself before it is installed; a BTF that does not fit exits 3 and installs
    /// nothing (make the BTF from a linked file then, the kernel's own way).
    #[arg(long, value_name = "VIEW")]
    btf_view: Option<PathBuf>,
    /// An input file of the linker command (as it names it) that defines no symbols, such as
    /// Linux's .btf.o, which carries the .BTF section alone. The prediction does not read it,
    /// so it need not exist yet when the steps before the link run (--prepare). Should it
    /// define symbols after all, the final table outgrows the prediction's and kslink links
    /// once more, with the sizes it needs. Repeatable.
    #[arg(long, value_name = "FILE")]
    symbol_free: Vec<PathBuf>,
    /// Run only the steps before the link (the prediction, the first table, the frame) and
    /// stop. A later `kslink link` with the same options and command finds them done and
    /// starts at the link: Linux's drop-in prepares while pahole makes the BTF (--symbol-free
    /// names the BTF's object, which does not exist yet).
    #[arg(long, conflicts_with = "dry_run")]
    prepare: bool,
    #[command(flatten)]
    output_options: Output,
    /// The linker and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "LINKER ARGS")]
    linker: Vec<OsString>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// The linker to run: ld (GNU) or ld.lld, or any program; gnu and lld, the names the
    /// stages take, mean ld and ld.lld.
    #[arg(long, default_value = "ld", value_name = "LD")]
    linker: OsString,
    /// Build in DIR and keep the files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    #[command(flatten)]
    output_options: Output,
}

fn stages(output: &Output) -> Result<StageSet, ExitCode> {
    StageSet::new(&output.stages).map_err(|message| {
        eprintln!("kslink: {message}");
        ExitCode::from(exit::USAGE)
    })
}

fn print_json(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
}

fn run_link(args: LinkArgs) -> ExitCode {
    let stages = match stages(&args.output_options) {
        Ok(stages) => stages,
        Err(code) => return code,
    };
    let linker = match LinkerCommand::parse(args.linker) {
        Ok(linker) => linker,
        Err(message) => {
            eprintln!("kslink: {message}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let request = LinkRequest {
        flags: TableFlags {
            profile: Some(args.profile),
            all_symbols: args.all_symbols,
            absolute_percpu: args.absolute_percpu,
            base_relative: args.base_relative,
            pc_relative: args.pc_relative,
            arch: args.arch,
        },
        script: args.script,
        output: args.output,
        map: args.map,
        work_dir: args.work_dir,
        stages,
        dry_run: args.dry_run,
        linker,
        btf_view: args.btf_view,
        symbol_free: args.symbol_free,
        prepare: args.prepare,
    };
    let options = &args.output_options;
    let progress = Progress::new(STEPS, options.verbosity(), options.json);
    match link(&request, &progress) {
        Ok(summary) => {
            if options.json {
                print_json(&summary.to_json());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("kslink: {}: {err}", request.output.display());
            ExitCode::from(err.exit_status())
        }
    }
}

fn run_demo(args: DemoArgs) -> ExitCode {
    let stages = match stages(&args.output_options) {
        Ok(stages) => stages,
        Err(code) => return code,
    };
    let request = DemoRequest {
        cc: std::env::var_os("CC").unwrap_or_else(|| "cc".into()),
        linker: match args.linker.to_str() {
            Some("gnu") => "ld".into(),
            Some("lld") => "ld.lld".into(),
            _ => args.linker,
        },
        keep: args.keep,
        stages,
    };
    let options = &args.output_options;
    let progress = Progress::new(STEPS + 1, options.verbosity(), options.json);
    match demo(&request, &progress) {
        Ok(outcome) => {
            if options.verbosity() != Verbosity::Quiet {
                // The example's own report goes to standard output, before any JSON line.
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(outcome.program_output.as_bytes());
            }
            if options.json {
                print_json(&outcome.to_json());
            }
            if outcome.selfcheck {
                ExitCode::SUCCESS
            } else {
                eprintln!("kslink: demo: the example's self-check failed");
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("kslink: demo: {err}");
            ExitCode::from(err.exit_status())
        }
    }
}

/// Runs `kslink-STAGE ARGS`, git-style, and exits with its status.
fn run_stage(name: &str, args: &[OsString]) -> ExitCode {
    let exe = default_executable(name);
    match std::process::Command::new(&exe).args(args).status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| c as u8)),
        Err(err) => {
            eprintln!(
                "kslink: cannot run the stage {}: {}: build it (`cargo build --release \
                 --workspace --bins`) or put it on PATH",
                exe.display(),
                err.kind()
            );
            ExitCode::from(exit::USAGE)
        }
    }
}

/// `kslink show FILE [--json]`: exit 1 with the decoder's reason if it is no artifact.
fn run_show(file: &std::path::Path, json: bool) -> ExitCode {
    match read_any(file) {
        Ok(shown) => {
            let mut stdout = std::io::stdout().lock();
            let _ = if json {
                writeln!(stdout, "{}", shown.to_json())
            } else {
                stdout.write_all(shown.to_text().as_bytes())
            };
            ExitCode::SUCCESS
        }
        Err(err) => {
            match err {
                ArtifactError::Io { .. } => eprintln!("kslink: show: {err}"),
                _ => eprintln!("kslink: show: {}: {err}", file.display()),
            }
            ExitCode::FAILURE
        }
    }
}

/// `kslink help [COMMAND]`: kslink's own help, a command's, or the stage's own `--help`.
fn run_help(command: Option<String>) -> ExitCode {
    let mut cli = Cli::command();
    let Some(name) = command else {
        let _ = cli.print_long_help();
        return ExitCode::SUCCESS;
    };
    if STAGES.contains(&name.as_str()) {
        return run_stage(&name, &["--help".into()]);
    }
    match cli.find_subcommand_mut(&name) {
        Some(sub) => {
            let _ = sub.print_long_help();
            ExitCode::SUCCESS
        }
        None => {
            let known: Vec<String> = cli
                .get_subcommands()
                .map(|sub| sub.get_name().to_string())
                .collect();
            eprintln!(
                "kslink: no command `{name}`{}; the commands: {}",
                nearest(&name, known.iter().map(String::as_str))
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default(),
                known.join(", ")
            );
            ExitCode::from(exit::USAGE)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Link(args) => run_link(args),
        Command::Demo(args) => run_demo(args),
        Command::Collect(stage) => run_stage("collect", &stage.args),
        Command::Table(stage) => run_stage("table", &stage.args),
        Command::Pad(stage) => run_stage("pad", &stage.args),
        Command::Locate(stage) => run_stage("locate", &stage.args),
        Command::Patch(stage) => run_stage("patch", &stage.args),
        Command::Verify(stage) => run_stage("verify", &stage.args),
        Command::Btf(stage) => run_stage("btf", &stage.args),
        Command::Show { file, json } => run_show(&file, json),
        Command::Help { command } => run_help(command),
    }
}
