//! Deterministic generators of `nm`-style symbol maps.
//!
//! A map is text, one symbol a line: `ADDR TYPE NAME\n`, the address in lower-case hex,
//! 16 digits for 64-bit maps (`{:016x}`) and 8 for 32-bit ones (`{:08x}`), exactly like
//! `nm -n` and System.map. Names never contain whitespace, so that 6.12 (which takes the
//! rest of the line as the name) and 6.1 (which reads it with `fscanf("%2048s")`) read the
//! same map the same way; the only exceptions are corner cases named `quirk_*`.
//!
//! Two sources:
//!
//! - [`random_map`]: a kernel-like map (text, rodata, data, init text, bss, per-cpu area,
//!   absolute symbols, weak symbols, linker-provided names, ties, duplicates, long names)
//!   from a seed and [`GenOptions`]. The same seed and options always give the same text.
//! - [`corner_cases`]: named, hand-written maps, one or a few rules each.
//!
//! Naming convention of the corner cases: `overflow_*` cases make upstream's generator fail
//! with "out of range in relative mode" for at least one combination of flags (which ones is
//! said in [`CornerCase::description`]); `quirk_*` cases are read differently by 6.12 and 6.1
//! (whitespace in a name, a name over 2048 bytes); `nm_raw_*` cases are raw `nm -n` output
//! that only 6.1 reads directly (6.12 reads it after [`apply_mksysmap`]).
//!
//! Unless a case says otherwise, every non-absolute address lies within 2 GiB of the lowest
//! one, so relative offsets fit in both `--absolute-percpu` and plain base-relative mode.
//! The one exception by design: maps with the per-cpu area at address 0 (x86-64 style,
//! [`Percpu::AtZero`]) on 64-bit need `--absolute-percpu` together with `--all-symbols`,
//! exactly like the real x86-64 kernel (see [`GenOptions::offsets_fit`]).
//!
//! [`apply_mksysmap`]: crate::upstream::apply_mksysmap

use std::fmt::Write as _;

/// The address width of a map: how addresses are printed and where the kernel lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrWidth {
    /// 64-bit: `{:016x}` addresses, kernel text at `0xffffffff81000000` (x86-64 layout).
    Bits64,
    /// 32-bit: `{:08x}` addresses, kernel text at `0xc1000000` (i386 layout).
    Bits32,
}

impl AddrWidth {
    /// The number of hex digits of an address.
    pub fn digits(self) -> usize {
        match self {
            AddrWidth::Bits64 => 16,
            AddrWidth::Bits32 => 8,
        }
    }

    /// The address of `_text` in generated maps.
    pub fn kernel_base(self) -> u64 {
        match self {
            AddrWidth::Bits64 => 0xffff_ffff_8100_0000,
            AddrWidth::Bits32 => 0xc100_0000,
        }
    }
}

/// One line of a map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSymbol {
    /// The address. Ignored when `undefined` is set.
    pub addr: u64,
    /// The nm type letter (`T`, `t`, `D`, `A`, `U`, `w`, ...).
    pub ty: char,
    /// The name (no whitespace, except in `quirk_*` corner cases).
    pub name: String,
    /// Print the address as blanks, as `nm` does for undefined symbols (`U`, undefined `w`).
    pub undefined: bool,
}

/// Formats one map line: `format!("{:016x} {} {}\n", addr, ty, name)` for 64-bit,
/// `{:08x}` for 32-bit.
pub fn map_line(width: AddrWidth, addr: u64, ty: char, name: &str) -> String {
    match width {
        AddrWidth::Bits64 => format!("{addr:016x} {ty} {name}\n"),
        AddrWidth::Bits32 => format!("{addr:08x} {ty} {name}\n"),
    }
}

/// A map under construction: a width and symbols in output order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// How addresses are printed.
    pub width: AddrWidth,
    /// The lines, in the order they are printed.
    pub symbols: Vec<MapSymbol>,
}

impl MapSpec {
    /// An empty map.
    pub fn new(width: AddrWidth) -> MapSpec {
        MapSpec {
            width,
            symbols: Vec::new(),
        }
    }

    /// Appends a symbol.
    pub fn push(&mut self, addr: u64, ty: char, name: impl Into<String>) -> &mut MapSpec {
        self.symbols.push(MapSymbol {
            addr,
            ty,
            name: name.into(),
            undefined: false,
        });
        self
    }

    /// Appends an undefined symbol, printed with a blank address like `nm` does.
    pub fn push_undefined(&mut self, ty: char, name: impl Into<String>) -> &mut MapSpec {
        self.symbols.push(MapSymbol {
            addr: 0,
            ty,
            name: name.into(),
            undefined: true,
        });
        self
    }

    /// Sorts the lines like `nm -n`: undefined symbols first, then by address; ties keep
    /// their current order (stable).
    pub fn sort_by_address(&mut self) {
        self.symbols.sort_by_key(|s| (!s.undefined, s.addr));
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True if the map has no lines.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The map text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.symbols.len() * 40);
        for s in &self.symbols {
            if s.undefined {
                let _ = writeln!(
                    out,
                    "{:w$} {} {}",
                    "",
                    s.ty,
                    s.name,
                    w = self.width.digits()
                );
            } else {
                out.push_str(&map_line(self.width, s.addr, s.ty, &s.name));
            }
        }
        out
    }
}

/// A small deterministic PRNG (splitmix64). Good enough for test data, stable forever.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random element of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles `items` (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The characters of high-entropy names: `[A-Za-z0-9_.$]`.
pub const NAME_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.$";

/// A random name of `len` bytes from [`NAME_CHARS`] that starts with a letter (so that no
/// filter treats it as a local label such as `$x` or `.L...`).
pub fn random_name(rng: &mut SplitMix64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    for i in 0..len {
        let c = if i == 0 {
            rng.pick(&NAME_CHARS[..52])
        } else {
            rng.pick(NAME_CHARS)
        };
        s.push(c as char);
    }
    s
}

/// Where the per-cpu area (`__per_cpu_start`..`__per_cpu_end`) lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Percpu {
    /// At address 0, before everything (x86-64 SMP): needs `--absolute-percpu` with
    /// `--all-symbols` on 64-bit.
    AtZero,
    /// Inside the kernel's data area (arm64, riscv, i386): relative like everything else;
    /// with `--absolute-percpu` and `--all-symbols` its symbols' absolute values overflow.
    InData,
    /// No per-cpu area at all.
    Absent,
}

/// Options of [`random_map`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Address width and layout.
    pub width: AddrWidth,
    /// About how many ordinary symbols to make (the fixed markers come on top).
    pub symbols: usize,
    /// Where the per-cpu area lies.
    pub percpu: Percpu,
    /// Also emit what only raw `nm -n` output has and System.map has not (6.12's mksysmap
    /// drops it): types `a`, `N`, `U` and undefined `w` (blank addresses), `$x`, `.L*`,
    /// `__crc_*`, `__kstrtab_*`, and the names on 6.1's ignore lists (`__efistub_*`,
    /// `__kcfi_typeid_*`, `*_veneer`, `*.long_branch.*`, ...). Such a map is input for 6.1's
    /// generator, or for 6.12's after `apply_mksysmap`.
    pub nm_extras: bool,
    /// Add a few long high-entropy names (130 to 450 bytes), whose compressed length needs
    /// the 2-byte length prefix. Never 511 bytes or more (see the corner cases for those).
    pub long_names: bool,
    /// Put symbols that share an address in random input order (else in generation order).
    pub shuffle_ties: bool,
}

