#!/bin/sh
# kslink's drop-in for the kernel's scripts/link-vmlinux.sh (Linux 6.1, 6.12 and 7.3): it
# links vmlinux once, through `kslink link`, where upstream's script links it three times.
#
# Install: copy this file over scripts/link-vmlinux.sh in a kernel tree and put kslink (and
# its kslink-* stages) on PATH, or name the driver with KSLINK=/path/to/kslink. Go back:
# restore the original (git checkout scripts/link-vmlinux.sh, or the file from the source
# package). Kbuild calls it as it calls the original:
#
#   link-vmlinux.sh "$(LD)" "$(KBUILD_LDFLAGS)" "$(LDFLAGS_vmlinux)" ["$@"]
#
# (7.x passes the output, vmlinux.unstripped, as the 4th argument; older kernels link
# vmlinux.) It does the original's whole job: init/version-timestamp.o, the link with the
# kernel's own linker, flags, objects, libraries and linker script, BTF, System.map,
# sorttable, the consistency check, the .d file. With CONFIG_KALLSYMS the table is built
# before the link from the link inputs and patched in place after it, so the file is the
# one upstream's script makes, from one link. Which table format the tree has is not taken
# from its version number: the tree's own scripts/kallsyms is run on a small probe map and
# must print what kslink prints for the profile (linux-7.3, linux-6.12, linux-6.1); a tree
# that matches none is refused, never linked with a guessed format. System.map is made by
# the tree's own scripts/mksysmap, as upstream makes it, and must equal the map kslink built
# the table from. With CONFIG_DEBUG_INFO_BTF on 6.12 and 7.x, pahole reads a view of the same
# inputs (kslink btf) instead of a first linked vmlinux, and the BTF is checked against the
# linked file; on 6.1, and with a pahole other than 1.24 (bookworm's) or 1.30 (trixie's), it
# reads a linked file first: two
# links then (upstream: three or four). Output
# follows Kbuild: short lines, the commands with V=1, nothing with make -s.

set -e

LD="$1"
KBUILD_LDFLAGS="$2"
LDFLAGS_vmlinux="$3"
VMLINUX="${4:-vmlinux}"

is_enabled() {
	grep -q "^$1=y" include/config/auto.conf
}

info() {
	if [ "${quiet}" != "silent_" ]; then
		printf "  %-7s %s\n" "${1}" "${2}"
	fi
}

note() {
	if [ "${quiet}" != "silent_" ]; then
		echo "kslink: $*"
	fi
}

fail() {
	echo >&2 "kslink: link-vmlinux.sh: $*"
	exit 1
}

case "${KBUILD_VERBOSE}" in
*1*)
	set -x
	;;
esac

if [ "$1" = "clean" ]; then
	rm -rf .tmp_kslink
	rm -f .tmp_vmlinux1 .tmp_vmlinux1.* .btf.* .tmp_vmlinux.nm-sort System.map vmlinux vmlinux.map
	exit 0
fi

if [ "${SRCARCH}" = "um" ]; then
	fail "User Mode Linux links vmlinux with \$(CC), which kslink does not drive; use the kernel's own scripts/link-vmlinux.sh"
fi

# 7.x's Kbuild names the output (vmlinux.unstripped) and builds the export object always.
if [ -n "$4" ]; then
	kbuild_gen=7
else
	kbuild_gen=6
fi

KSLINK=${KSLINK:-kslink}
if is_enabled CONFIG_KALLSYMS && ! command -v "${KSLINK}" >/dev/null 2>&1; then
	fail "${KSLINK} not found: put kslink on PATH or set KSLINK"
fi

# The target of the table's object.
case "${SRCARCH}" in
x86)
	if is_enabled CONFIG_64BIT; then arch=x86_64; else arch=i386; fi
	;;
arm64)
	arch=aarch64
	;;
riscv)
	if is_enabled CONFIG_64BIT; then arch=riscv64; else arch=riscv32; fi
	;;
*)
	arch=${SRCARCH}
	;;
esac

