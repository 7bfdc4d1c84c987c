#!/bin/sh
# Installs Carapace for the current user from a built source checkout, without root.
# Run `sh install.sh --help` for what it does and where it puts things (docs/install.md has more).
#
# The whole script is one { } group: the shell parses all of it before running any of it, so a
# download cut off anywhere is a syntax error and changes nothing. Every function is called only
# from main, on the last line.
{
set -eu
umask 077

# scripts/release.sh stamps the release URL and the release's public key into the published copy
# of this script; the download installer that uses them replaces the checkout mode next.
# shellcheck disable=SC2034
RELEASE_URL=''
# shellcheck disable=SC2034
RELEASE_KEY=''

NODE_MIN_MAJOR=20
NODE_MIN_MINOR=17
PNPM_MIN_MAJOR=10

usage() {
  cat <<'USAGE'
usage: install.sh [--prefix DIR] [--source DIR]

Installs Carapace for the current user from a built source checkout. Never uses sudo.

  --prefix DIR   install into DIR/lib/carapace and link DIR/bin/carapace
                 (default: $HOME/.local, so ~/.local/lib/carapace and ~/.local/bin/carapace)
  --source DIR   the checkout to install (default: the directory holding install.sh)
  -h, --help     print this help

Environment:
  CARAPACE_HOME  Carapace's home (default: ~/.carapace); created 0700 with a 0700
                 credentials/ directory inside

Needs Node.js >= 20.17 and pnpm >= 10, and a built checkout: run
  pnpm install --frozen-lockfile && pnpm build
in it first. The previous installation is kept as DIR/lib/carapace.previous.
USAGE
}

say() { printf '==> %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
usage_error() {
  printf 'install.sh: %s\n' "$*" >&2
  printf "Run 'install.sh --help' for usage.\n" >&2
  exit 2
}

parse_args() {
  prefix=''
  source_dir=''
  while [ "$#" -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --prefix | --source)
        if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a directory"; fi
        if [ "$1" = --prefix ]; then prefix=$2; else source_dir=$2; fi
        shift 2
        ;;
      --prefix=?*) prefix=${1#--prefix=}; shift ;;
      --source=?*) source_dir=${1#--source=}; shift ;;
      *) usage_error "unknown argument: $1" ;;
    esac
  done
}

# `curl ... | sh` runs whatever arrives, and the script cannot be checked before it runs.
is_piped() {
  [ ! -t 0 ] || return 1
  case ${0##*/} in
    sh | dash | bash | ksh | zsh | -sh | -dash | -bash) return 0 ;;
    *) return 1 ;;
  esac
}

warn_if_piped() {
  is_piped || return 0
  cat >&2 <<'NOTE'
install.sh: running from a pipe. The recommended path is two steps: download install.sh,
check its SHA-256 against the published checksum, then run the file you checked.
NOTE
}

absolute_path() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

resolve_paths() {
  [ -n "${HOME:-}" ] || fail "HOME is not set"
  prefix=$(absolute_path "${prefix:-$HOME/.local}")
  lib_dir=$prefix/lib
  install_dir=$lib_dir/carapace
  previous_dir=$install_dir.previous
  bin_dir=$prefix/bin
  command_link=$bin_dir/carapace
  carapace_home=$(absolute_path "${CARAPACE_HOME:-$HOME/.carapace}")
  if [ -z "$source_dir" ]; then
    is_piped && fail "install.sh was read from a pipe, so there is no checkout beside it: pass --source DIR"
    source_dir=$(dirname -- "$0")
  fi
  [ -d "$source_dir" ] || fail "source checkout not found: $source_dir"
  source_dir=$(cd -- "$source_dir" && pwd -P)
}

# Sets major and minor from a dotted version, or fails naming what it could not read.
read_major_minor() {
  major=${1%%.*}
  rest=${1#*.}
  minor=${rest%%.*}
  case $major in '' | *[!0-9]*) fail "cannot read the version of $2 ('$1')" ;; esac
  case $minor in '' | *[!0-9]*) fail "cannot read the version of $2 ('$1')" ;; esac
}

