# Helpers for tests of process trees (sourced after lib.sh): the pids of
# a tree, its total PSS, and waiting until it is set up.

# The pids of PID and all its descendants, one per line.
tree_pids() {
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

# The sum of Pss (kB) over PID's tree.
tree_pss() {
  local p sum=0 v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# wait_members PID N: until PID's tree has N processes, all sleeping (set up, waiting).
wait_members() {
  local i n s p
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    n=0 s=0
    for p in $(tree_pids "$1"); do
      n=$((n + 1))
      [[ $(proc_state "$p") == S ]] && s=$((s + 1))
    done
    ((n == $2 && s == $2)) && return 0
    sleep 0.1
  done
  fail "pid $1's tree has $n processes ($s sleeping) after ${WAIT_SECONDS}s, expected $2"
}
