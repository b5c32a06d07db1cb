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
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

rounds=7
parse_options "$@"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KSLINK_CACHE:-$root/target/kslink-cache}
tree=$cache/kernel-6.12

need cargo ld awk sort
[[ -f $tree/.kslink/complete ]] ||
    die "no 6.12 test kernel in $tree: build it with \`cargo test --release -p kslink-tests --test collect_predict\`"

make_tmp
mkdir -p "$tmp/bin" "$tmp/out"

# ---- build ----------------------------------------------------------------------------------

echo "building kslink, kslink-collect and kslink-table (release)..." >&2
cd "$root"
build_json=$(cargo build --release -p kslink -p kslink-collect -p kslink-table --bins \
    --message-format=json-render-diagnostics) || die "cargo build of the stages failed"
# Private copies: a concurrent `cargo build` must not swap a binary under the benchmark.
for name in kslink kslink-collect kslink-table; do
    built=$(grep -o "\"executable\":\"[^\"]*/$name\"" <<<"$build_json" | tail -n 1 |
        sed 's/^"executable":"//; s/"$//')
    [[ -n $built && -x $built ]] || die "cannot find the $name executable cargo built"
    cp "$built" "$tmp/bin/$name"
done
ks=$tmp/bin/kslink-collect
ld_version=$(ld --version | head -n 1)
ks_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- stages schema 2>/dev/null) ]]; then
    ks_rev+=+dirty
fi

# ---- the commands ---------------------------------------------------------------------------

out=$tmp/out
cd "$tree"

# The recorded final link, split into words (Kbuild's words have no spaces or quotes), with
# another output file; for kslink, without its output and kallsyms object (kslink names
# both), from vmlinux.o as Kbuild links, and from vmlinux.a (vmlinux.o is `ld -r
# --whole-archive vmlinux.a --start-group LIBS --end-group`).
read -r -a link <<<"$(sed -n 's/^final-link //p' "$tree/.kslink/complete")"
((${#link[@]})) || die "$tree/.kslink/complete records no final link"
libs=$(tr '\0' '\n' <"$tree/.kslink/link/env" | sed -n 's/^KBUILD_VMLINUX_LIBS=//p')
read -r -a lib_words <<<"$libs"
link_words=()
from_o=()
from_a=()
for ((i = 0; i < ${#link[@]}; i++)); do
    w=${link[i]}
    if [[ $w == -o ]]; then
        link_words+=(-o "$out/vmlinux")
        i=$((i + 1))
        continue
    fi
    link_words+=("$w")
    [[ $w == *kallsyms*.o ]] && continue
    from_o+=("$w")
    case $w in
    vmlinux.o) from_a+=(vmlinux.a) ;;
    --start-group) from_a+=(--start-group "${lib_words[@]}") ;;
    *) from_a+=("$w") ;;
    esac
done

# The predictions as `kslink link` runs them: the first command of its --dry-run, so that
# the bench reads the linker command line as the driver does (its script, inputs and
# linker); each writes WORK/predicted.symbols.
predict_command() { # NAME LINKER-WORDS...
    local name=$1 line
    shift
    mkdir -p "$tmp/$name.work"
    line=$("$tmp/bin/kslink" link --dry-run --all-symbols --profile linux-6.12 \
        -o "$out/$name.vmlinux" --work-dir "$tmp/$name.work" -- "$@" | head -n 1) ||
        die "kslink link --dry-run failed for the link from vmlinux.$name"
    [[ $line == *kslink-collect\ --predict\ * ]] ||
        die "kslink link --dry-run's first command is not the prediction: $line"
    eval "predict_$name=($line)"
}
predict_command o "${from_o[@]}"
predict_command a "${from_a[@]}"
link_o() { measure "${link_words[@]}"; }
predict_o() { measure "${predict_o[@]}"; }
# The link from vmlinux.a costs about the same as from vmlinux.o; the pair reuses it.
link_a() { link_o; }
predict_a() { measure "${predict_a[@]}"; }

cases=(link_o predict_o link_a predict_a)

# ---- verify once (also the warm-up round) ---------------------------------------------------

echo "verifying the predictions (warm-up round)..." >&2
for c in "${cases[@]}"; do timed "$c"; done
for p in o a; do
    "$ks" --compare "$tmp/$p.work/predicted.symbols" --linked vmlinux --all-symbols >"$out/$p.report" ||
        die "the prediction from vmlinux.$p is not exact: $(tail -n 1 "$out/$p.report"); see --keep"
done
nsyms=$(sed -n 's/^symbols: \([0-9]*\) predicted.*/\1/p' "$out/o.report")

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