# The generator options each version's script passes, for the profile probe below.
profile_flags() {
	if is_enabled CONFIG_KALLSYMS_ALL; then printf ' %s' --all-symbols; fi
	case "$1" in
	linux-7.3)
		if is_enabled CONFIG_64BIT || is_enabled CONFIG_RELOCATABLE; then
			printf ' %s' --pc-relative
		fi
		;;
	linux-6.12)
		if is_enabled CONFIG_KALLSYMS_ABSOLUTE_PERCPU; then printf ' %s' --absolute-percpu; fi
		;;
	linux-6.1)
		if is_enabled CONFIG_KALLSYMS_ABSOLUTE_PERCPU; then printf ' %s' --absolute-percpu; fi
		if is_enabled CONFIG_KALLSYMS_BASE_RELATIVE; then printf ' %s' --base-relative; fi
		if is_enabled CONFIG_LTO_CLANG; then printf ' %s' --lto-clang; fi
		;;
	esac
}

# The profile whose table the tree's own scripts/kallsyms makes: both generators, given the
# options that version's script passes, must print the same .S for a probe map that has a
# symbol of each kind the rules treat apart.
probe_profile() {
	mkdir -p .tmp_kslink
	probe=.tmp_kslink/probe
	cat > "${probe}.map" <<-EOF
	0000000000000000 A __abs_probe
	ffffffff81000000 T _text
	ffffffff81000000 T _stext
	ffffffff81000010 T probe_function
	ffffffff81000020 t probe_local_function
	ffffffff81000030 W probe_weak_function
	ffffffff81000030 T __probe_weak_function
	ffffffff81000040 T probe_function_with_a_longer_name_than_the_others_have_in_this_probe
	ffffffff81000050 t probe_function.cold
	ffffffff81000060 T probe_function.llvm.123456
	ffffffff81001000 T _etext
	ffffffff81001000 T probe_at_etext
	ffffffff81002000 R __start___probe_table
	ffffffff81002010 R __stop___probe_table
	ffffffff81002020 r probe_rodata
	ffffffff81003000 D probe_data
	ffffffff81003008 d probe_local_data
	ffffffff81003010 V probe_weak_data
	ffffffff81004000 T _sinittext
	ffffffff81004010 t probe_init_function
	ffffffff81005000 T _einittext
	ffffffff81006000 B probe_bss
	ffffffff81006008 b probe_local_bss
	EOF
	for candidate in linux-7.3 linux-6.12 linux-6.1; do
		flags=$(profile_flags "${candidate}")
		# shellcheck disable=SC2086 # the flags are words
		if scripts/kallsyms ${flags} "${probe}.map" > "${probe}.upstream.S" 2>/dev/null &&
			"${KSLINK}" table --profile "${candidate}" ${flags} "${probe}.map" \
				> "${probe}.kslink.S" 2>/dev/null &&
			cmp -s "${probe}.upstream.S" "${probe}.kslink.S"; then
			echo "${candidate}"
			return
		fi
	done
}

if is_enabled CONFIG_KALLSYMS; then
	profile=$(probe_profile)
	if [ -z "${profile}" ]; then
		fail "this tree's scripts/kallsyms makes a table that no kslink profile (linux-7.3, linux-6.12, linux-6.1) reproduces, so kslink cannot build it before the link; use the kernel's own scripts/link-vmlinux.sh"
	fi
	table_flags=$(profile_flags "${profile}")
fi

# The objects and libraries, and the flags, as upstream's vmlinux_link chooses them.
if is_enabled CONFIG_LTO_CLANG || is_enabled CONFIG_X86_KERNEL_IBT || is_enabled CONFIG_KLP_BUILD; then
	objs=vmlinux.o
	libs=
else
	objs=vmlinux.a
	libs="${KBUILD_VMLINUX_LIBS}"
fi
if is_enabled CONFIG_GENERIC_BUILTIN_DTB; then
	objs="${objs} .builtin-dtbs.o"
fi
if [ "${kbuild_gen}" = 7 ] || is_enabled CONFIG_MODULES; then
	objs="${objs} .vmlinux.export.o"
fi
objs="${objs} init/version-timestamp.o"
arch_vmlinux_o=
if is_enabled CONFIG_ARCH_WANTS_PRE_LINK_VMLINUX; then
	arch_vmlinux_o=arch/${SRCARCH}/tools/vmlinux.arch.o
