//! The token compression of `scripts/kallsyms`, reproduced exactly, but fast.
//!
//! Upstream counts every adjacent byte pair of every symbol (`TYPE` + `NAME`), then for
//! each byte value from 255 down to 0 that no symbol uses, takes the pair with the highest
//! count (the first such pair in index order `first + 256 * second`), makes the byte stand
//! for it, and rewrites every symbol that contains the pair, left to right, updating the
//! counts. It stops when no pair occurs any more.
//!
//! Upstream rescans every symbol for every token. Here an index from each pair to the
//! symbols containing it limits each round to the symbols that change. The index never has
//! to forget anything: a pair that has been replaced can never occur again (its replacement
//! byte was unused and every new adjacency involves it), so a list is read once and freed,
//! and a stale entry (a symbol that lost the pair to an earlier round) is skipped by
//! checking. Lists hold ascending symbol numbers as LEB128 deltas: every list is built in
//! one ascending pass, either at the start or in the round that creates its token.

use kslink_schema::{ArrayKind, KallsymsTable};

use kslink_schema::name_map::NameMap;

/// The result: a 256-slot token table and every symbol's compressed bytes.
pub struct Compressed {
    /// The expansion of every slot: a literal byte, what a pair of slots expands to, or
    /// nothing for an unused slot.
    pub tokens: Vec<Vec<u8>>,
    /// The symbols' arena, each symbol compressed in place where it started.
    data: Vec<u8>,
    starts: Vec<u32>,
    lens: Vec<u16>,
}

impl Compressed {
    /// The compressed bytes of symbol `index`.
    pub fn symbol(&self, index: usize) -> &[u8] {
        let start = self.starts[index] as usize;
        &self.data[start..start + self.lens[index] as usize]
    }
}

/// Appends the full expansion of `slot` to `out`: a slot of length 1 holds a literal byte,
/// one of length 2 a pair of slots, one of length 0 nothing.
fn expand_slot(slots: &[[u8; 2]; 256], slot_lens: &[u8; 256], slot: u8, out: &mut Vec<u8>) {
    match slot_lens[slot as usize] {
        0 => {}
        1 => out.push(slots[slot as usize][0]),
        _ => {
            let [first, second] = slots[slot as usize];
            expand_slot(slots, slot_lens, first, out);
            expand_slot(slots, slot_lens, second, out);
        }
    }
}

/// The compression of `symbols` taken over from `table` instead of made again. Upstream's
/// compression depends on nothing but the multiset of the strings it compresses (the pair
/// counts, and each string's rewriting), so when `symbols` are, as a multiset, the strings
/// that `table`'s names expand to, each one's compressed form is the one it has there, and
/// the token table is `table`'s: the same result as [`compress`], in a fraction of the time.
/// `None` if the multisets differ (or `table`'s names do not read as a table's names).
pub fn reuse<'a>(
    table: &KallsymsTable,
    symbols: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Option<Compressed> {
    let count = table.num_syms as usize;
    if symbols.len() != count || table.tokens.len() != 256 {
        return None;
    }
    let tokens: Vec<Vec<u8>> = table.tokens.iter().map(|token| token.to_vec()).collect();
    let names = table.array_bytes(ArrayKind::Names)?;
    // Every name: where its expansion ends in `expanded`, and its compressed bytes.
    let mut expanded = Vec::with_capacity(names.len() * 3);
    let mut spans: Vec<(usize, &[u8])> = Vec::with_capacity(count);
    let mut pos = 0;
    for _ in 0..count {
        let first = *names.get(pos)?;
        let (len, prefix) = if first & 0x80 != 0 {
            let second = *names.get(pos + 1)?;
            ((first & 0x7f) as usize | (second as usize) << 7, 2)
        } else {
            (first as usize, 1)
        };
        let compressed = names.get(pos + prefix..pos + prefix + len)?;
        for &byte in compressed {
            expanded.extend_from_slice(&tokens[byte as usize]);
        }
        spans.push((expanded.len(), compressed));
        pos += prefix + len;
    }
    // Each distinct string: how many of the table's names it is, and its compressed form.
    let mut by_string: NameMap<&[u8], (u32, &[u8])> =
        NameMap::with_capacity_and_hasher(count, Default::default());
    let mut start = 0;
    for &(end, compressed) in &spans {
        by_string
            .entry(&expanded[start..end])
            .or_insert((0, compressed))
            .0 += 1;
        start = end;
    }
    let mut data = Vec::with_capacity(names.len());
    let mut starts = Vec::with_capacity(count);
    let mut lens = Vec::with_capacity(count);
    // As many symbols as names, each taking one: the multisets are equal if all are found.
    for symbol in symbols {
        let (left, compressed) = by_string.get_mut(symbol)?;
        *left = left.checked_sub(1)?;
        starts.push(data.len() as u32);
        lens.push(compressed.len() as u16);
        data.extend_from_slice(compressed);
    }
    Some(Compressed {
        tokens,
        data,
        starts,
        lens,
    })
}

