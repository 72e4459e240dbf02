#!/usr/bin/env bash
# restore refuses, before anything changes, an image whose fds on the
# user's terminal it cannot open again on its own terminal: here restore's
# stdin is a pty slave whose master has locked it again (TIOCSPTLCK), so
# every new open of that terminal fails with EIO. The image is less's (fd
# 3 on its terminal, from tmux). Both restore --check and restore say it
# in one line naming the fd and the terminal, and exit 1; the terminal's
# settings are left as they were.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
command -v less >/dev/null || fail "less is not installed (.ci/deps installs it)"

for i in $(seq 1 200); do echo "row $i"; done >"$WORK/long.txt"
tmux_window old 100x30 "HOME=$WORK LESSHISTFILE=- exec less $WORK/long.txt"
tmux_wait old 'long\.txt' "less's prompt (the file's name)"
tmux_dump old "$WORK/less.ckpt"

# restore (or restore --check) with stdin a locked pty slave; prints
# "EXIT STATUS", then whether the slave's settings changed.
cat >"$WORK/locked.py" <<'PY'
import fcntl, os, struct, subprocess, sys, termios
TIOCGPTN, TIOCSPTLCK = 0x80045430, 0x40045431
master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
slave = os.open("/dev/pts/%d" % n, os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 1))  # locked: no new open of the slave succeeds
before = termios.tcgetattr(slave)
with open(sys.argv[1], "w") as err:
    rc = subprocess.call(sys.argv[2:], stdin=slave, stdout=err, stderr=err)
print("EXIT", rc, "/dev/pts/%d" % n, "settings", "unchanged" if termios.tcgetattr(slave) == before else "changed")
PY
for mode in --check run; do
  args=("$RESTORE" "$WORK/less.ckpt")
  [[ $mode == --check ]] && args=("$RESTORE" --check "$WORK/less.ckpt")
  out=$(python3 "$WORK/locked.py" "$WORK/$mode.err" "${args[@]}") || fail "the pty helper failed: $out"
  pts=$(awk '{print $3}' <<<"$out")
  [[ $out == "EXIT 1 $pts settings unchanged" ]] || fail "restore $mode on a locked terminal: $out; $(cat "$WORK/$mode.err")"
  # One line of error; the note before it says the settings would not have been applied.
  [[ $(grep -vc '^restore: note: ' "$WORK/$mode.err") == 1 ]] || fail "restore $mode said more than one line: $(cat "$WORK/$mode.err")"
  grep -Eq "^restore: .*less\.ckpt: fd 3 \(terminal /dev/pts/[0-9]+\): cannot open restore's terminal $pts: Input/output error$" "$WORK/$mode.err" ||
    fail "restore $mode did not name fd 3 and the terminal: $(cat "$WORK/$mode.err")"
done
log "PASS: restore --check and restore refused the unopenable terminal in one line, settings untouched"