fi
ldflags="${KBUILD_LDFLAGS} ${LDFLAGS_vmlinux} --script=${objtree}/${KBUILD_LDS}"
final_ldflags="${ldflags}"
if is_enabled CONFIG_VMLINUX_MAP; then
	final_ldflags="${final_ldflags} -Map=vmlinux.map"
fi

${MAKE} -f "${srctree}/scripts/Makefile.build" obj=init init/version-timestamp.o

# Use "make UT=1" to trigger warnings on unused tracepoints (7.x).
case "${WARN_ON_UNUSED_TRACEPOINTS}" in
*1*)
	${objtree}/scripts/tracepoint-update vmlinux.o
	;;
esac

# BTF is made by pahole. Upstream gives it a first linked vmlinux with debug info; on 6.12
# and 7.x the drop-in gives it the BTF input view instead: the same inputs gathered as the
# statements of the kernel's own script that pahole sees gather them (kslink btf
# view-script), in an executable file with a linked file's addresses that kslink writes
# itself, without a relocatable link (kslink btf view). It links vmlinux once with the BTF made
# from that, and kslink link's btf step (kslink btf check) confirms the BTF against the
# linked file before it installs vmlinux. That check confirms where the BTF's variables are,
# not that pahole read the view as it reads a linked file: so the view is taken only with a
# pahole version whose BTF from it a test has compared byte for byte with upstream's
# (CONFIG_PAHOLE_VERSION: Kbuild configures the tree again when pahole changes, and its
# PAHOLE_FLAGS follow it). 6.1 (whose view no test has
# compared with upstream's BTF), another pahole, a view that cannot be made and a BTF that
# does not fit are linked the kernel's own way: a first link for pahole.
btf_o=
btf_ids=
btf_view=
btf_view_paholes="124 130"

# The version's BTF steps on the linked or relocatable file $1: its .btf.o for the link (and
# on 7.x the .BTF_ids that resolve_btfids writes after it).
btf_of() {
	btf_o=$1.btf.o
	start_prepare
	if [ "${kbuild_gen}" = 7 ]; then
		${CONFIG_SHELL} "${srctree}/scripts/gen-btf.sh" "$1" || return 1
		btf_ids=$1.BTF_ids
	else
		info BTF "${btf_o}"
		LLVM_OBJCOPY="${OBJCOPY}" ${PAHOLE} -J ${PAHOLE_FLAGS} "$1" || return 1
		${OBJCOPY} --only-section=.BTF --set-section-flags .BTF=alloc,readonly \
			--strip-all "$1" "${btf_o}" 2>/dev/null || return 1
		# ld takes only ET_REL inputs: mark the object as one.
		if is_enabled CONFIG_CPU_BIG_ENDIAN; then et_rel='\0\1'; else et_rel='\1\0'; fi
		printf "${et_rel}" | dd of="${btf_o}" conv=notrunc bs=1 seek=16 status=none
	fi
}

# The kernel's own way: link .tmp_vmlinux1 with debug info and make its BTF.
btf_from_first_link() {
	table0=
	if is_enabled CONFIG_KALLSYMS && [ "${profile}" != linux-6.1 ]; then
		# The code refers to the table's labels: link an empty table, as upstream does.
		table0=.tmp_kslink/empty-table.o
		# shellcheck disable=SC2086 # the flags are words
		"${KSLINK}" table --profile "${profile}" ${table_flags} --arch "${arch}" \
			--emit-object "${table0}" /dev/null
	fi
	info LD .tmp_vmlinux1
	${LD} ${ldflags} -o .tmp_vmlinux1 --whole-archive ${objs} --no-whole-archive \
		--start-group ${libs} --end-group ${table0} ${arch_vmlinux_o}
	if [ "${kbuild_gen}" = 7 ]; then
		info BTF .tmp_vmlinux1
	fi
	if ! btf_of .tmp_vmlinux1; then
		echo >&2 "Failed to generate BTF for vmlinux"
		echo >&2 "Try to disable CONFIG_DEBUG_INFO_BTF"
		exit 1
	fi
}

