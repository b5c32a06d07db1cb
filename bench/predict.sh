#!/usr/bin/env bash
# Benchmark: kslink-collect --predict against the link it predicts, on the 6.12 test kernel.
#
# Times both whole-process, alternating link and prediction, and prints the median wall
# times, their ratio, the peak RSS of each and PASS/FAIL against the target:
#
#   A  the final link of the 6.12 tinyconfig kernel as Kbuild ran it (`ld … -T vmlinux.lds
#      -o OUT --whole-archive vmlinux.o init/version-timestamp.o … kallsyms.o`)
#      vs `kslink-collect --predict -T vmlinux.lds -o OUT` on the same inputs       >= 3x
#   plus, without a target: the prediction from vmlinux.a and the library archives instead
#   of vmlinux.o (the same link, as Kbuild does it without vmlinux.o), against that link.
#
# The kernel is the test fixture's (`tests/src/kernel.rs`): `$KSLINK_CACHE/kernel-6.12`,
# else target/kslink-cache/kernel-6.12, built by the tests (`cargo test --release -p
# kslink-tests --test collect_predict`, about 5 minutes the first time). The link command is
# the one the fixture recorded (`.kslink/complete`, line `final-link`), run in the tree with
# another output file.
#
# Needs: cargo, ld, GNU time at /usr/bin/time (`time`).
# Exit status: 0 target met, 1 target missed, 2 usage or setup error, or the prediction is
# not exact.

set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: bench/predict.sh [--rounds N] [--keep] [-h|--help]

Builds kslink-collect (release), checks once that its prediction for the 6.12 test kernel
is exact (`--compare`), then times N alternating rounds (default 7) of the kernel's final
link and of the prediction, and prints median wall times, ratios and peak RSS against the
target (and, for reference, the ratio of median user+sys CPU times).

  --rounds N      timed rounds (default 7; one untimed warm-up/verification round runs first)
  --keep          keep the temporary directory (binaries, outputs) and print its path

Environment: TMPDIR chooses where the temporary directory goes (default /tmp); KSLINK_CACHE
the cache directory (default target/kslink-cache).
Exit status: 0 target met, 1 target missed, 2 error (setup, or the prediction differs).
EOF
}

die() {
    echo "bench/predict.sh: error: $*" >&2
    exit 2
}

