//! The BTF format, read as the kernel's `include/uapi/linux/btf.h` defines it: a header,
//! then the type section (each type a 12-byte `struct btf_type` and its kind's data), then
//! the string section. Only what the check needs is decoded: every type's kind and name, and
//! the contents of `BTF_KIND_VAR` and `BTF_KIND_DATASEC`; the other kinds are stepped over
//! by their size. A kind this reader does not know is an error, never a guess.

use std::fmt;

use object::{Endian, Endianness};

/// `BTF_MAGIC`, in the file's byte order.
const MAGIC: u16 = 0xeb9f;
/// The only `version` there is.
const VERSION: u8 = 1;
/// `struct btf_header`'s size.
const HEADER_LEN: usize = 24;
/// `struct btf_type`'s size.
const TYPE_LEN: usize = 12;

/// `BTF_KIND_*`.
mod kind {
    pub const FUNC: u8 = 12;
    pub const VAR: u8 = 14;
    pub const DATASEC: u8 = 15;
}

/// Why a BTF blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

impl FormatError {
    /// The section's data could not be had from the ELF file.
    pub(crate) fn from_object(err: object::Error) -> FormatError {
        FormatError(format!("its data cannot be read: {err}"))
    }
}

fn error(message: impl Into<String>) -> FormatError {
    FormatError(message.into())
}

/// One type of the BTF, with its id (ids start at 1; 0 is `void`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfType<'d> {
    /// `BTF_KIND_*`.
    pub kind: u8,
    /// The name, empty for an anonymous type.
    pub name: &'d [u8],
    /// `vlen`: the number of members, parameters, values or variables.
    pub vlen: u16,
    /// `size` or `type`, as the kind uses it (a DATASEC's size, a VAR's type).
    pub size_or_type: u32,
    /// The kind's data after `struct btf_type`.
    data: &'d [u8],
}

/// A variable of a `BTF_KIND_DATASEC`: `struct btf_var_secinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The id of its `BTF_KIND_VAR`.
    pub var: u32,
    /// Its offset in the section.
    pub offset: u32,
    /// Its size.
    pub size: u32,
}

/// A parsed BTF blob: its types, by id.
#[derive(Debug)]
pub struct Btf<'d> {
    endian: Endianness,
    types: Vec<BtfType<'d>>,
}

