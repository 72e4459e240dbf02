#!/usr/bin/env bash
# `make -j2` of a small C project, dumped mid-build and restored as a tree
# (issue 13): make, its jobserver pipe (tokens in flight between make and
# the jobs it runs) and a running recipe. One recipe waits for a file to
# appear (not for stdin: make hands it to one job only), so the dump finds
# the build half done; after restore the build completes, and the program
# it made works.
source "$(dirname "$0")/lib.sh"
command -v make >/dev/null && command -v cc >/dev/null || { echo "check_tree_make: SKIP: no make or cc" >&2; exit 77; }

mkdir "$WORK/src"
cd "$WORK/src" || fail "cd"
for n in 1 2 3 4; do
  printf 'int part%d(void) { return %d; }\n' "$n" "$((n * 10))" >"part$n.c"
done
cat >main.c <<'EOF'
#include <stdio.h>
int part1(void), part2(void), part3(void), part4(void);
int main(void) { printf("total %d\n", part1() + part2() + part3() + part4()); return 0; }
EOF
# part3 and part4 wait behind the gate, which waits for the test's line.
cat >Makefile <<'EOF'
prog: main.o part1.o part2.o part3.o part4.o
	cc -o $@ $^
part3.o part4.o: | gate
gate:
	@echo "at the gate" >&2; while [ ! -e go ]; do sleep 0.1; done; echo "through the gate" >&2
%.o: %.c
	cc -c -o $@ $<
.PHONY: gate
EOF
start build make -j2 -C "$WORK/src"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ -f main.o && -f part1.o && -f part2.o ]] && grep -q 'at the gate' "$WORK/build.err" && break
  sleep 0.05
done
grep -q 'at the gate' "$WORK/build.err" || fail "make did not reach the gate"
[[ -f main.o && -f part1.o && -f part2.o && ! -f part3.o && ! -f prog ]] || fail "the build is not half done: $(ls)"
dump build "$WORK/build.ckpt"
restore_start back "$WORK/build.ckpt"
touch go
wait_exit back 0
grep -q 'through the gate' "$WORK/back.err" || fail "the restored gate did not go on"
[[ -x prog ]] || fail "the restored make did not link prog"
[[ $(./prog) == "total 100" ]] || fail "prog prints '$(./prog)'"
log "make -j2 dumped mid-build completed after restore; prog prints $(./prog)"
