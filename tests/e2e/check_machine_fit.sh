#!/usr/bin/env bash
# Phase 1 refuses, before anything is touched, an image this machine cannot
# resume exactly: one dumped on another kernel (different vdso), by a CPU
# with XSAVE features this one lacks or a different XSAVE size, with a
# working directory missing here, or owned by another user. Each variant is
# made from a real image by tests/tools/image_edit (checksums recomputed, so
# only the named field differs). Each refusal: exit 1, one line on stderr
# naming the reason, nothing on stdout, and the caller never became the
# saved program. The control, the image edited by the same tool with every
# field at its own value, restores, so the refusals are about the fields'
# values and nothing else.
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
# Bit 62 of XCR0 is reserved: no CPU offers it (a named feature such as
# AMX, bits 17-18, may well be present on the machine that runs this).
refused cpu-features 'this CPU cannot resume.*lacks the XSAVE feature' xfeatures_or=0x4000000000000000
refused xsave-size 'this CPU cannot resume' xsave_size=4096
refused missing-cwd 'working directory /nonexistent/dir is missing' cwd=/nonexistent/dir
refused other-owner 'belongs to uid 4242' uid=4242 gid=4242

# The control: the same image through the same editor, every edited field
# set to the value it already had (the owner is this caller, the working
# directory this one's, where the counter was dumped), restores and carries
# on. So the editor itself makes restorable images, and each refusal above
# is about its field's value and nothing else.
"$EDIT" "$WORK/good.ckpt" "$WORK/same.ckpt" cwd="$(pwd -P)" uid="$(id -u)" gid="$(id -g)" ||
  fail "image_edit (the control) failed"
cmp -s "$WORK/good.ckpt" "$WORK/same.ckpt" && fail "image_edit wrote the control image byte for byte unchanged"
printf 'c\n' | "$RESTORE" "$WORK/same.ckpt" >"$WORK/same.out" 2>"$WORK/same.err" ||
  fail "the edited control image did not restore: $(cat "$WORK/same.err")"
grep -q '^step 3 ' "$WORK/same.out" || fail "the restored control counter did not carry on: $(cat "$WORK/same.out")"
log "the edited control image restored and carried on: $(grep '^step 3 ' "$WORK/same.out")"
