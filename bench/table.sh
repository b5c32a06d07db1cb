#!/usr/bin/env bash
# Benchmark: kslink-table against upstream's scripts/kallsyms on Debian's real System.map.
#
# Times both tools whole-process, alternating upstream and kslink runs, and prints the
# median wall times, their ratio, the peak RSS of each and PASS/FAIL against the targets:
#
#   A  map -> object: `kslink-table --emit-object` vs upstream `kallsyms > .S` + `gcc -c`  >= 8x
#   B  map -> asm:    `kslink-table --emit-asm`    vs upstream `kallsyms > .S`             >= 4x
#   C  peak RSS of kslink-table (A and B) vs upstream kallsyms                             <= 2x
#   plus the 6.1 profile (map -> asm, --base-relative), no target.
#
# The time lines also show, for reference, the ratio of median CPU (user + system) times,
# which a loaded machine disturbs less than wall time. The loop is the script's own, not
# hyperfine's: hyperfine runs all of one command's runs before the next command's, while
# here upstream and kslink alternate within each round, and GNU time records peak RSS.
#
# Needs: cargo, gcc, xz (xz-utils), cmp (diffutils), GNU time at /usr/bin/time (`time`).
# Exit status: 0 all targets met, 1 some target missed, 2 usage or setup error, or the
# outputs of kslink and upstream differ.

set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/table.sh [--rounds N] [--keep] [-h|--help]

Builds kslink-table (release) and upstream's scripts/kallsyms 6.12 and 6.1 (cached, via
`cargo run -p kslink-tests --bin upstream-kallsyms`), checks once that both produce the same
.S for the Debian System.map in tests/data, then times N alternating rounds (default 7) of
upstream and kslink and prints median wall times, ratios and peak RSS against the targets
(and, for reference, the ratio of median user+sys CPU times).

  --rounds N   timed rounds (default 7; one untimed warm-up/verification round runs first)
  --keep       keep the temporary directory (map, binaries, outputs) and print its path

Environment: TMPDIR chooses where the temporary directory goes (default /tmp).
Exit status: 0 all targets met, 1 a target missed, 2 error (setup, or outputs differ).
EOF
}

rounds=7
parse_options "$@"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
map_xz=$root/tests/data/System.map-6.12.117+deb12-amd64.xz

need cargo gcc xz cmp awk sort
[[ -f $map_xz ]] || die "missing $map_xz"

make_tmp
mkdir -p "$tmp/bin" "$tmp/out" "$tmp/include/asm"

# ---- build ----------------------------------------------------------------------------------

echo "building kslink-table (release) and the upstream tools..." >&2
cd "$root"
# The JSON messages name the executable wherever the target directory is.
build_json=$(cargo build --release -p kslink-table --bin kslink-table \
    --message-format=json-render-diagnostics) || die "cargo build of kslink-table failed"
ks_built=$(grep -o '"executable":"[^"]*kslink-table"' <<<"$build_json" | tail -n 1 |
    sed 's/^"executable":"//; s/"$//')
[[ -n $ks_built && -x $ks_built ]] || die "cannot find the kslink-table executable cargo built"

up_path() {
    cargo run --release -q -p kslink-tests --bin upstream-kallsyms -- "$1" ||
        die "cannot get upstream's kallsyms $1 from the kslink-tests helper upstream-kallsyms (see above)"
}
up612_built=$(up_path 6.12)
up61_built=$(up_path 6.1)

# Private copies: a concurrent `cargo build` must not swap the binary under the benchmark.
cp "$ks_built" "$tmp/bin/kslink-table"
cp "$up612_built" "$tmp/bin/kallsyms-6.12"
cp "$up61_built" "$tmp/bin/kallsyms-6.1"
ks=$tmp/bin/kslink-table
up612=$tmp/bin/kallsyms-6.12
up61=$tmp/bin/kallsyms-6.1

# Kbuild's <asm/bitsperlong.h>, as kslink_tests::asm::include_shim(Arch::X86_64) makes it.
echo '#define BITS_PER_LONG 64' >"$tmp/include/asm/bitsperlong.h"

