//! The inputs of a link as they appear on an `ld` command line: files, interleaved with
//! the switches that change how archives are read.
//!
//! [`LinkArg::parse_all`] reads the command-line words; [`InputFiles::open`] maps every file
//! (and every member file of a thin archive) into memory once, so that everything read from
//! them later borrows from one owner.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::archive::{Archive, MAGIC, THIN_MAGIC};
use crate::PredictError;
use kslink_schema::fsio::MappedFile;
use kslink_schema::InputSwitch;

/// One word of a link's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkArg {
    /// An object file or archive.
    File(PathBuf),
    /// `--whole-archive`: the following archives are included whole.
    WholeArchive,
    /// `--no-whole-archive`.
    NoWholeArchive,
    /// `--start-group` or `-(`: the archives up to the end of the group are searched
    /// repeatedly.
    StartGroup,
    /// `--end-group` or `-)`.
    EndGroup,
}

impl LinkArg {
    /// The link arguments of `words`, as `ld` would read them. Any other option is an
    /// error: `--predict` follows only these.
    pub fn parse_all<S: AsRef<OsStr>>(words: &[S]) -> Result<Vec<LinkArg>, PredictError> {
        let mut args = Vec::with_capacity(words.len());
        let mut group_open = false;
        for word in words {
            let word = word.as_ref();
            let arg = match word.to_str().map(|w| (w, InputSwitch::parse(w))) {
                Some((_, Some(InputSwitch::WholeArchive))) => LinkArg::WholeArchive,
                Some((_, Some(InputSwitch::NoWholeArchive))) => LinkArg::NoWholeArchive,
                Some((_, Some(InputSwitch::StartGroup))) => {
                    if group_open {
                        return Err(PredictError::Usage(
                            "--start-group inside a group: groups cannot nest".into(),
                        ));
                    }
                    group_open = true;
                    LinkArg::StartGroup
                }
                Some((_, Some(InputSwitch::EndGroup))) => {
                    if !group_open {
                        return Err(PredictError::Usage(
                            "--end-group without --start-group".into(),
                        ));
                    }
                    group_open = false;
                    LinkArg::EndGroup
                }
                Some((option, None)) if option.starts_with('-') && option.len() > 1 => {
                    return Err(PredictError::Usage(format!(
                        "unsupported option among the link inputs: {option} (only \
                         --whole-archive, --no-whole-archive, --start-group/-( and \
                         --end-group/-) may appear among INPUTs; put kslink-collect's own \
                         options before them)"
                    )))
                }
                _ => LinkArg::File(PathBuf::from(word)),
            };
            args.push(arg);
        }
        if group_open {
            return Err(PredictError::Usage(
                "--start-group without --end-group".into(),
            ));
        }
        if !args.iter().any(|a| matches!(a, LinkArg::File(_))) {
            return Err(PredictError::Usage(
                "no input files: name the objects and archives the link reads".into(),
            ));
        }
        Ok(args)
    }
}

impl std::fmt::Display for LinkArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkArg::File(path) => write!(f, "{}", path.display()),
            LinkArg::WholeArchive => f.write_str("--whole-archive"),
            LinkArg::NoWholeArchive => f.write_str("--no-whole-archive"),
            LinkArg::StartGroup => f.write_str("--start-group"),
            LinkArg::EndGroup => f.write_str("--end-group"),
        }
    }
}

/// What an input file is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A relocatable ELF object (checked when it is read).
    Object,
    /// An `ar` archive.
    Archive,
    /// A thin archive.
    ThinArchive,
}

/// An input file, mapped.
pub struct InputFile {
    /// The file.
    pub map: MappedFile,
    /// What it is.
    pub kind: FileKind,
    /// For a thin archive: each member file by member name, mapped, or why it could not
    /// be (which is an error only if the link needs the member).
    pub thin_members: HashMap<Vec<u8>, ThinMember>,
    /// For a regular archive: copies of the members whose bytes are not 8-byte aligned in
    /// the file (`ar` aligns members to 2 bytes only), by header offset; ELF headers are
    /// read in place and need their alignment.
    pub aligned_members: HashMap<u64, AlignedCopy>,
}