fn pair(first: u8, second: u8) -> usize {
    first as usize | (second as usize) << 8
}

/// LEB128 encoding of `value` into `out`; returns the bytes used.
fn put_varint(out: &mut [u8], mut value: u32) -> usize {
    let mut used = 0;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out[used] = byte;
            return used + 1;
        }
        out[used] = byte | 0x80;
        used += 1;
    }
}

fn varint_len(value: u32) -> usize {
    (32 - value.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Decodes a list of ascending symbol numbers stored as LEB128 deltas.
fn symbol_numbers(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let mut pos = 0;
    let mut current = 0u32;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let mut delta = 0u32;
        let mut shift = 0;
        loop {
            let byte = bytes[pos];
            pos += 1;
            delta |= ((byte & 0x7f) as u32) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        current += delta;
        Some(current)
    })
}

/// A growing list of ascending symbol numbers, for the pairs a round creates.
#[derive(Default)]
struct SymbolList {
    bytes: Vec<u8>,
    last: Option<u32>,
}

impl SymbolList {
    fn push(&mut self, symbol: u32) {
        if self.last == Some(symbol) {
            return;
        }
        let mut delta = symbol - self.last.unwrap_or(0);
        while delta >= 0x80 {
            self.bytes.push(delta as u8 | 0x80);
            delta >>= 7;
        }
        self.bytes.push(delta as u8);
        self.last = Some(symbol);
    }

    /// Appends `other`, whose symbols all come after this list's.
    fn append(&mut self, other: SymbolList) {
        let Some(other_last) = other.last else {
            return;
        };
        let Some(first) = symbol_numbers(&other.bytes).next() else {
            return;
        };
        let first_len = varint_len(first);
        self.push(first);
        self.bytes.extend_from_slice(&other.bytes[first_len..]);
        self.last = Some(other_last);
    }
}

/// For every pair of the original symbols, the symbols containing it, in one buffer: built
/// in two passes (sizes, then contents) so that it takes no more memory than it holds.
struct InitialIndex {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl InitialIndex {
    fn build(data: &[u8], starts: &[u32], lens: &[u16]) -> InitialIndex {
        let symbols = || {
            starts
                .iter()
                .zip(lens)
                .map(|(&start, &len)| &data[start as usize..start as usize + len as usize])
                .enumerate()
        };
        let mut last = vec![u32::MAX; 1 << 16];
        let mut sizes = vec![0u32; 1 << 16];
        for (number, symbol) in symbols() {
            let number = number as u32;
            for w in symbol.windows(2) {
                let p = pair(w[0], w[1]);
                if last[p] != number {
                    let delta = number - if last[p] == u32::MAX { 0 } else { last[p] };
                    sizes[p] += varint_len(delta) as u32;
                    last[p] = number;
                }
            }
        }
        let mut ends = sizes;
        let mut total = 0u32;
        for end in &mut ends {
            total += *end;
            *end = total;
        }
        let mut bytes = vec![0u8; total as usize];
        let mut cursor: Vec<u32> = std::iter::once(0)
            .chain(ends[..ends.len() - 1].iter().copied())
            .collect();
        last.fill(u32::MAX);
        for (number, symbol) in symbols() {
            let number = number as u32;
            for w in symbol.windows(2) {
                let p = pair(w[0], w[1]);
                if last[p] != number {
                    let delta = number - if last[p] == u32::MAX { 0 } else { last[p] };
                    cursor[p] += put_varint(&mut bytes[cursor[p] as usize..], delta) as u32;
                    last[p] = number;
                }
            }
        }
        InitialIndex { bytes, ends }
    }

    fn list(&self, p: usize) -> &[u8] {
        let start = if p == 0 { 0 } else { self.ends[p - 1] };
        &self.bytes[start as usize..self.ends[p] as usize]
    }
}

/// Rounds with at least this many candidate symbols are split between two threads.
const PARALLEL_MIN: usize = 4096;

/// One thread's share of a round: a contiguous run of symbols, rewritten in place.
struct RoundShare<'a> {
    /// The arena bytes from `data_base` on that hold this share's symbols.
    data: &'a mut [u8],
    data_base: usize,
    /// The lengths of symbols `lens_base..`.
    lens: &'a mut [u16],
    lens_base: usize,
    /// Pair counts (or, for a helper thread, changes to them, from all zeros).
    counts: &'a mut [i32; 1 << 16],
    /// Symbols that gained the pair `(c, slot)`, by `c`.
    before_slot: Vec<SymbolList>,
    /// Symbols that gained the pair `(slot, c)`, by `c`.
    after_slot: Vec<SymbolList>,
}

impl RoundShare<'_> {
    fn new<'a>(
        data: &'a mut [u8],
        data_base: usize,
        lens: &'a mut [u16],
        lens_base: usize,
        counts: &'a mut [i32; 1 << 16],
    ) -> RoundShare<'a> {
        RoundShare {
            data,
            data_base,
            lens,
            lens_base,
            counts,
            before_slot: (0..256).map(|_| SymbolList::default()).collect(),
            after_slot: (0..256).map(|_| SymbolList::default()).collect(),
        }
    }

    /// Replaces `first second` by `slot` in the candidate symbols `numbers`.
    fn rewrite(&mut self, numbers: &[u32], starts: &[u32], first: u8, second: u8, slot: u8) {
        for &number in numbers {
            let start = starts[number as usize] as usize - self.data_base;
            let len_slot = &mut self.lens[number as usize - self.lens_base];
            let len = *len_slot as usize;
            let Some(found) = find_pair(self.data, start, len, 0, first, second) else {
                continue;
            };
            let (before_slot, after_slot) = (&mut self.before_slot, &mut self.after_slot);
            *len_slot = replace_pair(
                self.data,
                start,
                len,
                found,
                first,
                second,
                slot,
                self.counts,
                |p| {
                    if p & 0xff == slot as usize {
                        after_slot[p >> 8].push(number);
                    } else {
                        before_slot[p & 0xff].push(number);
                    }
                },
            ) as u16;
        }
    }
}