impl Default for GenOptions {
    /// 64-bit, 2000 symbols, per-cpu area at 0, System.map-like (no nm extras), long names,
    /// shuffled ties.
    fn default() -> GenOptions {
        GenOptions {
            width: AddrWidth::Bits64,
            symbols: 2000,
            percpu: Percpu::AtZero,
            nm_extras: false,
            long_names: true,
            shuffle_ties: true,
        }
    }
}

impl GenOptions {
    /// True if upstream's offsets fit for a map made with these options when run with the
    /// given flags (`--all-symbols`, `--absolute-percpu`); false means upstream fails with
    /// "out of range in relative mode". For 6.1 this holds with `--base-relative`; without
    /// it 6.1 writes absolute addresses, which never overflow.
    pub fn offsets_fit(&self, all_symbols: bool, absolute_percpu: bool) -> bool {
        if !all_symbols {
            // Only text (and __start_/__stop_ names in data) is kept: one compact area.
            return true;
        }
        !matches!(
            (self.percpu, absolute_percpu, self.width),
            (Percpu::AtZero, false, AddrWidth::Bits64) | (Percpu::InData, true, _)
        )
    }
}

const WORDS: &[&str] = &[
    "do", "sys", "vfs", "read", "write", "open", "close", "irq", "handler", "init", "exit", "get",
    "put", "lock", "unlock", "page", "alloc", "free", "kmem", "cache", "sched", "task", "cpu",
    "mm", "net", "dev", "pci", "usb", "acpi", "tcp", "ip", "sock", "buf", "list", "entry", "probe",
    "remove", "ops", "mutex", "spin", "rcu", "timer", "work", "queue", "ext4", "inode", "file",
    "fs", "blk", "bio", "request", "event", "trace", "perf", "kvm", "x86", "apic", "mce", "intel",
    "amd", "crypto", "hash", "key", "user", "copy", "from", "to", "str", "mem", "set", "clear",
    "find", "next", "prev", "node", "tree", "map", "table", "region", "state", "flag", "mask",
    "bits", "count", "stat", "info", "data", "ctx", "cfg", "config", "setup", "enable", "disable",
    "check", "update", "resume", "suspend", "reset", "show", "store", "attr", "kobj", "sysfs",
    "proc", "seq", "drv", "bus", "port", "tty", "console", "serial", "efi", "boot", "mmu", "tlb",
    "flush", "pte", "pmd", "vma", "fault", "swap", "zone", "numa", "slab", "kmalloc", "vmalloc",
    "dma", "iommu", "msi", "gpio", "clk", "power", "thermal", "input", "hid", "snd", "drm", "fb",
    "nvme", "scsi", "ata", "raid", "bpf", "xdp", "nf", "route", "neigh", "udp", "icmp", "ipv6",
    "skb", "napi", "rx", "tx", "ring", "desc", "csum", "a", "b", "x", "v2",
];

const DOT_SUFFIXES: &[&str] = &[
    ".constprop.0",
    ".constprop.1",
    ".isra.0",
    ".part.0",
    ".cold",
    ".llvm.1234567890123456789",
];

/// The generator's state: rng, options, the map and names for duplicates.
struct Gen {
    rng: SplitMix64,
    opts: GenOptions,
    map: MapSpec,
    names: Vec<String>,
    serial: u64,
}

impl Gen {
    fn word_name(&mut self) -> String {
        let parts = self.rng.range(1, 4);
        let mut s = String::new();
        let underscores = match self.rng.below(20) {
            0..=13 => 0,
            14..=16 => 1,
            17..=18 => 2,
            _ => 3,
        };
        for _ in 0..underscores {
            s.push('_');
        }
        for i in 0..parts {
            if i > 0 {
                s.push('_');
            }
            s.push_str(self.rng.pick(WORDS));
        }
        if self.rng.chance(10) {
            let n = self.rng.below(40);
            let _ = write!(s, "{n}");
        }
        if self.rng.chance(6) {
            s.push_str(self.rng.pick(DOT_SUFFIXES));
        }
        s
    }

    /// A fresh name, sometimes a duplicate of an earlier one, sometimes high-entropy.
    fn name(&mut self) -> String {
        let r = self.rng.below(100);
        let name = if r < 4 && !self.names.is_empty() {
            let i = self.rng.below(self.names.len() as u64) as usize;
            return self.names[i].clone();
        } else if r < 9 {
            let len = self.rng.range(4, 40) as usize;
            random_name(&mut self.rng, len)
        } else if r < 11 {
            self.serial += 1;
            format!("__func__.{}", 10000 + self.serial)
        } else if r < 12 {
            self.serial += 1;
            format!("__UNIQUE_ID_{}{}", self.rng.pick(WORDS), 300 + self.serial)
        } else {
            self.word_name()
        };
        self.names.push(name.clone());
        name
    }

    /// A name that looks provided by a linker script.
    fn provide_name(&mut self) -> String {
        let w = self.rng.pick(WORDS).to_string();
        match self.rng.below(8) {
            0 => format!("__start_{w}"),
            1 => format!("__stop_{w}"),
            2 => format!("__end_{w}"),
            3 => format!("__{w}_start"),
            4 => format!("__{w}_end"),
            5 => self
                .rng
                .pick(&["__end", "__x_end", "__ab_end", "__start_", "__stop_"])
                .to_string(),
            6 => format!("___{w}_end"),
            _ => format!("_{w}_start"),
        }
    }

    fn push(&mut self, addr: u64, ty: char, name: impl Into<String>) {
        self.map.push(addr, ty, name);
    }

    fn step(&mut self, addr: &mut u64, max: u64, align: u64) {
        let r = self.rng.below(100);
        if r < 12 {
            return; // a tie
        }
        let n = self.rng.range(1, max);
        *addr += n * align;
    }

