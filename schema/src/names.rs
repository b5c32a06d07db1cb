//! Suggestions for a mistyped name (a profile, an arch, a command), the same in every
//! process: the known name at most two edits away with the same digits, or the one the name
//! is the tail of (`6.12` for `linux-6.12`). Another version number is no typo: `linux-7.2`
//! gets no `linux-7.3`, which would be another kernel's rules.

/// The known name nearest to `name`, if it is near enough to be what was meant.
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let known: Vec<&str> = known.into_iter().collect();
    if let Some(whole) = known.iter().find(|k| {
        k.len() > name.len() && k.ends_with(name) && k[..k.len() - name.len()].ends_with('-')
    }) {
        return Some(whole);
    }
    let digits = |text: &str| {
        text.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    };
    known
        .iter()
        .filter(|k| digits(k) == digits(name))
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// ` (did you mean X?)` for [`nearest`], or nothing.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, known)
        .map(|near| format!(" (did you mean {near}?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_tails_are_suggested_and_strangers_not() {
        let profiles = ["linux-6.12", "linux-6.1", "linux-7.3"];
        assert_eq!(nearest("6.12", profiles), Some("linux-6.12"));
        assert_eq!(nearest("linux-7.2", profiles), None);
        assert_eq!(nearest("linux-5.4", profiles), None);
        assert_eq!(nearest("linx-6.12", profiles), Some("linux-6.12"));
        assert_eq!(nearest("x86-64", ["x86_64", "i386"]), Some("x86_64"));
        assert_eq!(nearest("lnik", ["link", "demo"]), Some("link"));
        assert_eq!(nearest("sparc", ["x86_64", "i386", "arm"]), None);
        assert_eq!(did_you_mean("sparc", ["x86_64"]), "");
        assert_eq!(did_you_mean("tabel", ["table"]), " (did you mean table?)");
    }
}