# The BTF input view: vmlinux.o and the link's other objects gathered as the statements of
# the kernel's script that pahole sees gather them, in an executable file with a linked
# file's addresses, and the version's BTF steps on it.
btf_from_view() {
	view=.tmp_kslink/btf-view
	mkdir -p .tmp_kslink
	view_objs=vmlinux.o
	for obj in ${objs}; do
		case "${obj}" in
		vmlinux.a | vmlinux.o) ;;
		*) view_objs="${view_objs} ${obj}" ;;
		esac
	done
	"${KSLINK}" btf view-script -T "${objtree}/${KBUILD_LDS}" -o "${view}.lds" || return
	# pahole names a per-cpu variable after one of the symbols at its address, which one by
	# their order: the view orders its global symbols as the link will, GNU ld's as a
	# relocatable link of the objects' symbol skeletons orders them (its hash table's order),
	# which kslink btf view runs beside its own work, ld.lld's by its rule (hidden ones first).
	info VIEW "${view}"
	if is_enabled CONFIG_LD_IS_LLD; then
		"${KSLINK}" btf view -T "${view}.lds" --hidden-first -o "${view}" \
			${view_objs} ${arch_vmlinux_o} || return
	else
		"${KSLINK}" btf view -T "${view}.lds" -o "${view}" ${view_objs} ${arch_vmlinux_o} \
			-- ${LD} ${KBUILD_LDFLAGS} || return
	fi
	btf_of "${view}"
}

# Whether pahole version $1 is one the view is proven with.
btf_view_proven_with() {
	case " ${btf_view_paholes} " in
	*" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}

# kslink link of vmlinux, with the options $@ and the table's, the BTF's object and view,
# Kbuild's verbosity.
kslink_link() {
	# shellcheck disable=SC2086 # the flags are words
	set -- "$@" --profile "${profile}" --arch "${arch}" ${table_flags}
	if [ -n "${btf_view}" ]; then
		set -- "$@" --btf-view "${btf_view}"
	fi
	if [ -n "${btf_o}" ]; then
		set -- "$@" --symbol-free "${btf_o}"
	fi
	case "${KBUILD_VERBOSE}${quiet}" in
	*1*) set -- "$@" --verbose ;;
	*silent_*) set -- "$@" --quiet ;;
	esac
	"${KSLINK}" link "$@" -o "${VMLINUX}" --map .tmp_kslink/System.map --work-dir .tmp_kslink -- \
		${LD} ${final_ldflags} --whole-archive ${objs} --no-whole-archive \
		--start-group ${libs} --end-group {kallsyms} ${btf_o} ${arch_vmlinux_o}
}

# The table's steps before the link, started once, in the background, as pahole starts: they
# do not read the BTF's object ${btf_o} (it defines no symbols: a link with another one
# finds them done), and pahole takes one core.
prepare_job=
start_prepare() {
	if is_enabled CONFIG_KALLSYMS && [ -z "${prepare_job}" ]; then
		kslink_link --prepare &
		prepare_job=$!
	fi
}

if is_enabled CONFIG_DEBUG_INFO_BTF; then
	pahole_version=$(sed -n 's/^CONFIG_PAHOLE_VERSION=//p' include/config/auto.conf)
	if [ "${kbuild_gen}" != 7 ] && [ "${profile:-}" != linux-6.12 ]; then
		note "CONFIG_DEBUG_INFO_BTF: kslink's BTF input view is proven on 6.12 and 7.x, and this tree is neither (its kallsyms profile: ${profile:-none}), so this build links the kernel's own way, twice"
		btf_from_first_link
	elif ! btf_view_proven_with "${pahole_version}"; then
		note "CONFIG_DEBUG_INFO_BTF: kslink's BTF input view is proven with pahole ${btf_view_paholes} (CONFIG_PAHOLE_VERSION), and this tree has ${pahole_version}, so this build links the kernel's own way, twice"
		btf_from_first_link
	else
		if btf_from_view; then
			btf_view=.tmp_kslink/btf-view
		else
			note "CONFIG_DEBUG_INFO_BTF: the BTF input view failed (above), so this build links the kernel's own way, twice"
			btf_from_first_link
		fi
	fi
fi
# A prepare that failed has said why; the link would fail the same way.
if [ -n "${prepare_job}" ]; then
	wait "${prepare_job}"
fi