    /// `count` symbols of the given types from `addr`, advancing it.
    fn fill(&mut self, addr: &mut u64, count: usize, types: &[char], align: u64) {
        for _ in 0..count {
            let r = self.rng.below(1000);
            let ty = self.rng.pick(types);
            if r < 15 {
                // A weak symbol, possibly sharing the address of a strong one.
                let wty = self.rng.pick(&['W', 'W', 'V', 'v']);
                let name = self.name();
                self.push(*addr, wty, name);
            } else if r < 30 {
                let name = self.provide_name();
                self.push(*addr, ty, name);
            } else if r < 33 {
                // A cluster of ties.
                let n = self.rng.range(3, 40);
                for _ in 0..n {
                    let name = self.name();
                    let ty = self.rng.pick(types);
                    self.push(*addr, ty, name);
                }
            } else if r < 38 && ty.eq_ignore_ascii_case(&'t') && *addr >= 16 {
                // x86 function padding symbol before the function.
                let name = self.name();
                self.push(*addr - 16, ty, format!("__pfx_{name}"));
                self.push(*addr, ty, name);
            } else if r < 41 {
                // The same name twice at one address.
                let name = self.name();
                self.push(*addr, ty, name.clone());
                self.push(*addr, ty.to_ascii_lowercase(), name);
            } else if r < 44 {
                // Types the generator ignores but System.map keeps.
                let name = self.name();
                let ity = self.rng.pick(&['u', 'n']);
                self.push(*addr, ity, name);
            } else if r < 46 && self.opts.long_names {
                let len = self.rng.range(130, 450) as usize;
                let name = random_name(&mut self.rng, len);
                self.push(*addr, ty, name);
            } else if r < 100 && self.opts.nm_extras {
                self.nm_extra(*addr);
            } else {
                let name = self.name();
                self.push(*addr, ty, name);
            }
            self.step(addr, 32, align);
        }
    }

    /// One of the symbols that only raw `nm -n` output has.
    fn nm_extra(&mut self, addr: u64) {
        let w = self.rng.pick(WORDS).to_string();
        let n = self.rng.below(100);
        match self.rng.below(22) {
            0 => self.push(addr, 't', "$x"),
            1 => self.push(addr, 'd', "$d"),
            2 => self.push(addr, 't', format!(".L{w}{n}")),
            3 => self.push(addr, 'A', format!("__crc_{w}")),
            4 => self.push(addr, 'r', format!("__kstrtab_{w}")),
            5 => self.push(addr, 'r', format!("__kstrtabns_{w}")),
            6 => self.push(addr, 'T', format!("__efistub_{w}")),
            7 => self.push(addr, 'A', format!("__kcfi_typeid_{w}")),
            8 => self.push(addr, 't', format!("{w}_veneer")),
            9 => self.push(addr, 't', format!("{w}_from_arm")),
            10 => self.push(addr, 't', format!("{w}_from_thumb")),
            11 => self.push(addr, 't', format!("{w}.long_branch.{n}")),
            12 => self.push(addr, 't', format!("{w}.plt_branch.{n}")),
            13 => self.push(addr, 't', format!("__AArch64ADRPThunk_{w}")),
            14 => self.push(addr, 't', format!("__kvm_nvhe_${w}")),
            15 => self.push(addr, 't', format!("__pi_.L{w}")),
            16 => self.push(addr, 'a', format!("{w}_local_abs")),
            17 => self.push(addr, 'N', format!("{w}_debug")),
            18 => self.push(addr, 'w', format!("{w}_weak_local")),
            19 => self.push(addr, 'A', "_SDA_BASE_"),
            20 => self.push(addr, 't', "L0"),
            _ => self.push(addr, 't', format!("__kvm_nvhe___kcfi_typeid_{w}")),
        }
    }
}

/// A kernel-like random map (see the module documentation and [`GenOptions`]).
///
/// The layout follows x86-64's (or i386's): optional per-cpu area at 0, `_text`/`_stext`,
/// text with weak, provided and tied symbols, `_etext` and a symbol at the same address,
/// rodata with `__start_*`/`__stop_*` names and the `kallsyms_*` labels, data (with the
/// kept absolute symbols `__gp` and `__kernel_sigtramp`, and the per-cpu area when
/// [`Percpu::InData`]), init text `_sinittext`..`_einittext` with a symbol at `_einittext`,
/// bss and `_end`, and ignored absolute symbols at low addresses. Lines are sorted by
/// address like `nm -n`.
pub fn random_map(seed: u64, opts: GenOptions) -> String {
    random_map_spec(seed, opts).render()
}

/// Like [`random_map`], but returns the lines before rendering.
pub fn random_map_spec(seed: u64, opts: GenOptions) -> MapSpec {
    let mut g = Gen {
        rng: SplitMix64::new(seed ^ 0x6b73_6c69_6e6b_0001),
        map: MapSpec::new(opts.width),
        opts,
        names: Vec::new(),
        serial: 0,
    };
    let n = g.opts.symbols.max(1);
    let base = g.opts.width.kernel_base();

    // Per-cpu area at 0 (x86-64 SMP).
    if g.opts.percpu == Percpu::AtZero {
        let mut a = 0u64;
        g.push(0, 'D', "__per_cpu_start");
        g.push(0, 'D', "fixed_percpu_data");
        let count = n / 40 + 2;
        g.fill(&mut a, count, &['D', 'd', 'D'], 8);
        a += 0x1000;
        g.push(a, 'D', "__per_cpu_end");
    }

    // Ignored absolute symbols, some at low addresses.
    for i in 0..(n / 200 + 2) {
        let v = g.rng.below(0x10000);
        let name = format!("{}_abs{i}", g.rng.pick(WORDS));
        g.push(v, 'A', name);
    }
    if g.opts.width == AddrWidth::Bits64 {
        g.push(0x1_0000_0000, 'A', "__high_absolute_ignored");
    }

    // Text.
    let mut a = base;
    g.push(a, 'T', "_text");
    if g.rng.chance(50) {
        g.push(a, 'T', "startup_64");
        g.push(a, 'T', "_stext");
    } else {
        // arm64-like: _text below _stext, head code between.
        g.push(a, 't', "_head");
        a += 0x40;
        g.push(a, 't', "primary_entry");
        a = base + 0x10000;
        g.push(a, 'T', "_stext");
    }
    g.push(a, 'T', "__entry_text_start");
    let text_count = n * 55 / 100;
    g.fill(&mut a, text_count, &['T', 't', 't'], 16);
    g.push(a, 'T', "__entry_text_end");
    a += 0x40;
    // Kept absolute symbol inside the text range: kept even without --all-symbols.
    g.push(a, 'A', "__kernel_sigtramp");
    a += 0x1000;
    a = (a + 0xfff) & !0xfff;
    g.push(a, 'T', "_etext");
    let alias = g.name();
    g.push(a, 't', alias);
    g.push(a, 'R', "__start_rodata");
    a += 0x100;

    // Rodata.
    g.push(a, 'R', "__start___ex_table");
    let ro_count = n * 10 / 100;
    g.fill(&mut a, ro_count, &['R', 'r', 'r'], 8);
    g.push(a, 'R', "__stop___ex_table");
    for label in [
        "kallsyms_num_syms",
        "kallsyms_names",
        "kallsyms_markers",
        "kallsyms_token_table",
        "kallsyms_token_index",
        "kallsyms_offsets",
        "kallsyms_relative_base",
        "kallsyms_seqs_of_names",
    ] {
        g.push(a, 'R', label);
        a += g.rng.range(1, 64) * 8;
    }
    let sec = g.rng.pick(WORDS).to_string();
    g.push(a, 'R', format!("__start_{sec}"));
    a += 0x80;
    g.push(a, 'R', format!("__stop_{sec}"));
    a = (a + 0xfff) & !0xfff;
    g.push(a, 'R', "__end_rodata");

    // Data.
    a += 0x1000;
    g.push(a, 'D', "_sdata");
    let data_count = n * 12 / 100;
    g.fill(&mut a, data_count, &['D', 'd', 'd'], 8);
    a += 0x100;
    g.push(a, 'A', "__gp");
    a += 0x100;
    g.push(a, 'D', "_edata");
    if g.opts.percpu == Percpu::InData {
        a = (a + 0xfff) & !0xfff;
        g.push(a, 'D', "__per_cpu_load");
        g.push(a, 'D', "__per_cpu_start");
        let count = n / 40 + 2;
        g.fill(&mut a, count, &['D', 'd'], 8);
        a += 0x40;
        g.push(a, 'D', "__per_cpu_end");
    }

    // Init text.
    a = (a + 0xfff) & !0xfff;
    g.push(a, 'D', "__init_begin");
    g.push(a, 'T', "_sinittext");
    let init_count = n * 8 / 100;
    g.fill(&mut a, init_count, &['T', 't', 't'], 16);
    a += 0x10;
    g.push(a, 'T', "_einittext");
    let alias = g.name();
    g.push(a, 'd', alias);
    g.push(a, 'D', "__start_init_data");
    a += 0x20;
    let init_data = n * 3 / 100;
    g.fill(&mut a, init_data, &['D', 'd'], 8);
    g.push(a, 'D', "__init_end");

    // Bss.
    a = (a + 0xfff) & !0xfff;
    g.push(a, 'B', "__bss_start");
    let bss_count = n * 8 / 100;
    g.fill(&mut a, bss_count, &['B', 'b', 'b'], 8);
    g.push(a, 'B', "__bss_stop");
    a = (a + 0xfff) & !0xfff;
    g.push(a, 'B', "_end");

    // What raw nm output has at the top: undefined symbols with blank addresses.
    if g.opts.nm_extras {
        for _ in 0..(n / 100 + 2) {
            let name = g.name();
            g.map.push_undefined('U', name);
            let name = g.name();
            g.map.push_undefined('w', name);
        }
    }

    g.map.sort_by_address();
    if g.opts.shuffle_ties {
        let syms = &mut g.map.symbols;
        let mut i = 0;
        while i < syms.len() {
            let mut j = i + 1;
            while j < syms.len()
                && syms[j].undefined == syms[i].undefined
                && syms[j].addr == syms[i].addr
            {
                j += 1;
            }
            g.rng.shuffle(&mut syms[i..j]);
            i = j;
        }
    }
    g.map
}

