#!/usr/bin/env bash
# Shared by the bench scripts: their options and setup, measuring one command, alternating
# timed rounds and the report lines. The sourcing script sources this first, defines `usage`,
# and sets the defaults of its options (`rounds`) before `parse_options`; for the rounds it
# defines `cases` (pairs: upstream case, kslink case), the functions that run them, and may
# set `outputs` (the files in `$out` each case writes, removed before it runs) and
# `label_width` for the report.

bench=bench/${0##*/}
gnu_time=/usr/bin/time
keep=0
declare -A value_options=()
declare -A outputs=()

die() {
    echo "$bench: error: $*" >&2
    exit 2
}

# parse_options ARGS...: --rounds N, --keep, -h/--help (the script's `usage`), and every
# option named in `value_options` (`[--NAME]=variable`), each as `--NAME X` or `--NAME=X`;
# if `positional` names a variable, one word that is no option goes there. Anything else is
# a usage error (exit 2).
parse_options() {
    local option value var
    while (($#)); do
        option=$1
        case $option in
        -h | --help)
            usage
            exit 0
            ;;
        --keep)
            keep=1
            shift
            continue
            ;;
        --*=*)
            value=${option#*=}
            option=${option%%=*}
            ;;
        -*) value= ;;
        *)
            [[ -n ${positional:-} ]] || {
                usage >&2
                exit 2
            }
            printf -v "$positional" '%s' "$option"
            shift
            continue
            ;;
        esac
        case $option in
        --rounds) var=rounds ;;
        *) var=${value_options[$option]:-} ;;
        esac
        [[ -n $var ]] || {
            usage >&2
            exit 2
        }
        if [[ $1 != *=* ]]; then
            (($# >= 2)) || die "$option needs a value"
            value=$2
            shift
        fi
        printf -v "$var" '%s' "$value"
        shift
    done
    [[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"
}

# need TOOL...: each on PATH, and GNU time at $gnu_time.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "'$tool' not found in PATH"
    done
    [[ -x $gnu_time ]] && "$gnu_time" -f %M true >/dev/null 2>&1 ||
        die "GNU time not found at $gnu_time (apt-get install time)"
}

# make_tmp: the temporary directory `tmp` (in $TMPDIR, default /tmp), removed on exit unless
# --keep, after the script's `at_exit` if it defines one; INT and TERM end the script as a
# shell reports them.
make_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/kslink-bench.XXXXXX")
    errlog=$tmp/stderr.txt
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
cleanup() {
    if declare -F at_exit >/dev/null; then at_exit; fi
    if ((keep)); then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}

# now_us: wall clock in microseconds, into $now.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { now=${EPOCHREALTIME//[!0-9]/}; }
else
    now_us() { now=$(date +%s%6N); }
fi

# cpu_ms: user + system CPU time of all waited-for children so far, in ms, into $cpu_now
# (the `times` builtin, run in this shell: a subshell would count only its own children).
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

# measure CMD...: runs CMD under GNU time (stdout as redirected by the caller), which writes
# CMD's peak RSS (KiB; for `sh -c` the largest process of the pipeline) to $tmp/rss; exits 2
# with CMD's stderr if it fails.
measure() {
    if ! "$gnu_time" -f %M -o "$tmp/rss" "$@" 2>"$errlog"; then
        echo "$bench: command failed: $*" >&2
        sed -n 1,40p "$errlog" >&2
        exit 2
    fi
}

# timed CASE: runs the case function CASE once, its `outputs` removed first; sets elapsed
# (microseconds), cpu (ms) and rss (KiB, of the last command it measured).
timed() {
    local f t0 c0
    for f in ${outputs[$1]:-}; do rm -f "$out/$f"; done
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

# run_rounds: times every case `rounds` times, alternating upstream and kslink and swapping
# who goes first every other round; fills walls, cpus and rsss, and sets load1.
run_rounds() {
    read -r load1 _ 2>/dev/null </proc/loadavg || load1=unknown
    echo "timing $rounds round(s)..." >&2
    declare -gA walls cpus rsss
    for c in "${cases[@]}"; do
        walls[$c]=""
        cpus[$c]=""
        rsss[$c]=""
    done
    for ((r = 1; r <= rounds; r++)); do
        [[ -t 2 ]] && printf '\rround %d/%d ' "$r" "$rounds" >&2
        # Alternate upstream and kslink; swap who goes first every other round.
        for ((i = 0; i < ${#cases[@]}; i += 2)); do
            pair=("${cases[i]}" "${cases[i + 1]}")
            ((r % 2)) || pair=("${pair[1]}" "${pair[0]}")
            for c in "${pair[@]}"; do
                timed "$c"
                walls[$c]+="$elapsed "
                cpus[$c]+="$cpu "
                rsss[$c]+="$rss "
            done
        done
    done
    if [[ -t 2 ]]; then printf '\r%*s\r' 20 '' >&2; fi
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { tr ' ' '\n' <<<"$1" | grep . | sort -n | tail -n 1; }

failed=0
# time_line LABEL UPCASE KSCASE TARGET (0: none)
time_line() {
    local label=$1 up ks target=$4 verdict ratio cpu_ratio
    up=$(median "${walls[$2]}")
    ks=$(median "${walls[$3]}")
    ratio=$(awk -v u="$up" -v k="$ks" 'BEGIN { printf "%.1f", u / k }')
    cpu_ratio=$(awk -v u="$(median "${cpus[$2]}")" -v k="$(median "${cpus[$3]}")" \
        'BEGIN { if (k > 0) printf "%.1f", u / k; else printf "?" }')
    if [[ $target == 0 ]]; then
        verdict="(no target)"
    elif awk -v u="$up" -v k="$ks" -v t="$target" 'BEGIN { exit !(u >= t * k) }'; then
        verdict="(target >=${target}x)  PASS"
    else
        verdict="(target >=${target}x)  FAIL"
        failed=1
    fi
    awk -v l="$label" -v u="$up" -v k="$ks" -v r="$ratio" -v v="$verdict" -v c="$cpu_ratio" \
        -v w="${label_width:-16}" 'BEGIN { printf "%-*s upstream %7.3f s    kslink %7.3f s    %5sx  %-22s  cpu %sx\n", w, l, u / 1e6, k / 1e6, r, v, c }'
}
# rss_line LABEL UPCASE KSCASE TARGET (0: none)
rss_line() {
    local label=$1 up ks target=$4 verdict ratio
    up=$(maximum "${rsss[$2]}")
    ks=$(maximum "${rsss[$3]}")
    ratio=$(awk -v u="$up" -v k="$ks" 'BEGIN { printf "%.2f", k / u }')
    if [[ $target == 0 ]]; then
        verdict="(no target)"
    elif awk -v u="$up" -v k="$ks" -v t="$target" 'BEGIN { exit !(k <= t * u) }'; then
        verdict="(target <=${target}x)  PASS"
    else
        verdict="(target <=${target}x)  FAIL"
        failed=1
    fi
    awk -v l="$label" -v u="$up" -v k="$ks" -v r="$ratio" -v v="$verdict" \
        -v w="${label_width:-16}" 'BEGIN { printf "%-*s upstream %5.1f MiB    kslink %5.1f MiB    %5sx  %s\n", w, l, u / 1024, k / 1024, r, v }'
}

