//! The artifact file format: a fixed header that says what the file is, then a bincode payload.
//!
//! ```text
//! offset  size  field
//!      0     8  magic            b"\x7fKSLINK\n"
//!      8     2  kind             ArtifactKind as u16, little endian
//!     10     2  schema version   SCHEMA_VERSION, little endian
//!     12     4  reserved         zero
//!     16     8  payload length   little endian
//!     24    32  SHA-256 of the payload
//!     56     …  payload          bincode 2 (standard configuration) of the artifact
//! ```
//!
//! The header is checked field by field before the payload is decoded, so that a file of
//! another kind, another version, a truncated file and a corrupted one each get their own
//! error instead of a confusing decode failure.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::fsio::AtomicFile;

/// The first eight bytes of every artifact file.
pub const MAGIC: [u8; 8] = *b"\x7fKSLINK\n";

/// The version of the payload encoding. Bump it whenever any artifact type changes shape.
pub const SCHEMA_VERSION: u16 = 5;

/// Size of the fixed header that precedes the payload.
pub const HEADER_LEN: usize = 56;

/// What an artifact file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ArtifactKind {
    /// A [`crate::SymbolSet`].
    SymbolSet = 1,
    /// A [`crate::KallsymsTable`].
    KallsymsTable = 2,
    /// A `PadSpec`: the reserved size of every table array.
    PadSpec = 3,
    /// A `TableLocation`: where the arrays sit in a linked file.
    TableLocation = 4,
    /// A `PatchReport`: what a patch step wrote.
    PatchReport = 5,
}

impl ArtifactKind {
    /// Every kind, for decoding the header field.
    pub const ALL: [ArtifactKind; 5] = [
        ArtifactKind::SymbolSet,
        ArtifactKind::KallsymsTable,
        ArtifactKind::PadSpec,
        ArtifactKind::TableLocation,
        ArtifactKind::PatchReport,
    ];

    fn from_u16(value: u16) -> Option<ArtifactKind> {
        Self::ALL.into_iter().find(|kind| *kind as u16 == value)
    }

    /// The name used in messages, the same as the Rust type's.
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::SymbolSet => "SymbolSet",
            ArtifactKind::KallsymsTable => "KallsymsTable",
            ArtifactKind::PadSpec => "PadSpec",
            ArtifactKind::TableLocation => "TableLocation",
            ArtifactKind::PatchReport => "PatchReport",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A type that can be stored as an artifact file.
pub trait Artifact: Serialize + DeserializeOwned {
    /// The kind written into, and expected in, the header.
    const KIND: ArtifactKind;
}

/// Why an artifact could not be read or written.
#[derive(Debug)]
pub enum ArtifactError {
    /// The file could not be opened, read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file does not start with [`MAGIC`]: it is not a kslink artifact at all.
    NotAnArtifact,
    /// The header names a kind this build does not know.
    UnknownKind(u16),
    /// The file holds another kind of artifact than the one asked for.
    WrongKind {
        /// The kind the caller wanted.
        expected: ArtifactKind,
        /// The kind the header names.
        found: ArtifactKind,
    },
    /// The file was written with another schema version.
    WrongVersion {
        /// The version in the header.
        found: u16,
    },
    /// The file is shorter than its header says.
    Truncated {
        /// Bytes the header promises (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The file is longer than its header says.
    TrailingBytes {
        /// Bytes the header promises (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload does not match the digest in the header.
    Corrupt,
    /// The payload matched its digest but did not decode: a bug in whoever wrote it.
    Decode(String),
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ArtifactError::NotAnArtifact => f.write_str("not a kslink artifact (bad magic)"),
            ArtifactError::UnknownKind(kind) => write!(f, "unknown artifact kind {kind}"),
            ArtifactError::WrongKind { expected, found } => {
                write!(f, "holds a {found} artifact, expected a {expected}")
            }
            ArtifactError::WrongVersion { found } => write!(
                f,
                "artifact schema version {found}, this kslink reads version {SCHEMA_VERSION}; \
                 rebuild it with this kslink"
            ),
            ArtifactError::Truncated { expected, found } => {
                write!(f, "truncated artifact: {found} bytes of {expected}")
            }
            ArtifactError::TrailingBytes { expected, found } => write!(
                f,
                "artifact has {} bytes after its payload ({found} bytes, header says {expected})",
                found - expected
            ),
            ArtifactError::Corrupt => f.write_str("corrupt artifact: payload digest mismatch"),
            ArtifactError::Decode(msg) => write!(f, "artifact payload does not decode: {msg}"),
        }
    }
}

impl std::error::Error for ArtifactError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ArtifactError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes an artifact, header included.
pub fn encode<A: Artifact>(artifact: &A) -> Vec<u8> {
    let mut bytes = vec![0; HEADER_LEN];
    bincode::serde::encode_into_std_write(artifact, &mut bytes, config())
        .expect("writing to a Vec cannot fail and artifact types always serialize");
    let payload_len = (bytes.len() - HEADER_LEN) as u64;
    let digest = Sha256::digest(&bytes[HEADER_LEN..]);
    bytes[..8].copy_from_slice(&MAGIC);
    bytes[8..10].copy_from_slice(&(A::KIND as u16).to_le_bytes());
    bytes[10..12].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&payload_len.to_le_bytes());
    bytes[24..56].copy_from_slice(&digest);
    bytes
}