check_node() {
  node_bin=$(command -v node) || fail "Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR is required and 'node' is not on PATH"
  node_version=$(node -p 'process.versions.node') || fail "could not run $node_bin"
  read_major_minor "$node_version" "$node_bin"
  if [ "$major" -lt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -lt "$NODE_MIN_MINOR" ]; }; then
    fail "Node.js $node_version ($node_bin) is too old: Carapace needs >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR"
  fi
  node_bin=$(absolute_path "$node_bin")
}

check_pnpm() {
  command -v pnpm >/dev/null 2>&1 || fail "pnpm >= $PNPM_MIN_MAJOR is required: npm install -g pnpm@$PNPM_MIN_MAJOR"
  # From /, so that no package.json's packageManager field makes pnpm switch versions here.
  pnpm_version=$(cd / && pnpm --version) || fail "could not run pnpm"
  read_major_minor "$pnpm_version" pnpm
  [ "$major" -ge "$PNPM_MIN_MAJOR" ] || fail "pnpm $pnpm_version is too old: Carapace needs pnpm >= $PNPM_MIN_MAJOR (npm install -g pnpm@$PNPM_MIN_MAJOR)"
}

# The installer installs what the checkout built and never writes into the checkout: building
# needs the dev dependencies, and a release install will bring its own built tree.
check_source() {
  for entry in package.json pnpm-lock.yaml images; do
    [ -e "$source_dir/$entry" ] || fail "$source_dir is not a Carapace checkout: $entry is missing"
  done
  build_hint="run 'pnpm install --frozen-lockfile && pnpm build' in $source_dir, then install.sh again"
  [ -f "$source_dir/dist/cli/main.js" ] || fail "$source_dir is not built (dist/cli/main.js is missing): $build_hint"
  if [ -d "$source_dir/src" ]; then
    newer=$(find "$source_dir/src" -type f -name '*.ts' ! -name '*.test.ts' -newer "$source_dir/dist/cli/main.js" | head -n 1)
    [ -z "$newer" ] || fail "dist/ is older than ${newer#"$source_dir"/}: $build_hint"
  fi
}

nearest_existing() {
  dir=$1
  while [ ! -e "$dir" ] && [ ! -L "$dir" ]; do dir=$(dirname -- "$dir"); done
  printf '%s\n' "$dir"
}

# Refuses, before changing anything, a prefix this user cannot write: the fix is another
# prefix, never sudo.
check_prefix() {
  for target in "$lib_dir" "$bin_dir" "$install_dir" "$previous_dir"; do
    existing=$(nearest_existing "$target")
    [ "$existing" != "$target" ] || [ -d "$target" ] || fail "$target exists and is not a directory"
    if [ ! -d "$existing" ] || [ ! -w "$existing" ]; then
      fail "cannot write to $existing: installing under $prefix would need root (or that directory's owner), and install.sh never uses sudo.
Install for your user with the default prefix (\$HOME/.local), or pass --prefix DIR for a directory you own."
    fi
  done
}

check_command_link() {
  if [ -L "$command_link" ]; then
    [ "$(readlink -- "$command_link")" = "$install_dir/bin/carapace" ] && return 0
  elif [ ! -e "$command_link" ]; then
    return 0
  fi
  fail "$command_link exists and is not Carapace's link: move it away or choose another --prefix"
}

# Credentials live under the home: a symlink there could send them somewhere the user does not own.
check_carapace_home() {
  for dir in "$carapace_home" "$carapace_home/credentials"; do
    [ ! -L "$dir" ] || fail "$dir is a symlink; Carapace needs a real directory there"
    [ ! -e "$dir" ] || [ -d "$dir" ] || fail "$dir exists and is not a directory"
  done
}

# Runs on every exit: removes an unfinished staging directory and, if we were stopped between
# the two renames, puts the previous installation back.
cleanup() {
  if [ -n "$stage_dir" ]; then rm -rf -- "$stage_dir"; fi
  if [ "$swapping" = 1 ] && [ ! -e "$install_dir" ] && [ -d "$previous_dir" ]; then
    mv -- "$previous_dir" "$install_dir"
  fi
}

# The staging directory sits beside the installation, on the same filesystem, so that moving it
# into place is one rename.
make_staging_dir() {
  mkdir -p -- "$lib_dir"
  stage_dir=$(mktemp -d "$lib_dir/.carapace-staging.XXXXXX")
}