/// Compresses the symbols (each `TYPE` + `NAME`) exactly as upstream does.
pub fn compress<'a>(symbols: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Compressed {
    // One arena in symbol order, so that a round's candidates split into two contiguous
    // runs of it, one per thread.
    let mut data = Vec::with_capacity(symbols.clone().map(<[u8]>::len).sum());
    let mut starts = Vec::with_capacity(symbols.len());
    let mut lens = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        starts.push(data.len() as u32);
        lens.push(symbol.len() as u16);
        data.extend_from_slice(symbol);
    }

    let mut slots = [[0u8; 2]; 256];
    let mut slot_lens = [0u8; 256];
    for &byte in &data {
        slots[byte as usize][0] = byte;
        slot_lens[byte as usize] = 1;
    }
    let literal = slot_lens;

    let mut counts: Box<[i32; 1 << 16]> = Box::new([0; 1 << 16]);
    for (&start, &len) in starts.iter().zip(&lens) {
        for w in data[start as usize..start as usize + len as usize].windows(2) {
            counts[pair(w[0], w[1])] += 1;
        }
    }
    let initial = InitialIndex::build(&data, &starts, &lens);
    // Lists of the pairs that rounds create (those with a non-literal byte).
    let mut created: Vec<Option<Box<SymbolList>>> = (0..1 << 16).map(|_| None).collect();
    let mut helper_counts: Box<[i32; 1 << 16]> = Box::new([0; 1 << 16]);
    let mut numbers = Vec::new();

    for slot in (0..=255u8).rev() {
        if slot_lens[slot as usize] != 0 {
            continue;
        }
        // The first pair with the strictly highest count, as upstream's scan finds it (in
        // two passes that the compiler vectorises).
        let best_count = counts.iter().copied().max().expect("65536 counts");
        if best_count <= 0 {
            break;
        }
        let best = counts
            .iter()
            .position(|&c| c == best_count)
            .expect("the maximum occurs");
        let (first, second) = (best as u8, (best >> 8) as u8);
        slots[slot as usize] = [first, second];
        slot_lens[slot as usize] = 2;

        numbers.clear();
        if literal[first as usize] != 0 && literal[second as usize] != 0 {
            numbers.extend(symbol_numbers(initial.list(best)));
        } else if let Some(list) = created[best].take() {
            numbers.extend(symbol_numbers(&list.bytes));
        }

        let (before_slot, after_slot) = if numbers.len() < PARALLEL_MIN {
            let mut share = RoundShare::new(&mut data, 0, &mut lens, 0, &mut counts);
            share.rewrite(&numbers, &starts, first, second, slot);
            (share.before_slot, share.after_slot)
        } else {
            // Symbols are independent within a round: the second half goes to a helper
            // thread that records its count changes apart, added in afterwards.
            let (low, high) = numbers.split_at(numbers.len() / 2);
            let split_number = high[0] as usize;
            let split_at = starts[split_number] as usize;
            let (data_low, data_high) = data.split_at_mut(split_at);
            let (lens_low, lens_high) = lens.split_at_mut(split_number);
            let mut share_low = RoundShare::new(data_low, 0, lens_low, 0, &mut counts);
            let mut share_high = RoundShare::new(
                data_high,
                split_at,
                lens_high,
                split_number,
                &mut helper_counts,
            );
            std::thread::scope(|scope| {
                scope.spawn(|| share_high.rewrite(high, &starts, first, second, slot));
                share_low.rewrite(low, &starts, first, second, slot);
            });
            let (mut before_slot, mut after_slot) = (share_low.before_slot, share_low.after_slot);
            for (list, high) in before_slot.iter_mut().zip(share_high.before_slot) {
                list.append(high);
            }
            for (list, high) in after_slot.iter_mut().zip(share_high.after_slot) {
                list.append(high);
            }
            // A rewrite changes only the counts of pairs next to the pair or its slot:
            // `(c, first)`, `(second, c)`, `(c, slot)` and `(slot, c)`. Adding those in and
            // zeroing them leaves the helper's counts all zero for the next round (a pair
            // of two families is added once, then as zero).
            for c in 0..=255u8 {
                for p in [
                    pair(c, first),
                    pair(second, c),
                    pair(c, slot),
                    pair(slot, c),
                ] {
                    counts[p] += std::mem::take(&mut helper_counts[p]);
                }
            }
            (before_slot, after_slot)
        };
        counts[best] = 0;
        for (c, (before, after)) in before_slot.into_iter().zip(after_slot).enumerate() {
            for (p, list) in [(pair(c as u8, slot), before), (pair(slot, c as u8), after)] {
                if !list.bytes.is_empty() {
                    created[p] = Some(Box::new(list));
                }
            }
        }
    }

    let tokens = (0..=255u8)
        .map(|slot| {
            let mut expansion = Vec::new();
            expand_slot(&slots, &slot_lens, slot, &mut expansion);
            expansion
        })
        .collect();
    Compressed {
        tokens,
        data,
        starts,
        lens,
    }
}