/// The 32-bit word at `at` of `bytes`, which must hold it, in `endian`.
fn u32_at(endian: Endianness, bytes: &[u8], at: usize) -> u32 {
    endian.read_u32_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

impl<'d> Btf<'d> {
    /// Reads `data`, a whole `.BTF` section.
    pub fn parse(data: &'d [u8]) -> Result<Btf<'d>, FormatError> {
        if data.len() < HEADER_LEN {
            return Err(error(format!(
                "{} bytes are too few for a BTF header ({HEADER_LEN})",
                data.len()
            )));
        }
        let endian = match [data[0], data[1]] {
            m if u16::from_le_bytes(m) == MAGIC => Endianness::Little,
            m if u16::from_be_bytes(m) == MAGIC => Endianness::Big,
            m => {
                return Err(error(format!(
                    "no BTF magic (found {:02x}{:02x})",
                    m[0], m[1]
                )))
            }
        };
        if data[2] != VERSION {
            return Err(error(format!(
                "BTF version {} (this reader knows {VERSION})",
                data[2]
            )));
        }
        let word = |at: usize| u32_at(endian, data, at);
        let hdr_len = word(4) as usize;
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return Err(error(format!("BTF header length {hdr_len} does not fit")));
        }
        let part = |off: u32, len: u32, what: &str| -> Result<&'d [u8], FormatError> {
            let start = hdr_len.checked_add(off as usize);
            let end = start.and_then(|s| s.checked_add(len as usize));
            match (start, end) {
                (Some(start), Some(end)) if end <= data.len() => Ok(&data[start..end]),
                _ => Err(error(format!(
                    "the {what} section (offset {off}, {len} bytes) runs past the BTF's {} bytes",
                    data.len()
                ))),
            }
        };
        let type_data = part(word(8), word(12), "type")?;
        let strings = part(word(16), word(20), "string")?;
        let name_at = |off: u32| -> Result<&'d [u8], FormatError> {
            let rest = strings
                .get(off as usize..)
                .ok_or_else(|| error(format!("name offset {off} is past the strings")))?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| error(format!("the name at offset {off} is not terminated")))?;
            Ok(&rest[..end])
        };
        let mut types = Vec::new();
        let mut at = 0usize;
        while at < type_data.len() {
            let id = types.len() + 1;
            let common = type_data
                .get(at..at + TYPE_LEN)
                .ok_or_else(|| error(format!("type {id} is cut short")))?;
            let field = |i: usize| u32_at(endian, common, i * 4);
            let info = field(1);
            let kind = ((info >> 24) & 0x1f) as u8;
            let vlen = (info & 0xffff) as u16;
            let extra = kind_data_len(kind, vlen).ok_or_else(|| {
                error(format!(
                    "type {id} has kind {kind}, which this reader does not know"
                ))
            })?;
            let start = at + TYPE_LEN;
            let data = type_data
                .get(start..start + extra)
                .ok_or_else(|| error(format!("type {id} (kind {kind}) is cut short")))?;
            types.push(BtfType {
                kind,
                name: name_at(field(0))?,
                vlen,
                size_or_type: field(2),
                data,
            });
            at = start + extra;
        }
        Ok(Btf { endian, types })
    }

    /// The number of types (the largest id).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// True if there are no types.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The type of id `id`.
    pub fn get(&self, id: u32) -> Option<&BtfType<'d>> {
        (id as usize)
            .checked_sub(1)
            .and_then(|index| self.types.get(index))
    }

    /// Every type.
    pub fn types(&self) -> impl Iterator<Item = &BtfType<'d>> {
        self.types.iter()
    }

    /// The names of the `BTF_KIND_FUNC` types.
    pub fn functions(&self) -> impl Iterator<Item = &'d [u8]> + '_ {
        self.types
            .iter()
            .filter(|t| t.kind == kind::FUNC)
            .map(|t| t.name)
    }

    /// The `BTF_KIND_DATASEC` types.
    pub fn datasecs(&self) -> impl Iterator<Item = &BtfType<'d>> {
        self.types.iter().filter(|t| t.kind == kind::DATASEC)
    }

    /// The variables of `datasec`, a `BTF_KIND_DATASEC`.
    pub fn secinfos(&self, datasec: &BtfType<'d>) -> Vec<VarSecinfo> {
        datasec
            .data
            .chunks_exact(12)
            .map(|chunk| {
                let field = |i: usize| u32_at(self.endian, chunk, i * 4);
                VarSecinfo {
                    var: field(0),
                    offset: field(1),
                    size: field(2),
                }
            })
            .collect()
    }

    /// The name of `id` if it is a `BTF_KIND_VAR`.
    pub fn var_name(&self, id: u32) -> Option<&'d [u8]> {
        self.get(id).filter(|t| t.kind == kind::VAR).map(|t| t.name)
    }
}

/// The bytes that follow `struct btf_type` for `kind` with `vlen` entries, or `None` for a
/// kind not in btf.h.
fn kind_data_len(kind: u8, vlen: u16) -> Option<usize> {
    let vlen = vlen as usize;
    Some(match kind {
        // UNKN, PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
        0 | 2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
        // INT (its encoding), VAR (linkage), DECL_TAG (component_idx)
        1 | 14 | 17 => 4,
        // ARRAY: struct btf_array
        3 => 12,
        // STRUCT, UNION: struct btf_member; DATASEC: struct btf_var_secinfo; ENUM64
        4 | 5 | 15 | 19 => 12 * vlen,
        // ENUM: struct btf_enum; FUNC_PROTO: struct btf_param
        6 | 13 => 8 * vlen,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_header_it_cannot_read() {
        assert_eq!(
            Btf::parse(b"\x12\x34").unwrap_err().to_string(),
            "2 bytes are too few for a BTF header (24)"
        );
        let mut header = [0u8; 24];
        assert!(Btf::parse(&header)
            .unwrap_err()
            .to_string()
            .starts_with("no BTF magic"));
        header[..4].copy_from_slice(&[0x9f, 0xeb, 2, 0]);
        assert_eq!(
            Btf::parse(&header).unwrap_err().to_string(),
            "BTF version 2 (this reader knows 1)"
        );
        // A big-endian header whose type section runs past the end.
        header[..4].copy_from_slice(&[0xeb, 0x9f, 1, 0]);
        header[4..8].copy_from_slice(&24u32.to_be_bytes());
        header[12..16].copy_from_slice(&12u32.to_be_bytes());
        assert_eq!(
            Btf::parse(&header).unwrap_err().to_string(),
            "the type section (offset 0, 12 bytes) runs past the BTF's 24 bytes"
        );
    }
}