/// A copy of some bytes that starts at an 8-byte aligned address.
pub struct AlignedCopy {
    buffer: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedCopy {
    fn new(bytes: &[u8]) -> AlignedCopy {
        let mut buffer = vec![0u8; bytes.len() + 7];
        let start = buffer.as_ptr().align_offset(8);
        buffer[start..start + bytes.len()].copy_from_slice(bytes);
        AlignedCopy {
            buffer,
            start,
            len: bytes.len(),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buffer[self.start..self.start + self.len]
    }
}

/// A member file of a thin archive.
pub struct ThinMember {
    /// The path `ld` gives it: the member name, relative to the archive's directory.
    pub path: String,
    /// The file, or why it could not be opened.
    pub file: Result<MappedFile, String>,
}

/// Every file of a link, mapped, and the link arguments that refer to them.
pub struct InputFiles {
    /// The arguments, with each file replaced by its index in `files`.
    pub args: Vec<InputArg>,
    /// The files.
    pub files: Vec<InputFile>,
    /// The arguments as words, for messages and records.
    pub words: Vec<String>,
}

/// A link argument with files numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputArg {
    /// `InputFiles::files[n]`.
    File(usize),
    /// `--whole-archive`.
    WholeArchive,
    /// `--no-whole-archive`.
    NoWholeArchive,
    /// `--start-group`.
    StartGroup,
    /// `--end-group`.
    EndGroup,
}

impl InputFiles {
    /// Maps every file of `args`, and the members of thin archives.
    pub fn open(args: &[LinkArg]) -> Result<InputFiles, PredictError> {
        let mut files = Vec::new();
        let mut numbered = Vec::with_capacity(args.len());
        let words = args.iter().map(LinkArg::to_string).collect();
        for arg in args {
            numbered.push(match arg {
                LinkArg::File(path) => {
                    files.push(open_input(path)?);
                    InputArg::File(files.len() - 1)
                }
                LinkArg::WholeArchive => InputArg::WholeArchive,
                LinkArg::NoWholeArchive => InputArg::NoWholeArchive,
                LinkArg::StartGroup => InputArg::StartGroup,
                LinkArg::EndGroup => InputArg::EndGroup,
            });
        }
        Ok(InputFiles {
            args: numbered,
            files,
            words,
        })
    }
}

fn open_input(path: &Path) -> Result<InputFile, PredictError> {
    let map =
        MappedFile::open(path).map_err(|e| PredictError::io(path.display().to_string(), e))?;
    let bytes = map.bytes();
    let problem = |message: &str| PredictError::Input {
        path: map.shown().to_owned(),
        message: message.to_owned(),
    };
    let kind = if bytes.starts_with(&object::elf::ELFMAG) {
        FileKind::Object
    } else if bytes.starts_with(MAGIC) {
        FileKind::Archive
    } else if bytes.starts_with(THIN_MAGIC) {
        FileKind::ThinArchive
    } else if bytes.is_empty() {
        return Err(problem("empty file: not an ELF object or an archive"));
    } else {
        return Err(problem("not an ELF object or an archive"));
    };
    let mut thin_members = HashMap::new();
    let mut aligned_members = HashMap::new();
    if kind == FileKind::Archive {
        let archive = Archive::parse(bytes).map_err(|m| problem(&m))?;
        for member in archive.members().map_err(|m| problem(&m))? {
            if let Some(data) = member.data.filter(|d| d.as_ptr().align_offset(8) != 0) {
                aligned_members.insert(member.offset, AlignedCopy::new(data));
            }
        }
    }
    if kind == FileKind::ThinArchive {
        let archive = Archive::parse(bytes).map_err(|m| problem(&m))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for member in archive.members().map_err(|m| problem(&m))? {
            if thin_members.contains_key(member.name) {
                continue;
            }
            let relative = Path::new(OsStr::from_bytes(member.name));
            let member_path = if relative.is_absolute() {
                relative.to_path_buf()
            } else {
                dir.join(relative)
            };
            let shown = member_path.display().to_string();
            let file = MappedFile::open(&member_path)
                .map_err(|err| format!("thin archive member {shown}: {err}"));
            thin_members.insert(member.name.to_vec(), ThinMember { path: shown, file });
        }
    }
    Ok(InputFile {
        map,
        kind,
        thin_members,
        aligned_members,
    })
}
