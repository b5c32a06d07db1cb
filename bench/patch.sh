#!/usr/bin/env bash
# Benchmark: what `kslink-patch -o` (copy, patch, check, rename) costs against
# `kslink-patch --in-place` (patch, check) on Debian's real vmlinux (354 MB).
#
# Both write a final table that differs from the file's (System.map less every tenth symbol,
# so every array and kallsyms_relative_base change) and read the result back to check it;
# -o also copies the file beside its output first and renames the copy into place. The
# --in-place runs alternate between that table and the file's own, so that each run really
# writes. For reference the script also times the copy alone (`cp`, which uses
# copy_file_range(2) as kslink-patch does).
#
# Where the files go decides what the copy costs: on ext4 it is a copy in the page cache, on
# a file system with reflinks (Btrfs, XFS with reflink=1) copy_file_range shares the blocks
# and the copy is almost free. --dir chooses the directory (the vmlinux is copied there
# first, untimed, since a reflink needs both files on one file system); the report names its
# file system as `stat -f` does (ext4 shows as ext2/ext3).
#
# The tables, the frame (exactly the kernel's own table: what kslink-pad makes with no
# slack) and the location are made once, untimed. The vmlinux is Debian's
# linux-image-6.12.117+deb12-amd64-dbg one, fetched into the test cache by the kslink-tests
# helper `debian-vmlinux` (about 1 GB download the first time) unless --vmlinux names another.
#
# Needs: cargo, cmp (diffutils), awk, GNU time at /usr/bin/time (`time`).
# Exit status: 0 on success, 2 on a usage or setup error, or if a patched file is not what
# it should be. There is no target: the script reports the two costs.

set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/patch.sh [--rounds N] [--vmlinux FILE] [--dir DIR] [--keep] [-h|--help]

Builds kslink-collect, kslink-table, kslink-locate, kslink-patch and the kslink-tests helpers
(release), prepares a final table, a frame and a location for Debian's 6.12.117 vmlinux,
checks once that -o and --in-place write the same bytes (and that patching the kernel with
its own table changes nothing), then times N alternating rounds (default 7) of
`kslink-patch --in-place` and `kslink-patch -o` and prints median wall and CPU times and
peak RSS of each, the difference, and the time of the copy alone.

  --rounds N      timed rounds (default 7; one untimed verification round runs first)
  --vmlinux FILE  use this x86_64 Linux 6.12 ELF file (all symbols, absolute per-cpu)
  --dir DIR       write the patched files in DIR (default: the temporary directory); put it
                  on a reflink file system to see what -o costs there
  --keep          keep the temporary directory and print its path

Environment: TMPDIR chooses where the temporary directory goes (default /tmp); KSLINK_CACHE
the cache directory (default target/kslink-cache).
Exit status: 0 done, 2 error (setup, or a patched file is wrong).
EOF
}

rounds=7
vmlinux=
outdir=
value_options=([--vmlinux]=vmlinux [--dir]=outdir)
parse_options "$@"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

need cargo cmp cp awk sort stat

work=
# The outputs' directory under --dir, kept or removed with the temporary one.
at_exit() {
    [[ -n $work ]] || return 0
    if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
make_tmp
mkdir -p "$tmp/bin" "$tmp/prep"
if [[ -n $outdir ]]; then
    [[ -d $outdir ]] || die "no such directory: $outdir"
    work=$(mktemp -d "$outdir/kslink-bench.XXXXXX")
    out=$work
else
    out=$tmp/out
    mkdir -p "$out"
fi

# ---- build ----------------------------------------------------------------------------------

echo "building the stages and the kslink-tests helpers (release)..." >&2
cd "$root"
# The JSON messages name the executables wherever the target directory is.
build_json=$(cargo build --release -p kslink-collect -p kslink-table -p kslink-locate \
    -p kslink-patch -p kslink-tests --bins --message-format=json-render-diagnostics) ||
    die "cargo build failed"
for exe in kslink-collect kslink-table kslink-locate kslink-patch exact-frame debian-vmlinux; do
    built=$(grep -o "\"executable\":\"[^\"]*/$exe\"" <<<"$build_json" | tail -n 1 |
        sed 's/^"executable":"//; s/"$//')
    [[ -n $built && -x $built ]] || die "cannot find the $exe executable cargo built"
    # Private copies: a concurrent `cargo build` must not swap a binary under the benchmark.
    cp "$built" "$tmp/bin/$exe"
done
bin=$tmp/bin
if [[ -z $vmlinux ]]; then
    vmlinux=$("$bin/debian-vmlinux") || die "cannot get Debian's vmlinux (see above)"
fi
[[ -f $vmlinux ]] || die "no such file: $vmlinux"

ks_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- stages schema 2>/dev/null) ]]; then
    ks_rev+=+dirty
