//! The table as assembly source, byte for byte what upstream's `scripts/kallsyms` prints.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, SyncSender};

use kslink_schema::ArrayKind;

use crate::build::{BuiltTable, TableSink};
use crate::profile::ArrayAlignment;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `, 0xNN` for every byte: a list item of `.byte` in one copy (the names' bytes are most
/// of a distribution kernel's `.S`).
const BYTE_ITEMS: [[u8; 6]; 256] = {
    let mut items = [[0u8; 6]; 256];
    let mut byte = 0;
    while byte < 256 {
        items[byte] = [b',', b' ', b'0', b'x', HEX[byte >> 4], HEX[byte & 15]];
        byte += 1;
    }
    items
};

/// Bytes formatted before a piece goes to the writing thread.
const PIECE: usize = 1 << 18;

/// Formats into a buffer and hands it, in large pieces, to a thread that writes them: the
/// `.S` of a distribution kernel is tens of megabytes, and formatting and writing overlap.
struct AsmSink<'p> {
    pieces: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    comments: bool,
    /// The line that aligns each label: `\tALGN` (the prologue's macro) or `\t.balign 4`.
    align_line: &'static [u8],
    /// The arrays whose label gets a `.size`.
    sized_arrays: &'static [ArrayKind],
    /// The array being written.
    current: Option<ArrayKind>,
    /// Zero bytes to emit after each array's content, in table order (empty: none).
    padding: &'p [u64],
    /// The number of arrays ended so far: the index into `padding`.
    arrays_ended: usize,
}

impl AsmSink<'_> {
    fn line_done(&mut self) -> io::Result<()> {
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE + 1024));
        // A closed channel means the writer stopped on an error, which it reports.
        self.pieces
            .send(piece)
            .map_err(|_| io::Error::other("the writing thread stopped"))
    }

    fn byte_hex(&mut self, byte: u8) {
        self.buf.extend_from_slice(&BYTE_ITEMS[byte as usize][2..]);
    }

    /// `, 0xNN`.
    fn byte_item(&mut self, byte: u8) {
        self.buf.extend_from_slice(&BYTE_ITEMS[byte as usize]);
    }

    /// `%u` / `%d` of a non-negative value.
    fn decimal(&mut self, value: u64) {
        let mut digits = [0u8; 20];
        let mut pos = digits.len();
        let mut rest = value;
        loop {
            pos -= 1;
            digits[pos] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&digits[pos..]);
    }

    /// C's `%#x` / `%#llx`: `0` for zero, else `0x` and lowercase digits.
    fn alt_hex(&mut self, value: u64) {
        if value == 0 {
            self.buf.push(b'0');
            return;
        }
        self.buf.extend_from_slice(b"0x");
        let digits = (64 - value.leading_zeros() as usize).div_ceil(4);
        for shift in (0..digits).rev() {
            self.buf.push(HEX[((value >> (shift * 4)) & 15) as usize]);
        }
    }

    fn comment(&mut self, symbol: &[u8]) {
        if self.comments {
            self.buf.extend_from_slice(b"\t/* ");
            self.buf.extend_from_slice(symbol);
            self.buf.extend_from_slice(b" */");
        }
    }
}

