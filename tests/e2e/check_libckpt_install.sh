#!/usr/bin/env bash
# libckpt as a user gets it: `cmake --install` into a fresh prefix puts
# libckpt.a, libckpt.so, ckpt/ckpt.h, ckpt.pc and ckpt.py there; the
# README's example (lib/examples/warm.c) builds with
# `pkg-config --cflags --libs ckpt` (shared) and with --static, runs,
# checkpoints itself and comes back from a restore as a copy.
source "$(dirname "$0")/lib.sh"
# The programs below checkpoint themselves with what they inherit: nothing
# but 0-2 (an fd left open by the test runner would be an outside pipe end).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  ((fd > 2)) && eval "exec $fd>&-"
done

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$PROGRAMS/../.." && pwd)
command -v pkg-config >/dev/null || fail "pkg-config is missing (.ci/deps lists it)"
cmake --install "$BUILD" --prefix "$WORK/inst" >"$WORK/install.out" 2>&1 || fail "cmake --install: $(tail -5 "$WORK/install.out")"
for f in include/ckpt/ckpt.h lib/pkgconfig/ckpt.pc lib/libckpt.a lib/libckpt.so lib/python3/dist-packages/ckpt.py; do
  found=$(find "$WORK/inst" -path "*/${f#lib/}" | head -1)
  [[ -n $found ]] || fail "cmake --install did not install $f"
done
pcdir=$(dirname "$(find "$WORK/inst" -name ckpt.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
cc -O1 -o "$WORK/warm" "$SRC/lib/examples/warm.c" $(pkg-config --cflags --libs ckpt) ||
  fail "the example does not build with pkg-config"
cc -O1 -static -o "$WORK/warm-static" "$SRC/lib/examples/warm.c" $(pkg-config --static --cflags --libs ckpt) ||
  fail "the example does not build statically"
libdir=$(pkg-config --variable=libdir ckpt)
cd "$WORK" || fail "cd"
for prog in warm warm-static; do
  rm -f warm.ckpt
  out=$(CKPT_BIN=$CKPT LD_LIBRARY_PATH=$libdir timeout 120 "./$prog" </dev/null 2>"$WORK/$prog.err") ||
    fail "$prog: $(cat "$WORK/$prog.err")"
  [[ $out == "saved warm.ckpt (sum "* ]] || fail "$prog printed '$out'"
  sum=${out##*sum }
  sum=${sum%)}
  copy=$(timeout 120 "$RESTORE" warm.ckpt </dev/null 2>"$WORK/$prog.restore.err") || fail "$prog: restore failed"
  [[ $copy == "copy "*" of generation 1: sum $sum at once" ]] || fail "$prog: the copy printed '$copy'"
done
log PASS