/// A named, hand-written corner-case map.
#[derive(Clone, Debug)]
pub struct CornerCase {
    /// A short identifier (`snake_case`; see the module documentation for prefixes).
    pub name: &'static str,
    /// What the case exercises and what upstream does with it.
    pub description: &'static str,
    /// The map text.
    pub map: String,
}

/// The common skeleton of the corner cases: `_text`/`_stext` at the kernel base, a few
/// functions, `_etext`, rodata, data, `_sinittext`..`_einittext`, bss and `_end`.
/// Returns the map and the address of a free spot inside the text range (`text_spot`).
fn skeleton(width: AddrWidth) -> (MapSpec, u64) {
    let b = width.kernel_base();
    let mut m = MapSpec::new(width);
    m.push(b, 'T', "_text")
        .push(b, 'T', "_stext")
        .push(b, 'T', "startup_64")
        .push(b + 0x40, 'T', "secondary_startup")
        .push(b + 0x100, 't', "do_one_initcall")
        .push(b + 0x180, 'T', "schedule")
        .push(b + 0x200, 't', "__schedule")
        .push(b + 0x280, 'W', "arch_cpu_idle")
        .push(b + 0x300, 'T', "vfs_read")
        .push(b + 0x380, 'T', "vfs_write")
        // 0x1000..0x2000: the spot for case-specific text symbols
        .push(b + 0x3000, 'T', "_etext")
        .push(b + 0x3000, 'R', "__start_rodata")
        .push(b + 0x3100, 'r', "__func__.1")
        .push(b + 0x3140, 'R', "linux_banner")
        .push(b + 0x4000, 'R', "__end_rodata")
        .push(b + 0x5000, 'D', "_sdata")
        .push(b + 0x5010, 'd', "init_task_data")
        .push(b + 0x5100, 'D', "jiffies")
        .push(b + 0x6000, 'D', "_edata")
        .push(b + 0x7000, 'T', "_sinittext")
        .push(b + 0x7010, 't', "start_kernel")
        .push(b + 0x7100, 't', "mm_init")
        .push(b + 0x7200, 'T', "_einittext")
        .push(b + 0x8000, 'B', "__bss_start")
        .push(b + 0x8010, 'b', "static_buf")
        .push(b + 0x9000, 'B', "__bss_stop")
        .push(b + 0xa000, 'B', "_end");
    (m, b + 0x1000)
}

/// Renders `m` after a stable sort by address.
fn sorted(mut m: MapSpec) -> String {
    m.sort_by_address();
    m.render()
}

/// A skeleton with `f` adding symbols (given the text spot), sorted.
fn with_skeleton(width: AddrWidth, f: impl FnOnce(&mut MapSpec, u64)) -> String {
    let (mut m, spot) = skeleton(width);
    f(&mut m, spot);
    sorted(m)
}

/// The names on 6.1's generator's ignore lists (exact, prefixes, suffixes, matches).
pub const IGNORED_NAMES_6_1: &[&str] = &[
    "kallsyms_addresses",
    "kallsyms_offsets",
    "kallsyms_relative_base",
    "kallsyms_num_syms",
    "kallsyms_names",
    "kallsyms_markers",
    "kallsyms_token_table",
    "kallsyms_token_index",
    "kallsyms_seqs_of_names",
    "_SDA_BASE_",
    "_SDA2_BASE_",
    "__efistub_memcpy",
    "__kvm_nvhe_$x",
    "__kvm_nvhe_.Ltmp1",
    "__AArch64ADRPThunk_foo",
    "__ARMV5PILongThunk_foo",
    "__ARMV7PILongThunk_foo",
    "__ThumbV7PILongThunk_foo",
    "__LA25Thunk_foo",
    "__microLA25Thunk_foo",
    "__kcfi_typeid_foo",
    "foo_from_arm",
    "foo_from_thumb",
    "foo_veneer",
    "_veneer",
    "foo.long_branch.bar",
    "foo.plt_branch.bar",
    ".long_branch.",
];

/// Near misses of the ignore lists: names that neither 6.1's lists nor 6.12's mksysmap drop.
pub const NEAR_MISS_NAMES: &[&str] = &[
    "kallsyms_addresses2",
    "kallsyms_lookup_name",
    "_SDA_BASE",
    "__efistub",
    "_efistub_x",
    "__kcfi_typeid",
    "foo_veneer2",
    "veneer",
    "foo_from_arm_",
    "foo.long_branch",
    "foolong_branch.",
    "x__efistub_y",
    "L1",
    "L0x",
    "_L0",
    "__crc",
    "__kstrtab",
    "__Thunk",
];

