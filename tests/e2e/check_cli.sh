#!/usr/bin/env bash
# The command line people reach for first: `ckpt check` on this machine
# (exit 0, one line per capability, --json that parses and says the same),
# its FAIL line when restore cannot be found, and what an unprivileged user
# is told; --version of both programs; --help of every subcommand (exit 0,
# every option with a description); usage errors still exit 2.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$(dirname "$RESTORE"):$PATH"  # ckpt finds restore beside itself or on PATH

# 1. ckpt check here: a plain dump and restore work (the whole suite proves it).
"$CKPT" check >"$WORK/check.out" 2>"$WORK/check.err"
rc=$?
((rc == 0)) || fail "ckpt check exited $rc: $(cat "$WORK/check.out" "$WORK/check.err")"
for name in restore ptrace /proc process_vm_readv/writev CAP_SYS_PTRACE CAP_CHECKPOINT_RESTORE CAP_NET_ADMIN CAP_SYS_ADMIN \
            userfaultfd --lazy "time namespace" --pid-ns "saved pids" --tcp-established MADV_POPULATE_WRITE PAGEMAP_SCAN \
            "transparent huge pages" "hugetlb pages" binfmt_misc; do
  grep -qE "^(ok  |no  |FAIL)  $name: " "$WORK/check.out" || fail "ckpt check has no line for '$name': $(cat "$WORK/check.out")"
done
grep -q '^FAIL' "$WORK/check.out" && fail "ckpt check exited 0 with a FAIL line: $(grep '^FAIL' "$WORK/check.out")"
grep -q '^ok    ptrace: ' "$WORK/check.out" || fail "ckpt check: ptrace not ok although dumps work here"
grep -q 'a plain dump and restore work here' "$WORK/check.out" || fail "ckpt check gave no verdict line"
grep -E '^no  ' "$WORK/check.out" | grep -qv '; to fix: ' && fail "a 'no' line without what to do: $(grep -E '^no  ' "$WORK/check.out" | grep -v '; to fix: ')"
"$CKPT" check --json >"$WORK/check.json" || fail "ckpt check --json exited $?"
python3 - "$WORK/check.json" "$WORK/check.out" <<'PY' || fail "ckpt check --json does not match its text: $(cat "$WORK/check.json")"
import json, sys
j = json.load(open(sys.argv[1]))
text = [l for l in open(sys.argv[2]) if l[:4] in ("ok  ", "no  ", "FAIL")]
assert j["plain_dump_and_restore"] is True, j
assert len(j["findings"]) == len(text), (len(j["findings"]), len(text))
for f, line in zip(j["findings"], text):
    assert line.split("  ", 1)[1].lstrip().startswith(f["name"] + ": "), (f, line)
    assert f["ok"] == line.startswith("ok"), (f, line)
    assert set(f) == {"name", "ok", "required", "detail", "advice"}, f
PY
log "ckpt check: $(grep -c '^ok' "$WORK/check.out") ok, $(grep -c '^no' "$WORK/check.out") not available"

# 2. No restore to be found: the FAIL line says so and what to do; exit 1.
mkdir "$WORK/alone"
cp "$CKPT" "$WORK/alone/ckpt"
PATH=/usr/bin:/bin "$WORK/alone/ckpt" check >"$WORK/alone.out" 2>&1
rc=$?
((rc == 1)) || fail "ckpt check without restore: exit $rc, expected 1"
grep -q '^FAIL  restore: no restore program beside ckpt or on PATH; to fix: ' "$WORK/alone.out" ||
  fail "ckpt check without restore: no FAIL line for it: $(cat "$WORK/alone.out")"
grep -q 'cannot work here' "$WORK/alone.out" || fail "ckpt check without restore: no verdict"
PATH=/usr/bin:/bin "$WORK/alone/ckpt" check --json >"$WORK/alone.json"
(($? == 1)) && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["plain_dump_and_restore"] is False' "$WORK/alone.json" ||
  fail "ckpt check --json without restore: $(cat "$WORK/alone.json")"

# 3. An unprivileged user (nobody, no capabilities): the restore modes that
# need privileges say so, each with what to do; dumping its own processes still works.
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
  cp "$RESTORE" "$WORK/alone/restore"
  chmod 755 "$WORK" "$WORK/alone"
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$WORK/alone/ckpt" check >"$WORK/nobody.out" 2>&1
  rc=$?
  grep -q '^no    CAP_SYS_ADMIN: not held' "$WORK/nobody.out" || fail "as nobody: CAP_SYS_ADMIN not reported missing: $(cat "$WORK/nobody.out")"
  grep -q '^no    --pid-ns: restore --pid-ns: .*; to fix: run restore --pid-ns as root' "$WORK/nobody.out" ||
    fail "as nobody: --pid-ns not reported impossible: $(grep -- '--pid-ns' "$WORK/nobody.out")"
  grep -q '^no    --tcp-established: .*EPERM\|^no    --tcp-established: .*not permitted' "$WORK/nobody.out" ||
    fail "as nobody: --tcp-established not reported impossible: $(grep -- '--tcp-established' "$WORK/nobody.out")"
  grep -q '^ok    ptrace: ' "$WORK/nobody.out" && ((rc == 0)) ||
    fail "as nobody: exit $rc, ptrace line $(grep 'ptrace:' "$WORK/nobody.out")"
  log "as nobody: $(grep -c '^no' "$WORK/nobody.out") lines not available, exit $rc"
