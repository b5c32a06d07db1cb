#!/usr/bin/env bash
# Benchmark: kslink-collect against `nm -n | sed -f scripts/mksysmap` on Debian's real vmlinux.
#
# Times both whole-process, alternating upstream and kslink runs, and prints the median wall
# times, their ratio, the peak RSS of each and PASS/FAIL against the target:
#
#   A  vmlinux -> System.map: `kslink-collect --linked V --emit-map OUT`
#      vs `nm -n V | sed -f scripts/mksysmap > OUT`                                 >= 3x
#   plus, without a target: the SymbolSet artifact (`-o`) and the unfiltered listing
#   (`--emit-nm` vs `nm -n V > OUT`).
#
# The time lines also show the ratio of median CPU (user + system) times, which a loaded
# machine disturbs less than wall time. The loop is the script's own, so that upstream and
# kslink alternate within each round, and GNU time records peak RSS.
#
# The vmlinux is Debian's linux-image-6.12.117+deb12-amd64-dbg one (354 MB, with DWARF), the
# kernel of tests/data's System.map, kept in the test cache as the tests keep it
# (`$KSLINK_CACHE`, else target/kslink-cache, file vmlinux-6.12.117+deb12-amd64); if it is
# not there this script downloads the package (about 1 GB, with `apt-get download`),
# extracts only the vmlinux and deletes the .deb. Upstream's mksysmap comes from the cache
# too, through the kslink-tests helper `upstream-kallsyms`, as bench/table.sh gets its tools.
#
# Needs: cargo, nm and sed, cmp (diffutils), GNU time at /usr/bin/time (`time`); to fetch the
# vmlinux, apt-get, dpkg-deb and tar.
# Exit status: 0 target met, 1 target missed, 2 usage or setup error, or the outputs of
# kslink and upstream differ.

set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/collect.sh [--rounds N] [--vmlinux FILE] [--keep] [-h|--help]

Builds kslink-collect (release), gets Debian's 6.12.117 vmlinux (cached; downloaded once)
and upstream's scripts/mksysmap 6.12 (cached), checks once that kslink-collect writes the
same System.map as `nm -n | sed -f mksysmap`, then times N alternating rounds (default 7)
and prints median wall times, ratios and peak RSS against the target (and, for reference,
the ratio of median user+sys CPU times).

  --rounds N      timed rounds (default 7; one untimed warm-up/verification round runs first)
  --vmlinux FILE  use this ELF file instead of Debian's vmlinux
  --keep          keep the temporary directory (binaries, outputs) and print its path

Environment: TMPDIR chooses where the temporary directory goes (default /tmp); KSLINK_CACHE
the cache directory (default target/kslink-cache).
Exit status: 0 target met, 1 target missed, 2 error (setup, or outputs differ).
EOF
}

rounds=7
vmlinux=
value_options=([--vmlinux]=vmlinux)
parse_options "$@"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KSLINK_CACHE:-$root/target/kslink-cache}

need cargo nm sed cmp awk sort

make_tmp
mkdir -p "$tmp/bin" "$tmp/out"

# ---- the vmlinux --------------------------------------------------------------------------

package=linux-image-6.12.117+deb12-amd64-dbg
member=./usr/lib/debug/boot/vmlinux-6.12.117+deb12-amd64
if [[ -z $vmlinux ]]; then
    vmlinux=$cache/vmlinux-6.12.117+deb12-amd64
    if [[ ! -f $vmlinux ]]; then
        for tool in apt-get dpkg-deb tar; do
            command -v "$tool" >/dev/null || die "'$tool' not found in PATH (needed to fetch the vmlinux)"
        done
        mkdir -p "$cache"
        work=$(mktemp -d "$cache/.vmlinux-XXXXXX")
        echo "fetching $package (about 1 GB) into $cache..." >&2
        deb=$(find "$cache" -maxdepth 1 -name "${package}_*.deb" | sort | tail -n 1)
        if [[ -z $deb ]]; then
            (cd "$work" && apt-get download "$package" >&2) ||
                { rm -rf "$work"; die "apt-get download $package failed (run apt-get update?)"; }
            deb=$(find "$work" -maxdepth 1 -name "${package}_*.deb" | head -n 1)
        fi
        # tar stops after the one member; dpkg-deb then dies of SIGPIPE, which is expected.
        (cd "$work" && { dpkg-deb --fsys-tarfile "$deb" 2>/dev/null || true; } |
            tar -x --occurrence=1 "$member") ||
            { rm -rf "$work"; die "cannot extract $member from $deb"; }
        mv "$work/$member" "$vmlinux"
        rm -f "$deb"
        rm -rf "$work"
    fi
fi
[[ -f $vmlinux ]] || die "no such file: $vmlinux"