/// Names that 6.12's `scripts/mksysmap` drops (besides types `a N U w`).
pub const MKSYSMAP_6_12_NAMES: &[&str] = &[
    "$x",
    "$d.1",
    ".Ltmp0",
    ".L__unnamed_1",
    "__efistub_memset",
    "__pi_$x",
    "__pi_.Ltmp2",
    "__kvm_nvhe_$d",
    "__kvm_nvhe_.Lfoo",
    "__AArch64ADRPThunk_bar",
    "__ARMV7PILongThunk_bar",
    "__microLA25Thunk_bar",
    "__kcfi_typeid_bar",
    "__kvm_nvhe___kcfi_typeid_bar",
    "__pi___kcfi_typeid_bar",
    "__crc_vfs_read",
    "__kstrtab_vfs_read",
    "__kstrtabns_vfs_read",
    "bar_from_arm",
    "bar_from_thumb",
    "bar_veneer",
    "L0",
    "_SDA_BASE_",
    "_SDA2_BASE_",
    "bar.long_branch.baz",
    "bar.plt_branch.baz",
];

fn long_random_names(seed: u64, lens: &[usize]) -> Vec<String> {
    let mut rng = SplitMix64::new(seed);
    lens.iter().map(|&l| random_name(&mut rng, l)).collect()
}

