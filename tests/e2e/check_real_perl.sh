#!/usr/bin/env bash
# A real perl interpreter holding a hash of 20000 entries, an array, a
# closure with a private counter and a compiled regex is fed through a
# pipe, dumped with --kill mid-conversation and restored with a new stdin;
# lookups and sums that only the saved hash can answer must equal an
# uninterrupted reference run's and the values worked out here.
source "$(dirname "$0")/lib.sh"

PERL=/usr/bin/perl
# Each line is eval'd; one answer line each: the value, "undef", or
# "error: ...".  $| = 1: each answer is written at once, even to a file.
REPL='
$| = 1;
while (defined(my $line = <STDIN>)) {
  chomp $line;
  my $r = eval $line;
  if ($@) { (my $e = $@) =~ s/\n/ /g; print "error: $e\n" }
  else { print defined $r ? "$r\n" : "undef\n" }
}
'
N=20000
setup=(
  "%h = map { (\"k\$_\" => (\$_ * \$_) % 9973) } 1 .. $N; scalar(keys %h)"
  '@order = sort { $h{$a} <=> $h{$b} || $a cmp $b } keys %h; scalar(@order)'
  '$next = do { my $c = 100; sub { return $c++ } }; $next->()'
  '$re = qr/^k(\d+)7$/; "ok"'
)
questions=(
  'scalar(keys %h)'
  'my $s = 0; $s += $h{"k$_"} for (1, 17, 4242, 9999, 19999); $s'
  'join(",", @order[0 .. 4])'
  '$next->() + $next->()'
  'scalar(grep { $_ =~ $re } keys %h)'
  'delete $h{"k1"}; $h{"new"} = 5; scalar(keys %h) . " " . $h{"new"}'
)

start ref "$PERL" -e "$REPL"
send ref "${setup[@]}" "${questions[@]}"
wait_lines ref $((${#setup[@]} + ${#questions[@]}))
close_input ref
wait_exit ref 0

start run "$PERL" -e "$REPL"
send run "${setup[@]}"
wait_lines run ${#setup[@]}
dump run "$WORK/perl.ckpt"
verify "$WORK/perl.ckpt"
log "image bytes $(image_bytes "$WORK/perl.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/perl.ckpt"
send back "${questions[@]}"
wait_lines back ${#questions[@]}
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored perl"

lines "$WORK/ref.out" 1 ${#setup[@]} >"$WORK/expected-before"
lines "$WORK/ref.out" $((${#setup[@]} + 1)) $((${#setup[@]} + ${#questions[@]})) >"$WORK/expected-after"
expect_same "perl output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "perl answers after the restore" "$WORK/expected-after" "$WORK/back.out"

# Worked out here as well.
sum=0
for i in 1 17 4242 9999 19999; do sum=$((sum + (i * i) % 9973)); done
matches=$(seq 1 $N | grep -c '.7$')  # a digit before the 7: not k7
[[ $(lines "$WORK/back.out" 1 1) == "$N" ]] || fail "the restored hash does not hold $N keys"
[[ $(lines "$WORK/back.out" 2 2) == "$sum" ]] || fail "the restored hash's lookups do not sum to $sum"
[[ $(lines "$WORK/back.out" 4 4) == 203 ]] || fail "the restored closure's counter did not go on from 101 (101 + 102)"
[[ $(lines "$WORK/back.out" 5 5) == "$matches" ]] || fail "the restored regex does not match $matches keys"
[[ $(lines "$WORK/back.out" 6 6) == "$N 5" ]] || fail "the restored hash did not take a delete and an insert"
log "answers after restore: $(tr '\n' ' ' <"$WORK/back.out")"
log "PASS"
