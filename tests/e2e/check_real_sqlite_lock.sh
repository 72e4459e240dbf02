#!/usr/bin/env bash
# The lost-commit reproduction: a real sqlite3 shell on a database file,
# inside BEGIN IMMEDIATE with an INSERT done (it holds the RESERVED lock, a
# POSIX lock, and a hot journal), is dumped with --kill and restored. While
# the restored shell's transaction is open another sqlite3 writing the same
# database must get "database is locked" (without the lock it would roll
# the journal back and write); once the restored shell commits, the other
# one writes, and every committed row is there.
source "$(dirname "$0")/lib.sh"

SQLITE=/usr/bin/sqlite3
db="$WORK/lock.db"
"$SQLITE" "$db" 'CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT);
                 INSERT INTO t VALUES (1, "before");' || fail "cannot create $db"

# other SQL: another sqlite3 on the database (busy timeout 0: answers at once).
other() { "$SQLITE" -batch "$db" "$1" >"$WORK/other.out" 2>&1; }

start run "$SQLITE" -batch "$db"
send run 'BEGIN IMMEDIATE;' "INSERT INTO t VALUES (2, 'in the transaction');" "SELECT 'inserted', count(*) FROM t;"
wait_lines run 1
[[ $(cat "$WORK/run.out") == "inserted|2" ]] || fail "sqlite3 did not insert inside its transaction: $(cat "$WORK/run.out")"
other "INSERT INTO t VALUES (90, 'other');" && fail "another sqlite3 wrote while the original held its transaction"
grep -q 'database is locked' "$WORK/other.out" || fail "the other sqlite3 failed otherwise: $(cat "$WORK/other.out")"
grep -q '^lock:.*POSIX' /proc/"$PID_run"/fdinfo/* || fail "sqlite3 holds no POSIX lock (fdinfo shows none)"

dump run "$WORK/sqlite.ckpt"
restore_start back "$WORK/sqlite.ckpt"
send back "SELECT 'restored', count(*) FROM t;"
wait_lines back 1
[[ $(lines "$WORK/back.out" 1 1) == "restored|2" ]] || fail "the restored transaction does not see its row: $(cat "$WORK/back.out")"
grep -q '^lock:.*POSIX' /proc/"$PID_back"/fdinfo/* || fail "the restored sqlite3 holds no POSIX lock"

other "INSERT INTO t VALUES (91, 'other while restored');" &&
  fail "another sqlite3 wrote while the restored one held its transaction (the lock was dropped)"
grep -q 'database is locked' "$WORK/other.out" || fail "the other sqlite3 failed otherwise: $(cat "$WORK/other.out")"
log "while the restored transaction is open: $(cat "$WORK/other.out")"

send back "INSERT INTO t VALUES (3, 'after restore');" 'COMMIT;' "SELECT 'committed', count(*) FROM t;"
wait_lines back 2
[[ $(lines "$WORK/back.out" 2 2) == "committed|3" ]] || fail "the restored sqlite3 did not commit: $(cat "$WORK/back.out")"
other "INSERT INTO t VALUES (92, 'other after commit'); SELECT group_concat(id) FROM t;" ||
  fail "another sqlite3 cannot write after the restored one committed: $(cat "$WORK/other.out")"
[[ $(cat "$WORK/other.out") == "1,2,3,92" ]] || fail "rows after commit: $(cat "$WORK/other.out"), want 1,2,3,92"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored sqlite3"
log "rows after the restored commit: $(cat "$WORK/other.out")"
log "PASS"
