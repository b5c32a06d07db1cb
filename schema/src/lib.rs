//! The artifacts kslink's stages exchange, and the file format they are stored in.
//!
//! Every stage reads and writes these types through [`artifact::read`] and
//! [`artifact::write`], so a stage executable can be replaced by any program that speaks the
//! same files. The file format is described in [`artifact`].

#![deny(missing_docs)]

pub mod artifact;
mod btf;
pub mod exit;
mod frame;
pub mod fsio;
mod linker;
mod location;
pub mod name_map;
pub mod names;
mod symbols;
mod table;

pub use artifact::{Artifact, ArtifactError, ArtifactKind};
pub use btf::{BtfFit, DatasecFit};
pub use frame::PadSpec;
pub use linker::{InputSwitch, LinkKind, LinkerFlavour};
pub use location::{
    LocatedArray, LocatedRelocation, LocatedSection, PatchReport, PatchedArray, TableLocation,
};
pub use serde_bytes::ByteBuf;
pub use symbols::{write_nm_lines, Symbol, SymbolOrigin, SymbolSet, TextPlace};
pub use table::{
    ArrayKind, DataLayout, KallsymsTable, TableArray, TableOptions, TextReference, TextRelocation,
};
