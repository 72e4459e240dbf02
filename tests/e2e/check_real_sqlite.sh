#!/usr/bin/env bash
# A real sqlite3 shell with an in-memory database (a table of 5000 rows, an
# index, a view) and shell settings of its own (.separator) is fed through
# a pipe, dumped with --kill mid-conversation and restored with a new
# stdin; its answers to aggregate queries (which only the saved database
# can give) must equal an uninterrupted reference run's and the values
# worked out here, and it must still take writes.
source "$(dirname "$0")/lib.sh"

SQLITE=/usr/bin/sqlite3
ROWS=5000
setup=(
  '.separator ,'
  'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v INTEGER, grp INTEGER);'
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
     INSERT INTO t SELECT x, 'n' || x, (x * 37) % 1000, x % 7 FROM c;"
  'CREATE INDEX t_v ON t(v);'
  'CREATE VIEW heavy AS SELECT id FROM t WHERE v > 990;'
  "SELECT 'loaded', count(*) FROM t;"
)
# One line of output each.
questions=(
  'SELECT count(*), sum(id), sum(v) FROM t;'
  'SELECT name FROM t WHERE id = 4242;'
  'SELECT count(*) FROM heavy;'
  'SELECT group_concat(n) FROM (SELECT grp || ":" || sum(v) AS n FROM t GROUP BY grp ORDER BY grp);'
  "INSERT INTO t VALUES ($((ROWS + 1)), 'late', 999, 0); SELECT count(*), max(name) FROM t;"
)

# sqlite3 writes each statement's result as soon as it is done, also to a
# pipe or a file (checked by hand: `echo 'select 1;'` into a FIFO answers
# at once), so waiting for lines works.
start ref "$SQLITE" -batch
send ref "${setup[@]}" "${questions[@]}"
wait_lines ref $((1 + ${#questions[@]}))
close_input ref
wait_exit ref 0

start run "$SQLITE" -batch
send run "${setup[@]}"
wait_lines run 1
[[ $(cat "$WORK/run.out") == "loaded,$ROWS" ]] || fail "sqlite3 did not load the table: $(cat "$WORK/run.out")"
dump run "$WORK/sqlite.ckpt"
verify "$WORK/sqlite.ckpt"
log "image bytes $(image_bytes "$WORK/sqlite.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/sqlite.ckpt"
send back "${questions[@]}"
wait_lines back ${#questions[@]}
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored sqlite3"

lines "$WORK/ref.out" 2 $((1 + ${#questions[@]})) >"$WORK/expected"
expect_same "sqlite3 answers after the restore" "$WORK/expected" "$WORK/back.out"

# The same numbers worked out here, so a broken reference cannot hide a bug.
read -r count sum_id sum_v heavy groups < <(awk -v n=$ROWS 'BEGIN {
  for (x = 1; x <= n; x++) { v = (x * 37) % 1000; s += x; sv += v; if (v > 990) h++; g[x % 7] += v }
  for (k = 0; k < 7; k++) gs = gs (k ? "," : "") k ":" g[k]
  print n, s, sv, h, gs }')
[[ $(lines "$WORK/back.out" 1 1) == "$count,$sum_id,$sum_v" ]] || fail "count/sum after restore is not $count,$sum_id,$sum_v"
[[ $(lines "$WORK/back.out" 2 2) == n4242 ]] || fail "row 4242 is not n4242 after restore"
[[ $(lines "$WORK/back.out" 3 3) == "$heavy" ]] || fail "the view does not count $heavy rows after restore"
[[ $(lines "$WORK/back.out" 4 4) == "$groups" ]] || fail "the group sums after restore are not $groups"
[[ $(lines "$WORK/back.out" 5 5) == "$((ROWS + 1)),n999" ]] || fail "the restored database did not take an insert"
log "answers after restore: $(tr '\n' ' ' <"$WORK/back.out")"
log "PASS"
