/*
 * kslink's embedded example: a program that carries a kallsyms table (Linux 6.12 layout)
 * and reads it the way the kernel does.
 *
 * It is linked once, by `kslink link`, with demo.lds. At run time it resolves addresses of
 * its own functions and data to "name+offset/size" and names back to addresses, walks the
 * whole table, prints a summary, and exits 0 only if every check held: a table that was not
 * patched with the linked file's real addresses, or that was laid out wrongly, fails.
 *
 * Freestanding on purpose (no libc, raw system calls): then every symbol in the image comes
 * from this file and the linker script, and kslink can predict the table before the link.
 * Build: cc -c -O2 -ffreestanding -fno-pie -fno-stack-protector -fno-builtin
 *           -fno-asynchronous-unwind-tables demo.c
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long ulong;

/* The table's arrays, defined by the kallsyms object that kslink links in. */
extern const u32 kallsyms_num_syms;
extern const u8 kallsyms_names[];
extern const u32 kallsyms_markers[];
extern const u8 kallsyms_token_table[];
extern const u16 kallsyms_token_index[];
extern const s32 kallsyms_offsets[];
extern const ulong kallsyms_relative_base;
extern const u8 kallsyms_seqs_of_names[];

/* Bounds from the linker script. */
extern const char _text[], _etext[], _end[];

#define KSYM_NAME_LEN 512
#define NOINLINE __attribute__((noinline, used))

/* ---- system calls and output ---------------------------------------------------------- */

#if defined(__x86_64__)
static long sys_write(int fd, const void *buf, ulong len)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "0"(1L), "D"(fd), "S"(buf), "d"(len)
			 : "rcx", "r11", "memory");
	return ret;
}
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
	"\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tcall demo_main\n"
	"\tmov %eax, %edi\n\tmov $60, %eax\n\tsyscall\n\thlt\n"
	".size _start, .-_start\n");
#elif defined(__aarch64__)
static long sys_write(int fd, const void *buf, ulong len)
{
	register long x0 __asm__("x0") = fd;
	register long x1 __asm__("x1") = (long)buf;
	register long x2 __asm__("x2") = (long)len;
	register long x8 __asm__("x8") = 64;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
	return x0;
}
__asm__(".text\n.globl _start\n.type _start,%function\n_start:\n"
	"\tmov x0, sp\n\tbl demo_main\n\tmov x8, #93\n\tsvc #0\n"
	".size _start, .-_start\n");
#elif defined(__riscv) && __riscv_xlen == 64
static long sys_write(int fd, const void *buf, ulong len)
{
	register long a0 __asm__("a0") = fd;
	register long a1 __asm__("a1") = (long)buf;
	register long a2 __asm__("a2") = (long)len;
	register long a7 __asm__("a7") = 64;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
	return a0;
}
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
	"\tmv a0, sp\n\tcall demo_main\n\tli a7, 93\n\tecall\n"
	".size _start, .-_start\n");
#else
#error "the demo knows the system calls of x86_64, aarch64 and riscv64 Linux only"
#endif

/* The compiler may turn loops into calls to these even when freestanding. */
void *memset(void *dest, int c, ulong n)
{
	u8 *d = dest;
	while (n--)
		*d++ = (u8)c;
	return dest;
}

void *memcpy(void *dest, const void *src, ulong n)
{
	u8 *d = dest;
	const u8 *s = src;
	while (n--)
		*d++ = *s++;
	return dest;
}

static char out_buf[4096];
static ulong out_len;

static void flush(void)
{
	ulong done = 0;
	while (done < out_len) {
		long n = sys_write(1, out_buf + done, out_len - done);
		if (n <= 0)
			break;
		done += (ulong)n;
	}
	out_len = 0;
}

