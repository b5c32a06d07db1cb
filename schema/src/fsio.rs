//! Files in and out: inputs mapped read-only ([`MappedFile`]), outputs that appear whole or
//! not at all ([`AtomicFile`], [`OutputSet`]).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An I/O error's reason as people read it: `No such file or directory`, without the
/// standard library's `(os error 2)`.
pub fn io_reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// A read-only memory map of an input file, with the path as given for messages.
pub struct MappedFile {
    map: memmap2::Mmap,
    file: File,
    shown: String,
}

impl MappedFile {
    /// Opens and maps `path`. An empty file maps to no bytes; a directory is an error
    /// (`ErrorKind::IsADirectory`), as reading one would be.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        // SAFETY: the map is private and read-only. A file truncated underneath would fault
        // (as it would for nm); one rewritten underneath gives wrong contents, like any reader
        // racing a writer.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(MappedFile {
            map,
            file,
            shown: path.display().to_string(),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The path as given, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The file mapped, for a copy the kernel makes ([`AtomicFile::copy_range`]).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// A file written under a temporary name in the destination's directory and renamed over the
/// destination by [`AtomicFile::commit`].
///
/// Dropped without `commit` (an error, a panic), it removes the temporary file and leaves the
/// destination as it was. The rename is atomic on POSIX file systems because both names are in
/// one directory.
pub struct AtomicFile {
    writer: Option<BufWriter<File>>,
    temp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file beside `dest`.
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        let temp = temp_path(dest)?;
        let file = File::create(&temp)?;
        Ok(AtomicFile::new(file, temp, dest))
    }

    /// Creates the temporary file beside `dest` as a copy of `source` (contents and
    /// permissions), open for reading and writing, for a caller that changes a few bytes of
    /// a large file in place through [`AtomicFile::file`].
    ///
    /// The copy is [`std::fs::copy`]: on Linux `copy_file_range(2)`, which the kernel does
    /// without passing the data through this process, and which shares the blocks instead
    /// (a reflink) where the file system can (Btrfs, XFS).
    pub fn copy_of(source: &Path, dest: &Path) -> io::Result<AtomicFile> {
        let temp = temp_path(dest)?;
        let opened = std::fs::copy(source, &temp)
            .and_then(|_| File::options().read(true).write(true).open(&temp));
        match opened {
            Ok(file) => Ok(AtomicFile::new(file, temp, dest)),
            Err(err) => {
                let _ = std::fs::remove_file(&temp);
                Err(err)
            }
        }
    }

    fn new(file: File, temp: PathBuf, dest: &Path) -> AtomicFile {
        AtomicFile {
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            temp,
            dest: dest.to_owned(),
        }
    }

    /// The file being written, for callers that need more than [`Write`] (for example to
    /// set its permissions before it appears).
    pub fn file(&mut self) -> io::Result<&File> {
        let writer = self.writer.as_mut().expect("not yet committed");
        writer.flush()?;
        Ok(writer.get_ref())
    }

    /// Appends `len` bytes of `source` from `offset` on. On Linux the kernel copies them
    /// (`copy_file_range(2)`) without passing them through this process, where a write from
    /// a map of `source` would copy each page through it.
    pub fn copy_range(&mut self, source: &File, offset: u64, len: u64) -> io::Result<()> {
        let mut from = source;
        from.seek(SeekFrom::Start(offset))?;
        let mut out = self.file()?;
        let copied = io::copy(&mut from.take(len), &mut out)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the source ends {} bytes short", len - copied),
            ));
        }
        Ok(())
    }

    /// Flushes the data and renames the file into place. On failure the temporary file is
    /// removed and the destination left as it was.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("committed once");
        let result = writer
            .into_inner()
            .map_err(|err| err.into_error())
            .and_then(|file| {
                drop(file);
                std::fs::rename(&self.temp, &self.dest)
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }
}

/// `.NAME.tmpPID` beside `dest`: hidden, and one per process so that two runs writing the
/// same output do not write into one temporary file.
fn temp_path(dest: &Path) -> io::Result<PathBuf> {
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp{}", std::process::id()));
    Ok(dir.join(temp_name))
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("not yet committed").write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer
            .as_mut()
            .expect("not yet committed")
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not yet committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Why an output of an [`OutputSet`] failed: the file and the operating system's error.
#[derive(Debug)]
pub struct OutputError {
    /// The output, as given.
    pub path: String,
    /// What failed.
    pub source: io::Error,
}

/// The output files of one run of a stage: all created (under temporary names) before
/// anything is written, renamed into place together by [`OutputSet::commit`]. A run that fails
/// part-way leaves none of them behind, new or half-written, and the old files as they were.
pub struct OutputSet {
    files: Vec<Option<(String, AtomicFile)>>,
}

impl OutputSet {
    /// Creates a temporary file for each requested path; later calls name an output by its
    /// position in `paths`.
    pub fn create(paths: &[Option<&Path>]) -> Result<OutputSet, OutputError> {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            files.push(match path {
                None => None,
                Some(path) => {
                    let shown = path.display().to_string();
                    match AtomicFile::create(path) {
                        Ok(file) => Some((shown, file)),
                        Err(source) => {
                            return Err(OutputError {
                                path: shown,
                                source,
                            })
                        }
                    }
                }
            });
        }
        Ok(OutputSet { files })
    }

    /// Whether the output at `position` was requested.
    pub fn requested(&self, position: usize) -> bool {
        self.files[position].is_some()
    }

    /// Whether no output at all was requested.
    pub fn is_empty(&self) -> bool {
        self.files.iter().all(Option::is_none)
    }

    /// Writes the output at `position`, if it was requested.
    pub fn write(
        &mut self,
        position: usize,
        write: impl FnOnce(&mut AtomicFile) -> io::Result<()>,
    ) -> Result<(), OutputError> {
        match &mut self.files[position] {
            None => Ok(()),
            Some((shown, file)) => write(file).map_err(|source| OutputError {
                path: shown.clone(),
                source,
            }),
        }
    }

    /// Renames every output into place.
    pub fn commit(self) -> Result<(), OutputError> {
        for (shown, file) in self.files.into_iter().flatten() {
            file.commit().map_err(|source| OutputError {
                path: shown,
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_range_goes_between_the_bytes_written_around_it() {
        let dir = tempfile::tempdir().unwrap();
        let source_path = dir.path().join("source");
        let source: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source_path, &source).unwrap();
        let source_map = MappedFile::open(&source_path).unwrap();
        let dest = dir.path().join("dest");
        let mut out = AtomicFile::create(&dest).unwrap();
        out.write_all(b"head").unwrap();
        out.copy_range(source_map.file(), 1000, 200_000).unwrap();
        out.write_all(b"tail").unwrap();
        out.copy_range(source_map.file(), 7, 3).unwrap();
        out.commit().unwrap();
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&source[1000..201_000]);
        expected.extend_from_slice(b"tail");
        expected.extend_from_slice(&source[7..10]);
        assert!(std::fs::read(&dest).unwrap() == expected);
    }

    #[test]
    fn a_range_past_the_source_s_end_is_an_error_and_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let source_path = dir.path().join("source");
        std::fs::write(&source_path, [7u8; 100]).unwrap();
        let source = File::open(&source_path).unwrap();
        let dest = dir.path().join("dest");
        let mut out = AtomicFile::create(&dest).unwrap();
        let err = out.copy_range(&source, 50, 80).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(err.to_string(), "the source ends 30 bytes short");
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
