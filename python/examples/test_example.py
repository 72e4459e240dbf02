"""Tests that each start from the same warm database (conftest.py)."""

import os

from conftest import ROWS


def test_rows_loaded(db):
    assert db.ask("SELECT count(*) FROM items") == [[ROWS]]


def test_delete_everything(db):
    db.ask("DELETE FROM items")
    assert db.ask("SELECT count(*) FROM items") == [[0]]


def test_sees_no_change_of_another_test(db):
    # test_delete_everything emptied its own copy only.
    assert db.ask("SELECT count(*) FROM items WHERE tag = 'tag5'") == [[len(range(5, ROWS, 97))]]


def test_insert(db):
    db.ask("INSERT INTO items VALUES (-1, 'new', 1.0, 'tagnew')")
    assert db.ask("SELECT name FROM items WHERE id = -1") == [["new"]]


def test_copies_differ(db, tmp_path_factory):
    # Each copy has a pid of its own and, through the on_restore hook
    # (random.seed), a random sequence of its own: a file shared by the
    # tests of this session collects them.
    record = tmp_path_factory.getbasetemp() / "seen.txt"
    pid, number = db.ask("pid"), db.ask("random")
    assert pid != os.getpid()
    seen = record.read_text().split() if record.exists() else []
    assert str(pid) not in seen[0::2] and repr(number) not in seen[1::2]
    with open(record, "a") as f:
        f.write("%d %r\n" % (pid, number))


def test_copies_differ_again(db, tmp_path_factory):
    test_copies_differ(db, tmp_path_factory)
