#!/usr/bin/env bash
# A real python3 sandboxed with libseccomp (Debian's python3-seccomp): a
# filter that libseccomp compiles (architecture checks, the x32 range, a
# rule per call) makes uname fail with EPERM and kill(2) fail with EACCES,
# every thread included (a second thread waits on a queue), no_new_privs
# set, LOG on the uname rule's filter. Dumped with --kill while it waits
# for input and restored: it must still be sandboxed as before (os.uname
# and os.kill refused with the same errors, in both threads), hold the very
# same filters (a dump of the restored interpreter prints the same program
# checksums as the first), and answer as before (its state intact).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
"$PYTHON" -c 'import seccomp' 2>/dev/null || fail "python3-seccomp is not installed (.ci/deps installs it)"
SCRIPT='
import errno, os, queue, seccomp, sys, threading
log = seccomp.SyscallFilter(seccomp.ALLOW)
log.add_rule(seccomp.ERRNO(errno.EPERM), "uname")
log.set_attr(seccomp.Attr.CTL_LOG, 1)
log.load()
deny = seccomp.SyscallFilter(seccomp.ALLOW)
deny.add_rule(seccomp.ERRNO(errno.EACCES), "kill")
deny.load()
def probe():
    out = []
    for name, call in (("uname", os.uname), ("kill", lambda: os.kill(os.getpid(), 0))):
        try:
            call()
            out.append(name + ":ran")
        except OSError as e:
            out.append(name + ":" + errno.errorcode[e.errno])
    return " ".join(out)
def filters():
    for line in open("/proc/thread-self/status"):
        if line.startswith("Seccomp_filters:"):
            return line.split()[1]
asks, answers = queue.Queue(), queue.Queue()
def worker():
    while asks.get():
        answers.put(probe() + " filters=" + filters())
threading.Thread(target=worker, daemon=True).start()
state = {"count": 0}
print("ready", flush=True)
for line in sys.stdin:
    state["count"] += 1
    asks.put(True)
    print(line.strip(), state["count"], "leader:", probe(), "filters=" + filters(), "thread:", answers.get(), flush=True)
'
want_answer() {  # LINE COUNT
  echo "$1 $2 leader: uname:EPERM kill:EACCES filters=2 thread: uname:EPERM kill:EACCES filters=2"
}

start p "$PYTHON" -c "$SCRIPT"
wait_lines p 1
send p first
wait_lines p 2
[[ $(sed -n 2p "$WORK/p.out") == "$(want_answer first 1)" ]] ||
  fail "the sandboxed interpreter answered '$(sed -n 2p "$WORK/p.out")' before any dump"
dump p "$WORK/py.ckpt"
seccomp_filters "$WORK/py.ckpt" >"$WORK/py.filters"
[[ $(wc -l <"$WORK/py.filters") == 2 ]] || fail "the image does not carry two filters: $(cat "$WORK/py.filters")"
grep -q '^seccomp filter 0 .*flag LOG' "$WORK/py.filters" || fail "filter 0 lost its LOG flag: $(cat "$WORK/py.filters")"
restored_same_filters r "$WORK/py.ckpt"
send r second
wait_lines r 1
[[ $(head -n 1 "$WORK/r.out") == "$(want_answer second 2)" ]] ||
  fail "the restored interpreter answered '$(head -n 1 "$WORK/r.out")', expected '$(want_answer second 2)'"
close_input r
wait_exit r 0
check_quiet "$WORK/r.err" "the restored interpreter"
log "filters carried: $(tr '\n' ';' <"$WORK/py.filters")"
log "PASS: $(head -n 1 "$WORK/r.out")"
