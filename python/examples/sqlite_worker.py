"""An expensive state to start tests from: a Python process holding a large
in-memory SQLite database, checkpointed once with libckpt (python/ckpt.py).

    python3 sqlite_worker.py save IMAGE ROWS   # build, checkpoint, exit (the original)
    python3 sqlite_worker.py serve ROWS        # build, then serve (re-initialising)
    restore IMAGE                              # a fresh copy that serves at once

Serving: one SQL statement per line on stdin, one JSON line back on stdout
(the rows, or {"error": ...}); "random" answers with the next random.random(),
"pid" with os.getpid(); EOF ends it. A restored copy's stdin and stdout are
those of the `restore` that made it.
"""

import json
import os
import random
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ckpt  # noqa: E402


def build(rows):
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, tag TEXT)")
    rng = random.Random(7)
    db.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?)",
        ((i, "item-%d-%s" % (i, "x" * rng.randrange(20, 60)), rng.random() * 100, "tag%d" % (i % 97)) for i in range(rows)),
    )
    db.execute("CREATE INDEX items_tag ON items (tag)")
    db.execute("CREATE INDEX items_price ON items (price)")
    db.commit()
    return db


def serve(db):
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if line == "random":
            reply = random.random()
        elif line == "pid":
            reply = os.getpid()
        else:
            try:
                reply = db.execute(line).fetchall()
                db.commit()
            except sqlite3.Error as e:
                reply = {"error": str(e)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main():
    if sys.argv[1] == "serve":
        db = build(int(sys.argv[2]))
        print(json.dumps("ready"), flush=True)
        serve(db)
        return
    image, rows = sys.argv[2], int(sys.argv[3])
    db = build(rows)
    # Every copy starts from this memory: without the hook, every copy's
    # random.random() would return the same number.
    ckpt.on_restore(random.seed)
    if ckpt.checkpoint(image) == ckpt.ORIGINAL:
        print("saved %s" % image, flush=True)
        return
    print(json.dumps("ready"), flush=True)
    serve(db)


if __name__ == "__main__":
    main()
