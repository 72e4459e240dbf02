#!/usr/bin/env bash
# A process whose executable and mapped data file were deleted while it
# ran (as after an upgrade) is dumped and restored: both files come back
# from the image, the counter's hashes continue exactly as an uninterrupted
# reference run's, and /proc/PID/exe of the restored process names the
# recreated executable (a deleted file in the same directory), not restore.
# A mapped deleted file is recreated unnamed (O_TMPFILE) before staging, so
# its name is "DIR/#INODE (deleted)" (docs/architecture.md, Known gaps).
# Before, such a dump was refused ("mappings of deleted files").
source "$(dirname "$0")/lib.sh"

D=$(mktemp -d /tmp/ckpt-delexe.XXXXXX)
trap 'rm -rf "$D"' EXIT
cp "$PROGRAMS/counter" "$D/counter"
seq 100000 | head -c $((8 * 4096 + 100)) >"$D/data"
input() { printf 'counter-line-%d\n' "$@"; }

start ref "$PROGRAMS/counter" "$D/data"
send ref $(input $(seq 1 20))
wait_lines ref 20
close_input ref
wait_exit ref 0

start run "$D/counter" "$D/data"
send run $(input $(seq 1 10))
wait_lines run 10
rm "$D/counter" "$D/data"
[[ $(readlink "/proc/$(pid_of run)/exe") == "$D/counter (deleted)" ]] || fail "setup: the exe link is not deleted"
dump run "$WORK/delexe.ckpt"

restore_start back "$WORK/delexe.ckpt"
send back $(input 11)
wait_lines back 1
exe=$(readlink "/proc/$(pid_of back)/exe")
[[ $exe == "$D/"*" (deleted)" ]] || fail "the restored exe link is '$exe', want the recreated file in $D"
text=$(awk '/ \(deleted\)$/ {print $1; exit}' "/proc/$(pid_of back)/maps")  # the lowest: the executable's
[[ $(stat -L -c %i "/proc/$(pid_of back)/exe") == $(stat -L -c %i "/proc/$(pid_of back)/map_files/$text") ]] ||
  fail "the restored exe is not the file its text is mapped from"
[[ -e $D/counter || -e $D/data ]] && fail "a recreated file was left under its name"
send back $(input $(seq 12 20))
wait_lines back 10
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restore"
lines "$WORK/ref.out" 11 20 >"$WORK/expected-after"
expect_same "output after the restore" "$WORK/expected-after" "$WORK/back.out"
log "PASS: exe $exe"
