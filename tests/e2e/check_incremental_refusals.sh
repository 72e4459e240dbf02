#!/usr/bin/env bash
# What incremental dumps refuse, each with exit 1 and one line naming it,
# before anything happens:
#   dump: --parent of a process whose writes are not tracked; --parent with
#     an image that is not the last its tracking went on from (and the
#     tracking goes on, untouched, from the right one); --track of a process
#     with children; --track with --kill and --snapshot with --track (usage
#     errors, exit 2; a --snapshot dump of a tracked process copies its
#     tracked areas while stopped and says so); -o naming
#     the --parent image itself. A dump
#     that fails before re-protecting the pages leaves the tracking as it
#     was; one that fails after ends it (keeper gone, no `uw` area left),
#     and the next --parent is refused.
#   restore --lazy of an incremental image.
#   restore (and --check, verify): a missing parent; a parent replaced by
#     another image (checksum mismatch); a corrupt link (a parent whose
#     metadata or page data is damaged). A chain copied to another folder
#     together restores (each parent found beside its child).
source "$(dirname "$0")/lib.sh"

# refused WHAT STATUS PATTERN CMD...: CMD exits STATUS with one line on stderr matching PATTERN.
refused() {
  local what=$1 want=$2 pattern=$3 rc
  shift 3
  "$@" >"$WORK/r.out" 2>"$WORK/r.err"
  rc=$?
  ((rc == want)) || fail "$what: exited $rc, expected $want: $(head -n 3 "$WORK/r.err")"
  ((want == 2)) || (($(wc -l <"$WORK/r.err") == 1)) || fail "$what: expected one line on stderr: $(head -n 5 "$WORK/r.err")"
  grep -qE -- "$pattern" "$WORK/r.err" || fail "$what: the message does not say why: $(cat "$WORK/r.err")"
  log "refused, $what: $(head -n 1 "$WORK/r.err")"
}

incr() {
  local name=$1 img=$2 rc
  shift 2
  "$CKPT" dump "$(pid_of "$name")" -o "$img" "$@" >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $* -o $img exited $rc: $(cat "$WORK/dump.err")"
}

# A restore refused before anything: exit 1, one line, and no process came to be.
restore_refused() {
  local what=$1 pattern=$2 img=$3
  refused "restore --check, $what" 1 "$pattern" "$RESTORE" --check "$img"
  restore_start bad "$img"
  send bad "check 1"
  close_input bad
  wait_exit bad 1
  (($(wc -l <"$WORK/bad.err") == 1)) && grep -qE -- "$pattern" "$WORK/bad.err" ||
    fail "restore, $what: not refused in one line: $(head -n 5 "$WORK/bad.err")"
  [[ -s $WORK/bad.out ]] && fail "restore, $what: the restored program ran: $(head -n 3 "$WORK/bad.out")"
  log "refused, restore $what: $(cat "$WORK/bad.err")"
}

start t "$PROGRAMS/incr_chain"
wait_lines t 1
incr t "$WORK/plain.ckpt"
refused "--parent of an untracked process" 1 "its writes are not being tracked" \
  "$CKPT" dump "$PID_t" --parent "$WORK/plain.ckpt" -o "$WORK/x.ckpt"
refused "--track with --kill" 2 "not with --kill" "$CKPT" dump "$PID_t" --track --kill -o "$WORK/x.ckpt"
refused "--snapshot with --track" 2 "each write-protect the memory with a userfaultfd" \
  "$CKPT" dump "$PID_t" --snapshot --track -o "$WORK/x.ckpt"
incr t "$WORK/base.ckpt" --track
send t "step 1"
wait_lines t 2
incr t "$WORK/i1.ckpt" --parent "$WORK/base.ckpt" --track
refused "--parent with an older image of the chain" 1 "is not the last image its tracking went on from" \
  "$CKPT" dump "$PID_t" --parent "$WORK/base.ckpt" -o "$WORK/x.ckpt"
refused "-o naming the --parent image" 1 "is the --parent image" \
  "$CKPT" dump "$PID_t" --parent "$WORK/i1.ckpt" -o "$WORK/i1.ckpt"
refused "--parent with a missing image" 1 "--parent .*x-missing.ckpt" \
  "$CKPT" dump "$PID_t" --parent "$WORK/x-missing.ckpt" -o "$WORK/x.ckpt"
[[ -e $WORK/x.ckpt ]] && fail "a refused dump left x.ckpt"
[[ $(proc_state "$PID_t") == [SR] ]] || fail "the process is not running after the refusals"
send t "step 2"
wait_lines t 3
# A dump that fails before it re-protects anything leaves the tracking as it was ...
CKPT_FAULT=fail CKPT_FAULT_AT="dump: registers read" "$CKPT" dump "$PID_t" --parent "$WORK/i1.ckpt" --track \
  -o "$WORK/x.ckpt" >/dev/null 2>"$WORK/f.err" && fail "a dump with a forced failure succeeded"
incr t "$WORK/i2.ckpt" --parent "$WORK/i1.ckpt" --track  # the tracking went on from i1 through the refusals
# A snapshot of a tracked process: its areas are the keeper's userfaultfd's,
# so they are copied while it is stopped, and the dump says so (the tracking
# goes on: the --parent dumps below still find it).
"$CKPT" dump "$PID_t" --snapshot -o "$WORK/snap.ckpt" >/dev/null 2>"$WORK/snap.err" ||
  fail "a --snapshot dump of a tracked process: $(cat "$WORK/snap.err")"