/// The hand-written corner cases, each with a description (see [`corner_cases`]).
pub fn corner_cases_described() -> Vec<CornerCase> {
    use AddrWidth::{Bits32, Bits64};
    let b64 = Bits64.kernel_base();
    let mut v: Vec<CornerCase> = Vec::new();
    let mut add = |name: &'static str, description: &'static str, map: String| {
        v.push(CornerCase {
            name,
            description,
            map,
        })
    };

    add(
        "empty",
        "An empty map. 6.12 writes a table with no symbols (it is link 0 of every build); \
         6.1 fails with \"No valid symbol.\".",
        String::new(),
    );
    add(
        "single_symbol",
        "One text symbol and nothing else: no text range, so only --all-symbols keeps it.",
        map_line(Bits64, b64, 'T', "lonely"),
    );
    add(
        "no_trailing_newline",
        "The skeleton without the final newline.",
        {
            let (m, _) = skeleton(Bits64);
            let mut s = sorted(m);
            s.pop();
            s
        },
    );
    add(
        "skeleton",
        "The common skeleton: text, rodata, data, init text, bss.",
        sorted(skeleton(Bits64).0),
    );
    add(
        "skeleton_32",
        "The skeleton, 32-bit.",
        sorted(skeleton(Bits32).0),
    );
    add(
        "etext_alias",
        "Symbols at the addresses of _etext and _einittext that are not those symbols: \
         dropped without --all-symbols; the end symbols themselves are kept.",
        with_skeleton(Bits64, |m, _| {
            let b = b64;
            m.push(b + 0x3000, 't', "after_etext_alias")
                .push(b + 0x3000, 'T', "__etext_marker")
                .push(b + 0x2ff0, 't', "just_before_etext")
                .push(b + 0x7200, 't', "einittext_alias")
                .push(b + 0x7200, 'D', "__init_data_start")
                .push(b + 0x71f0, 't', "just_before_einittext");
        }),
    );
    add(
        "start_stop_outside_text",
        "__start_*/__stop_* names outside the text ranges: 6.12 keeps them without \
         --all-symbols, 6.1 does not. Also `__start_` and `__stop_` alone, `__startfoo` and \
         `__stopx` (no underscore: not kept), `_start_x`.",
        with_skeleton(Bits64, |m, _| {
            let b = b64;
            m.push(b + 0x3200, 'R', "__start___ksymtab")
                .push(b + 0x3280, 'R', "__stop___ksymtab")
                .push(b + 0x5200, 'D', "__start___tracepoints_ptrs")
                .push(b + 0x5200, 'D', "__start_")
                .push(b + 0x5280, 'D', "__stop___tracepoints_ptrs")
                .push(b + 0x5280, 'D', "__stop_")
                .push(b + 0x5300, 'D', "__startfoo")
                .push(b + 0x5300, 'D', "__stopx")
                .push(b + 0x5300, 'D', "_start_x")
                .push(b + 0x8100, 'B', "__start_bss_section")
                .push(b + 0x8100, 'b', "__stop_bss_section");
        }),
    );
    add(
        "percpu_zero",
        "x86-64 style per-cpu area at address 0 (__per_cpu_start = 0): with --all-symbols \
         it needs --absolute-percpu, else the relative offsets overflow.",
        with_skeleton(Bits64, |m, _| {
            m.push(0, 'D', "__per_cpu_start")
                .push(0, 'D', "fixed_percpu_data")
                .push(0x1000, 'D', "cpu_debug_store")
                .push(0x2000, 'd', "irq_stack_backing_store")
                .push(0x6000, 'D', "cpu_tss_rw")
                .push(0x19a30, 'd', "_cea_offset")
                .push(0x39000, 'D', "__per_cpu_end")
                .push(b64 + 0x5400, 'D', "__per_cpu_load");
        }),
    );
    add(
        "percpu_zero_32",
        "Per-cpu area at 0 in a 32-bit map: relative offsets from 0 fit in 32 bits, so any \
         flags work.",
        with_skeleton(Bits32, |m, _| {
            m.push(0, 'D', "__per_cpu_start")
                .push(0, 'D', "fixed_percpu_data")
                .push(0x1000, 'D', "cpu_debug_store")
                .push(0x2000, 'd', "irq_stack")
                .push(0x9000, 'D', "__per_cpu_end");
        }),
    );
    add(
        "percpu_in_data",
        "Per-cpu area inside the data area (arm64 style): fine without --absolute-percpu; \
         with it and --all-symbols the absolute values overflow.",
        with_skeleton(Bits64, |m, _| {
            let b = b64;
            m.push(b + 0x5800, 'D', "__per_cpu_load")
                .push(b + 0x5800, 'D', "__per_cpu_start")
                .push(b + 0x5800, 'd', "percpu_first")
                .push(b + 0x5840, 'D', "runqueues")
                .push(b + 0x5900, 'D', "__per_cpu_end");
        }),
    );
    add(
        "text_before_stext",
        "arm64 layout: _text below _stext, head symbols in between (outside the text range).",
        {
            let b = b64;
            let mut m = MapSpec::new(Bits64);
            m.push(b, 't', "_head")
                .push(b, 'T', "_text")
                .push(b + 0x40, 't', "pe_header")
                .push(b + 0x10000, 'T', "_stext")
                .push(b + 0x10000, 'T', "__exception_text_start")
                .push(b + 0x10100, 't', "do_mem_abort")
                .push(b + 0x20000, 'T', "_etext")
                .push(b + 0x30000, 'T', "_sinittext")
                .push(b + 0x30100, 't', "init_me")
                .push(b + 0x30200, 'T', "_einittext")
                .push(b + 0x40000, 'B', "_end");
            sorted(m)
        },
    );
    add(
        "text_missing",
        "No _text symbol: upstream's _text stays 0, so kallsyms_relative_base is `_text + base`.",
        {
            let (mut m, _) = skeleton(Bits64);
            m.symbols.retain(|s| s.name != "_text");
            sorted(m)
        },
    );
    add(
        "text_absolute",
        "_text as an ignored absolute symbol (type A): ignored, but its address is still \
         remembered.",
        {
            let (mut m, _) = skeleton(Bits64);
            for s in &mut m.symbols {
                if s.name == "_text" {
                    s.ty = 'A';
                    s.addr -= 0x1000;
                }
            }
            sorted(m)
        },
    );
    add(
        "text_above_base",
        "_text above the relative base (a data symbol below it, kept with --all-symbols): \
         kallsyms_relative_base becomes `_text - D`.",
        with_skeleton(Bits64, |m, _| {
            m.push(b64 - 0x2000, 'D', "below_text_data").push(
                b64 - 0x1000,
                'd',
                "below_text_local",
            );
        }),
    );
    add(
        "text_twice",
        "_text appears twice at different addresses: the last line wins.",
        with_skeleton(Bits64, |m, _| {
            m.push(b64 + 0x10, 't', "_text");
        }),
    );
    add(
        "stext_twice",
        "_stext and _einittext appear twice: the last line of each wins for the ranges.",
        with_skeleton(Bits64, |m, _| {
            m.push(b64 + 0x180, 't', "_stext")
                .push(b64 + 0x7100, 't', "_einittext");
        }),
    );
    add(
        "inverted_text_range",
        "_etext below _stext: nothing is inside the text range except init text.",
        {
            let b = b64;
            let mut m = MapSpec::new(Bits64);
            m.push(b, 'T', "_text")
                .push(b, 'T', "_etext")
                .push(b + 0x100, 't', "lost_function")
                .push(b + 0x1000, 'T', "_stext")
                .push(b + 0x2000, 'T', "_sinittext")
                .push(b + 0x2100, 't', "kept_init")
                .push(b + 0x2200, 'T', "_einittext")
                .push(b + 0x3000, 'B', "_end");
            sorted(m)
        },
    );
    add(
        "missing_ranges",
        "No _stext/_etext/_sinittext/_einittext: the ranges stay 0..0, so without \
         --all-symbols a symbol at address 0 is in range but equals the end address and is \
         dropped too.",
        {
            let mut m = MapSpec::new(Bits64);
            m.push(0, 'T', "at_zero")
                .push(0x10, 'T', "above_zero")
                .push(0x20, 'T', "_text");
            sorted(m)
        },
    );
    add(
        "weak_ties",
        "W, w, V, v, T, t at one address in mixed order: w/W sort after the others (V/v are \
         not 'weak' for the sort).",
        with_skeleton(Bits64, |m, spot| {
            for (ty, name) in [
                ('W', "weak_first"),
                ('T', "strong_one"),
                ('w', "weak_lower"),
                ('V', "weak_object"),
                ('t', "strong_two"),
                ('v', "weak_object_lower"),
                ('W', "__weak_underscored"),
                ('T', "__strong_underscored"),
                ('W', "__start_weak_section"),
            ] {
                m.push(spot, ty, name);
            }
        }),
    );
    add(
        "linker_provide_ties",
        "Names that look linker-script provided (>= 8 bytes, `__start_*`, `__stop_*`, \
         `__end_*`, `__*_start`, `__*_end`) and near misses, all at one address.",
        with_skeleton(Bits64, |m, spot| {
            for name in [
                "__start_x",
                "plain_symbol",
                "__stop_xy",
                "__end_abc",
                "__foo_start",
                "__bar_end",
                "__end",
                "__x_end",
                "__ab_end",
                "__start_",
                "__stop_",
                "__end_",
                "__end_x",
                "_start_x",
                "__init_begin",
                "___triple_end",
                "__start",
                "__a_start",
                "__ab_start",
                "_x_end_",
                "zz_end",
                "__endless",
            ] {
                m.push(spot, 'T', name);
            }
        }),
    );
    add(
        "underscore_ties",
        "Leading-underscore counts decide ties: a, _a, __a, ___a, ____a, _, __, ___ in \
         shuffled order.",
        with_skeleton(Bits64, |m, spot| {
            for name in [
                "___a", "a", "____a", "_", "__a", "___", "_a", "__", "b", "_b",
            ] {
                m.push(spot, 't', name);
            }
        }),
    );
    add(
        "many_ties",
        "600 symbols at one address (crossing two 256-symbol marker boundaries), with mixed \
         types and underscores, kept in input order within each class.",
        with_skeleton(Bits64, |m, spot| {
            let mut rng = SplitMix64::new(600);
            for i in 0..600 {
                let us = "_".repeat(rng.below(3) as usize);
                let ty = rng.pick(&['t', 'T', 'W', 'w', 't']);
                m.push(spot, ty, format!("{us}tie_{i:03}"));
            }
        }),
    );
    add(
        "many_ties_32",
        "300 ties at one address, 32-bit.",
        with_skeleton(Bits32, |m, spot| {
            for i in 0..300 {
                let us = "_".repeat(i % 3);
                m.push(spot, 't', format!("{us}tie32_{i:03}"));
            }
        }),
    );
    add(
        "duplicate_names",
        "The same name at different addresses, at the same address twice, and with \
         different types: name order ties break by address, then input order.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 't', "show")
                .push(spot + 0x40, 't', "show")
                .push(spot + 0x40, 't', "show")
                .push(spot + 0x80, 'T', "show")
                .push(spot + 0x20, 't', "show")
                .push(spot + 0x100, 't', "init_once")
                .push(spot + 0x100, 'T', "init_once")
                .push(b64 + 0x5200, 'd', "init_once");
        }),
    );
    add(
        "absolute_kept",
        "The absolute symbols upstream keeps (__gp, __kernel_sigtramp, \
         __kernel_syscall_via_break, __kernel_syscall_via_epc; type A or a) and ignored ones. \
         Kept ones are encoded as relative symbols; one lies in the text range.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 'A', "__kernel_sigtramp")
                .push(spot + 0x10, 'a', "__kernel_syscall_via_break")
                .push(b64 + 0x5400, 'A', "__kernel_syscall_via_epc")
                .push(b64 + 0x5800, 'A', "__gp")
                .push(0, 'A', "__crc_ignored")
                .push(0x123, 'A', "VDSO_ignored")
                .push(0x10000, 'a', "local_abs_ignored")
                .push(spot + 0x20, 'A', "abs_in_text_ignored")
                .push(spot + 0x20, 'a', "__gp_not_exactly");
        }),
    );
    add(
        "overflow_absolute_kept_low",
        "A kept absolute symbol (__gp) at a low address becomes the relative base: with \
         --all-symbols the text lies more than 4 GiB above it and upstream fails (64-bit); \
         without --all-symbols __gp is dropped and the map is fine.",
        with_skeleton(Bits64, |m, _| {
            m.push(0x800, 'A', "__gp");
        }),
    );
    add(
        "ignored_types",
        "Types the generators ignore: u and n (both versions), U and N (6.1 only; 6.12 keeps \
         them if they reach it), plus w and ignored a/A, all inside the text range.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 'u', "unique_global")
                .push(spot + 0x10, 'n', "debug_note")
                .push(spot + 0x20, 'U', "undefined_with_addr")
                .push(spot + 0x30, 'N', "debugging_sym")
                .push(spot + 0x40, 'w', "local_weak")
                .push(spot + 0x50, 'a', "local_abs")
                .push(spot + 0x60, 'A', "global_abs")
                .push(spot + 0x70, 't', "kept_after_ignored");
        }),
    );
    add(
        "all_type_letters",
        "One symbol of each nm type letter, inside the text range.",
        with_skeleton(Bits64, |m, spot| {
            let letters = "ABCDGINRSTUVWabdgintrsuvw?-";
            for (i, c) in letters.chars().enumerate() {
                m.push(spot + 0x10 * i as u64, c, format!("type_{}", i));
            }
        }),
    );
    add(
        "long_compressed",
        "High-entropy names of 130 to 480 bytes: compressed lengths above 127 need the \
         2-byte length prefix.",
        with_skeleton(Bits64, |m, spot| {
            for (i, name) in long_random_names(300, &[300, 310, 480, 130, 200, 350])
                .into_iter()
                .enumerate()
            {
                m.push(spot + 0x40 * i as u64, 't', name);
            }
        }),
    );
    add(
        "long_compressed_32",
        "Long high-entropy names, 32-bit.",
        with_skeleton(Bits32, |m, spot| {
            for (i, name) in long_random_names(301, &[320, 400]).into_iter().enumerate() {
                m.push(spot + 0x40 * i as u64, 'T', name);
            }
        }),
    );
    add(
        "name_511",
        "A 511-byte name: TYPE+NAME is 512 bytes, the longest upstream accepts (its \
         512-byte buffers then receive 513 bytes with the NUL).",
        with_skeleton(Bits64, |m, spot| {
            let name = long_random_names(511, &[511]).pop().expect("one name");
            m.push(spot, 't', name);
            m.push(spot + 0x40, 't', format!("{}_tail", "b".repeat(300)));
        }),
    );
    add(
        "name_512",
        "Names of 512 and 600 bytes: upstream reports each on stderr and skips it.",
        with_skeleton(Bits64, |m, spot| {
            let mut names = long_random_names(512, &[512, 600]);
            m.push(spot, 't', names.remove(0));
            m.push(spot + 0x40, 't', names.remove(0));
            m.push(spot + 0x80, 't', "after_long");
        }),
    );
    add(
        "name_2048",
        "A 2048-byte name: both versions read it whole and skip it as too long.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 't', "n".repeat(2048));
            m.push(spot + 0x40, 't', "after_2048");
        }),
    );
    add(
        "name_over_2048",
        "A 2100-byte name: 6.12 skips it as too long; 6.1's fscanf(\"%2048s\") reads 2048 \
         bytes (skipped as too long), then fails to read an address from the remaining 52 \
         and skips them: the same table, different stderr.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 't', "q".repeat(2100));
            m.push(spot + 0x40, 't', "after_2100");
        }),
    );
    add(
        "quirk_name_over_2048_record",
        "A 2067-byte \"name\" whose bytes after the first 2048 read `0 T split_tail_name`: \
         6.12 skips the whole line as too long; 6.1 skips the first 2048 bytes and reads the \
         rest as a record of its own (symbol split_tail_name at address 0).",
        with_skeleton(Bits64, |m, spot| {
            m.push(
                spot,
                't',
                format!("{}0 T split_tail_name", "q".repeat(2048)),
            );
            m.push(spot + 0x40, 't', "after_split");
        }),
    );
    add(
        "quirk_name_with_space",
        "A name with a space: 6.12 takes the rest of the line as the name, 6.1 reads only \
         the first word and misparses the rest.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 't', "name with spaces");
        }),
    );
    add(
        "ignored_names_6_1",
        "Every name on 6.1's ignore lists (exact, prefix, suffix, substring) and near misses, \
         all in the text range. 6.1 drops them; 6.12's generator keeps them (its mksysmap \
         drops most before).",
        with_skeleton(Bits64, |m, spot| {
            for (i, name) in IGNORED_NAMES_6_1
                .iter()
                .chain(NEAR_MISS_NAMES.iter())
                .enumerate()
            {
                m.push(spot + 0x10 * i as u64, 'T', *name);
            }
        }),
    );
    add(
        "mksysmap_names",
        "Every name pattern 6.12's scripts/mksysmap drops, in the text range (for \
         apply_mksysmap tests; 6.12's generator itself keeps them).",
        with_skeleton(Bits64, |m, spot| {
            for (i, name) in MKSYSMAP_6_12_NAMES.iter().enumerate() {
                m.push(spot + 0x10 * i as u64, 't', *name);
            }
        }),
    );
    add(
        "kallsyms_labels",
        "The eight kallsyms_* labels in rodata, as in 6.12's System.map (6.1 ignores them \
         by name).",
        with_skeleton(Bits64, |m, _| {
            for (i, name) in [
                "kallsyms_num_syms",
                "kallsyms_names",
                "kallsyms_markers",
                "kallsyms_token_table",
                "kallsyms_token_index",
                "kallsyms_offsets",
                "kallsyms_relative_base",
                "kallsyms_seqs_of_names",
            ]
            .iter()
            .enumerate()
            {
                m.push(b64 + 0x3400 + 0x40 * i as u64, 'R', *name);
            }
        }),
    );
    add(
        "llvm_suffixes",
        "Names with .llvm.<hash> suffixes and their plain forms at different addresses \
         (6.1's --lto-clang cuts the suffix when sorting by name), and GCC's .constprop/.isra/\
         .cold suffixes.",
        with_skeleton(Bits64, |m, spot| {
            m.push(spot, 't', "foo.llvm.222")
                .push(spot + 0x10, 't', "foo")
                .push(spot + 0x20, 't', "foo.llvm.111")
                .push(spot + 0x30, 't', "foo_bar")
                .push(spot + 0x40, 't', "foo.constprop.0")
                .push(spot + 0x50, 't', "foo.isra.0")
                .push(spot + 0x60, 't', "foo.cold")
                .push(spot + 0x70, 't', "fo.llvm.9");
        }),
    );
    add(
        "unsorted_input",
        "The skeleton plus text symbols in scrambled address order: the generator sorts by \
         address, ties by input order.",
        {
            let (mut m, spot) = skeleton(Bits64);
            for i in 0..50u64 {
                m.push(spot + ((i * 37) % 50) * 0x10, 't', format!("scrambled_{i}"));
            }
            let mut rng = SplitMix64::new(77);
            rng.shuffle(&mut m.symbols);
            m.render()
        },
    );
    for (name, count) in [
        ("markers_256", 256usize),
        ("markers_257", 257),
        ("markers_512", 512),
    ] {
        add(
            name,
            "Exactly this many symbols in the text range (marker boundaries).",
            {
                let b = b64;
                let mut m = MapSpec::new(Bits64);
                // _stext, _etext and count - 2 functions: `count` kept symbols in all modes.
                m.push(b, 'T', "_stext");
                for i in 0..count - 2 {
                    m.push(b + 0x10 + 0x10 * i as u64, 't', format!("m{i}"));
                }
                m.push(b + 0x10 * count as u64, 'T', "_etext");
                m.render()
            },
        );
    }
    add(
        "only_ignored",
        "Only symbols the generator ignores: 6.12 writes an empty table, 6.1 fails with \
         \"No valid symbol.\".",
        {
            let mut m = MapSpec::new(Bits64);
            m.push(0, 'A', "abs_one")
                .push(0x10, 'u', "unique_one")
                .push(0x20, 'n', "note_one")
                .push(b64, 'a', "_text");
            m.render()
        },
    );
    add(
        "same_address_all",
        "Everything, including _stext, _etext, _sinittext and _einittext, at one address.",
        {
            let mut m = MapSpec::new(Bits64);
            for (ty, name) in [
                ('T', "_text"),
                ('T', "_stext"),
                ('T', "func_a"),
                ('T', "_etext"),
                ('T', "_sinittext"),
                ('t', "func_b"),
                ('T', "_einittext"),
                ('W', "weak_c"),
            ] {
                m.push(b64, ty, name);
            }
            m.render()
        },
    );
    add(
        "token_ties",
        "Names built so that several byte pairs have equal counts: the first pair (lowest \
         index first + 256 * second) with the strictly highest count wins each round.",
        with_skeleton(Bits64, |m, spot| {
            for (i, name) in [
                "abcd", "cdab", "badc", "dcba", "abab", "cdcd", "acbd", "bdac",
            ]
            .iter()
            .enumerate()
            {
                m.push(spot + 0x10 * i as u64, 't', *name);
            }
        }),
    );
    add(
        "pair_overlap",
        "Runs of one letter: left-to-right, non-overlapping pair replacement (aaaaa -> XXa).",
        with_skeleton(Bits64, |m, spot| {
            for (i, len) in [2usize, 3, 4, 5, 7, 8, 16, 33].iter().enumerate() {
                m.push(spot + 0x10 * i as u64, 't', "a".repeat(*len));
            }
            m.push(spot + 0x100, 't', "tttttt");
        }),
    );
    add(
        "high_entropy_many",
        "400 random 6-to-24-byte names from [A-Za-z0-9_.$]: every free token slot is used.",
        with_skeleton(Bits64, |m, spot| {
            let mut rng = SplitMix64::new(400);
            for i in 0..400u64 {
                let len = rng.range(6, 24) as usize;
                let name = random_name(&mut rng, len);
                m.push(spot + 0x8 * i, 't', name);
            }
        }),
    );
    add(
        "rel_span_max",
        "Non-absolute symbols exactly 0xffffffff apart: the largest plain relative offset \
         (fits without --absolute-percpu; overflows with it when --all-symbols keeps both).",
        {
            let lo = 0xffff_fffe_0000_0000u64;
            let mut m = MapSpec::new(Bits64);
            m.push(lo, 'T', "_text")
                .push(lo, 'T', "_stext")
                .push(lo + 0x10, 't', "low_func")
                .push(lo + 0xffff_fff0, 't', "high_func")
                .push(lo + 0xffff_ffff, 'T', "_etext");
            m.render()
        },
    );
    add(
        "overflow_rel_span_4g",
        "Text symbols 4 GiB apart: overflows in every mode (even without --all-symbols).",
        {
            let lo = 0xffff_fffe_0000_0000u64;
            let mut m = MapSpec::new(Bits64);
            m.push(lo, 'T', "_text")
                .push(lo, 'T', "_stext")
                .push(lo + 0x1_0000_0000, 't', "too_far")
                .push(lo + 0x1_0000_0010, 'T', "_etext");
            m.render()
        },
    );
    add(
        "overflow_rel_span_2g",
        "Text symbols 2 GiB apart: fine in plain relative mode, overflows with \
         --absolute-percpu (non-absolute offsets must fit INT_MIN..-1).",
        {
            let lo = 0xffff_ffff_0000_0000u64;
            let mut m = MapSpec::new(Bits64);
            m.push(lo, 'T', "_text")
                .push(lo, 'T', "_stext")
                .push(lo + 0x7fff_ffff, 't', "edge_fits")
                .push(lo + 0x8000_0000, 't', "edge_overflows")
                .push(lo + 0x8000_0010, 'T', "_etext");
            m.render()
        },
    );
    add(
        "percpu_int_max",
        "A per-cpu symbol at 0x7fffffff: the largest absolute value --absolute-percpu \
         accepts.",
        with_skeleton(Bits64, |m, _| {
            m.push(0, 'D', "__per_cpu_start")
                .push(0x7fff_ffff, 'D', "percpu_edge")
                .push(0x7fff_ffff, 'D', "__per_cpu_end");
        }),
    );
    add(
        "overflow_percpu_int_max",
        "A per-cpu symbol at 0x80000000: overflows with --absolute-percpu --all-symbols \
         (and without --absolute-percpu, --all-symbols overflows the relative offsets).",
        with_skeleton(Bits64, |m, _| {
            m.push(0, 'D', "__per_cpu_start")
                .push(0x8000_0000, 'D', "percpu_too_high")
                .push(0x8000_0000, 'D', "__per_cpu_end");
        }),
    );
    add(
        "nm_raw_undefined",
        "Raw nm -n output with blank-address U and w lines first: 6.1 skips them (its \
         fscanf fails on the line); 6.12 stops with \"line format error\" (its mksysmap \
         removes them first).",
        {
            let (mut m, _) = skeleton(Bits64);
            m.push_undefined('U', "printk")
                .push_undefined('w', "__weak_hook")
                .push_undefined('v', "__weak_object_hook");
            m.sort_by_address();
            m.render()
        },
    );
    add(
        "nm_raw_random_small",
        "A small random raw nm map with the nm-only extras (for 6.1, or 6.12 after \
         apply_mksysmap).",
        random_map(
            7,
            GenOptions {
                symbols: 300,
                nm_extras: true,
                ..GenOptions::default()
            },
        ),
    );
    add(
        "random_small_32",
        "A small random 32-bit map, per-cpu area at 0.",
        random_map(
            8,
            GenOptions {
                width: Bits32,
                symbols: 300,
                ..GenOptions::default()
            },
        ),
    );
    v
}

/// The hand-written corner cases as `(name, map text)`; see [`corner_cases_described`] for
/// what each one exercises, and the module documentation for the naming convention.
pub fn corner_cases() -> Vec<(&'static str, String)> {
    corner_cases_described()
        .into_iter()
        .map(|c| (c.name, c.map))
        .collect()
}
