#!/usr/bin/env python3
"""pty_stderr.py FILE -- COMMAND [ARGS...]: runs COMMAND with its standard
error on a pseudo-terminal (stdin and stdout are this script's own), copies
everything written to that terminal into FILE, and exits as COMMAND did
(128 + N if killed by signal N). The terminal is not made the controlling
terminal: only isatty(2) changes. Used by check_cli_progress.sh."""
import errno
import os
import subprocess
import sys

out_path = sys.argv[1]
assert sys.argv[2] == "--"
master, slave = os.openpty()
child = subprocess.Popen(sys.argv[3:], stderr=slave, close_fds=True)
os.close(slave)
with open(out_path, "wb") as out:
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as e:  # EIO: every holder of the terminal has closed it
            if e.errno != errno.EIO:
                raise
            break
        if not data:
            break
        out.write(data)
        out.flush()
status = child.wait()
sys.exit(status if status >= 0 else 128 - status)