# ---- build ----------------------------------------------------------------------------------

echo "building kslink-collect (release) and getting upstream's mksysmap..." >&2
cd "$root"
# The JSON messages name the executable wherever the target directory is.
build_json=$(cargo build --release -p kslink-collect --bin kslink-collect \
    --message-format=json-render-diagnostics) || die "cargo build of kslink-collect failed"
ks_built=$(grep -o '"executable":"[^"]*kslink-collect"' <<<"$build_json" | tail -n 1 |
    sed 's/^"executable":"//; s/"$//')
[[ -n $ks_built && -x $ks_built ]] || die "cannot find the kslink-collect executable cargo built"
kallsyms=$(cargo run --release -q -p kslink-tests --bin upstream-kallsyms -- 6.12) ||
    die "cannot get upstream's 6.12 sources from the kslink-tests helper upstream-kallsyms (see above)"
mksysmap_src=$(dirname "$kallsyms")/src-6.12/scripts/mksysmap
[[ -f $mksysmap_src ]] || die "no mksysmap at $mksysmap_src"

# Private copies: a concurrent `cargo build` must not swap the binary under the benchmark.
cp "$ks_built" "$tmp/bin/kslink-collect"
cp "$mksysmap_src" "$tmp/bin/mksysmap"
ks=$tmp/bin/kslink-collect
mksysmap=$tmp/bin/mksysmap
nm_path=$(command -v nm)
nm_version=$(nm --version | head -n 1)

ks_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- stages schema 2>/dev/null) ]]; then
    ks_rev+=+dirty
fi

# ---- the commands -----------------------------------------------------------------------------

out=$tmp/out

# The cases, one run each. `outputs` lists what each writes (removed before its run).
declare -A outputs=(
    [up_map]="up.map" [ks_map]="ks.map"
    [up_set]="up-set.map" [ks_set]="ks.symbols"
    [up_nm]="up.nm" [ks_nm]="ks.nm"
)
# As Kbuild's link-vmlinux.sh runs it (the verification round's cmp catches a failing nm).
up_map() { measure sh -c '"$1" -n "$2" | sed -f "$3" >"$4"' sh "$nm_path" "$vmlinux" "$mksysmap" "$out/up.map"; }
ks_map() { measure "$ks" --linked "$vmlinux" --emit-map "$out/ks.map"; }
up_set() { measure sh -c '"$1" -n "$2" | sed -f "$3" >"$4"' sh "$nm_path" "$vmlinux" "$mksysmap" "$out/up-set.map"; }
ks_set() { measure "$ks" --linked "$vmlinux" -o "$out/ks.symbols"; }
up_nm() { measure "$nm_path" -n "$vmlinux" >"$out/up.nm"; }
ks_nm() { measure "$ks" --linked "$vmlinux" --emit-nm "$out/ks.nm"; }

cases=(up_map ks_map up_set ks_set up_nm ks_nm)

# ---- verify once (also the warm-up round) ---------------------------------------------------

echo "verifying outputs (warm-up round)..." >&2
for c in "${cases[@]}"; do timed "$c"; done
cmp "$out/up.map" "$out/ks.map" >&2 ||
    die "kslink-collect's System.map differs from nm -n | sed -f mksysmap ($out/up.map vs $out/ks.map); use --keep to inspect"
cmp "$out/up.nm" "$out/ks.nm" >&2 ||
    die "kslink-collect --emit-nm differs from nm -n; use --keep to inspect"
[[ -s $out/ks.symbols ]] || die "kslink-collect -o wrote no artifact"
nsyms=$(wc -l <"$out/ks.map")
nsyms=${nsyms//[!0-9]/}
nall=$(wc -l <"$out/ks.nm")
nall=${nall//[!0-9]/}

label_width=20
run_rounds

plural=s
((rounds > 1)) || plural=
size=$(stat -c %s "$vmlinux")
echo "kslink-collect vs nm -n | sed -f scripts/mksysmap (6.12), $(basename "$vmlinux") ($((size / 1048576)) MiB), $nsyms of $nall symbols, $rounds round$plural"
echo "kslink $ks_rev; $nm_version; medians of wall time, max of peak RSS; $(nproc 2>/dev/null || echo ?) CPUs, load average $load1 before timing"
time_line "A vmlinux -> map" up_map ks_map 3
rss_line "A RSS" up_map ks_map 0
time_line "vmlinux -> artifact" up_set ks_set 0
time_line "vmlinux -> nm -n" up_nm ks_nm 0
rss_line "nm -n RSS" up_nm ks_nm 0
echo "(upstream of 'artifact' is the same nm | sed pipeline: the artifact replaces the map."
echo " cpu: ratio of median user+sys CPU times, for reference; it varies less with load)"
exit "$failed"