grep -q "could not be write-protected for the snapshot" "$WORK/snap.err" ||
  fail "a --snapshot dump of a tracked process did not say its areas were copied while stopped: $(cat "$WORK/snap.err")"
# ... one that fails after it ends the tracking: no image is its base any more.
CKPT_FAULT=fail CKPT_FAULT_AT="dump: memory read" "$CKPT" dump "$PID_t" --parent "$WORK/i2.ckpt" --track \
  -o "$WORK/x.ckpt" >/dev/null 2>"$WORK/f.err" && fail "a dump with a forced failure succeeded"
[[ -e $WORK/x.ckpt ]] && fail "a failed dump left x.ckpt"
refused "--parent after a dump that failed past its re-protection" 1 "its writes are not being tracked" \
  "$CKPT" dump "$PID_t" --parent "$WORK/i2.ckpt" -o "$WORK/x.ckpt"
for ((i = 0; i < 100; i++)); do
  grep -q "@ckpt-track/$PID_t/" /proc/net/unix || break
  sleep 0.05
done
grep -q "@ckpt-track/$PID_t/" /proc/net/unix && fail "the keeper outlived a failed dump past its re-protection"
grep -q '^VmFlags:.* uw' "/proc/$PID_t/smaps" && fail "areas are still write-protect tracked after the tracking ended"
[[ $(proc_state "$PID_t") == [SR] ]] || fail "the process is not running after the failed dumps"

# A process with a child: incremental dumps are of one process.
start tree bash -c 'sleep 1000 & read x'
for ((i = 0; i < 100; i++)); do
  [[ -n $(cat "/proc/$PID_tree/task/$PID_tree/children" 2>/dev/null) ]] && break
  sleep 0.05
done
refused "--track of a tree" 1 "has children: incremental dumps .* are of one process" \
  "$CKPT" dump "$PID_tree" --track -o "$WORK/x.ckpt"
grep -q "@ckpt-track/$PID_tree/" /proc/net/unix && fail "a refused --track left a keeper"
child=$(cat "/proc/$PID_tree/task/$PID_tree/children")
kill "$child" 2>/dev/null

# The chain restores, and so does a copy of it in another folder.
"$RESTORE" --check "$WORK/i2.ckpt" >"$WORK/c.out" 2>&1 || fail "restore --check i2.ckpt: $(cat "$WORK/c.out")"
mkdir "$WORK/moved"
cp "$WORK/base.ckpt" "$WORK/i1.ckpt" "$WORK/i2.ckpt" "$WORK/moved/"
mv "$WORK/base.ckpt" "$WORK/base.saved"
restore_start moved "$WORK/moved/i2.ckpt"
send moved "check 2"
close_input moved
wait_exit moved any
grep -q '^PASS' "$WORK/moved.out" || fail "a chain moved to another folder does not restore: $(head -n 5 "$WORK/moved.out" "$WORK/moved.err")"

refused "restore --lazy of an incremental image" 1 "--lazy cannot restore an incremental image" \
  "$RESTORE" --lazy "$WORK/i2.ckpt"

# A missing parent (base.ckpt, two links down, is gone).
restore_refused "a missing parent" "its parent .*/base.ckpt is missing" "$WORK/i2.ckpt"
refused "verify, a missing parent" 1 "base.ckpt is missing" "$CKPT" verify "$WORK/i2.ckpt"

# A different parent: another image under its name.
cp "$WORK/plain.ckpt" "$WORK/base.ckpt"
restore_refused "a parent replaced by another image" "base.ckpt is not the image it was dumped against \(checksum" "$WORK/i2.ckpt"
mv "$WORK/base.saved" "$WORK/base.ckpt"

# A corrupt link: i1's metadata damaged (its vmas section).
cp "$WORK/i1.ckpt" "$WORK/i1.saved"
at=$("$CKPT" inspect "$WORK/i1.ckpt" | awk '$1 == "vmas" {print $3 + 40}')
printf '\xff' | dd of="$WORK/i1.ckpt" bs=1 seek="$at" conv=notrunc status=none
restore_refused "a corrupt link (metadata)" "its parent .*/i1.ckpt is not a valid image: .*checksum mismatch" "$WORK/i2.ckpt"
# ... and its page data, every byte of it.
cp "$WORK/i1.saved" "$WORK/i1.ckpt"
read -r at len < <("$CKPT" inspect "$WORK/i1.ckpt" | awk '$1 == "page_data" {print $3 + 32, $4}')
python3 - "$WORK/i1.ckpt" "$at" "$len" <<'PY'
import sys
path, at, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    f.seek(at)
    data = bytes(b ^ 0x5a for b in f.read(n))
    f.seek(at)
    f.write(data)
PY
refused "restore --check, a corrupt link (page data)" 1 "i1.ckpt below it in its chain is corrupt: .*checksum mismatch" "$RESTORE" --check "$WORK/i2.ckpt"
refused "verify, a corrupt link (page data)" 1 "i1.ckpt below it in its chain is corrupt: .*checksum mismatch" "$CKPT" verify "$WORK/i2.ckpt"
restore_refused "a corrupt link (page data)" "i1.ckpt below it in its chain is corrupt: .*checksum mismatch" "$WORK/i2.ckpt"
