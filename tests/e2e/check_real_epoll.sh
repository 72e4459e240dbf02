#!/usr/bin/env bash
# A real event loop: python3's selectors (an EpollSelector, i.e. epoll)
# watching stdin and an eventfd, plus a second, unwatched semaphore eventfd
# that holds a count.  It is fed commands through a pipe one at a time,
# dumped with --kill while it waits in epoll_wait, and restored with a new
# stdin.  The restored loop must read the new stdin through the saved
# epoll (its watch on fd 0 now means restore's stdin), fire on the saved
# eventfd, and find the count of the semaphore eventfd it stashed before
# the dump (3, handed out one at a time); its totals must equal an
# uninterrupted reference run's and the values worked out here.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
LOOP='
import os, selectors, sys
sel = selectors.DefaultSelector()
efd = os.eventfd(0, os.EFD_NONBLOCK)
stash = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_SEMAPHORE)
total = fired = 0
buf = b""
sel.register(0, selectors.EVENT_READ, "stdin")
sel.register(efd, selectors.EVENT_READ, "efd")
def say(*words):
    print(*words, flush=True)
def command(words):
    global total
    if words[0] == "add":        # answered by the eventfd firing
        os.eventfd_write(efd, int(words[1]))
    elif words[0] == "stash":    # kept in the unwatched eventfd
        os.eventfd_write(stash, int(words[1]))
        say("stashed", words[1])
    elif words[0] == "watch":    # from now on the stash fires, once per unit
        sel.register(stash, selectors.EVENT_READ, "stash")
        say("watching")
    elif words[0] == "total":
        say("total", total, "fired", fired)
say("ready", type(sel).__name__)
while True:
    for key, _ in sel.select():
        if key.data == "stdin":
            chunk = os.read(0, 4096)
            if not chunk:
                sys.exit(0)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                command(line.decode().split())
        elif key.data == "efd":
            v = os.eventfd_read(efd)
            total += v
            fired += 1
            say("event", v, "total", total)
        else:
            v = os.eventfd_read(stash)
            total += 100 * v
            fired += 1
            say("stash", v, "total", total)
'

# dump_with_fds NAME IMAGE: lib.sh's dump without its "fds 0-2 only" check:
# this loop holds its epoll and eventfds open on purpose.
dump_with_fds() {
  local name=$1 img=$2 pid rc
  pid=$(pid_of "$name")
  disown "$pid"
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --kill \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid -o $img --compress $COMPRESS --kill exited $rc"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
  wait_gone "$name"
}

# converse NAME CMD:NLINES...: sends each command once the answers to the
# one before are in (two "add"s in one read would fire the eventfd once).
converse() {
  local name=$1 c have; shift
  for c in "$@"; do
    have=$(wc -l <"$WORK/$name.out")
    send "$name" "${c%:*}"
    wait_lines "$name" $((have + ${c##*:}))
  done
}

before=('add 5:1' 'add 7:1' 'stash 3:1' 'total:1')
after=('watch:4' 'add 11:1' 'total:1')

start ref "$PYTHON" -u -c "$LOOP"
wait_lines ref 1
converse ref "${before[@]}" "${after[@]}"
close_input ref
wait_exit ref 0

start run "$PYTHON" -u -c "$LOOP"
wait_lines run 1
converse run "${before[@]}"
sleep 0.1  # back in epoll_wait
[[ $(ls "/proc/$PID_run/fd" | wc -l) -ge 6 ]] || fail "the loop does not hold its epoll and eventfds: $(ls -l "/proc/$PID_run/fd")"
dump_with_fds run "$WORK/epoll.ckpt"
verify "$WORK/epoll.ckpt"
log "image bytes $(image_bytes "$WORK/epoll.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/epoll.ckpt"
converse back "${after[@]}"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored event loop"

n_before=5  # "ready" and the four answers
lines "$WORK/ref.out" 1 $n_before >"$WORK/expected-before"
lines "$WORK/ref.out" $((n_before + 1)) '$' >"$WORK/expected-after"
expect_same "event loop output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "event loop answers after the restore" "$WORK/expected-after" "$WORK/back.out"

printf '%s\n' 'ready EpollSelector' 'event 5 total 5' 'event 7 total 12' 'stashed 3' 'total 12 fired 2' \
  'watching' 'stash 1 total 112' 'stash 1 total 212' 'stash 1 total 312' 'event 11 total 323' \
  'total 323 fired 6' >"$WORK/worked-out"
cat "$WORK/run.out" "$WORK/back.out" >"$WORK/whole"
expect_same "the whole conversation, as worked out here" "$WORK/worked-out" "$WORK/whole"
log "answers after restore: $(tr '\n' ' ' <"$WORK/back.out")"
log "PASS"
