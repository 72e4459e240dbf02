"""Time per test of the pytest example's fixture (conftest.py): a fresh
restored copy of the warm SQLite worker against starting a new worker that
loads the database again. Each setup is measured until the worker has
answered its first query.

    RESTORE=build/restorer/restore CKPT_BIN=build/dumper/ckpt CKPT_LIB=build/lib/libckpt.so \\
      /usr/bin/python3 python/examples/bench_fixture.py [ROWS...] [--runs N]

Prints, per database size, the median of N setups each way and their ratio
(docs/benchmarks.md, "libckpt fixtures").
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import WORKER, Client  # noqa: E402


def setup_time(argv):
    t0 = time.perf_counter()
    c = Client(argv)
    c.ask("SELECT count(*) FROM items")
    t = time.perf_counter() - t0
    c.close()
    return t


def main():
    args = sys.argv[1:]
    runs = 5
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    sizes = [int(a) for a in args] or [20000, 200000, 1000000]
    restore = os.environ.get("RESTORE", "restore")
    print("%10s %12s %12s %12s %8s" % ("rows", "image MB", "reinit ms", "restore ms", "ratio"))
    with tempfile.TemporaryDirectory() as d:
        for rows in sizes:
            image = os.path.join(d, "w%d.ckpt" % rows)
            subprocess.run([sys.executable, WORKER, "save", image, str(rows)], check=True, stdout=subprocess.DEVNULL)
            reinit, restored = [], []
            for _ in range(runs):  # interleaved, so that load on the machine hits both alike
                reinit.append(setup_time([sys.executable, WORKER, "serve", str(rows)]))
                restored.append(setup_time([restore, image]))
            a, b = statistics.median(reinit) * 1e3, statistics.median(restored) * 1e3
            print("%10d %12.1f %12.1f %12.1f %7.1fx" % (rows, os.path.getsize(image) / 1e6, a, b, a / b), flush=True)


if __name__ == "__main__":
    main()
