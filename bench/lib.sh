#!/usr/bin/env bash
# Shared by the bench scripts: measuring one command, alternating timed rounds and the report
# lines. The sourcing script defines `die`, `tmp` (its temporary directory), `errlog` and
# `gnu_time` (GNU time's path) before it measures; for the rounds, `cases` (pairs: upstream
# case, kslink case), `rounds`, and `timed CASE`, which runs one case and sets `elapsed`
# (microseconds), `cpu` and `rss` (KiB); it may set `label_width` for the report.

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
        echo "$0: command failed: $*" >&2
        sed -n 1,40p "$errlog" >&2
        exit 2
    fi
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