/// The first position `p >= from` in `data[start..start + len]` where `first second` occurs,
/// found seven positions at a time.
#[inline(always)]
fn find_pair(
    data: &[u8],
    start: usize,
    len: usize,
    from: usize,
    first: u8,
    second: u8,
) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // A byte of the result is 0x80 exactly where the byte of `x` is zero.
    let zero_bytes = |x: u64| !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
    // Byte `k` of `word ^ firsts` is zero where byte `k` is `first`, and of
    // `(word >> 8) ^ seconds` where byte `k + 1` is `second`: their OR is zero where both are.
    let (firsts, seconds) = (ONES * first as u64, ONES * second as u64);
    let mut at = from;
    while at + 1 < len {
        let word = match data.get(start + at..start + at + 8) {
            Some(bytes) => u64::from_le_bytes(bytes.try_into().expect("8 bytes")),
            None => {
                // The end of the slice: bytes past it read as zero, and positions past the
                // symbol are rejected below anyway.
                let mut bytes = [0u8; 8];
                let tail = &data[start + at..];
                bytes[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(bytes)
            }
        };
        let hits =
            zero_bytes(word ^ firsts) & zero_bytes((word >> 8) ^ seconds) & 0x0080_8080_8080_8080;
        if hits != 0 {
            let found = at + hits.trailing_zeros() as usize / 8;
            return (found + 1 < len).then_some(found);
        }
        at += 7;
    }
    None
}