impl TableSink for AsmSink<'_> {
    fn begin(&mut self, kind: ArrayKind) -> io::Result<()> {
        let label = kind.label().as_bytes();
        self.current = Some(kind);
        self.buf.extend_from_slice(b".globl ");
        self.buf.extend_from_slice(label);
        self.buf.push(b'\n');
        self.buf.extend_from_slice(self.align_line);
        self.buf.extend_from_slice(label);
        self.buf.extend_from_slice(b":\n");
        self.line_done()
    }

    fn end(&mut self) -> io::Result<()> {
        // The size is the content's, before the frame's padding: what the object writer
        // gives the label too.
        if let Some(kind) = self.current.filter(|kind| self.sized_arrays.contains(kind)) {
            let label = kind.label().as_bytes();
            self.buf.extend_from_slice(b".size ");
            self.buf.extend_from_slice(label);
            self.buf.extend_from_slice(b", . - ");
            self.buf.extend_from_slice(label);
            self.buf.push(b'\n');
        }
        if let Some(&zeros) = self.padding.get(self.arrays_ended).filter(|&&z| z > 0) {
            self.buf.extend_from_slice(b"\t.zero\t");
            self.decimal(zeros);
            self.buf.push(b'\n');
        }
        self.arrays_ended += 1;
        self.buf.push(b'\n');
        self.line_done()
    }

    fn word(&mut self, value: u32) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.long\t");
        self.decimal(value as u64);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn name(&mut self, compressed: &[u8], symbol: &[u8]) -> io::Result<()> {
        let len = compressed.len();
        self.buf.extend_from_slice(b"\t.byte ");
        if len <= 0x7f {
            self.byte_hex(len as u8);
        } else {
            self.byte_hex((len & 0x7f) as u8 | 0x80);
            self.byte_item((len >> 7) as u8);
        }
        for &byte in compressed {
            self.byte_item(byte);
        }
        self.comment(symbol);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn token(&mut self, expansion: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.asciz\t\"");
        self.buf.extend_from_slice(expansion);
        self.buf.extend_from_slice(b"\"\n");
        self.line_done()
    }

    fn token_index(&mut self, offset: u16) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.short\t");
        self.decimal(offset as u64);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn offset(&mut self, value: i32, symbol: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.long\t");
        self.alt_hex(value as u32 as u64);
        self.comment(symbol);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn place_relative(&mut self, distance: i32, symbol: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.long\t_text - . + (");
        if distance < 0 {
            self.buf.push(b'-');
        }
        self.decimal(distance.unsigned_abs() as u64);
        self.buf.push(b')');
        self.comment(symbol);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn text_pointer(&mut self, addr: u64, text_address: u64) -> io::Result<()> {
        if text_address <= addr {
            self.buf.extend_from_slice(b"\tPTR\t_text + ");
            self.alt_hex(addr - text_address);
        } else {
            self.buf.extend_from_slice(b"\tPTR\t_text - ");
            self.alt_hex(text_address - addr);
        }
        self.buf.push(b'\n');
        self.line_done()
    }

    fn absolute_pointer(&mut self, value: u64) -> io::Result<()> {
        self.buf.extend_from_slice(b"\tPTR\t");
        self.alt_hex(value);
        self.buf.push(b'\n');
        self.line_done()
    }

    fn seq(&mut self, seq: u32, symbol: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b"\t.byte ");
        self.byte_hex((seq >> 16) as u8);
        self.byte_item((seq >> 8) as u8);
        self.byte_item(seq as u8);
        self.comment(symbol);
        self.buf.push(b'\n');
        self.line_done()
    }
}

/// What 6.x's `.S` starts with: the macros its labels and pointers use.
const POINTER_MACROS: &str = "#include <asm/bitsperlong.h>
#if BITS_PER_LONG == 64
#define PTR .quad
#define ALGN .balign 8
#else
#define PTR .long
#define ALGN .balign 4
#endif
";

/// The section every table is in.
const SECTION: &str = "\t.section .rodata, \"a\"\n";

impl BuiltTable {
    /// Writes the table as upstream's generator prints it.
    pub fn write_asm<W: Write + Send>(&self, out: W) -> io::Result<()> {
        self.write_asm_padded(&[], out)
    }

    /// Writes the table as upstream's generator prints it, each array's content followed by
    /// `.zero N` where `padding` (in table order, from [`crate::frame_padding`]) gives `N > 0`:
    /// assembled, the arrays land at the offsets of the frame the padding was taken from,
    /// since the `.balign` before each array then aligns the end of the previous room.
    pub fn write_asm_padded<W: Write + Send>(&self, padding: &[u64], mut out: W) -> io::Result<()> {
        let (pieces, received) = sync_channel::<Vec<u8>>(2);
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                for piece in received {
                    out.write_all(&piece)?;
                }
                out.flush()
            });
            let (prologue, align_line): (&str, &[u8]) = match self.profile.array_alignment {
                ArrayAlignment::PointerSize => (POINTER_MACROS, b"\tALGN\n"),
                ArrayAlignment::FourBytes => ("", b"\t.balign 4\n"),
            };
            let mut sink = AsmSink {
                pieces,
                buf: Vec::with_capacity(PIECE + 1024),
                comments: self.profile.name_comments,
                align_line,
                sized_arrays: self.profile.sized_arrays,
                current: None,
                padding,
                arrays_ended: 0,
            };
            sink.buf.extend_from_slice(prologue.as_bytes());
            sink.buf.extend_from_slice(SECTION.as_bytes());
            let formatted = self.render(&mut sink).and_then(|()| sink.send());
            drop(sink);
            let written = writer.join().expect("the writing thread does not panic");
            // The writer's error explains a failed send; report it first.
            written.and(formatted)
        })
    }
}