fi

# ---- prepare (untimed) ----------------------------------------------------------------------

echo "preparing the tables, the frame and the location..." >&2
prep=$tmp/prep
flags=(--all-symbols --absolute-percpu)
"$bin/kslink-collect" --linked "$vmlinux" --emit-map "$prep/System.map" ||
    die "kslink-collect failed"
# Every tenth symbol left out, never those the generator takes its ranges from.
awk 'NR % 10 != 5 || $3 ~ /^(_text|_stext|_etext|_sinittext|_einittext|__per_cpu_(start|end))$/' \
    "$prep/System.map" >"$prep/changed.map"
"$bin/kslink-table" "${flags[@]}" -o "$prep/own.table" "$prep/System.map" ||
    die "kslink-table failed on the kernel's System.map"
"$bin/kslink-table" "${flags[@]}" -o "$prep/changed.table" "$prep/changed.map" ||
    die "kslink-table failed on the changed map"
"$bin/exact-frame" "$prep/own.table" "$prep/frame.pad" || die "exact-frame failed"
# The input is a copy in the output directory: a reflink needs both on one file system.
input=$out/input.elf
cp "$vmlinux" "$input"
cp "$vmlinux" "$out/in-place.elf"
"$bin/kslink-locate" --frame "$prep/frame.pad" -o "$prep/location" "$input" ||
    die "kslink-locate failed"

# ---- the commands ---------------------------------------------------------------------------

patch_with() { # TABLE OUTPUT-OPTIONS...
    local table=$1
    shift
    measure "$bin/kslink-patch" --location "$prep/location" --table "$table" \
        --report "$tmp/report" "$@"
}
# --in-place alternates between the changed table and the kernel's own, so that each run
# rewrites the arrays.
in_place_table=$prep/changed.table
in_place() {
    patch_with "$in_place_table" --in-place "$out/in-place.elf"
    if [[ $in_place_table == "$prep/changed.table" ]]; then
        in_place_table=$prep/own.table
    else
        in_place_table=$prep/changed.table
    fi
}
copy_o() { patch_with "$prep/changed.table" -o "$out/patched.elf" "$input"; }
copy_only() { measure cp "$input" "$out/copy.elf"; }
# What each case writes anew, removed before its run.
declare -A outputs=([in_place]="" [copy_o]="patched.elf" [copy_only]="copy.elf")

# ---- verify once ----------------------------------------------------------------------------

echo "verifying (untimed round)..." >&2
patch_with "$prep/own.table" -o "$out/patched.elf" "$input"
cmp -s "$vmlinux" "$out/patched.elf" ||
    die "patching the kernel with its own table changed it; use --keep to inspect"
timed copy_o
timed in_place
cmp -s "$out/patched.elf" "$out/in-place.elf" ||
    die "-o and --in-place wrote different files; use --keep to inspect"
timed in_place # back to the kernel's own table
cmp -s "$vmlinux" "$out/in-place.elf" ||
    die "--in-place with the kernel's own table did not restore it; use --keep to inspect"

cases=(in_place copy_o)
run_rounds
copies=""
for ((r = 1; r <= rounds; r++)); do
    timed copy_only
    copies+="$elapsed "
done

# ---- report ---------------------------------------------------------------------------------

size=$(stat -c %s "$vmlinux")
fs=$(stat -f -c %T "$out")
nsyms=$(wc -l <"$prep/System.map")
nsyms=${nsyms//[!0-9]/}
plural=s
((rounds > 1)) || plural=
echo "kslink-patch -o against --in-place, $(basename "$vmlinux") ($((size / 1048576)) MiB, $nsyms symbols), outputs on $fs, $rounds round$plural"
echo "kslink $ks_rev; medians of wall and CPU (user+sys) time, max of peak RSS; $(nproc 2>/dev/null || echo ?) CPUs, load average $load1 before timing"
line() { # LABEL CASE
    awk -v l="$1" -v w="$(median "${walls[$2]}")" -v c="$(median "${cpus[$2]}")" \
        -v r="$(maximum "${rsss[$2]}")" \
        'BEGIN { printf "%-24s %7.3f s    cpu %7.3f s    RSS %5.1f MiB\n", l, w / 1e6, c / 1e3, r / 1024 }'
}
line "--in-place" in_place
line "-o (copy+patch+rename)" copy_o
awk -v i="$(median "${walls[in_place]}")" -v o="$(median "${walls[copy_o]}")" \
    -v c="$(median "$copies")" \
    'BEGIN { printf "%-24s %+7.3f s    (%.2fx --in-place); the copy alone (cp): %.3f s\n", "cost of -o", (o - i) / 1e6, o / i, c / 1e6 }'