/// Moves `len` bytes from `from` to `to < from`. Chunks are short, and a call to `memmove`
/// for each would cost more than the copy: a chunk of 2 to 8 bytes is two overlapping
/// windows, both read before either is written; a longer one goes word by word, which is
/// safe moving left because every word is read before anything overwrites it, and its
/// last window is read first.
#[inline(always)]
fn move_left(data: &mut [u8], from: usize, to: usize, len: usize) {
    fn window<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
        data[at..at + N].try_into().expect("N bytes")
    }
    fn two_windows<const N: usize>(data: &mut [u8], from: usize, to: usize, len: usize) {
        let (head, tail) = (window::<N>(data, from), window::<N>(data, from + len - N));
        data[to..to + N].copy_from_slice(&head);
        data[to + len - N..to + len].copy_from_slice(&tail);
    }
    match len {
        0 => {}
        1 => data[to] = data[from],
        2..=3 => two_windows::<2>(data, from, to, len),
        4..=7 => two_windows::<4>(data, from, to, len),
        8 => two_windows::<8>(data, from, to, len),
        _ => {
            let tail = window::<8>(data, from + len - 8);
            let mut done = 0;
            while done + 8 <= len {
                let word = window::<8>(data, from + done);
                data[to + done..to + done + 8].copy_from_slice(&word);
                done += 8;
            }
            data[to + len - 8..to + len].copy_from_slice(&tail);
        }
    }
}

