#!/usr/bin/env bash
# Benchmark: the kernel's own scripts/link-vmlinux.sh against kslink's drop-in
# (examples/linux/link-vmlinux.sh), on a built kernel tree given as argument.
#
# Kbuild runs the script, as always, through `make -s vmlinux` after vmlinux is deleted; the
# time measured is the script's alone: the tree's scripts/link-vmlinux.sh is replaced, for
# the run, by a wrapper that times whichever script the round selects (upstream's, saved
# first, or the drop-in) and logs it. The selection is an environment variable, so Kbuild's
# command lines do not change between rounds and nothing else is rebuilt. An `ld` first on
# PATH logs the links of vmlinux (the ones with its linker script) and times them, a `kslink`
# first on PATH times the making of the BTF input view (`kslink btf view`, with the
# relocatable link for its symbol order that it runs beside its own work), and a `pahole`
# first on PATH times pahole, so that the report says where each script's time goes. Rounds alternate upstream and
# drop-in; the report gives each one's median wall time, its links, its median time in each
# tool, and the ratio.
# On exit the tree's own script is put back as it was.
#
# Needs: cargo, make and the kernel's build tools, GNU ld.
# Exit status: 0 done, 2 usage or setup error.

set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/linux.sh [--rounds N] [--ld LD] [--keep] TREE

Times TREE's own scripts/link-vmlinux.sh against kslink's drop-in, N alternating rounds
(default 5) of `rm vmlinux; make -s vmlinux`, and prints the median time of the script
alone, the vmlinux links each made, the median time in the vmlinux links, in making the
BTF input view (with the symbol-order link it runs) and in pahole (the rest is what else
the script runs), and the ratio. TREE is a built Linux 7.3, 6.12 or 6.1 tree (`make
vmlinux` done) whose scripts/link-vmlinux.sh is upstream's; it is restored on exit.
--ld ld.lld links with LLVM's lld (`make LD=ld.lld`: Kbuild first reconfigures and rebuilds
what depends on the linker, once); the default is GNU ld, Kbuild's own default. --keep
keeps the temporary directory (the scripts and the round logs) and prints its path.
EOF
}

rounds=5
ld=ld
tree=
value_options=([--ld]=ld)
positional=tree
parse_options "$@"
[[ -n $tree ]] || { usage >&2; exit 2; }
tree=$(cd "$tree" && pwd) || die "no tree at $tree"
script=$tree/scripts/link-vmlinux.sh
[[ -f $tree/vmlinux.a || -f $tree/vmlinux.o ]] || die "$tree is not a built kernel tree (no vmlinux.a)"
real_ld=$(command -v "$ld") || die "no linker $ld on PATH"
grep -q kslink "$script" && die "$script is not upstream's (it mentions kslink): restore it first"

repo=$(cd "$(dirname "$0")/.." && pwd)
(cd "$repo" && cargo build --release --workspace --bins -q) || die "cargo build failed"
bin=${CARGO_TARGET_DIR:-$repo/target}/release

make_tmp
cp -p "$script" "$tmp/upstream-link-vmlinux.sh"
cp "$repo/examples/linux/link-vmlinux.sh" "$tmp/dropin-link-vmlinux.sh"
at_exit() { cp -p "$tmp/upstream-link-vmlinux.sh" "$script"; }

# timed_tool NAME REAL CLASSIFY: a NAME first on PATH that runs REAL and appends to
# $tmp/tools the class that the shell code CLASSIFY puts in $class (nothing logged if
# empty) and the wall time in ns.
timed_tool() {
    cat >"$tmp/bin/$1" <<EOF
#!/bin/sh
class=
$3
start=\$(date +%s%N)
$2 "\$@"
status=\$?
[ -z "\$class" ] || echo "\$class \$((\$(date +%s%N) - start))" >> "$tmp/tools"
exit \$status
EOF
    chmod +x "$tmp/bin/$1"
}

mkdir "$tmp/bin"
timed_tool "$ld" "$real_ld" 'case " $* " in
*kernel/vmlinux.lds*) case " $* " in *" -o "*) echo "$*" >> "'"$tmp"'/links"; class=link ;; esac ;;
esac'
timed_tool kslink "$bin/kslink" 'case " $* " in *" btf view "*) class=view ;; esac'
if real_pahole=$(command -v pahole); then
    timed_tool pahole "$real_pahole" 'case " $* " in *" --version "*) ;; *) class=pahole ;; esac'
