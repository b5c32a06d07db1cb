//! BTF in one link.
//!
//! Upstream links vmlinux once with full debug information only so that pahole can read a
//! linked file. kslink gives pahole a view of the same inputs instead (the *BTF input view*):
//! the inputs gathered as the statements of the kernel's own linker script that change what
//! pahole encodes gather them ([`view`]), in an executable file with a linked file's
//! addresses that kslink writes itself ([`executable`]); and it links vmlinux once with the
//! BTF made from it. After the
//! link, [`fit`] confirms the BTF against the linked file: a BTF that does not fit is
//! reported, never shipped, and the caller links the kernel's own way.
//!
//! [`format`] reads BTF as the kernel's `include/uapi/linux/btf.h` defines it.

#![deny(missing_docs)]

pub mod executable;
pub mod fit;
pub mod format;
pub mod skeleton;
pub mod view;

use std::cell::OnceCell;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use kslink_schema::artifact::{self, ArtifactError};
use kslink_schema::fsio::{io_reason, AtomicFile, MappedFile};
use kslink_schema::BtfFit;

pub use fit::Misfit;
use view::ViewError;

/// Why a BTF stage failed.
#[derive(Debug)]
pub enum BtfError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// The input is not an ELF file that can be read.
    Elf {
        /// The file.
        path: String,
        /// What the ELF reader said.
        reason: String,
    },
    /// The linked file has no `.BTF` section to check.
    NoBtf {
        /// The file.
        path: String,
    },
    /// The linker script could not be turned into the view's script.
    View(view::ViewError),
    /// The BTF does not fit the linked file.
    Misfit {
        /// The file.
        path: String,
        /// How.
        misfit: Misfit,
    },
    /// The report could not be written.
    Report(ArtifactError),
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Io { path, reason } => write!(f, "{path}: {reason}"),
            BtfError::Elf { path, reason } => {
                write!(f, "{path}: not a readable ELF file: {reason}")
            }
            BtfError::NoBtf { path } => write!(f, "{path}: no .BTF section to check"),
            BtfError::View(err) => write!(f, "{err}"),
            BtfError::Misfit { path, misfit } => {
                write!(f, "{path}: the BTF does not fit the file: {misfit}")
            }
            BtfError::Report(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for BtfError {}

impl BtfError {
    /// The exit status for this error: [`kslink_schema::exit::MISFIT`] when the BTF does not
    /// fit (the caller has a known cure: the kernel's own way), else
    /// [`kslink_schema::exit::FAILURE`].
    pub fn exit_status(&self) -> u8 {
        match self {
            BtfError::Misfit { .. } => kslink_schema::exit::MISFIT,
            _ => kslink_schema::exit::FAILURE,
        }
    }
}

fn io_error(path: &Path, err: &std::io::Error) -> BtfError {
    BtfError::Io {
        path: path.display().to_string(),
        reason: io_reason(err),
    }
}

/// Writes to `output` the script of the BTF input view made from `script`, the kernel's
/// preprocessed linker script; `output` appears whole or not at all.
pub fn write_view_script(script: &Path, output: &Path) -> Result<(), BtfError> {
    let text = MappedFile::open(script).map_err(|e| io_error(script, &e))?;
    let view = view::view_script(text.bytes(), text.shown()).map_err(BtfError::View)?;
    let mut file = AtomicFile::create(output).map_err(|e| io_error(output, &e))?;
    file.write_all(view.as_bytes())
        .map_err(|e| io_error(output, &e))?;
    file.commit().map_err(|e| io_error(output, &e))
}

/// How the BTF input view's global symbols are ordered ([`executable::SymbolOrder`]).
#[derive(Clone, Copy, Debug)]
pub enum SymbolOrderSource<'p> {
    /// The inputs' order.
    Inputs,
    /// The order of this file's global symbols (GNU ld's `ld -r --strip-debug`).
    File(&'p Path),
    /// The order of the global symbols of a relocatable link of the inputs' symbol
    /// skeletons ([`skeleton`]) with the view's script, which this linker command (the
    /// program and its options: the kernel's `$(LD) $(KBUILD_LDFLAGS)`) makes while the
    /// view's sections are gathered and relocated: GNU ld's.
    Link(&'p [OsString]),
    /// ld.lld's: hidden definitions first.
    HiddenFirst,
}

/// A relocatable link of the inputs' symbol skeletons run for its symbols' order
/// ([`SymbolOrderSource::Link`]), beside the view's own work; killed, and its files
/// removed, if the view fails first.
struct OrderLink {
    child: Option<Child>,
    program: String,
    file: PathBuf,
    skeletons: Vec<PathBuf>,
}

impl OrderLink {
    /// Writes each input's symbol skeleton as `OUTPUT.order.N.o` and starts
    /// `linker -r --strip-debug -T script -o OUTPUT.order.o SKELETONS`.
    fn start(
        linker: &[OsString],
        script: &Path,
        inputs: &[executable::ViewInput<'_>],
        output: &Path,
    ) -> Result<OrderLink, BtfError> {
        let Some((program, options)) = linker.split_first() else {
            return Err(BtfError::View(ViewError::new(
                "no linker command for the symbol order".to_string(),
            )));
        };
        let beside = |suffix: &str| {
            let mut name = output.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let mut link = OrderLink {
            child: None,
            program: program.to_string_lossy().into_owned(),
            file: beside(".order.o"),
            skeletons: Vec::with_capacity(inputs.len()),
        };
        for (number, input) in inputs.iter().enumerate() {
            let bytes = skeleton::symbol_skeleton(input).map_err(BtfError::View)?;
            let path = beside(&format!(".order.{}.o", number + 1));
            link.skeletons.push(path.clone());
            std::fs::write(&path, bytes).map_err(|e| io_error(&path, &e))?;
        }
        let child = std::process::Command::new(program)
            .args(options)
            .args(["-r", "--strip-debug", "-T"])
            .arg(script)
            .arg("-o")
            .arg(&link.file)
            .args(&link.skeletons)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BtfError::Io {
                path: link.program.clone(),
                reason: format!("cannot run it for the symbol order: {}", io_reason(&e)),
            })?;
        link.child = Some(child);
        Ok(link)
    }

    /// Waits for the link and maps its file; its files are then removed: their names go,
    /// the map stays.
    fn finish(mut self) -> Result<MappedFile, ViewError> {
        let child = self.child.take().expect("finished once");
        let output = child.wait_with_output().map_err(|e| {
            ViewError::new(format!(
                "{}: the symbol-order link: {}",
                self.program,
                io_reason(&e)
            ))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(ViewError::new(format!(
                "{}: the symbol-order link (-r --strip-debug) failed ({}): {}",
                self.program,
                output.status,
                stderr.lines().last().unwrap_or("").trim()
            )));
        }
        let map = MappedFile::open(&self.file)
            .map_err(|e| ViewError::new(format!("{}: {}", self.file.display(), io_reason(&e))))?;
        Ok(map)
    }
}

impl Drop for OrderLink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for file in self.skeletons.iter().chain([&self.file]) {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Writes to `output` the BTF input view made from `inputs`, the objects of vmlinux's link
/// in link order, with the view's script `script`, its global symbols in `symbol_order`
/// ([`executable::executable_view`]); `output` appears whole or not at all.
pub fn write_view(
    script: &Path,
    symbol_order: SymbolOrderSource<'_>,
    inputs: &[PathBuf],
    output: &Path,
) -> Result<(), BtfError> {
    let text = MappedFile::open(script).map_err(|e| io_error(script, &e))?;
    let view_script =
        view::ViewScript::parse(text.bytes(), text.shown()).map_err(BtfError::View)?;
    let order_file = match symbol_order {
        SymbolOrderSource::File(path) => {
            Some(MappedFile::open(path).map_err(|e| io_error(path, &e))?)
        }
        _ => None,
    };
    let maps = inputs
        .iter()
        .map(|path| MappedFile::open(path).map_err(|e| io_error(path, &e)))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs: Vec<executable::ViewInput> = maps
        .iter()
        .map(|map| executable::ViewInput {
            data: map.bytes(),
            file: map.file(),
            shown: map.shown(),
        })
        .collect();
    let mut order_link = match symbol_order {
        SymbolOrderSource::Link(linker) => Some(OrderLink::start(linker, script, &inputs, output)?),
        _ => None,
    };
    let linked_order: OnceCell<MappedFile> = OnceCell::new();
    // Asked for once the view's sections are relocated: the order link runs meanwhile.
    let order = || {
        let map = match (&order_file, order_link.take()) {
            (Some(map), _) => map,
            (None, Some(link)) => {
                let map = link.finish()?;
                linked_order.get_or_init(|| map)
            }
            (None, None) => {
                return Ok(match symbol_order {
                    SymbolOrderSource::HiddenFirst => executable::SymbolOrder::HiddenFirst,
                    _ => executable::SymbolOrder::Inputs,
                })
            }
        };
        executable::SymbolOrder::of_file(map.bytes(), map.shown())
    };
    let view = executable::executable_view(&inputs, &view_script, order).map_err(BtfError::View)?;
    let mut file = AtomicFile::create(output).map_err(|e| io_error(output, &e))?;
    view.write_to(&mut file).map_err(|e| io_error(output, &e))?;
    file.commit().map_err(|e| io_error(output, &e))
}

/// `map` read as ELF.
fn parse_elf(map: &MappedFile) -> Result<object::File<'_>, BtfError> {
    object::File::parse(map.bytes()).map_err(|e| BtfError::Elf {
        path: map.shown().to_string(),
        reason: e.to_string(),
    })
}

/// Checks the `.BTF` of the linked file `elf` against the file, and its functions against
/// `view`, the file pahole read ([`fit::check`]); if it fits and `report` is given, writes
/// the [`BtfFit`] there.
pub fn check_file(
    elf: &Path,
    view: Option<&Path>,
    report: Option<&Path>,
) -> Result<BtfFit, BtfError> {
    let map = MappedFile::open(elf).map_err(|e| io_error(elf, &e))?;
    let file = parse_elf(&map)?;
    let view_map = view
        .map(|path| MappedFile::open(path).map_err(|e| io_error(path, &e)))
        .transpose()?;
    let view_file = view_map.as_ref().map(parse_elf).transpose()?;
    let section = object::Object::section_by_name(&file, ".BTF").ok_or(BtfError::NoBtf {
        path: map.shown().to_string(),
    })?;
    let fit = fit::check(&file, &section, map.shown(), view_file.as_ref()).map_err(|misfit| {
        BtfError::Misfit {
            path: map.shown().to_string(),
            misfit,
        }
    })?;
    if let Some(report) = report {
        artifact::write(report, &fit).map_err(BtfError::Report)?;
    }
    Ok(fit)
}