/// Reads the kind from an artifact's header without checking the rest.
///
/// Returns `None` when `bytes` do not start like an artifact; stages use this to tell an
/// artifact from other inputs (a text map, an ELF file) by content.
pub fn sniff(bytes: &[u8]) -> Option<Result<ArtifactKind, ArtifactError>> {
    if bytes.len() < 10 || bytes[..8] != MAGIC {
        return None;
    }
    let kind = u16::from_le_bytes([bytes[8], bytes[9]]);
    Some(ArtifactKind::from_u16(kind).ok_or(ArtifactError::UnknownKind(kind)))
}

/// Checks an artifact's header and digest and decodes its payload.
pub fn decode<A: Artifact>(bytes: &[u8]) -> Result<A, ArtifactError> {
    let kind = sniff(bytes).ok_or(ArtifactError::NotAnArtifact)??;
    if kind != A::KIND {
        return Err(ArtifactError::WrongKind {
            expected: A::KIND,
            found: kind,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(ArtifactError::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u16::from_le_bytes([bytes[10], bytes[11]]);
    if version != SCHEMA_VERSION {
        return Err(ArtifactError::WrongVersion { found: version });
    }
    let payload_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let expected = (HEADER_LEN as u64).saturating_add(payload_len);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(ArtifactError::Truncated { expected, found });
    }
    if found > expected {
        return Err(ArtifactError::TrailingBytes { expected, found });
    }
    let payload = &bytes[HEADER_LEN..];
    if Sha256::digest(payload)[..] != bytes[24..56] {
        return Err(ArtifactError::Corrupt);
    }
    let (artifact, used) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|err| ArtifactError::Decode(err.to_string()))?;
    if used != payload.len() {
        return Err(ArtifactError::Decode(format!(
            "{} bytes left after the payload",
            payload.len() - used
        )));
    }
    Ok(artifact)
}

/// Reads and decodes an artifact file.
pub fn read<A: Artifact>(path: &Path) -> Result<A, ArtifactError> {
    let bytes = std::fs::read(path).map_err(|source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode(&bytes)
}

/// Writes an artifact file atomically: the file at `path` is either the old one or the
/// complete new one, never a part.
pub fn write<A: Artifact>(path: &Path, artifact: &A) -> Result<(), ArtifactError> {
    let io = |source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(io)?;
    std::io::Write::write_all(&mut file, &encode(artifact)).map_err(io)?;
    file.commit().map_err(io)
}
