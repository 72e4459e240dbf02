#!/usr/bin/env bash
# restore --pid-ns: each signal reaches the program once. The outer
# restore, the namespace's init and the restored root share the caller's
# process group, so a signal sent to the group reaches the root directly,
# and the outer restore, which relays what it is sent, gets a copy too. A
# python3 program counts SIGUSR1 and SIGTERM; restored with --pid-ns in a
# process group of its own, it is sent, in turn, and each must count
# exactly one more:
#   - SIGUSR1 to the whole group (kill -- -PGID), then to the restore pid;
#   - SIGTERM the same two ways;
#   - SIGUSR1 from the program itself to its own group (kill(0, ...)).
# After each, a real-time signal (a fence) goes to the restore pid: the
# relay passes signals on in order, and the root takes pending signals
# lowest number first, so once the program counts the fence every copy of
# the signal before it has been delivered (no sleep decides anything).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "check_pid_ns_group_signals: SKIP: no python3" >&2; exit 77; }

cat >"$WORK/count.py" <<'EOF'
import os, signal, sys
counts = {"usr1": 0, "term": 0, "fence": 0}
def counter(name):
    def handler(sig, frame):
        counts[name] += 1
    return handler
signal.signal(signal.SIGUSR1, counter("usr1"))
signal.signal(signal.SIGTERM, counter("term"))
signal.signal(signal.SIGRTMIN + 2, counter("fence"))
print("ready", flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    if line.strip() == "group":
        os.kill(0, signal.SIGUSR1)  # its own process group: the restore's
    print("usr1 %d term %d fence %d" % (counts["usr1"], counts["term"], counts["fence"]), flush=True)
EOF
FENCE=$(python3 -c 'import signal; print(int(signal.SIGRTMIN) + 2)')

start count python3 "$WORK/count.py"
wait_lines count 1
dump count "$WORK/count.ckpt"

# restore in a process group of its own (the test's must not be signalled).
_spawn back python3 -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
  "$RESTORE" --pid-ns "$WORK/count.ckpt"
outer=$PID_back
reports=0
# report FENCES: sets REPORT to the program's counts, once it has seen
# FENCES fences.
report() {
  local fences=$1 i
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    send back report
    reports=$((reports + 1))
    wait_lines back "$reports"
    REPORT=$(tail -n 1 "$WORK/back.out")
    [[ $REPORT == *" fence $fences" ]] && return
    sleep 0.1
  done
  fail "the restored program has not counted $fences fences: '$REPORT'"
}
report 0
[[ $REPORT == "usr1 0 term 0 fence 0" ]] || fail "the restored program starts with: $REPORT"
pgid=$(ps -o pgid= -p "$outer" | tr -d ' ')
[[ $pgid == "$outer" ]] || fail "restore (pid $outer) is not the leader of its own process group ($pgid)"

fences=0 usr1=0 term=0
# step LABEL COMMAND...: runs COMMAND, sends a fence; the counts must then
# be usr1 $usr1 term $term.
step() {
  local label=$1; shift
  "$@" || fail "$label: '$*' failed"
  kill "-$FENCE" "$outer"
  fences=$((fences + 1))
  report "$fences"
  [[ $REPORT == "usr1 $usr1 term $term fence $fences" ]] ||
    fail "after $label: the program counts '$REPORT', expected 'usr1 $usr1 term $term fence $fences'"
}
self_group() { send back group; reports=$((reports + 1)); wait_lines back "$reports"; }
# Whether the copy the outer restore relays doubled a group's signal used
# to depend on timing (the kernel merged it into init's own copy while that
# was still pending), so each way is tried several times.
for round in 1 2 3 4 5 6; do
  usr1=$((usr1 + 1)); step "SIGUSR1 to the group" kill -USR1 -- "-$pgid"
  usr1=$((usr1 + 1)); step "SIGUSR1 to the restore pid" kill -USR1 "$outer"
  term=$((term + 1)); step "SIGTERM to the group" kill -TERM -- "-$pgid"
  term=$((term + 1)); step "SIGTERM to the restore pid" kill -TERM "$outer"
  usr1=$((usr1 + 1)); step "SIGUSR1 from the program to its own group" self_group
done
log "each signal counted once: $REPORT after 30 signals, each followed by a fence"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restore --pid-ns"
