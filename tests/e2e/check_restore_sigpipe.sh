# restore ignores SIGPIPE for itself: a write into a pipe or socket that lost
# its reader (here its own stderr, a pipe whose reader is gone, while it
# refuses a bad image; in the fuzzer, queued data written back) is an error,
# exit 1, never a death by signal 13. The restored process still gets its
# own saved action for SIGPIPE (the default here: not ignored).
source "$(dirname "$0")/lib.sh"

status=$(python3 - "$RESTORE" "$WORK/missing.ckpt" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)  # nobody reads restore's stderr
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=w, close_fds=True)
print(p.returncode)
PY
)
[[ $status == 1 ]] || fail "restore of a missing image with its stderr a pipe nobody reads: status $status, expected 1 (-13: killed by SIGPIPE)"
log "a refusal written to a pipe nobody reads: exit 1"

start orig "$PROGRAMS/sleeper" 100000
wait_lines orig 1
grep -q '^SigIgn:.*0000000000000000$' "/proc/$PID_orig/status" || fail "the sleeper ignores signals already: $(grep SigIgn "/proc/$PID_orig/status")"
dump orig "$WORK/s.ckpt"
restore_start back "$WORK/s.ckpt"
wait_lines back 1
ign=$(awk '/^SigIgn:/ {print $2}' "/proc/$(restored_pid back)/status")
((16#$ign & (1 << 12))) && fail "the restored process ignores SIGPIPE (SigIgn $ign): restore's own action leaked into it"
log "the restored process keeps its saved SIGPIPE action (SigIgn $ign)"
log PASS
