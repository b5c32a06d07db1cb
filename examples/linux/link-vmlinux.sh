#!/bin/sh
# kslink's drop-in for the kernel's scripts/link-vmlinux.sh (Linux 6.1 and 6.12): it links
# vmlinux once, through `kslink link`, where upstream's script links it three times.
#
# Install: copy this file over scripts/link-vmlinux.sh in a kernel tree and put kslink (and
# its kslink-* stages) on PATH, or name the driver with KSLINK=/path/to/kslink. Go back:
# restore the original (git checkout scripts/link-vmlinux.sh, or the file from the source
# package). Kbuild calls it as it calls the original:
#
#   link-vmlinux.sh "$(LD)" "$(KBUILD_LDFLAGS)" "$(LDFLAGS_vmlinux)"
#
# It does the original's whole job: init/version-timestamp.o, the link with the kernel's own
# linker, flags, objects, libraries and linker script, System.map, sorttable, .vmlinux.d.
# With CONFIG_KALLSYMS the table is built before the link from the link inputs and patched
# in place after it, so the vmlinux is the one upstream's script makes, from one link.
# CONFIG_DEBUG_INFO_BTF needs a linked file for pahole first: two links then (upstream:
# four). Output follows Kbuild: short lines, the commands with V=1, nothing with make -s.

set -e

LD="$1"
KBUILD_LDFLAGS="$2"
LDFLAGS_vmlinux="$3"

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

case "${KBUILD_VERBOSE}" in
*1*)
	set -x
	;;
esac

if [ "$1" = "clean" ]; then
	rm -rf .tmp_kslink .tmp_vmlinux1 .btf.*
	rm -f .tmp_vmlinux.nm-sort System.map vmlinux vmlinux.map
	exit 0
fi

kernel_version=$(sed -n -e 's/^VERSION = //p' "${srctree}/Makefile").$(sed -n -e 's/^PATCHLEVEL = //p' "${srctree}/Makefile")
case "${kernel_version}" in
6.1)
	profile=linux-6.1
	;;
6.1[2-9] | 6.[2-9][0-9] | [7-9].*)
	profile=linux-6.12
	;;
*)
	echo >&2 "kslink: link-vmlinux.sh: Linux ${kernel_version} is not one kslink knows (6.1, 6.12 and newer); use the kernel's own scripts/link-vmlinux.sh"
	exit 1
	;;
esac

KSLINK=${KSLINK:-kslink}
if is_enabled CONFIG_KALLSYMS && ! command -v "${KSLINK}" >/dev/null 2>&1; then
	echo >&2 "kslink: link-vmlinux.sh: ${KSLINK} not found: put kslink on PATH or set KSLINK"
	exit 1
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

# The objects and libraries, and the flags, as upstream's vmlinux_link chooses them.
if is_enabled CONFIG_LTO_CLANG || is_enabled CONFIG_X86_KERNEL_IBT; then
	objs=vmlinux.o
	libs=
else
	objs=vmlinux.a
	libs="${KBUILD_VMLINUX_LIBS}"
fi
if is_enabled CONFIG_MODULES; then
	objs="${objs} .vmlinux.export.o"
fi
objs="${objs} init/version-timestamp.o"
ldflags="${KBUILD_LDFLAGS} ${LDFLAGS_vmlinux} --script=${objtree}/${KBUILD_LDS}"
if is_enabled CONFIG_VMLINUX_MAP; then
	ldflags="${ldflags} -Map=vmlinux.map"
fi

${MAKE} -f "${srctree}/scripts/Makefile.build" obj=init init/version-timestamp.o

