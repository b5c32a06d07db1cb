//! What the BTF check found: the linked file's `.BTF` confirmed against the file's own
//! sections and symbols.

use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactKind};

/// A `.BTF` that fits the linked file it is in: every data section it describes has the
/// file's size for that section, every variable in one is a symbol of the file at the offset
/// and with the size the BTF gives, and every function it names is a function of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BtfFit {
    /// The checked file.
    pub file: String,
    /// Bytes of its `.BTF` section.
    pub btf_bytes: u64,
    /// Types in the BTF.
    pub types: u32,
    /// `BTF_KIND_FUNC` types, each found as a function symbol of the file.
    pub functions: u32,
    /// Each `BTF_KIND_DATASEC`, as checked.
    pub sections: Vec<DatasecFit>,
}

/// One data section of the BTF, confirmed against the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasecFit {
    /// The section's name (`.data..percpu`).
    pub name: String,
    /// Its size, the same in the BTF and in the file's section header.
    pub size: u64,
    /// Variables checked: each a symbol of that section at its offset, of its size.
    pub variables: u32,
}

impl Artifact for BtfFit {
    const KIND: ArtifactKind = ArtifactKind::BtfFit;
}