# The one link of vmlinux (through kslink with CONFIG_KALLSYMS). A BTF made from the view
# is checked against the linked file before it is installed: exit status 3 when it does not
# fit, and no vmlinux.
link_vmlinux() {
	if is_enabled CONFIG_KALLSYMS; then
		if is_enabled CONFIG_LTO_CLANG; then
			note "CONFIG_LTO_CLANG: if the link renames symbols, kslink relinks once with the table's real size"
		fi
		# kslink prints Kbuild's lines itself (LD vmlinux, and its own steps).
		kslink_link
	else
		info LD "${VMLINUX}"
		${LD} ${final_ldflags} -o "${VMLINUX}" --whole-archive ${objs} --no-whole-archive \
			--start-group ${libs} --end-group ${btf_o} ${arch_vmlinux_o} || return
		if [ -n "${btf_view}" ]; then
			info BTFCHK "${VMLINUX}"
			"${KSLINK}" btf check --view "${btf_view}" --report .tmp_kslink/btf.fit \
				"${VMLINUX}" >/dev/null || {
				status=$?
				rm -f "${VMLINUX}"
				return "${status}"
			}
		fi
	fi
}

if link_vmlinux; then
	:
else
	status=$?
	if [ "${status}" != 3 ] || [ -z "${btf_view}" ]; then
		exit "${status}"
	fi
	note "CONFIG_DEBUG_INFO_BTF: the BTF made from the view does not fit vmlinux (above); linking the kernel's own way"
	btf_view=
	btf_from_first_link
	link_vmlinux
fi

# System.map by the tree's own rules, as upstream makes it, and the symbols that sorttable
# reads, from the time the link ends: resolve_btfids and sorttable rewrite their sections'
# contents in place, never the symbols that nm reads.
system_map() {
	if [ -x "${srctree}/scripts/mksysmap" ] && head -n 1 "${srctree}/scripts/mksysmap" | grep -q '^#!/bin/sed'; then
		${NM} -n "${VMLINUX}" | sed -f "${srctree}/scripts/mksysmap" > System.map
	else
		${CONFIG_SHELL} "${srctree}/scripts/mksysmap" "${VMLINUX}" System.map
	fi
}
system_map &
system_map_job=$!
sort_symbols_job=
if is_enabled CONFIG_BUILDTIME_TABLE_SORT && [ "${profile:-}" != linux-6.1 ]; then
	${NM} -S "${VMLINUX}" > .tmp_vmlinux.nm-sort &
	sort_symbols_job=$!
fi

if is_enabled CONFIG_DEBUG_INFO_BTF; then
	info BTFIDS "${VMLINUX}"
	if [ "${kbuild_gen}" = 7 ]; then
		${RESOLVE_BTFIDS} --patch_btfids "${btf_ids}" "${VMLINUX}"
	else
		${RESOLVE_BTFIDS} "${VMLINUX}"
	fi
fi
info NM System.map

sorted=ok
if is_enabled CONFIG_BUILDTIME_TABLE_SORT; then
	info SORTTAB "${VMLINUX}"
	if [ "${profile:-}" = linux-6.1 ]; then
		sorted=$(${objtree}/scripts/sorttable "${VMLINUX}" && echo ok)
	else
		wait "${sort_symbols_job}"
		sorted=$(${objtree}/scripts/sorttable -s .tmp_vmlinux.nm-sort "${VMLINUX}" && echo ok)
	fi
fi
system_map_status=0
wait "${system_map_job}" || system_map_status=$?
if [ "${sorted}" != ok ]; then
	echo >&2 Failed to sort kernel tables
	exit 1
fi
if [ "${system_map_status}" != 0 ]; then
	exit "${system_map_status}"
fi

# Upstream's consistency check: the table was built from the map of these very symbols.
if is_enabled CONFIG_KALLSYMS && ! cmp -s System.map .tmp_kslink/System.map; then
	echo >&2 "Inconsistent kallsyms data: kslink's System.map of ${VMLINUX} (.tmp_kslink/System.map) differs from this tree's scripts/mksysmap's"
	exit 1
fi

# For fixdep
if [ "${kbuild_gen}" = 7 ]; then
	echo "${VMLINUX}: $0" > ".${VMLINUX}.d"
else
	echo "vmlinux: $0" > .vmlinux.d
fi
