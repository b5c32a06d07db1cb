//! `ar` archives, regular and thin, as a linker reads them.
//!
//! A thin archive (`!<thin>`, Kbuild's `vmlinux.a` and `lib.a`) holds only member names;
//! each member is a file whose path is relative to the archive's directory. Members are
//! named by the offset of their header, which is also what the archive's symbol index
//! (the "armap") refers to.

use object::read::archive::{ArchiveFile, ArchiveOffset};

/// An archive's magic number.
pub const MAGIC: &[u8] = b"!<arch>\n";
/// A thin archive's magic number.
pub const THIN_MAGIC: &[u8] = b"!<thin>\n";

/// One member of an archive.
#[derive(Clone, Copy, Debug)]
pub struct Member<'data> {
    /// The offset of its header: the archive index's name for it.
    pub offset: u64,
    /// Its name (a path for a thin archive's member).
    pub name: &'data [u8],
    /// Its bytes; `None` for a thin archive's member, which is a file of its own.
    pub data: Option<&'data [u8]>,
}

/// An entry of an archive's index: a symbol and the offset of the member defining it.
pub type IndexEntry<'data> = (&'data [u8], u64);

/// A parsed archive.
pub struct Archive<'data> {
    file: ArchiveFile<'data>,
    data: &'data [u8],
}

/// Names of the special members that are not archive contents (GNU and BSD indexes and the
/// GNU long-name table).
fn is_special(name: &[u8]) -> bool {
    matches!(name, b"/" | b"//" | b"/SYM64/") || name.starts_with(b"__.SYMDEF")
}

impl<'data> Archive<'data> {
    /// Parses the archive in `data`.
    pub fn parse(data: &'data [u8]) -> Result<Archive<'data>, String> {
        let file = ArchiveFile::parse(data).map_err(|e| format!("malformed archive: {e}"))?;
        Ok(Archive { file, data })
    }

    /// The member whose header is at `offset`.
    pub fn member(&self, offset: u64) -> Result<Member<'data>, String> {
        let member = self
            .file
            .member(ArchiveOffset(offset))
            .map_err(|e| format!("malformed archive member at offset {offset}: {e}"))?;
        let data = if member.is_thin() {
            None
        } else {
            Some(member.data(self.data).map_err(|e| {
                format!(
                    "archive member {}: {e}",
                    String::from_utf8_lossy(member.name())
                )
            })?)
        };
        Ok(Member {
            offset,
            name: member.name(),
            data,
        })
    }

    /// Every member, in archive order.
    pub fn members(&self) -> Result<Vec<Member<'data>>, String> {
        const HEADER: usize = std::mem::size_of::<object::archive::Header>();
        let mut members = Vec::new();
        let mut offset = MAGIC.len();
        while offset < self.data.len() {
            // The header fields: name[16] date[12] uid[6] gid[6] mode[8] size[10] fmag[2].
            let header = self
                .data
                .get(offset..offset + HEADER)
                .ok_or_else(|| format!("truncated archive member header at offset {offset}"))?;
            let size = std::str::from_utf8(&header[48..58])
                .ok()
                .and_then(|s| s.trim_end().parse::<usize>().ok())
                .ok_or_else(|| format!("malformed archive member size at offset {offset}"))?;
            let raw_name = &header[..16];
            let special = raw_name.starts_with(b"/ ")
                || raw_name.starts_with(b"// ")
                || raw_name.starts_with(b"/SYM64/")
                || raw_name.starts_with(b"__.SYMDEF");
            // A thin archive's ordinary members have no data here: the header is all.
            let next = if self.file.is_thin() && !special {
                offset + HEADER
            } else {
                (offset + HEADER + size).next_multiple_of(2)
            };
            if !special {
                let member = self.member(offset as u64)?;
                if !is_special(member.name) {
                    members.push(member);
                }
            }
            offset = next;
        }
        Ok(members)
    }

    /// The archive index: each symbol name with the offset of the member that defines
    /// it, in index order; `None` if the archive has no index.
    pub fn index(&self) -> Result<Option<Vec<IndexEntry<'data>>>, String> {
        let Some(symbols) = self
            .file
            .symbols()
            .map_err(|e| format!("malformed archive index: {e}"))?
        else {
            return Ok(None);
        };
        symbols
            .map(|symbol| {
                symbol
                    .map(|s| (s.name(), s.offset().0))
                    .map_err(|e| format!("malformed archive index: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}
