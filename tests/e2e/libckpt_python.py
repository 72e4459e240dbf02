"""Checkpoints itself with python/ckpt.py (tests/e2e/check_python_libckpt.sh).

    libckpt_python.py IMAGE        # original: "original ..."; a copy: "copy ..."
    libckpt_python.py --error      # ckpt.checkpoint with the dumper missing

A copy prints its generation, copy id, whether the hook ran, whether the
other Python thread still counts, random.random() as the image left it (the
same in every copy) and after random.seed() (the copy's own).
"""

import os
import random
import sys
import threading
import time

import ckpt

os.closerange(3, 65536)  # whatever the test runner left open
if sys.argv[1] == "--error":
    try:
        ckpt.checkpoint("/nonexistent/x.ckpt")
    except ckpt.CkptError as e:
        print("error %d %s" % (e.code, e.message), flush=True)
        sys.exit(0)
    print("no error", flush=True)
    sys.exit(1)

ticks = [0]


def count():
    while True:
        ticks[0] += 1
        time.sleep(0.001)


threading.Thread(target=count, daemon=True).start()
hooked = []
ckpt.on_restore(hooked.append, "ran")
random.seed(12345)
r = ckpt.checkpoint(sys.argv[1])


def thread_counts():
    before = ticks[0]
    for _ in range(30000):
        if ticks[0] > before:
            return True
        time.sleep(0.001)
    return False


if r == ckpt.ORIGINAL:
    print("original gen=%d id=%d hook=%s thread=%s" % (ckpt.generation(), ckpt.copy_id(), hooked, thread_counts()),
          flush=True)
else:
    same = random.random()
    random.seed()
    own = random.random()
    print("copy gen=%d id=%016x hook=%s thread=%s pid=%d same=%r own=%r" %
          (ckpt.generation(), ckpt.copy_id(), ",".join(hooked), thread_counts(), os.getpid(), same, own), flush=True)