/// Replaces every occurrence of `first second` in the symbol `data[start..start + len]`, left
/// to right and non-overlapping, by `slot`, starting at the first occurrence `found`; returns
/// the new length. Updates `counts` for the neighbouring pairs that disappear and the new
/// ones, and reports each new pair to `gained`: only pairs next to a replacement change, so
/// the rest of the symbol is not recounted. The replaced pair itself is left alone: after the
/// round it occurs nowhere, and the caller sets its count to zero.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn replace_pair(
    data: &mut [u8],
    start: usize,
    len: usize,
    found: usize,
    first: u8,
    second: u8,
    slot: u8,
    counts: &mut [i32; 1 << 16],
    mut gained: impl FnMut(usize),
) -> usize {
    let mut read = found;
    let mut write = found;
    // Whether the byte before `read` ended a replaced pair: the pair it formed with the byte
    // at `read` has been counted as gone already.
    let mut after_replacement = false;
    loop {
        // An occurrence at `read`.
        if read > 0 && !after_replacement {
            counts[pair(data[start + read - 1], first)] -= 1;
        }
        if read + 2 < len {
            counts[pair(second, data[start + read + 2])] -= 1;
        }
        data[start + write] = slot;
        if write > 0 {
            let p = pair(data[start + write - 1], slot);
            counts[p] += 1;
            gained(p);
        }
        read += 2;
        write += 1;
        let next = find_pair(data, start, len, read, first, second).unwrap_or(len);
        after_replacement = next == read;
        if next > read {
            let p = pair(slot, data[start + read]);
            counts[p] += 1;
            gained(p);
            move_left(data, start + read, start + write, next - read);
            write += next - read;
            read = next;
        }
        if read >= len {
            return write;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress_all(symbols: &[&[u8]]) -> Compressed {
        compress(symbols.iter().copied())
    }

    fn expand(compressed: &Compressed, index: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for &byte in compressed.symbol(index) {
            out.extend_from_slice(&compressed.tokens[byte as usize]);
        }
        out
    }

    #[test]
    fn round_trips_and_picks_the_most_frequent_pair_first() {
        let symbols: Vec<&[u8]> = vec![b"Tabab", b"tab", b"Dxyz", b"Taaaa", b"Tbababab"];
        let compressed = compress_all(&symbols);
        for (i, symbol) in symbols.iter().enumerate() {
            assert_eq!(expand(&compressed, i), *symbol);
        }
        // "ab" occurs 6 times, more than any other pair: slot 255 takes it.
        assert_eq!(compressed.tokens[255], b"ab");
    }

    #[test]
    fn local_count_updates_equal_a_full_recount() {
        let symbols: Vec<&[u8]> = vec![
            b"tabababx",
            b"Taab",
            b"Dbab",
            b"tababab",
            b"Tababxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxab",
            b"Tyyyyyyab",
        ];
        let mut data: Vec<u8> = symbols.concat();
        let mut expected: Box<[i32; 1 << 16]> = Box::new([0; 1 << 16]);
        let mut counts: Box<[i32; 1 << 16]> = Box::new([0; 1 << 16]);
        let mut gained = 0;
        let mut start = 0;
        for symbol in &symbols {
            let len = symbol.len();
            let found = symbol.windows(2).position(|w| w == b"ab").unwrap();
            assert_eq!(find_pair(&data, start, len, 0, b'a', b'b'), Some(found));
            for w in data[start..start + len].windows(2) {
                expected[pair(w[0], w[1])] -= 1;
            }
            let new_len = replace_pair(
                &mut data,
                start,
                len,
                found,
                b'a',
                b'b',
                0,
                &mut counts,
                |_| gained += 1,
            );
            for w in data[start..start + new_len].windows(2) {
                expected[pair(w[0], w[1])] += 1;
            }
            start += len;
        }
        // The replaced pair is left to the caller.
        expected[pair(b'a', b'b')] = 0;
        assert!(expected.iter().zip(counts.iter()).all(|(e, c)| e == c));
        assert_eq!(gained, counts.iter().filter(|&&c| c > 0).sum::<i32>());
    }

    #[test]
    fn move_left_equals_copy_within_for_every_length_and_shift() {
        let original: Vec<u8> = (0..64u8).collect();
        for shift in 1..12 {
            for len in 0..40 {
                let (to, from) = (3, 3 + shift);
                let mut moved = original.clone();
                move_left(&mut moved, from, to, len);
                let mut expected = original.clone();
                expected.copy_within(from..from + len, to);
                assert_eq!(moved, expected, "shift {shift}, len {len}");
            }
        }
    }

    /// A table's artifact built from `map` (6.12, all symbols), as the table stage makes it.
    fn table_of(map: &str) -> KallsymsTable {
        let profile = &crate::LINUX_6_12;
        let symbols = crate::read_map(map.as_bytes(), "map", profile).unwrap();
        let options = kslink_schema::TableOptions {
            all_symbols: true,
            ..Default::default()
        };
        crate::build(symbols, profile, options)
            .unwrap()
            .to_artifact(crate::Arch::by_name("x86_64").unwrap().layout())
    }

    #[test]
    fn reuse_gives_what_compressing_again_gives_for_the_same_multiset() {
        let table = table_of(
            "1000 T _text\n1010 T abab_one\n1020 t abab_one\n1030 D ab_data\n\
             1040 T abab_one\n1050 B xyzab\n",
        );
        // The same strings in another order, as after the link (and one twice, as before).
        let symbols: Vec<&[u8]> = vec![
            b"Bxyzab",
            b"Tabab_one",
            b"Dab_data",
            b"T_text",
            b"tabab_one",
            b"Tabab_one",
        ];
        let reused = reuse(&table, symbols.iter().copied()).expect("the same multiset");
        let fresh = compress_all(&symbols);
        assert_eq!(reused.tokens, fresh.tokens);
        for i in 0..symbols.len() {
            assert_eq!(reused.symbol(i), fresh.symbol(i), "symbol {i}");
        }

        // Not the same multiset: one string more often, one missing, one letter changed.
        let other: Vec<&[u8]> = vec![
            b"Bxyzab",
            b"Tabab_one",
            b"Dab_data",
            b"T_text",
            b"Tabab_one",
            b"Tabab_one",
        ];
        assert!(reuse(&table, other.iter().copied()).is_none());
        assert!(reuse(&table, symbols[1..].iter().copied()).is_none());
        let letter: Vec<&[u8]> = vec![
            b"Bxyzab",
            b"Tabab_one",
            b"dab_data",
            b"T_text",
            b"tabab_one",
            b"Tabab_one",
        ];
        assert!(reuse(&table, letter.iter().copied()).is_none());
    }

    #[test]
    fn delta_lists_round_trip() {
        let mut list = SymbolList::default();
        for n in [0, 0, 1, 200, 70000, 70000, 70001] {
            list.push(n);
        }
        assert_eq!(
            symbol_numbers(&list.bytes).collect::<Vec<_>>(),
            [0, 1, 200, 70000, 70001]
        );
    }
}
