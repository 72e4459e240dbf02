#!/usr/bin/env bash
# Manual pages and bash completion: ckpt(1) and restore(1) render without a
# warning (groff -ww) and with man -l; every option that a subcommand's
# --help lists (and restore --help) is described in its page and offered by
# the completion; the completion loads in bash and completes subcommands,
# options, pids and image files; `cmake --install` puts the programs, pages
# and completion under bin, share/man/man1 and share/bash-completion.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CKPT_MAN=$SRC/docs/man/ckpt.1
RESTORE_MAN=$SRC/docs/man/restore.1
COMPLETION=$SRC/completion/ckpt.bash

# 1. Rendering.
for page in "$CKPT_MAN" "$RESTORE_MAN"; do
  groff -man -Tutf8 -ww -z "$page" >"$WORK/groff.err" 2>&1 || fail "groff failed on $page: $(cat "$WORK/groff.err")"
  [[ -s $WORK/groff.err ]] && fail "groff warns on $(basename "$page"): $(head -n 5 "$WORK/groff.err")"
  MANWIDTH=80 man -l "$page" >"$WORK/man.out" 2>"$WORK/man.err" || fail "man -l $page exited $?: $(cat "$WORK/man.err")"
  [[ -s $WORK/man.err ]] && fail "man -l $(basename "$page") warns: $(head -n 5 "$WORK/man.err")"
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q "^$section" "$WORK/man.out" || fail "$(basename "$page") has no $section section"
  done
done

# 2. Every option --help lists is in the page and in the completion.
# options_of: the long options a --help text describes (those that start a line).
options_of() { grep -oE -- '^ +(-[a-z](, | \[ ))?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' | sort -u; }
declare -A HELP=([dump]="" [inspect]="" [verify]="" [run]="" [check]="")
export PATH="$(dirname "$RESTORE"):$PATH"
source "$COMPLETION"
complete -p ckpt >/dev/null && complete -p restore >/dev/null || fail "the completion registers no function for ckpt and restore"
complete_words() {  # complete_words FUNCTION WORD...: COMPREPLY for the last word
  COMP_WORDS=("${@:2}")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  "$1"
  printf '%s\n' "${COMPREPLY[@]}"
}
checked=0
for cmd in "${!HELP[@]}"; do
  while read -r opt; do
    [[ $opt == --help ]] || grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$CKPT_MAN" ||
      fail "ckpt $cmd $opt is not in ckpt(1)"
    grep -q -- "^$opt\(=.*\)\?$" <<<"$(complete_words _ckpt ckpt "$cmd" --)" || fail "the completion does not offer ckpt $cmd $opt"
    ((checked++))
  done < <("$CKPT" "$cmd" --help | options_of)
done
while read -r opt; do
  grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$RESTORE_MAN" || fail "restore $opt is not in restore(1)"
  grep -q -- "^$opt\(=.*\)\?$" <<<"$(complete_words _ckpt_restore restore --)" || fail "the completion does not offer restore $opt"
  ((checked++))
done < <("$RESTORE" --help | options_of)
((checked > 30)) || fail "only $checked options found in the --help texts"
log "$checked options in the pages and the completion"

# 3. Completion at work: subcommands, options, pids, image files, option values.
[[ $(complete_words _ckpt ckpt i) == inspect ]] || fail "ckpt i<TAB>: $(complete_words _ckpt ckpt i)"
[[ $(complete_words _ckpt ckpt dump --ki) == --kill ]] || fail "ckpt dump --ki<TAB>: $(complete_words _ckpt ckpt dump --ki)"
grep -qx "$$" <<<"$(complete_words _ckpt ckpt dump "$$")" || fail "ckpt dump <TAB> does not offer pid $$"
grep -qx 'zstd:3' <<<"$(complete_words _ckpt ckpt dump 1 --compress z)" || fail "ckpt dump --compress z<TAB> does not offer zstd:3"
mkdir "$WORK/imgs"
touch "$WORK/imgs/app.ckpt" "$WORK/imgs/notes.txt"
[[ $(complete_words _ckpt ckpt inspect "$WORK/imgs/") == "$WORK/imgs/app.ckpt" ]] ||
  fail "ckpt inspect <TAB> offers '$(complete_words _ckpt ckpt inspect "$WORK/imgs/")', expected only the .ckpt file"
[[ $(complete_words _ckpt_restore restore "$WORK/imgs/a") == "$WORK/imgs/app.ckpt" ]] || fail "restore <TAB> does not offer the image"
[[ $(complete_words _ckpt_restore restore --pid) == --pid-ns ]] || fail "restore --pid<TAB>"
[[ -z $(complete_words _ckpt ckpt inspect "$WORK/imgs/app.ckpt" "$WORK/imgs/") ]] || fail "ckpt inspect offers a second image"
bash -c "source '$COMPLETION'" 2>"$WORK/source.err" && [[ ! -s $WORK/source.err ]] || fail "sourcing the completion printed: $(cat "$WORK/source.err")"

# 4. cmake --install.
BUILD=${CKPT_BUILD_DIR:?CKPT_BUILD_DIR must name the build folder}
cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.out" 2>&1 || fail "cmake --install failed: $(tail -n 5 "$WORK/install.out")"
for f in bin/ckpt bin/restore share/man/man1/ckpt.1 share/man/man1/restore.1 \
         share/bash-completion/completions/ckpt share/bash-completion/completions/restore; do
  [[ -f $WORK/prefix/$f ]] || fail "cmake --install did not install $f: $(cat "$WORK/install.out")"
done
[[ -x $WORK/prefix/bin/ckpt && -x $WORK/prefix/bin/restore ]] || fail "the installed programs are not executable"
grep -q "$WORK/prefix/share/man/man1/ckpt.1" <<<"$(MANPATH=$WORK/prefix/share/man man -w ckpt)" || fail "man does not find the installed ckpt(1)"
log "PASS"