# Fills the staging directory with the built tree. Everything after it is shared with any other
# way of obtaining that tree.
stage_from_source() {
  say "copying the built tree from $source_dir"
  cp -R -- "$source_dir/package.json" "$source_dir/pnpm-lock.yaml" "$source_dir/dist" "$source_dir/images" "$stage_dir/"
}

# --frozen-lockfile installs exactly the locked versions and checks every tarball against the
# lock's integrity hash; --prefer-offline takes them from the pnpm store (with the built
# better-sqlite3 from pnpm's side-effects cache) and downloads only what the store lacks.
install_dependencies() {
  say "installing production dependencies (pnpm install --prod --frozen-lockfile --prefer-offline)"
  (cd "$stage_dir" && pnpm install --prod --frozen-lockfile --prefer-offline --ignore-workspace) ||
    fail "pnpm install failed in the staging directory; nothing was installed"
}

shell_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# The wrapper pins the Node.js the dependencies were installed with: better-sqlite3 is compiled
# for that Node's ABI.
write_wrapper() {
  mkdir -- "$stage_dir/bin"
  cat >"$stage_dir/bin/carapace" <<WRAPPER
#!/bin/sh
# Written by install.sh. Carapace runs on the Node.js it was installed with.
node=$(shell_quote "$node_bin")
if [ ! -x "\$node" ]; then
  echo "carapace: \$node is gone; run install.sh again with the Node.js you use now" >&2
  exit 1
fi
exec "\$node" $(shell_quote "$install_dir/dist/cli/main.js") "\$@"
WRAPPER
  chmod 0700 "$stage_dir/bin/carapace"
}

# Checks the staged tree before it replaces anything: the CLI starts and reports the version it
# was built as, and the one compiled addon loads (pnpm skips build scripts it was not told to
# run, and an unbuilt addon would only fail at first use).
verify_staged() {
  expected=$(cd "$stage_dir" && "$node_bin" -p 'require("./package.json").version')
  actual=$("$node_bin" "$stage_dir/dist/cli/main.js" --version) ||
    fail "the staged Carapace does not start; nothing was installed"
  [ "$actual" = "$expected" ] || fail "the staged Carapace reports version '$actual', expected '$expected'; nothing was installed"
  (cd "$stage_dir" && "$node_bin" -e 'new (require("better-sqlite3"))(":memory:").close()') ||
    fail "better-sqlite3 does not load in the staged tree (was its build script allowed?); nothing was installed"
  version=$actual
}

create_carapace_home() {
  install -d -m 0700 -- "$carapace_home" "$carapace_home/credentials"
}

swap_into_place() {
  swapping=1
  if [ -e "$install_dir" ]; then
    rm -rf -- "$previous_dir"
    mv -- "$install_dir" "$previous_dir"
  fi
  [ ! -e "$install_dir" ] || fail "$install_dir reappeared during the install; is another install.sh running?"
  mv -- "$stage_dir" "$install_dir"
  stage_dir=''
  swapping=0
}

link_command() {
  mkdir -p -- "$bin_dir"
  [ -L "$command_link" ] || ln -s -- "$install_dir/bin/carapace" "$command_link"
}

report() {
  say "installed Carapace $version in $install_dir"
  [ ! -d "$previous_dir" ] || say "the previous installation is kept in $previous_dir"
  say "command: $command_link (runs $node_bin)"
  say "Carapace home: $carapace_home"
  case :${PATH:-}: in
    *:"$bin_dir":*) ;;
    *) say "$bin_dir is not on your PATH; add it, e.g.: export PATH=\"$bin_dir:\$PATH\"" ;;
  esac
  if [ -n "${CARAPACE_HOME:-}" ]; then
    say "keep CARAPACE_HOME=$carapace_home set when you run carapace"
  fi
  say "next: carapace doctor"
}

main() {
  parse_args "$@"
  warn_if_piped
  resolve_paths
  check_node
  check_pnpm
  check_source
  check_prefix
  check_command_link
  check_carapace_home

  stage_dir=''
  swapping=0
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM

  make_staging_dir
  stage_from_source
  install_dependencies
  write_wrapper
  verify_staged
  create_carapace_home
  swap_into_place
  link_command
  report
}

main "$@"; }
