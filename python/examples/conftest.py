"""pytest fixtures: a warm SQLite worker, built once, one fresh copy per test.

`warm_image` (session) starts sqlite_worker.py once: it loads its database
and checkpoints itself with libckpt. `db` (per test) restores a copy of that
image with `restore` (found through $RESTORE, else PATH) and hands the test a
client talking to it over the copy's stdin and stdout; the copy is ended
after the test, so whatever a test changes, the next one never sees it.
With CKPT_FIXTURE=reinit, `db` starts a new worker and loads the database
instead (what the restore saves: docs/benchmarks.md, "libckpt fixtures").
"""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "sqlite_worker.py")
ROWS = int(os.environ.get("CKPT_FIXTURE_ROWS", "200000"))


class Client:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.recv() == "ready"

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the worker ended (exit status %s)" % self.proc.wait())
        return json.loads(line)

    def ask(self, request):
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return self.recv()

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


@pytest.fixture(scope="session")
def warm_image(tmp_path_factory):
    image = str(tmp_path_factory.mktemp("ckpt") / "sqlite.ckpt")
    subprocess.run([sys.executable, WORKER, "save", image, str(ROWS)], check=True, timeout=300)
    return image


@pytest.fixture
def db(request):
    if os.environ.get("CKPT_FIXTURE") == "reinit":
        client = Client([sys.executable, WORKER, "serve", str(ROWS)])
    else:
        image = request.getfixturevalue("warm_image")
        client = Client([os.environ.get("RESTORE", "restore"), image])
    yield client
    client.close()
