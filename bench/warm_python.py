"""Warm-start case for bench/warm.py: python3 with numpy, json, email, asyncio, decimal and sqlite3 imported and
some state built from each. Protocol (bench/tlaunch.c): for each line on stdin, print "T <CLOCK_MONOTONIC ns>"
and then "SUM <hex>", a digest of an answer that uses every module; the same state gives the same SUM."""
import asyncio
import decimal
import email
import email.policy
import json
import sqlite3
import sys
import time
import zlib

import numpy as np

rng = np.random.default_rng(7)
table = rng.standard_normal((256, 256))
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t values (?, ?)", ((i, f"value {i}") for i in range(5000)))
msg = email.message_from_string("From: a@example.org\nSubject: warm start\n\nbody\n", policy=email.policy.default)
decimal.getcontext().prec = 40


async def twice(x):
    await asyncio.sleep(0)
    return 2 * x


def answer():
    loop = asyncio.new_event_loop()
    try:
        doubled = loop.run_until_complete(twice(21))
    finally:
        loop.close()
    state = {
        "table": f"{float(table[::17, ::13].sum()):.6f}",
        "rows": db.execute("select count(*), sum(k) from t where k % 7 = 0").fetchone(),
        "subject": msg["Subject"],
        "seventh": str(decimal.Decimal(1) / decimal.Decimal(7)),
        "doubled": doubled,
    }
    return "%08x" % zlib.crc32(json.dumps(state, sort_keys=True).encode())


for line in sys.stdin:
    t = time.monotonic_ns()
    sys.stdout.write(f"T {t}\nSUM {answer()}\n")
    sys.stdout.flush()
