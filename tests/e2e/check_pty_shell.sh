#!/usr/bin/env bash
# A program driving an interactive shell through a pty (Python's pty.fork
# running bash, as script or expect do): the driver holds the master, bash
# leads its own session with the slave as its controlling terminal and runs
# `sleep 600` as a foreground job (its own group). The tree is dumped with
# --kill and restored; the job's group is still the pty's foreground group,
# ^C through the master ends it, and the restored bash answers a command
# with the shell variable it had set before the dump, on a new pty that is
# still its controlling terminal with its group in the foreground again.
source "$(dirname "$0")/lib.sh"

DRIVER='
import os, pty, select, sys, time
pid, m = pty.fork()
if pid == 0:
    os.environ["PS1"] = "$ "
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
def read_until(token, timeout=30):
    buf, end = b"", time.time() + timeout
    while token not in buf:
        r, _, _ = select.select([m], [], [], max(0.0, end - time.time()))
        if not r:
            sys.exit("timeout waiting for %r, got %r" % (token, buf))
        buf += os.read(m, 4096)
    return buf
os.write(m, b"X=41; echo ready-$((X+1))\n")
read_until(b"ready-42")
os.write(m, b"sleep 600\n")  # a foreground job: its group leads the pty
end = time.time() + 30
while os.tcgetpgrp(m) == pid and time.time() < end:
    time.sleep(0.05)
job = os.tcgetpgrp(m)
print("ready", pid, job, flush=True)
sys.stdin.readline()
if os.tcgetpgrp(m) != job:
    sys.exit("the foreground group is %d after restore, not that of the job, %d" % (os.tcgetpgrp(m), job))
os.write(m, b"\003")  # ^C: to the foreground job, which ends; bash prompts again
os.write(m, b"echo after-$((X+1)) $(ps -o sid=,tpgid=,pgid= -p $$) tty=$(tty)\n")
out = read_until(b"tty=/dev/").decode(errors="replace")
line = out[out.rindex("after-"):].splitlines()[0]
print("answer", line, flush=True)
'
start driver python3 -c "$DRIVER"
wait_lines driver 1
read -r _ shell job < <(grep '^ready ' "$WORK/driver.out")
[[ -n $job && $job != "$shell" ]] || fail "the shell's foreground job did not start: $(cat "$WORK/driver.out")"
[[ -n $shell ]] || fail "the driver did not say its shell's pid"
dump driver "$WORK/driver.ckpt"
restore_start back "$WORK/driver.ckpt"
send back check
wait_lines back 1
answer=$(grep '^answer ' "$WORK/back.out") || fail "the restored driver printed no answer: $(cat "$WORK/back.out" "$WORK/back.err")"
read -r _ word sid tpgid pgid tty <<<"$answer"
[[ $word == after-42 ]] || fail "the restored shell lost its variable or did not answer: $answer"
[[ $sid == "$shell" ]] || fail "the restored shell does not lead its session: $answer (shell pid $shell)"
[[ $tpgid == "$pgid" ]] || fail "the shell's group is not the pty's foreground group: $answer"
[[ $tty == tty=/dev/pts/* ]] || fail "the shell has no terminal: $answer"
close_input back
log "PASS: $answer"