# BTF is made by pahole from a linked vmlinux with debug info: one link before the real one.
btf_o=
if is_enabled CONFIG_DEBUG_INFO_BTF; then
	note "CONFIG_DEBUG_INFO_BTF: pahole needs a linked vmlinux first, so this build links twice"
	table0=
	if is_enabled CONFIG_KALLSYMS && [ "${profile}" = linux-6.12 ]; then
		# 6.12's code refers to the table's labels: link an empty table, as upstream does.
		table0=.tmp_kslink/empty-table.o
		mkdir -p .tmp_kslink
		"${KSLINK}" table --profile "${profile}" --arch "${arch}" --emit-object "${table0}" /dev/null
	fi
	info LD .tmp_vmlinux1
	${LD} ${ldflags} -o .tmp_vmlinux1 --whole-archive ${objs} --no-whole-archive \
		--start-group ${libs} --end-group ${table0}
	btf_o=.tmp_vmlinux1.btf.o
	info BTF "${btf_o}"
	LLVM_OBJCOPY="${OBJCOPY}" ${PAHOLE} -J ${PAHOLE_FLAGS} .tmp_vmlinux1
	${OBJCOPY} --only-section=.BTF --set-section-flags .BTF=alloc,readonly \
		--strip-all .tmp_vmlinux1 "${btf_o}" 2>/dev/null
	# ld takes only ET_REL inputs: mark the object as one.
	if is_enabled CONFIG_CPU_BIG_ENDIAN; then et_rel='\0\1'; else et_rel='\1\0'; fi
	printf "${et_rel}" | dd of="${btf_o}" conv=notrunc bs=1 seek=16 status=none
fi

if is_enabled CONFIG_KALLSYMS; then
	set -- --profile "${profile}" --arch "${arch}"
	if is_enabled CONFIG_KALLSYMS_ALL; then set -- "$@" --all-symbols; fi
	if is_enabled CONFIG_KALLSYMS_ABSOLUTE_PERCPU; then set -- "$@" --absolute-percpu; fi
	if [ "${profile}" = linux-6.1 ] && is_enabled CONFIG_KALLSYMS_BASE_RELATIVE; then
		set -- "$@" --base-relative
	fi
	if is_enabled CONFIG_LTO_CLANG; then
		note "CONFIG_LTO_CLANG: if the link renames symbols, kslink relinks once with the table's real size"
	fi
	case "${KBUILD_VERBOSE}${quiet}" in
	*1*) set -- "$@" --verbose ;;
	*silent_*) set -- "$@" --quiet ;;
	esac
	# kslink prints Kbuild's lines itself (LD vmlinux, and its own steps).
	"${KSLINK}" link "$@" -o vmlinux --map System.map --work-dir .tmp_kslink -- \
		${LD} ${ldflags} --whole-archive ${objs} --no-whole-archive \
		--start-group ${libs} --end-group {kallsyms} ${btf_o}
else
	info LD vmlinux
	${LD} ${ldflags} -o vmlinux --whole-archive ${objs} --no-whole-archive \
		--start-group ${libs} --end-group ${btf_o}
fi

if is_enabled CONFIG_DEBUG_INFO_BTF; then
	info BTFIDS vmlinux
	${RESOLVE_BTFIDS} vmlinux
fi

# System.map: kslink wrote 6.12's (nm -n | sed -f scripts/mksysmap) from the linked file;
# 6.1's is the kernel's own script's, and without kallsyms there is none yet.
if [ "${profile}" = linux-6.1 ] || ! is_enabled CONFIG_KALLSYMS; then
	info NM System.map
	if [ "${profile}" = linux-6.1 ]; then
		${CONFIG_SHELL} "${srctree}/scripts/mksysmap" vmlinux System.map
	else
		${NM} -n vmlinux | sed -f "${srctree}/scripts/mksysmap" > System.map
	fi
fi

if is_enabled CONFIG_BUILDTIME_TABLE_SORT; then
	info SORTTAB vmlinux
	if [ "${profile}" = linux-6.12 ]; then
		${NM} -S vmlinux > .tmp_vmlinux.nm-sort
		sorted=$(${objtree}/scripts/sorttable -s .tmp_vmlinux.nm-sort vmlinux && echo ok)
	else
		sorted=$(${objtree}/scripts/sorttable vmlinux && echo ok)
	fi
	if [ "${sorted}" != ok ]; then
		echo >&2 Failed to sort kernel tables
		exit 1
	fi
fi

echo "vmlinux: $0" > .vmlinux.d