fi
cat >"$script" <<'EOF'
#!/bin/sh
# bench/linux.sh's timing wrapper: runs $KSLINK_BENCH_SCRIPT and logs its wall time (ns).
start=$(date +%s%N)
${CONFIG_SHELL:-sh} "$KSLINK_BENCH_SCRIPT" "$@"
end=$(date +%s%N)
echo $((end - start)) >> "$KSLINK_BENCH_LOG"
EOF

# A fixed build identity, so that the two scripts' outputs can be compared byte for byte
# (Kbuild would otherwise stamp each build with its own time and number).
export KBUILD_BUILD_TIMESTAMP=${KBUILD_BUILD_TIMESTAMP:-Thu Jan  1 00:00:00 UTC 2026}
export KBUILD_BUILD_VERSION=${KBUILD_BUILD_VERSION:-1}

# One round: relink with `variant`'s script; sets $ms and $links. The drop-in starts
# without its work directory: with unchanged inputs, kslink would skip the steps it has
# done (the table before the link), which a build after a change cannot.
run() {
    local variant=$1
    : >"$tmp/time" && : >"$tmp/links" && : >"$tmp/tools"
    rm -rf "$tree/vmlinux" "$tree/vmlinux.unstripped" "$tree/.tmp_kslink"
    KSLINK_BENCH_SCRIPT=$tmp/$variant-link-vmlinux.sh KSLINK_BENCH_LOG=$tmp/time \
        PATH=$tmp/bin:$bin:$PATH make -C "$tree" -s LD="$ld" vmlinux >"$tmp/make.log" 2>&1 ||
        { cat "$tmp/make.log" >&2; die "make vmlinux with the $variant script failed"; }
    ms=$(($(cat "$tmp/time") / 1000000))
    links=$(wc -l <"$tmp/links")
    tool_ms=$(awk '{ t[$1] += $2 } END { for (c in t) printf "%s=%d\n", c, t[c] / 1000000 }' "$tmp/tools")
}

# The tool classes a round logs, in report order.
classes=(link view pahole)

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# A first round of each, untimed: Kbuild relinks once after the script changes. Their
# outputs are compared: the same System.map, and a vmlinux that differs in the build-id only.
run upstream
cp "$tree/System.map" "$tmp/upstream.map"
cp "$tree/vmlinux" "$tmp/upstream.vmlinux"
run dropin
same_map=$(cmp -s "$tmp/upstream.map" "$tree/System.map" && echo identical || echo DIFFERENT)
differing=$(cmp -l "$tmp/upstream.vmlinux" "$tree/vmlinux" 2>/dev/null | wc -l || true)
rm -f "$tmp/upstream.vmlinux"
declare -A times links_of tool_times
for ((r = 1; r <= rounds; r++)); do
    for variant in upstream dropin; do
        run "$variant"
        times[$variant]+=" $ms"
        links_of[$variant]=$links
        for class in "${classes[@]}"; do
            t=$(sed -n "s/^$class=//p" <<<"$tool_ms")
            tool_times[$variant.$class]+=" ${t:-0}"
        done
    done
done

# breakdown VARIANT MS: its median time in each tool, and the rest of MS (everything else
# the script runs: nm, kallsyms, kslink, objcopy, resolve_btfids, the shell).
breakdown() {
    local class t sum=0 line=
    for class in "${classes[@]}"; do
        t=$(median "${tool_times[$1.$class]}")
        sum=$((sum + t))
        line+="$class $t ms, "
    done
    printf '      where: %srest %d ms\n' "$line" $(($2 - sum))
}
up=$(median "${times[upstream]}")
ours=$(median "${times[dropin]}")
echo "tree: $tree ($(make -C "$tree" -s kernelversion 2>/dev/null)), $ld, $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  upstream link-vmlinux.sh  %6d ms  %d links   (rounds:%s)\n' "$up" "${links_of[upstream]}" "${times[upstream]}"
breakdown upstream "$up"
printf '  kslink drop-in            %6d ms  %d link%s    (rounds:%s)\n' "$ours" "${links_of[dropin]}" \
    "$([[ ${links_of[dropin]} == 1 ]] || echo s)" "${times[dropin]}"
breakdown dropin "$ours"
awk -v a="$ours" -v b="$up" 'BEGIN { printf "  drop-in / upstream        %.2fx\n", a / b }'
echo "  outputs: System.map $same_map; vmlinux: $differing bytes differ (the build-id is 20)"
