//! How good a prediction was: the predicted symbols against the linked file's, and what the
//! differences cost in kallsyms table bytes.

use std::fmt::Write as _;

use kslink_schema::{DataLayout, SymbolSet, TableOptions};
use kslink_table::{build, symbols_from_set, Profile};
use serde::Serialize;

use crate::CollectError;
use kslink_schema::name_map::NameMap;

/// A symbol as the comparison sees it: type letter and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypedName {
    /// The `nm` type letter.
    #[serde(rename = "type", serialize_with = "letter")]
    pub type_letter: u8,
    /// The name (lossily UTF-8 in reports).
    #[serde(serialize_with = "lossy")]
    pub name: Vec<u8>,
}

/// A name the prediction has with another type letter than the linked file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Retyped {
    /// The name.
    #[serde(serialize_with = "lossy")]
    pub name: Vec<u8>,
    /// The predicted letter.
    #[serde(serialize_with = "letter")]
    pub predicted: u8,
    /// The linked file's letter.
    #[serde(serialize_with = "letter")]
    pub linked: u8,
}

/// One array of the table, built from each set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArrayCost {
    /// The array's label.
    pub label: &'static str,
    /// Its size built from the prediction.
    pub predicted: u64,
    /// Its size built from the linked file.
    pub linked: u64,
}

/// The table both sets give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCost {
    /// The profile.
    pub profile: &'static str,
    /// The generator options.
    pub all_symbols: bool,
    /// `--absolute-percpu`.
    pub absolute_percpu: bool,
    /// `--base-relative`.
    pub base_relative: bool,
    /// `--pc-relative`.
    pub pc_relative: bool,
    /// Symbols in the table built from the prediction.
    pub predicted_symbols: u32,
    /// Symbols in the table built from the linked file.
    pub linked_symbols: u32,
    /// Per array, in layout order.
    pub arrays: Vec<ArrayCost>,
    /// All arrays with their alignment padding, from the prediction.
    pub predicted_total: u64,
    /// The same from the linked file.
    pub linked_total: u64,
}

/// The outcome of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// True when the two sets are the same multiset of (type letter, name).
    pub exact: bool,
    /// Symbols in the prediction.
    pub predicted_symbols: usize,
    /// Symbols in the linked file.
    pub linked_symbols: usize,
    /// In the linked file, not in the prediction.
    pub missing: Vec<TypedName>,
    /// In the prediction, not in the linked file.
    pub extra: Vec<TypedName>,
    /// In both, with other type letters.
    pub retyped: Vec<Retyped>,
    /// The table cost.
    pub table: TableCost,
}

fn letter<S: serde::Serializer>(letter: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&char::from(*letter).to_string())
}

fn lossy<S: serde::Serializer>(name: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(name))
}

/// The table options of a comparison.
#[derive(Clone, Copy, Debug)]
pub struct TableSettings {
    /// The kernel version's profile.
    pub profile: &'static Profile,
    /// The generator options.
    pub options: TableOptions,
    /// The target's word size and byte order.
    pub layout: DataLayout,
}

/// Compares `predicted` with `linked` (a set with addresses, from the linked file).
///
/// The table is built from each set with `settings`. A prediction has no addresses, and
/// the table's choice of symbols (without `--all-symbols`), its order and its relative
/// base depend on them; so the prediction's symbols take the linked file's address of the
/// same name (extra names take `_text`'s), and the table cost shows only what the
/// differences in names and letters cost.
pub fn compare(
    predicted: &SymbolSet,
    linked: &SymbolSet,
    settings: TableSettings,
) -> Result<Comparison, CollectError> {
    fn count(set: &SymbolSet) -> NameMap<(u8, &[u8]), i64> {
        let mut counts: NameMap<(u8, &[u8]), i64> = NameMap::default();
        for s in &set.symbols {
            *counts.entry((s.type_letter, &s.name)).or_default() += 1;
        }
        counts
    }
    let mut balance = count(predicted);
    for (key, n) in count(linked) {
        *balance.entry(key).or_default() -= n;
    }
    // Per name, the letters the prediction has too many of; and what it lacks.
    let mut extra_letters: NameMap<&[u8], Vec<u8>> = NameMap::default();
    let mut lacking = Vec::new();
    for ((type_letter, name), n) in balance {
        for _ in 0..n.unsigned_abs() {
            if n > 0 {
                extra_letters.entry(name).or_default().push(type_letter);
            } else {
                lacking.push(TypedName {
                    type_letter,
                    name: name.to_vec(),
                });
            }
        }
    }
    let by_name =
        |a: &TypedName, b: &TypedName| (&a.name, a.type_letter).cmp(&(&b.name, b.type_letter));
    lacking.sort_by(by_name);
    // A name the prediction lacks with one letter and has extra with another is retyped.
    let mut retyped = Vec::new();
    let mut missing = Vec::new();
    for m in lacking {
        match extra_letters
            .get_mut(m.name.as_slice())
            .and_then(|letters| letters.pop())
        {
            Some(predicted) => retyped.push(Retyped {
                name: m.name,
                predicted,
                linked: m.type_letter,
            }),
            None => missing.push(m),
        }
    }
    let mut extra: Vec<TypedName> = extra_letters
        .into_iter()
        .flat_map(|(name, letters)| {
            letters.into_iter().map(move |type_letter| TypedName {
                type_letter,
                name: name.to_vec(),
            })
        })
        .collect();
    extra.sort_by(by_name);
    retyped.sort();
    let exact = extra.is_empty() && missing.is_empty() && retyped.is_empty();
    let table = table_cost(predicted, linked, settings)?;
    Ok(Comparison {
        exact,
        predicted_symbols: predicted.symbols.len(),
        linked_symbols: linked.symbols.len(),
        missing,
        extra,
        retyped,
        table,
    })
}

