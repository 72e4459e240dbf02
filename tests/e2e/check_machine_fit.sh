#!/usr/bin/env bash
# Phase 1 refuses, before anything is touched, an image this machine cannot
# resume exactly: one dumped on another kernel (different vdso), by a CPU
# with XSAVE features this one lacks or a different XSAVE size, with a
# working directory missing here, or owned by another user. Each variant is
# made from a real image by tests/tools/image_edit (checksums recomputed, so
# only the named field differs). Each refusal: exit 1, one line on stderr
# naming the reason, nothing on stdout, and the caller never became the
# saved program. The unedited image restores, so the refusals are about the
# field and nothing else.
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"

seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
start run "$PROGRAMS/counter" "$WORK/data"
send run a b
wait_lines run 2
dump run "$WORK/good.ckpt"

# refused NAME PATTERN FIELD=VALUE...
refused() {
  local name=$1 pattern=$2 rc
  shift 2
  "$EDIT" "$WORK/good.ckpt" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  printf 'c\n' | "$RESTORE" "$WORK/$name.ckpt" >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  ((rc == 1)) || fail "$name: restore exited $rc, expected 1: $(cat "$WORK/$name.err")"
  [[ -s $WORK/$name.out ]] && fail "$name: restore printed on stdout (it became the counter)"
  (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: expected one line on stderr: $(cat "$WORK/$name.err")"
  grep -qE "$pattern" "$WORK/$name.err" || fail "$name: the message does not say why: $(cat "$WORK/$name.err")"
  log "refused $name: $(cat "$WORK/$name.err")"
}

refused other-kernel 'vdso differs.*another kernel' vdso_hash=0x1234
refused cpu-features 'this CPU cannot resume' xfeatures=0x60007
refused xsave-size 'this CPU cannot resume' xsave_size=4096
refused missing-cwd 'working directory /nonexistent/dir is missing' cwd=/nonexistent/dir
refused other-owner 'belongs to uid 4242' uid=4242 gid=4242

# The same image, edited in nothing, restores and carries on.
"$EDIT" "$WORK/good.ckpt" "$WORK/same.ckpt" cwd="$(pwd -P)" || fail "image_edit (no-op) failed"
printf 'c\n' | "$RESTORE" "$WORK/good.ckpt" >"$WORK/good.out" 2>"$WORK/good.err" ||
  fail "the unedited image did not restore: $(cat "$WORK/good.err")"
grep -q '^step 3 ' "$WORK/good.out" || fail "the restored counter did not carry on: $(cat "$WORK/good.out")"
