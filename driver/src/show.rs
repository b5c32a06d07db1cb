//! `kslink show`: any artifact that the stages exchange, as text a person reads or as JSON a
//! program reads. The artifact is decoded and checked as its consumer would (header, version,
//! digest), so `show` is also the quickest way to tell why a stage refuses a file.
//!
//! Symbol names and token expansions, which are bytes in the artifact, are shown as text
//! (lossily, where they are not UTF-8); a table's image is shown by its length and digest.

use std::fmt::Write as _;
use std::path::Path;

use kslink_schema::artifact::{self, ArtifactError, Lookalike};
use kslink_schema::{
    ArtifactKind, BtfFit, KallsymsTable, PadSpec, PatchReport, SymbolSet, TableLocation,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An artifact decoded for showing: its kind, and its content as JSON.
pub struct ShownArtifact {
    /// What the file holds.
    pub kind: ArtifactKind,
    /// The content, bytes made readable (see the module documentation).
    pub value: Value,
    /// For a `SymbolSet`: its symbols as `nm` lines, which the text form lists.
    nm_lines: Option<Vec<String>>,
}

/// Reads the artifact at `path`, whatever its kind.
pub fn read_any(path: &Path) -> Result<ShownArtifact, ArtifactError> {
    let bytes = std::fs::read(path).map_err(|source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    })?;
    let kind = match artifact::sniff(&bytes) {
        Some(kind) => kind?,
        // Not an artifact: let the decoder say what it is instead.
        None => {
            return Err(artifact::decode::<PadSpec>(&bytes)
                .err()
                .unwrap_or(ArtifactError::NotAnArtifact(Lookalike::of(&bytes))))
        }
    };
    let to_value = |value: Result<Value, serde_json::Error>| value.expect("artifacts serialize");
    let (value, nm_lines) = match kind {
        ArtifactKind::SymbolSet => {
            let set: SymbolSet = artifact::decode(&bytes)?;
            let lines = nm_lines(&set);
            let mut value = to_value(serde_json::to_value(&set));
            for (symbol, shown) in value["symbols"]
                .as_array_mut()
                .expect("symbols")
                .iter_mut()
                .zip(&set.symbols)
            {
                symbol["name"] = json!(String::from_utf8_lossy(&shown.name));
                symbol["type_letter"] = json!((shown.type_letter as char).to_string());
            }
            (value, Some(lines))
        }
        ArtifactKind::KallsymsTable => {
            let table: KallsymsTable = artifact::decode(&bytes)?;
            let mut value = to_value(serde_json::to_value(&table));
            value["data"] = json!({
                "bytes": table.data.len(),
                "sha256": hex(&Sha256::digest(&table.data)),
            });
            value["tokens"] = json!(table
                .tokens
                .iter()
                .map(|token| String::from_utf8_lossy(token).into_owned())
                .collect::<Vec<_>>());
            (value, None)
        }
        ArtifactKind::PadSpec => (
            to_value(serde_json::to_value(artifact::decode::<PadSpec>(&bytes)?)),
            None,
        ),
        ArtifactKind::TableLocation => (
            to_value(serde_json::to_value(artifact::decode::<TableLocation>(
                &bytes,
            )?)),
            None,
        ),
        ArtifactKind::PatchReport => (
            to_value(serde_json::to_value(artifact::decode::<PatchReport>(
                &bytes,
            )?)),
            None,
        ),
        ArtifactKind::BtfFit => (
            to_value(serde_json::to_value(artifact::decode::<BtfFit>(&bytes)?)),
            None,
        ),
    };
    Ok(ShownArtifact {
        kind,
        value,
        nm_lines,
    })
}

impl ShownArtifact {
    /// The JSON form: `{"kind": KIND, "content": …}`.
    pub fn to_json(&self) -> Value {
        json!({ "kind": self.kind.name(), "content": self.value })
    }

    /// The text form: the kind, then every field, one per line and indented by nesting; a
    /// `SymbolSet`'s symbols as `nm` prints them.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n", self.kind.name());
        let mut value = self.value.clone();
        if self.nm_lines.is_some() {
            value.as_object_mut().expect("an object").remove("symbols");
        }
        write_value(&mut text, &value, 1);
        if let Some(lines) = &self.nm_lines {
            let _ = writeln!(text, "  symbols: {}", lines.len());
            for line in lines {
                let _ = writeln!(text, "    {line}");
            }
        }
        text
    }
}

fn nm_lines(set: &SymbolSet) -> Vec<String> {
    let width = usize::from(set.address_bits / 4);
    set.symbols
        .iter()
        .map(|symbol| {
            let address = if set.addresses_known {
                format!("{:0width$x}", symbol.address)
            } else {
                "-".repeat(width)
            };
            format!(
                "{address} {} {}",
                symbol.type_letter as char,
                String::from_utf8_lossy(&symbol.name)
            )
        })
        .collect()
}

/// `key: value` lines, nested objects and arrays indented below their key; a list of plain
/// values on one line.
fn write_value(text: &mut String, value: &Value, depth: usize) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if is_plain(field) {
                    let _ = writeln!(text, "{indent}{key}: {}", plain(field));
                } else {
                    let _ = writeln!(text, "{indent}{key}:");
                    write_value(text, field, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if is_plain(item) {
                    let _ = writeln!(text, "{indent}- {}", plain(item));
                } else if let Some(fields) = item.as_object().filter(|f| f.values().all(is_plain)) {
                    // A record of plain fields (an array's place, a relocation): one line.
                    let fields: Vec<String> = fields
                        .iter()
                        .map(|(key, field)| format!("{key}: {}", plain(field)))
                        .collect();
                    let _ = writeln!(text, "{indent}- {}", fields.join(", "));
                } else {
                    let _ = writeln!(text, "{indent}-");
                    write_value(text, item, depth + 1);
                }
            }
        }
        other => {
            let _ = writeln!(text, "{indent}{}", plain(other));
        }
    }
}

fn is_plain(value: &Value) -> bool {
    match value {
        Value::Array(items) => items
            .iter()
            .all(|item| !item.is_object() && !item.is_array()),
        Value::Object(_) => false,
        _ => true,
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
