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

# run_mode MODE: the whole reproduction with journal_mode MODE.
run_mode() {
local mode=$1
local db="$WORK/lock-$mode.db"
"$SQLITE" "$db" "PRAGMA journal_mode=$mode;" 'CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT);
                 INSERT INTO t VALUES (1, "before");' >/dev/null || fail "cannot create $db"

# other SQL: another sqlite3 on the database (busy timeout 0: answers at once).
other() { "$SQLITE" -batch "$db" "$1" >"$WORK/other.out" 2>&1; }

start run_$mode "$SQLITE" -batch "$db"
send run_$mode 'BEGIN IMMEDIATE;' "INSERT INTO t VALUES (2, 'in the transaction');" "SELECT 'inserted', count(*) FROM t;"
wait_lines run_$mode 1
[[ $(cat "$WORK/run_$mode.out") == "inserted|2" ]] || fail "$mode: sqlite3 did not insert inside its transaction: $(cat "$WORK/run_$mode.out")"
other "INSERT INTO t VALUES (90, 'other');" && fail "$mode: another sqlite3 wrote while the original held its transaction"
grep -q 'database is locked' "$WORK/other.out" || fail "$mode: the other sqlite3 failed otherwise: $(cat "$WORK/other.out")"
local pid
pid=$(pid_of "run_$mode")
grep -q '^lock:.*POSIX' /proc/"$pid"/fdinfo/* || fail "$mode: sqlite3 holds no POSIX lock (fdinfo shows none)"

dump "run_$mode" "$WORK/sqlite-$mode.ckpt"
restore_start back_$mode "$WORK/sqlite-$mode.ckpt"
send back_$mode "SELECT 'restored', count(*) FROM t;"
wait_lines back_$mode 1
[[ $(lines "$WORK/back_$mode.out" 1 1) == "restored|2" ]] || fail "$mode: the restored transaction does not see its row: $(cat "$WORK/back_$mode.out")"
pid=$(pid_of "back_$mode")
grep -q '^lock:.*POSIX' /proc/"$pid"/fdinfo/* || fail "$mode: the restored sqlite3 holds no POSIX lock"

other "INSERT INTO t VALUES (91, 'other while restored');" &&
  fail "$mode: another sqlite3 wrote while the restored one held its transaction (the lock was dropped)"
grep -q 'database is locked' "$WORK/other.out" || fail "$mode: the other sqlite3 failed otherwise: $(cat "$WORK/other.out")"
log "$mode: while the restored transaction is open: $(cat "$WORK/other.out")"

send back_$mode "INSERT INTO t VALUES (3, 'after restore');" 'COMMIT;' "SELECT 'committed', count(*) FROM t;"
wait_lines back_$mode 2
[[ $(lines "$WORK/back_$mode.out" 2 2) == "committed|3" ]] || fail "$mode: the restored sqlite3 did not commit: $(cat "$WORK/back_$mode.out")"
other "INSERT INTO t VALUES (92, 'other after commit'); SELECT group_concat(id) FROM t;" ||
  fail "$mode: another sqlite3 cannot write after the restored one committed: $(cat "$WORK/other.out")"
[[ $(cat "$WORK/other.out") == "1,2,3,92" ]] || fail "$mode: rows after commit: $(cat "$WORK/other.out"), want 1,2,3,92"
close_input back_$mode
wait_exit back_$mode 0
check_quiet "$WORK/back_$mode.err" "restored sqlite3 ($mode)"
log "$mode: rows after the restored commit: $(cat "$WORK/other.out")"
}

run_mode delete
run_mode wal
log "PASS"
