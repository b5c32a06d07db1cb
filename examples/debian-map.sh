#!/usr/bin/env bash
# The table stage on real data, until `kslink demo` lands: build the kallsyms table of
# Debian's 6.12 kernel from its System.map (carried in tests/data), as an ELF object and as
# an artifact, decode both back the way the kernel reads them, and check that every symbol
# comes back with its address. Exits 0 only if all of that holds.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cargo build --release -q -p kslink-table -p kslink-verify
bin=$top/target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

xz -dc tests/data/System.map-6.12.117+deb12-amd64.xz > "$work/System.map"
text=$(awk '$3 == "_text" { print $1 }' "$work/System.map")
start=$(date +%s%N)
"$bin/kslink-table" --all-symbols --absolute-percpu \
  --emit-object "$work/kallsyms.o" -o "$work/kallsyms.table" "$work/System.map"
end=$(date +%s%N)
"$bin/kslink-verify" --check --text-address "$text" "$work/kallsyms.o" > "$work/from-object"
"$bin/kslink-verify" --check "$work/kallsyms.table" > "$work/from-artifact"
cmp -s "$work/from-object" "$work/from-artifact"

# Every decoded symbol must be in the map at the same address (per-cpu symbols are typed
# `A` by --absolute-percpu, so compare address and name).
missing=$(awk 'NR == FNR { seen[$1 " " $3] = 1; next } !(($1 " " $3) in seen)' \
  "$work/System.map" "$work/from-object" | wc -l)
symbols=$(wc -l < "$work/from-object")
size=$(stat -c %s "$work/kallsyms.o")
echo "kallsyms table of Debian 6.12.117: $symbols symbols, object $size bytes, built in $(( (end - start) / 1000000 )) ms"
echo "decoded from the object and the artifact: identical; symbols not in System.map: $missing"
head -3 "$work/from-object" | sed 's/^/  /'
[ "$missing" -eq 0 ] && [ "$symbols" -gt 160000 ]
