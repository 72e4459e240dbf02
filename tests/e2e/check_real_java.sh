#!/usr/bin/env bash
# A real JVM (Debian's default-jdk-headless, default flags: it maps its
# performance-data file /tmp/hsperfdata_USER/PID shared and keeps writing
# it) is dumped while it runs, then restored three times in a row while the
# original keeps running; every copy, and the original after each restore,
# does real work (allocates, sums, collects garbage, and answers with its
# pid). Each copy must have a performance-data file named after its own pid
# (what jps and jstat look for) holding the JVM's counters, and the
# original's file must still be there while it runs.
# Skips (exit 77, shown by CTest), saying so, where java or javac is missing.
source "$(dirname "$0")/lib.sh"

if ! command -v java >/dev/null || ! command -v javac >/dev/null || ! java -version >/dev/null 2>&1; then
  echo "$TEST_NAME: SKIP: no working java/javac (install default-jdk-headless; .ci/deps does)" >&2
  exit 77
fi
cat >"$WORK/Work.java" <<'JAVA'
import java.util.ArrayList;
import java.util.concurrent.*;

public class Work {
  public static void main(String[] args) throws Exception {
    var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
    ExecutorService pool = Executors.newFixedThreadPool(3);
    System.out.println("ready " + ProcessHandle.current().pid());
    String line;
    long total = 0;
    while ((line = in.readLine()) != null) {
      // Work on three threads: build lists, sum them, let the collector run.
      var parts = new ArrayList<Future<Long>>();
      for (int t = 0; t < 3; t++) {
        final int k = t;
        parts.add(pool.submit(() -> {
          var l = new ArrayList<Long>();
          for (int i = 0; i < 300000; i++) l.add((long) i * (k + 1));
          long s = 0;
          for (long x : l) s += x;
          return s;
        }));
      }
      for (var f : parts) total += f.get();
      System.gc();
      // The pid from /proc/self: the JVM caches its own pid at start-up (a
      // copy's cached one is the original's, docs/architecture.md "Known gaps").
      String pid = new java.io.File("/proc/self").getCanonicalFile().getName();
      System.out.println("got " + line + " total " + total + " pid " + pid);
    }
    pool.shutdown();
    System.out.println("bye");
  }
}
JAVA
(cd "$WORK" && javac Work.java) || fail "javac failed"
# Each round adds 3 * (299999 * 300000 / 2) * (1 + 2 + 3) to the total.
per_round=$((299999 * 300000 / 2 * 6))
hsdir=/tmp/hsperfdata_$(id -un)

# ask NAME WORD N: sends WORD, waits for line N of NAME's output, checks it.
ask() {
  local name=$1 word=$2 n=$3 want_total=$4 line pid
  pid=$(pid_of "$name")
  send "$name" "$word"
  wait_lines "$name" "$n"
  line=$(sed -n "${n}p" "$WORK/$name.out")
  [[ $line == "got $word total $want_total pid "* ]] || fail "$name answered '$line' to $word, expected total $want_total"
  echo "${line##* pid }"
}

start orig java -cp "$WORK" Work
WAIT_SECONDS=60 wait_lines orig 1
[[ -f $hsdir/$PID_orig ]] || fail "the JVM has no performance-data file $hsdir/$PID_orig (did its defaults change?)"
grep -q "$hsdir/$PID_orig" "/proc/$PID_orig/maps" || fail "the JVM does not map $hsdir/$PID_orig"
ask orig o0 2 $per_round >/dev/null
dump_live orig "$WORK/java.ckpt"
log "dumped the running JVM: $(cat "$WORK/dump-orig.err")"

for k in 1 2 3; do
  restore_start "r$k" "$WORK/java.ckpt"
  WAIT_SECONDS=60
  pid=$(ask "r$k" "r$k" 1 $((2 * per_round)))
  [[ $pid == $(pid_of "r$k") ]] || fail "copy $k reports pid $pid, its pid is $(pid_of "r$k")"
  [[ -f $hsdir/$pid ]] || fail "copy $k has no performance-data file $hsdir/$pid"
  grep -q "$hsdir/$pid\$" "/proc/$pid/maps" || fail "copy $k does not map $hsdir/$pid: $(grep hsperf "/proc/$pid/maps")"
  grep -aq "sun.rt.createVmBeginTime" "$hsdir/$pid" || fail "copy $k's performance-data file lacks the JVM's counters"
  ask "r$k" "r${k}b" 2 $((3 * per_round)) >/dev/null
  # The original goes on too, and its file stays.
  ask orig "o$k" $((2 + k)) $(((k + 1) * per_round)) >/dev/null
  ((k > 1)) || [[ -f $hsdir/$PID_orig ]] || fail "the original's performance-data file is gone while copy $k runs"
  grep -q "$hsdir/$PID_orig" "/proc/$PID_orig/maps" || fail "the original no longer maps its performance-data file"
  close_input "r$k"
  wait_lines "r$k" 3
  wait_exit "r$k" 0
  check_quiet "$WORK/r$k.err" "copy $k"
  [[ -f $hsdir/$PID_orig ]] || log "known gap: copy $k's exit removed $hsdir/$PID_orig (the original's name)"
  rm -f "$hsdir/$pid"  # the copy's own file, left behind for the same reason
  log "copy $k (pid $pid) worked, exited 0; the original goes on"
done
close_input orig
wait_exit orig 0
log "the original answered after every restore and exited 0"