static void put_char(char c)
{
	if (out_len == sizeof(out_buf))
		flush();
	out_buf[out_len++] = c;
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_hex(ulong v)
{
	char digits[16];
	int n = 0;
	put_str("0x");
	do {
		digits[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		put_char(digits[--n]);
}

static void put_dec(ulong v)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_char(digits[--n]);
}

static int str_cmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (u8)*a - (u8)*b;
}

/* ---- the table reader ----------------------------------------------------------------- */

/*
 * Expands the name at `off` in kallsyms_names into `buf` (without its leading type letter,
 * which goes to *type) and returns the offset of the next name. A name's length is one byte,
 * or two when the first has its top bit set; each byte of the name is a token number.
 */
static u32 expand_name(u32 off, char *buf, char *type)
{
	u32 len = kallsyms_names[off++];
	ulong n = 0;
	int first = 1;

	if (len & 0x80)
		len = (len & 0x7f) | ((u32)kallsyms_names[off++] << 7);
	for (u32 end = off + len; off < end; off++) {
		const u8 *token = &kallsyms_token_table[kallsyms_token_index[kallsyms_names[off]]];
		for (; *token; token++) {
			if (first) {
				*type = (char)*token;
				first = 0;
			} else if (n < KSYM_NAME_LEN - 1) {
				buf[n++] = (char)*token;
			}
		}
	}
	buf[n] = 0;
	return off;
}

/* The offset in kallsyms_names of symbol `index` (address order): every 256th is marked. */
static u32 name_offset(u32 index)
{
	u32 off = kallsyms_markers[index >> 8];
	for (u32 i = index & ~0xffu; i < index; i++) {
		u32 len = kallsyms_names[off];
		off += (len & 0x80) ? 2 + ((len & 0x7f) | ((u32)kallsyms_names[off + 1] << 7))
				    : 1 + len;
	}
	return off;
}

static ulong symbol_address(u32 index)
{
	return kallsyms_relative_base + (u32)kallsyms_offsets[index];
}

/* Symbol number `rank` in name order, as an index in address order. */
static u32 name_rank_to_index(u32 rank)
{
	const u8 *p = &kallsyms_seqs_of_names[3 * rank];
	return ((u32)p[0] << 16) | ((u32)p[1] << 8) | p[2];
}

/*
 * Address to symbol: the last symbol at or below `addr` (the first of its aliases), its size
 * up to the next higher address (or _end). Returns the index, or -1 outside the image.
 */
static long lookup_address(ulong addr, ulong *size, ulong *offset)
{
	u32 low = 0, high = kallsyms_num_syms;

	if (addr < (ulong)_text || addr >= (ulong)_end || kallsyms_num_syms == 0 ||
	    addr < symbol_address(0))
		return -1;
	while (high - low > 1) {
		u32 mid = low + (high - low) / 2;
		if (symbol_address(mid) <= addr)
			low = mid;
		else
			high = mid;
	}
	while (low > 0 && symbol_address(low - 1) == symbol_address(low))
		low--;

	ulong next = (ulong)_end;
	for (u32 i = low + 1; i < kallsyms_num_syms; i++) {
		if (symbol_address(i) > symbol_address(low)) {
			next = symbol_address(i);
			break;
		}
	}
	*size = next - symbol_address(low);
	*offset = addr - symbol_address(low);
	return low;
}

/* Name to address, by binary search in name order; 0 when there is no such symbol. */
static ulong lookup_name(const char *name)
{
	static char buf[KSYM_NAME_LEN];
	char type;
	long low = 0, high = (long)kallsyms_num_syms - 1;

	while (low <= high) {
		long mid = low + (high - low) / 2;
		u32 index = name_rank_to_index((u32)mid);
		expand_name(name_offset(index), buf, &type);
		int cmp = str_cmp(name, buf);
		if (cmp == 0) {
			/* the first of equal names, as the kernel returns */
			while (mid > 0) {
				u32 before = name_rank_to_index((u32)mid - 1);
				expand_name(name_offset(before), buf, &type);
				if (str_cmp(name, buf) != 0)
					break;
				index = before;
				mid--;
			}
			return symbol_address(index);
		}
		if (cmp > 0)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return 0;
}

/* ---- the program's own symbols, which the table must know ----------------------------- */

int demo_counter = 42;			/* D */
static int demo_local_counter = 7;	/* d */
long demo_scratch[64];			/* B */
static long demo_local_scratch[16];	/* b */
const char demo_greeting[] = "hello from a table patched in place";	/* R */

NOINLINE int demo_add(int a, int b)
{
	return a + b + demo_local_counter;
}

NOINLINE static int demo_local_twice(int a)
{
	demo_local_scratch[a & 15] += a;
	return 2 * a;
}

NOINLINE long demo_sum(int n)
{
	long sum = 0;
	for (int i = 0; i < n; i++)
		sum += demo_scratch[i & 63] + demo_local_twice(i);
	return sum;
}

struct expectation {
	const char *name;
	ulong address;
	char type;
};

static int failures;

static void fail(const char *what, const char *name)
{
	failures++;
	put_str("  FAIL ");
	put_str(what);
	put_str(": ");
	put_str(name);
	put_char('\n');
}

static void check_symbol(const struct expectation *e)
{
	static char buf[KSYM_NAME_LEN];
	ulong size, offset;
	char type = '?';

	ulong found = lookup_name(e->name);
	long index = lookup_address(e->address, &size, &offset);
	buf[0] = 0;
	/* an address names its first alias (as in the kernel); look for ours among them */
	for (long i = index; i >= 0 && (u32)i < kallsyms_num_syms; i++) {
		if (symbol_address((u32)i) != symbol_address((u32)index))
			break;
		expand_name(name_offset((u32)i), buf, &type);
		if (str_cmp(buf, e->name) == 0)
			break;
	}

	put_str("  ");
	put_str(e->name);
	put_str(" = ");
	put_hex(found);
	put_str(" (");
	put_char(type);
	put_str("); ");
	put_hex(e->address);
	put_str(" = ");
	put_str(buf);
	put_str("+");
	put_hex(offset);
	put_str("/");
	put_hex(size);
	put_char('\n');

	if (found != e->address)
		fail("name does not resolve to its address", e->name);
	if (index < 0 || offset != 0 || str_cmp(buf, e->name) != 0)
		fail("address does not resolve to its name", e->name);
	if (type != e->type)
		fail("wrong type letter", e->name);
	/* an address inside a function resolves to that function, at that offset */
	if ((e->type == 'T' || e->type == 't') && size > 1) {
		ulong inner_size, inner_offset;
		if (lookup_address(e->address + 1, &inner_size, &inner_offset) != index ||
		    inner_offset != 1 || inner_size != size)
			fail("address+1 does not resolve into its function", e->name);
	}
}

/* Walks the whole table: names decode, addresses ascend, every name finds its symbol. */
static void check_table(void)
{
	static char buf[KSYM_NAME_LEN];
	u32 off = 0;
	char type;

	for (u32 i = 0; i < kallsyms_num_syms; i++) {
		if ((i & 0xff) == 0 && kallsyms_markers[i >> 8] != off)
			fail("marker does not match the names", "kallsyms_markers");
		off = expand_name(off, buf, &type);
		if (i > 0 && symbol_address(i) < symbol_address(i - 1))
			fail("addresses out of order at", buf);
		if (buf[0] == 0 || lookup_name(buf) == 0)
			fail("name not found by lookup", buf);
	}
}

int demo_main(void)
{
	const struct expectation expected[] = {
		{ "demo_main", (ulong)demo_main, 'T' },
		{ "demo_add", (ulong)demo_add, 'T' },
		{ "demo_sum", (ulong)demo_sum, 'T' },
		{ "demo_local_twice", (ulong)demo_local_twice, 't' },
		{ "demo_counter", (ulong)&demo_counter, 'D' },
		{ "demo_local_counter", (ulong)&demo_local_counter, 'd' },
		{ "demo_scratch", (ulong)demo_scratch, 'B' },
		{ "demo_local_scratch", (ulong)demo_local_scratch, 'b' },
		{ "demo_greeting", (ulong)demo_greeting, 'R' },
		{ "kallsyms_names", (ulong)kallsyms_names, 'R' },
		{ "_text", (ulong)_text, 'T' },
		{ "_etext", (ulong)_etext, 'T' },
	};
	ulong n = sizeof(expected) / sizeof(expected[0]);

	put_str("kallsyms demo: ");
	put_dec(kallsyms_num_syms);
	put_str(" symbols, relative base ");
	put_hex(kallsyms_relative_base);
	put_str(", sum ");
	put_dec((ulong)demo_sum(demo_add(1, 2)));
	put_char('\n');
	for (ulong i = 0; i < n; i++)
		check_symbol(&expected[i]);
	check_table();

	put_str("checked ");
	put_dec(n);
	put_str(" symbols by name and address, and all ");
	put_dec(kallsyms_num_syms);
	put_str(" in the table\n");
	put_str(failures ? "selfcheck: fail\n" : "selfcheck: pass\n");
	flush();
	return failures ? 1 : 0;
}