map=$tmp/System.map
xz -dc "$map_xz" >"$map" || die "cannot decompress $map_xz"
nsyms=$(wc -l <"$map")
nsyms=${nsyms//[!0-9]/}

ks_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- stages schema 2>/dev/null) ]]; then
    ks_rev+=+dirty
fi

# ---- the commands -----------------------------------------------------------------------------

flags612=(--all-symbols --absolute-percpu)
flags61=(--all-symbols --base-relative --absolute-percpu)
out=$tmp/out

assemble() { # S O
    gcc -c -x assembler-with-cpp -I "$tmp/include" "$1" -o "$2" 2>"$errlog" || {
        echo "bench/table.sh: gcc -c $1 failed:" >&2
        sed -n 1,40p "$errlog" >&2
        exit 2
    }
}

# The cases, one run each. `outputs` lists what each writes (removed before its run).
declare -A outputs=(
    [up_obj]="up.S up.o" [ks_obj]="ks.o"
    [up_asm]="up.S" [ks_asm]="ks.S"
    [up_61]="up61.S" [ks_61]="ks61.S"
)
up_obj() {
    measure "$up612" "${flags612[@]}" "$map" >"$out/up.S"
    assemble "$out/up.S" "$out/up.o"
}
ks_obj() { measure "$ks" "${flags612[@]}" --emit-object "$out/ks.o" "$map"; }
up_asm() { measure "$up612" "${flags612[@]}" "$map" >"$out/up.S"; }
ks_asm() { measure "$ks" "${flags612[@]}" --emit-asm "$out/ks.S" "$map"; }
up_61() { measure "$up61" "${flags61[@]}" "$map" >"$out/up61.S"; }
ks_61() { measure "$ks" --profile linux-6.1 "${flags61[@]}" --emit-asm "$out/ks61.S" "$map"; }

# command run under GNU time: upstream's kallsyms, not gcc, in up_obj).

cases=(up_obj ks_obj up_asm ks_asm up_61 ks_61)

# ---- verify once (also the warm-up round) ---------------------------------------------------

echo "verifying outputs (warm-up round)..." >&2
for c in "${cases[@]}"; do timed "$c"; done
cmp "$out/up.S" "$out/ks.S" >&2 ||
    die "kslink-table's .S differs from upstream kallsyms 6.12's ($out/up.S vs $out/ks.S); use --keep to inspect"
cmp "$out/up61.S" "$out/ks61.S" >&2 ||
    die "kslink-table's 6.1 .S differs from upstream kallsyms 6.1's; use --keep to inspect"
[[ -s $out/ks.o ]] || die "kslink-table --emit-object wrote no object"
[[ -s $out/up.o ]] || die "gcc -c wrote no object"

run_rounds

# Upstream's peak RSS is that of kallsyms itself, the same command in A and B.
rsss[up_612]="${rsss[up_obj]} ${rsss[up_asm]}"
asm_share=$(awk -v a="$(median "${walls[up_obj]}")" -v s="$(median "${walls[up_asm]}")" \
    'BEGIN { printf "%.2f", (a - s) / 1e6 }')

plural=s
((rounds > 1)) || plural=
echo "kslink-table vs upstream scripts/kallsyms (6.12), Debian System.map, $nsyms symbols, $rounds round$plural"
echo "kslink $ks_rev; medians of wall time, max of peak RSS; $(nproc 2>/dev/null || echo ?) CPUs, load average $load1 before timing"
time_line "A map -> object" up_obj ks_obj 8
time_line "B map -> asm" up_asm ks_asm 4
rss_line "C RSS, object" up_612 ks_obj 2
rss_line "C RSS, asm" up_612 ks_asm 2
time_line "6.1 map -> asm" up_61 ks_61 0
rss_line "6.1 RSS, asm" up_61 ks_61 0
echo "(upstream A = kallsyms > .S, then gcc -c of the .S: about $asm_share s of it is gcc."
echo " cpu: ratio of median user+sys CPU times, for reference; it varies less with load)"
exit "$failed"
