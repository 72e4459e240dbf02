# bash completion for ckpt and restore: subcommands, their options, process
# ids for `ckpt dump`, image files (*.ckpt, and folders) elsewhere.
# Installed as share/bash-completion/completions/{ckpt,restore}; works
# without the bash-completion package too (source this file).
# tests/e2e/check_cli_docs.sh checks that it offers every option --help lists.

_ckpt_images() {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY+=($(compgen -f -X '!*.ckpt' -- "$1") $(compgen -d -- "$1"))
}

_ckpt() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i opts args=0
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "dump migrate inspect verify run check --version --help" -- "$cur"))
    return
  fi
  # Positional arguments already given after the command (option values aside).
  for ((i = i + 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -o | --output | --compress | --inherit-fd | --external-fds | --token-file | --parent) ((i++)) ;;
      -*) ;;
      *) ((args++)) ;;
    esac
  done
  case $cmd in
    dump)
      opts="-o --output --kill --single --compress --ignore-fds --inherit-outside-sockets --tcp-established --executable --copies-return --track --parent --json --snapshot --progress --no-progress --help"
      case $prev in
        -o | --output) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --parent) _ckpt_images "$cur"; return ;;
        --compress) COMPREPLY=($(compgen -W "none zstd zstd:1 zstd:3 zstd:9 zstd:19" -- "$cur")); return ;;
      esac
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
      elif ((args == 0)); then
        COMPREPLY=($(compgen -W "$(cd /proc && printf '%s ' [0-9]*)" -- "$cur"))
      fi
      ;;
    migrate)
      opts="--token-file --lazy --rounds --precopy-threshold --single --compress --ignore-fds --inherit-outside-sockets --tcp-established --help"
      case $prev in
        --token-file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --rounds | --precopy-threshold) return ;;
        --compress) COMPREPLY=($(compgen -W "none zstd zstd:1 zstd:3 zstd:9 zstd:19" -- "$cur")); return ;;
      esac
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
      elif ((args == 0)); then
        COMPREPLY=($(compgen -W "$(cd /proc && printf '%s ' [0-9]*)" -- "$cur"))
      fi
      ;;
    inspect | verify | run | check)
      case $cmd in
        inspect) opts="--json --help" ;;
        verify) opts="--help" ;;
        run) opts="--lazy --new-pids --pid-ns --inherit-fd --external-fds=null --progress --no-progress --help" ;;
        check) opts="--json --help" ;;
      esac
      [[ $prev == --inherit-fd ]] && return
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
      elif [[ $cmd != check ]] && ((args == 0)); then
        _ckpt_images "$cur"
      fi
      ;;
  esac
}

_ckpt_restore() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local opts="--lazy --learn --check --verbose --host-clocks --inherit-fd --external-fds=null --new-pids --pid-ns --listen --token-file --progress --no-progress --install-binfmt --uninstall-binfmt --version --help"
  COMPREPLY=()
  [[ $prev == --inherit-fd || $prev == --listen ]] && return
  if [[ $prev == --token-file ]]; then compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return; fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    _ckpt_images "$cur"
  fi
}

complete -F _ckpt ckpt
complete -F _ckpt_restore restore
