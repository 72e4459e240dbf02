#!/usr/bin/env bash
# The Python module (python/ckpt.py, ctypes over libckpt.so) and its pytest
# example. tests/e2e/libckpt_python.py checkpoints itself while another
# Python thread counts: the original is told so; three restored copies each
# have generation 1, an id of their own, the hook run and the thread
# counting; random.random() is the same in every copy until reseeded (what
# docs/libckpt.md warns about), then each copy's own. The dumper missing
# raises CkptError with code 2 and the process goes on. Then pytest runs
# python/examples (a warm SQLite worker checkpointed once, one fresh copy
# per test) and every test passes.
source "$(dirname "$0")/lib.sh"
# The programs below checkpoint themselves with what they inherit: nothing
# but 0-2 (an fd left open by the test runner would be an outside pipe end).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  ((fd > 2)) && eval "exec $fd>&-"
done

SRC=$(cd "$(dirname "$0")/../.." && pwd)
export CKPT_LIB=$(cd "$PROGRAMS/../../lib" && pwd)/libckpt.so
[[ -f $CKPT_LIB ]] || fail "libckpt.so not built at $CKPT_LIB"
export CKPT_BIN=$CKPT RESTORE PYTHONPATH=$SRC/python
/usr/bin/python3 -c 'import pytest' 2>/dev/null || fail "pytest is missing (apt-get install python3-pytest; .ci/deps lists it)"

img=$WORK/py.ckpt
timeout 120 /usr/bin/python3 "$(dirname "$0")/libckpt_python.py" "$img" </dev/null >"$WORK/orig.out" 2>"$WORK/orig.err" ||
  fail "the original failed"
grep -qx "original gen=0 id=0 hook=\[\] thread=True" "$WORK/orig.out" || fail "original: $(cat "$WORK/orig.out")"
for i in 1 2 3; do
  timeout 120 "$RESTORE" "$img" </dev/null >"$WORK/copy$i.out" 2>"$WORK/copy$i.err" || fail "copy $i: restore failed"
  grep -q "^copy gen=1 id=[0-9a-f]\{16\} hook=ran thread=True " "$WORK/copy$i.out" || fail "copy $i: $(cat "$WORK/copy$i.out")"
done
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" "$WORK"/copy[123].out | sort -u | wc -l; }
(($(field id) == 3)) || fail "the copies' ids are not all different"
(($(field same) == 1)) || fail "random.random() before reseeding differs between copies (expected the same)"
(($(field own) == 3)) || fail "random.random() after random.seed() is not each copy's own"
log "module: original and three copies told apart; random is the same until the hook reseeds it"

CKPT_BIN=$WORK/no-ckpt timeout 60 /usr/bin/python3 "$(dirname "$0")/libckpt_python.py" --error >"$WORK/err.out" 2>&1 ||
  fail "error case: $(cat "$WORK/err.out")"
grep -q '^error 2 CKPT_BIN=.*no-ckpt' "$WORK/err.out" || fail "error case: $(cat "$WORK/err.out")"

cd "$WORK" || fail "cd"
CKPT_FIXTURE_ROWS=20000 timeout 600 /usr/bin/python3 -m pytest -q -p no:cacheprovider --basetemp="$WORK/pytest" \
  "$SRC/python/examples" >"$WORK/pytest.out" 2>&1 || fail "pytest failed: $(tail -30 "$WORK/pytest.out")"
grep -q '^6 passed' "$WORK/pytest.out" || fail "pytest: $(tail -5 "$WORK/pytest.out")"
log "pytest example: $(grep passed "$WORK/pytest.out")"
log PASS
