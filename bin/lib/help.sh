# Sourced by the bin/ commands (after they set $root): answer -h/--help at once, before
# anything is set up, linted or started.

# wants_help ARG...: whether -h or --help is among the arguments.
wants_help() {
  local arg
  for arg in "$@"; do case "$arg" in -h|--help) return 0 ;; esac; done
  return 1
}

# usage_from_header SCRIPT: the script's header comment, without its leading '# '.
usage_from_header() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$1"; }

# help_before_setup SCRIPT ARG...: asked for help while there is no .venv yet, print the
# script's header usage and exit (every option needs the environment bin/setup makes).
help_before_setup() {
  local script="$1"
  shift
  if wants_help "$@" && [ ! -x "$root/.venv/bin/python" ]; then
    usage_from_header "$script"
    echo "(every option: run bin/setup, then this again)"
    exit 0
  fi
}