/// The prediction with the linked file's addresses (see [`compare`]).
fn with_linked_addresses(predicted: &SymbolSet, linked: &SymbolSet) -> SymbolSet {
    let mut addresses: NameMap<&[u8], Vec<u64>> = NameMap::default();
    for s in linked.symbols.iter().rev() {
        addresses.entry(&s.name).or_default().push(s.address);
    }
    let text = linked
        .symbols
        .iter()
        .find(|s| s.name == b"_text")
        .map_or(0, |s| s.address);
    let mut set = predicted.clone();
    for s in &mut set.symbols {
        s.address = addresses
            .get_mut(s.name.as_slice())
            .and_then(Vec::pop)
            .unwrap_or(text);
    }
    set.symbols.sort_by_key(|s| s.address);
    set.addresses_known = true;
    set
}

fn table_cost(
    predicted: &SymbolSet,
    linked: &SymbolSet,
    settings: TableSettings,
) -> Result<TableCost, CollectError> {
    let profile = settings.profile;
    let built = |set: &SymbolSet, what: &str| {
        let list = symbols_from_set(set, profile, what);
        build(list, profile, settings.options)
            .map(|table| table.to_artifact(settings.layout))
            .map_err(|e| CollectError::Table(format!("building the table from {what}: {e}")))
    };
    let from_prediction = built(&with_linked_addresses(predicted, linked), "the prediction")?;
    let from_linked = built(linked, "the linked file")?;
    let arrays = from_linked
        .arrays
        .iter()
        .map(|array| ArrayCost {
            label: array.kind.label(),
            predicted: from_prediction.array(array.kind).map_or(0, |a| a.size),
            linked: array.size,
        })
        .collect();
    Ok(TableCost {
        profile: profile.name,
        all_symbols: settings.options.all_symbols,
        absolute_percpu: settings.options.absolute_percpu,
        base_relative: settings.options.base_relative,
        pc_relative: settings.options.pc_relative,
        predicted_symbols: from_prediction.num_syms,
        linked_symbols: from_linked.num_syms,
        arrays,
        predicted_total: from_prediction.data.len() as u64,
        linked_total: from_linked.data.len() as u64,
    })
}

impl Comparison {
    /// The report as text, listing at most `limit` symbols of each kind.
    pub fn to_text(&self, limit: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "symbols: {} predicted, {} in the linked file",
            self.predicted_symbols, self.linked_symbols
        );
        let section = |out: &mut String, title: &str, lines: Vec<String>| {
            let _ = writeln!(out, "{title}: {}", lines.len());
            for line in lines.iter().take(limit) {
                let _ = writeln!(out, "  {line}");
            }
            if lines.len() > limit {
                let _ = writeln!(out, "  ... and {} more", lines.len() - limit);
            }
        };
        let show = |t: &TypedName| {
            format!(
                "{} {}",
                char::from(t.type_letter),
                String::from_utf8_lossy(&t.name)
            )
        };
        section(
            &mut out,
            "missing from the prediction",
            self.missing.iter().map(show).collect(),
        );
        section(
            &mut out,
            "extra in the prediction",
            self.extra.iter().map(show).collect(),
        );
        section(
            &mut out,
            "with another type letter (predicted -> linked)",
            self.retyped
                .iter()
                .map(|r| {
                    format!(
                        "{} -> {} {}",
                        char::from(r.predicted),
                        char::from(r.linked),
                        String::from_utf8_lossy(&r.name)
                    )
                })
                .collect(),
        );
        let t = &self.table;
        let mut flags = vec![format!("--profile {}", t.profile)];
        for (on, flag) in [
            (t.all_symbols, "--all-symbols"),
            (t.absolute_percpu, "--absolute-percpu"),
            (t.base_relative, "--base-relative"),
            (t.pc_relative, "--pc-relative"),
        ] {
            if on {
                flags.push(flag.to_owned());
            }
        }
        let _ = writeln!(
            out,
            "table bytes ({}): {} symbols predicted, {} linked",
            flags.join(" "),
            t.predicted_symbols,
            t.linked_symbols
        );
        let _ = writeln!(
            out,
            "  {:<24} {:>12} {:>12} {:>12}",
            "array", "predicted", "linked", "difference"
        );
        for a in &t.arrays {
            let _ = writeln!(
                out,
                "  {:<24} {:>12} {:>12} {:>+12}",
                a.label,
                a.predicted,
                a.linked,
                a.predicted as i64 - a.linked as i64
            );
        }
        let _ = writeln!(
            out,
            "  {:<24} {:>12} {:>12} {:>+12}",
            "total (with padding)",
            t.predicted_total,
            t.linked_total,
            t.predicted_total as i64 - t.linked_total as i64
        );
        let _ = writeln!(
            out,
            "{}",
            if self.exact {
                "the prediction is exact"
            } else {
                "the prediction differs"
            }
        );
        out
    }
}
