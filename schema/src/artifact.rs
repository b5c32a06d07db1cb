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

use crate::fsio::{io_reason, AtomicFile};

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
    /// A `BtfFit`: a linked file's `.BTF`, confirmed against the file.
    BtfFit = 6,
}

impl ArtifactKind {
    /// Every kind, for decoding the header field.
    pub const ALL: [ArtifactKind; 6] = [
        ArtifactKind::SymbolSet,
        ArtifactKind::KallsymsTable,
        ArtifactKind::PadSpec,
        ArtifactKind::TableLocation,
        ArtifactKind::PatchReport,
        ArtifactKind::BtfFit,
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
            ArtifactKind::BtfFit => "BtfFit",
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
    /// The file does not start with [`MAGIC`]: it is not a kslink artifact at all, and this
    /// is what it looks like instead.
    NotAnArtifact(Lookalike),
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

/// What a file that is not an artifact looks like, so that a message can say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookalike {
    /// Nothing at all.
    Empty,
    /// An ELF file (a linked kernel, an object).
    Elf,
    /// Text (a System.map, a linker script).
    Text,
    /// Anything else.
    Other,
}

impl Lookalike {
    /// What `bytes` look like.
    pub fn of(bytes: &[u8]) -> Lookalike {
        let head = &bytes[..bytes.len().min(512)];
        if bytes.is_empty() {
            Lookalike::Empty
        } else if bytes.starts_with(b"\x7fELF") {
            Lookalike::Elf
        } else if std::str::from_utf8(head).is_ok_and(|text| {
            text.chars()
                .all(|c| !c.is_control() || c.is_ascii_whitespace())
        }) {
            Lookalike::Text
        } else {
            Lookalike::Other
        }
    }
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::Io { path, source } => {
                write!(f, "{}: {}", path.display(), io_reason(source))
            }
            ArtifactError::NotAnArtifact(Lookalike::Empty) => {
                f.write_str("an empty file, not a kslink artifact")
            }
            ArtifactError::NotAnArtifact(Lookalike::Elf) => f.write_str(
                "an ELF file, not a kslink artifact: `kslink-collect --linked ELF -o SYMBOLS` \
                 reads a linked file's symbols",
            ),
            ArtifactError::NotAnArtifact(Lookalike::Text) => f.write_str(
                "a text file, not a kslink artifact (a symbol map goes to kslink-table)",
            ),
            ArtifactError::NotAnArtifact(Lookalike::Other) => {
                f.write_str("not a kslink artifact (it does not start with kslink's magic)")
            }
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

/// What bincode may claim per payload byte while decoding. It claims each value's in-memory
/// size (at most 8 bytes for an integer of one or more encoded bytes) and a string's or byte
/// buffer's length before it allocates that buffer, so a valid payload never claims more
/// than 8 per byte; the limit stops a length prefix that no payload of this size can hold
/// from allocating (up to exabytes) before the read fails.
const CLAIM_PER_PAYLOAD_BYTE: usize = 8;

fn decode_error(err: bincode::error::DecodeError) -> ArtifactError {
    ArtifactError::Decode(match err {
        bincode::error::DecodeError::LimitExceeded => {
            "a length in the payload is larger than the payload can hold".to_owned()
        }
        other => other.to_string(),
    })
}

/// Decodes a payload whose digest is right, with a decoding limit proportional to its size
/// ([`CLAIM_PER_PAYLOAD_BYTE`]). bincode's limit is a constant, so the limit is the first of
/// a few powers of 16 that is large enough.
fn decode_payload<A: DeserializeOwned>(payload: &[u8]) -> Result<(A, usize), ArtifactError> {
    let needed = payload
        .len()
        .saturating_mul(CLAIM_PER_PAYLOAD_BYTE)
        .max(1 << 12);
    macro_rules! decode_within {
        ($($bits:literal)*) => {
            $(
                if needed <= 1 << $bits {
                    let config = config().with_limit::<{ 1 << $bits }>();
                    return bincode::serde::decode_from_slice(payload, config)
                        .map_err(decode_error);
                }
            )*
        };
    }
    decode_within!(12 16 20 24 28 32 36 40 44);
    Err(ArtifactError::Decode(format!(
        "a payload of {} bytes is too large to decode",
        payload.len()
    )))
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
    if bytes.len() < HEADER_LEN
        && !bytes.is_empty()
        && MAGIC.starts_with(&bytes[..bytes.len().min(8)])
    {
        return Err(ArtifactError::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let kind = sniff(bytes).ok_or_else(|| ArtifactError::NotAnArtifact(Lookalike::of(bytes)))??;
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
    let (artifact, used) = decode_payload(payload)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PadSpec, TableLocation};

    /// `payload` with a right header of `kind`.
    fn file_of(kind: ArtifactKind, payload: &[u8]) -> Vec<u8> {
        let mut bytes = encode(&PadSpec {
            profile: String::new(),
            layout: crate::DataLayout {
                pointer_bytes: 8,
                big_endian: false,
            },
            arrays: Vec::new(),
            size: 0,
            num_syms: 0,
            slack_per_mille: 0,
        });
        bytes.truncate(HEADER_LEN);
        bytes[8..10].copy_from_slice(&(kind as u16).to_le_bytes());
        bytes[16..24].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes[24..56].copy_from_slice(&Sha256::digest(payload));
        bytes.extend_from_slice(payload);
        bytes
    }

    /// Found by fuzzing (fuzz/regressions/artifact/): a payload whose first string claims
    /// 4 GiB made bincode allocate it before finding the payload too short.
    #[test]
    fn a_length_larger_than_the_payload_is_an_error_before_any_allocation() {
        let file = file_of(ArtifactKind::TableLocation, &[0xfc, 0xfc, 0xff, 0xff, 0xff]);
        let err = decode::<TableLocation>(&file).unwrap_err();
        assert!(
            err.to_string().contains("larger than the payload can hold"),
            "{err}"
        );
    }

    /// The limit leaves room for every valid payload: a frame of many arrays, each of
    /// whose integers claims 8 bytes for one encoded byte.
    #[test]
    fn the_limit_passes_payloads_of_small_integers() {
        let frame = PadSpec {
            profile: "linux-6.12".into(),
            layout: crate::DataLayout {
                pointer_bytes: 8,
                big_endian: false,
            },
            arrays: vec![
                crate::TableArray {
                    kind: crate::ArrayKind::Names,
                    offset: 0,
                    size: 0,
                };
                100_000
            ],
            size: 0,
            num_syms: 0,
            slack_per_mille: 0,
        };
        assert_eq!(decode::<PadSpec>(&encode(&frame)).unwrap(), frame);
    }
}
