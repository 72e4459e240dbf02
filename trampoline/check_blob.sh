#!/usr/bin/env bash
# Build-time proof that the trampoline is freestanding and position-
# independent: fails the build if the object uses any relocation that is not
# PC-relative, if it has writable data, if the linked blob has an undefined
# symbol or a relocation, or if any allocated section lies outside .blob.
# Usage: check_blob.sh OBJECT ELF
set -euo pipefail
obj=$1 elf=$2
fail() { echo "trampoline check failed: $*" >&2; exit 1; }

bad_relocs=$(readelf -rW "$obj" | awk '/^[0-9a-f]+ +[0-9a-f]+ +R_X86_64/ {print $3}' |
             grep -Ev '^R_X86_64_(PC32|PLT32|PC64)$' || true)
[ -z "$bad_relocs" ] || fail "$obj has absolute or GOT relocations: $(echo $bad_relocs | tr '\n' ' ')"

undefined=$(nm -u "$elf" || true)
[ -z "$undefined" ] || fail "undefined symbols: $undefined"

readelf -rW "$elf" | grep -q 'There are no relocations in this file' || fail "$elf has relocations"
readelf -dW "$elf" | grep -q 'There is no dynamic section' || fail "$elf has a dynamic section"

# Every allocated section (flag A) must be .blob.
others=$(readelf -SW "$elf" | awk '/^ *\[ *[0-9]+\]/ { sub(/^ *\[ *[0-9]+\] */, ""); if ($7 ~ /A/) print $1 }' |
         grep -v '^\.blob$' || true)
[ -z "$others" ] || fail "sections outside the blob: $others"

# No writable data: the blob is copied fresh for each restore and must not
# depend on state from a previous use.
for sec in .data .bss; do
  size=$(readelf -SW "$obj" | awk -v s="$sec" '$2 == s {print $6}' | head -n1)
  [ -z "$size" ] || [ $((16#$size)) -eq 0 ] || fail "$obj has $((16#$size)) bytes of $sec"
done
echo "trampoline blob is freestanding: no relocations, no undefined symbols, one section"