else
  log "SKIP part 3: needs root and setpriv to try as an unprivileged user"
fi

# 4. --version: the CMake project version, the image format, the commit if known.
version=$(sed -n 's/^project(ckpt VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
format=$(sed -n 's/^inline constexpr uint32_t kVersion = \([0-9]*\);/\1/p' "$SRC/format/Image.h")
[[ -n $version && -n $format ]] || fail "cannot read the expected version ($version) or format ($format) from the sources"
for prog in "$CKPT" "$RESTORE"; do
  out=$("$prog" --version)
  rc=$?
  name=$(basename "$prog")
  ((rc == 0)) || fail "$name --version exited $rc"
  [[ $out =~ ^$name\ $version\ \(image\ format\ $format(,\ commit\ [0-9a-f]{12}(-dirty)?)?\)$ ]] ||
    fail "$name --version printed '$out', expected '$name $version (image format $format[, commit ...])'"
  log "$out"
done

# 5. --help: the top level, every subcommand, restore; each option with a description.
expect_help() {  # expect_help WHAT OPTION... -- COMMAND...
  local what=$1; shift
  local opts=() o
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  "$@" >"$WORK/help.out" 2>"$WORK/help.err"
  local rc=$?
  ((rc == 0)) || fail "$what: exit $rc, expected 0: $(head -n 3 "$WORK/help.err")"
  [[ -s $WORK/help.err ]] && fail "$what wrote to stderr: $(head -n 3 "$WORK/help.err")"
  head -n 1 "$WORK/help.out" | grep -q '^usage: ' || fail "$what: no usage line first: $(head -n 1 "$WORK/help.out")"
  for o in "${opts[@]}"; do
    grep -qE -- "^ +(-[a-z] \[ )?$o( \])?( [][A-Za-z|:]+)? +[a-z/(]" "$WORK/help.out" ||
      fail "$what: option $o is not listed with a description: $(cat "$WORK/help.out")"
  done
}
expect_help "ckpt --help" -- "$CKPT" --help
expect_help "ckpt -h" -- "$CKPT" -h
expect_help "ckpt dump --help" --output --kill --single --compress --ignore-fds --inherit-outside-sockets --tcp-established \
  --executable --progress --no-progress --help -- "$CKPT" dump --help
expect_help "ckpt dump -h with other arguments" --output -- "$CKPT" dump 1 -o x -h
expect_help "ckpt inspect --help" --json --help -- "$CKPT" inspect --help
expect_help "ckpt verify --help" --help -- "$CKPT" verify --help
expect_help "ckpt run --help" --lazy --new-pids --pid-ns --inherit-fd --external-fds --progress --no-progress -- "$CKPT" run --help
expect_help "ckpt check --help" --json -- "$CKPT" check --help
for c in dump inspect verify run check; do
  grep -q "^usage: ckpt $c " <("$CKPT" $c --help) || fail "ckpt $c --help does not show its own usage"
  grep -q "^  ckpt $c " <("$CKPT" --help) || fail "ckpt --help does not list $c"
done
expect_help "restore --help" -- "$RESTORE" --help
expect_help "restore -h" -- "$RESTORE" -h
for o in --lazy --check --verbose --host-clocks --inherit-fd --external-fds --new-pids --pid-ns --progress --no-progress \
         --install-binfmt --uninstall-binfmt --version --help; do
  grep -qE -- "^  (-h, )?$o[ =]" <("$RESTORE" --help) || fail "restore --help does not describe $o"
done

# 6. Usage errors: exit 2, one line saying what, then the usage.
expect_usage() {  # expect_usage WHAT TEXT COMMAND...
  local what=$1 text=$2; shift 2
  "$@" >"$WORK/usage.out" 2>"$WORK/usage.err"
  local rc=$?
  ((rc == 2)) || fail "$what: exit $rc, expected 2 (usage)"
  grep -q -- "$text" "$WORK/usage.err" || fail "$what: stderr does not say '$text': $(cat "$WORK/usage.err")"
  grep -q '^usage: \|^  ckpt ' "$WORK/usage.err" || fail "$what: no usage after the error: $(cat "$WORK/usage.err")"
  [[ -s $WORK/usage.out ]] && fail "$what wrote to stdout"
  return 0
}
expect_usage "ckpt dump --bogus" "unrecognised option '--bogus'" "$CKPT" dump 1 -o "$WORK/x.ckpt" --bogus
expect_usage "ckpt dump with no -o" "output" "$CKPT" dump 1
expect_usage "ckpt check with an argument" "check" "$CKPT" check extra
expect_usage "ckpt check --bogus" "--bogus" "$CKPT" check --bogus
expect_usage "ckpt inspect with no file" "missing FILE" "$CKPT" inspect
expect_usage "ckpt with an unknown command" "unknown command 'frob'" "$CKPT" frob
expect_usage "ckpt --versions" "unknown command '--versions'" "$CKPT" --versions
expect_usage "restore --bogus" "unrecognised option '--bogus'" "$RESTORE" --bogus
expect_usage "restore --progress --no-progress" "exclude each other" "$RESTORE" --progress --no-progress x.ckpt
expect_usage "restore --version=1" "does not take any arguments" "$RESTORE" --version=1
log "PASS"
