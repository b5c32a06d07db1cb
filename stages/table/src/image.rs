//! The table as bytes: what the assembler would put in `.rodata`.

use std::io;

use kslink_schema::{
    ArrayKind, DataLayout, KallsymsTable, TableArray, TextReference, TextRelocation,
};

use crate::build::{BuiltTable, TableSink};

/// Renders the table's bytes, array layout and relocations.
struct ImageSink {
    layout: DataLayout,
    /// What each array's start is aligned to.
    align: usize,
    data: Vec<u8>,
    arrays: Vec<TableArray>,
    relocations: Vec<TextRelocation>,
}

impl ImageSink {
    fn put(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    fn put_u32(&mut self, value: u32) {
        self.put(&self.layout.encode_u32(value));
    }

    fn put_pointer(&mut self, value: u64) {
        self.put(&self.layout.encode_pointer(value));
    }
}

impl TableSink for ImageSink {
    fn begin(&mut self, kind: ArrayKind) -> io::Result<()> {
        self.data
            .resize(self.data.len().next_multiple_of(self.align), 0);
        self.arrays.push(TableArray {
            kind,
            offset: self.data.len() as u64,
            size: 0,
        });
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        let end = self.data.len() as u64;
        let array = self.arrays.last_mut().expect("begin precedes end");
        array.size = end - array.offset;
        Ok(())
    }

    fn word(&mut self, value: u32) -> io::Result<()> {
        self.put_u32(value);
        Ok(())
    }

    fn name(&mut self, compressed: &[u8], _symbol: &[u8]) -> io::Result<()> {
        let len = compressed.len();
        if len <= 0x7f {
            self.data.push(len as u8);
        } else {
            self.put(&[(len & 0x7f) as u8 | 0x80, (len >> 7) as u8]);
        }
        self.put(compressed);
        Ok(())
    }

    fn token(&mut self, expansion: &[u8]) -> io::Result<()> {
        self.put(expansion);
        self.data.push(0);
        Ok(())
    }

    fn token_index(&mut self, offset: u16) -> io::Result<()> {
        self.put(&self.layout.encode_u16(offset));
        Ok(())
    }

    fn offset(&mut self, value: i32, _symbol: &[u8]) -> io::Result<()> {
        self.put_u32(value as u32);
        Ok(())
    }

    fn place_relative(&mut self, distance: i32, _symbol: &[u8]) -> io::Result<()> {
        self.relocations.push(TextRelocation {
            offset: self.data.len() as u64,
            addend: i64::from(distance),
            reference: TextReference::PlaceRelative,
        });
        self.put_u32(distance as u32);
        Ok(())
    }

    fn text_pointer(&mut self, addr: u64, text_address: u64) -> io::Result<()> {
        self.relocations.push(TextRelocation {
            offset: self.data.len() as u64,
            addend: addr.wrapping_sub(text_address) as i64,
            reference: TextReference::Pointer,
        });
        self.put_pointer(addr);
        Ok(())
    }

    fn absolute_pointer(&mut self, value: u64) -> io::Result<()> {
        self.put_pointer(value);
        Ok(())
    }

    fn seq(&mut self, seq: u32, _symbol: &[u8]) -> io::Result<()> {
        self.put(&seq.to_be_bytes()[1..]);
        Ok(())
    }
}

impl BuiltTable {
    /// The table as a [`KallsymsTable`] artifact for a target of the given layout.
    pub fn to_artifact(&self, layout: DataLayout) -> KallsymsTable {
        let mut sink = ImageSink {
            layout,
            align: self.profile.alignment(layout) as usize,
            data: Vec::new(),
            arrays: Vec::new(),
            relocations: Vec::new(),
        };
        self.render(&mut sink)
            .expect("rendering into memory cannot fail");
        KallsymsTable {
            profile: self.profile.name.to_owned(),
            options: self.options,
            layout,
            num_syms: self.num_syms(),
            text_address: self.text_address,
            relative_base: self.relative_base,
            data: sink.data,
            arrays: sink.arrays,
            text_relocations: sink.relocations,
            tokens: self
                .tokens()
                .iter()
                .map(|token| kslink_schema::ByteBuf::from(token.clone()))
                .collect(),
        }
    }
}