rounds=7
keep=0
while (($#)); do
    case $1 in
    --rounds)
        (($# >= 2)) || die "--rounds needs a number"
        rounds=$2
        shift 2
        ;;
    --rounds=*)
        rounds=${1#--rounds=}
        shift
        ;;
    --keep)
        keep=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gnu_time=/usr/bin/time
cache=${KSLINK_CACHE:-$root/target/kslink-cache}
tree=$cache/kernel-6.12

for tool in cargo ld awk sort; do
    command -v "$tool" >/dev/null || die "'$tool' not found in PATH"
done
[[ -x $gnu_time ]] && "$gnu_time" -f %M true >/dev/null 2>&1 ||
    die "GNU time not found at $gnu_time (apt-get install time)"
[[ -f $tree/.kslink/complete ]] ||
    die "no 6.12 test kernel in $tree: build it with \`cargo test --release -p kslink-tests --test collect_predict\`"

# The recorded final link, split into words (Kbuild's words have no spaces or quotes).
read -r -a link <<<"$(sed -n 's/^final-link //p' "$tree/.kslink/complete")"
((${#link[@]})) || die "$tree/.kslink/complete records no final link"
script=
inputs=()
after_output=0
for ((i = 0; i < ${#link[@]}; i++)); do
    w=${link[i]}
    case $w in
    --script=*) script=${w#--script=} ;;
    -T) script=${link[i + 1]} ;;
    esac
    if ((after_output)); then
        [[ $w == *kallsyms*.o ]] || inputs+=("$w")
    elif [[ $w == -o && ${link[i + 1]:-} == vmlinux ]]; then
        after_output=1
        i=$((i + 1))
    fi
done
[[ -n $script ]] || die "no linker script in the recorded link"
libs=$(tr '\0' '\n' <"$tree/.kslink/link/env" | sed -n 's/^KBUILD_VMLINUX_LIBS=//p')
# The same link from vmlinux.a: vmlinux.o is `ld -r --whole-archive vmlinux.a
# --start-group LIBS --end-group`.
archive_inputs=()
for w in "${inputs[@]}"; do
    case $w in
    vmlinux.o) archive_inputs+=(vmlinux.a) ;;
    --start-group)
        archive_inputs+=(--start-group)
        read -r -a lib_words <<<"$libs"
        archive_inputs+=("${lib_words[@]}")
        ;;
    *) archive_inputs+=("$w") ;;
    esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kslink-bench.XXXXXX")
cleanup() {
    if ((keep)); then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$tmp/bin" "$tmp/out"

# ---- build ----------------------------------------------------------------------------------

echo "building kslink-collect (release)..." >&2
cd "$root"
build_json=$(cargo build --release -p kslink-collect --bin kslink-collect \
    --message-format=json-render-diagnostics) || die "cargo build of kslink-collect failed"
ks_built=$(grep -o '"executable":"[^"]*kslink-collect"' <<<"$build_json" | tail -n 1 |
    sed 's/^"executable":"//; s/"$//')
[[ -n $ks_built && -x $ks_built ]] || die "cannot find the kslink-collect executable cargo built"
# A private copy: a concurrent `cargo build` must not swap the binary under the benchmark.
cp "$ks_built" "$tmp/bin/kslink-collect"
ks=$tmp/bin/kslink-collect
ld_version=$(ld --version | head -n 1)
ks_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- stages schema 2>/dev/null) ]]; then
    ks_rev+=+dirty
fi

# ---- the commands ---------------------------------------------------------------------------

out=$tmp/out
errlog=$tmp/stderr.txt
cd "$tree"

if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { now=${EPOCHREALTIME//[!0-9]/}; }
else
    now_us() { now=$(date +%s%6N); }
fi
# cpu_ms: user + system CPU time of all waited-for children so far, in ms, into $cpu_now.
cpu_ms() {
    local line u s
    times >"$tmp/times"
    {
        read -r line
        read -r u s
    } <"$tmp/times"
    cpu_now=$(($(to_ms "$u") + $(to_ms "$s")))
}
to_ms() { # 1m2.345s -> 62345
    [[ $1 =~ ^([0-9]+)m([0-9]+)\.([0-9]{3})s$ ]] || die "cannot parse \`times\` output '$1'"
    echo $(((10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]}) * 1000 + 10#${BASH_REMATCH[3]}))
}
measure() {
    if ! "$gnu_time" -f %M -o "$tmp/rss" "$@" 2>"$errlog"; then
        echo "bench/predict.sh: command failed: $*" >&2
        sed -n 1,40p "$errlog" >&2
        exit 2
    fi
}

# The recorded link with another output file.
link_words=()
for ((i = 0; i < ${#link[@]}; i++)); do
    if [[ ${link[i]} == -o && ${link[i + 1]:-} == vmlinux ]]; then
        link_words+=(-o "$out/vmlinux")
        i=$((i + 1))
    else
        link_words+=("${link[i]}")
    fi
done
link_o() { measure "${link_words[@]}"; }
predict_o() { measure "$ks" --predict -T "$script" -o "$out/o.symbols" "${inputs[@]}"; }
# The link from vmlinux.a costs about the same as from vmlinux.o; the pair reuses it.
link_a() { link_o; }
predict_a() { measure "$ks" --predict -T "$script" -o "$out/a.symbols" "${archive_inputs[@]}"; }

timed() {
    local t0 c0
    cpu_ms
    c0=$cpu_now
    now_us
    t0=$now
    "$1"
    now_us
    elapsed=$((now - t0))
    cpu_ms
    cpu=$((cpu_now - c0))
    rss=$(tail -n 1 "$tmp/rss")
}

cases=(link_o predict_o link_a predict_a)

# ---- verify once (also the warm-up round) ---------------------------------------------------

echo "verifying the predictions (warm-up round)..." >&2
for c in "${cases[@]}"; do timed "$c"; done
for p in o a; do
    "$ks" --compare "$out/$p.symbols" --linked vmlinux --all-symbols >"$out/$p.report" ||
        die "the prediction from vmlinux.$p is not exact: $(tail -n 1 "$out/$p.report"); see --keep"
done
nsyms=$(sed -n 's/^symbols: \([0-9]*\) predicted.*/\1/p' "$out/o.report")

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
label_width=24
run_rounds

plural=s
((rounds > 1)) || plural=
echo "kslink-collect --predict vs the final link (ld), Linux 6.12 tinyconfig test kernel, $nsyms symbols predicted exactly, $rounds round$plural"
echo "kslink $ks_rev; $ld_version; medians of wall time, max of peak RSS; $(nproc 2>/dev/null || echo ?) CPUs, load average $load1 before timing"
time_line "A predict from vmlinux.o" link_o predict_o 3
rss_line "A RSS" link_o predict_o 0
time_line "predict from vmlinux.a" link_a predict_a 0
rss_line "vmlinux.a RSS" link_a predict_a 0
echo "('upstream' is the link, 'kslink' the prediction of its symbols;"
echo " cpu: ratio of median user+sys CPU times, for reference; it varies less with load)"
exit "$failed"
