#!/bin/sh
# Installs a signed Carapace release for the current user, without root.
# Run `sh install.sh --help` for what it does and where it puts things (docs/install.md has more).
#
# The whole script is one { } group: the shell parses all of it before running any of it, so a
# download cut off anywhere is a syntax error and changes nothing. Every function is called only
# from main, on the last line.
{
set -eu
umask 077

# scripts/release.sh stamps the release URL and the release's public key into the published copy
# of this script; a checkout's copy has neither, and then needs --from and --release-key.
RELEASE_URL=''
RELEASE_KEY=''

NODE_MIN_MAJOR=20
NODE_MIN_MINOR=17

usage() {
  cat <<'USAGE'
usage: install.sh [--from URL|DIR] [--prefix DIR] [--release-key FILE]

Downloads the Carapace release for this machine, checks it against its signed SHA256SUMS, and
installs it for the current user. Never uses sudo.

  --from URL|DIR        where the release is: a URL (https://, or http:// for a mirror you trust
                        less: the signature still decides) or a local directory
                        (default: the URL this install.sh was published with)
  --prefix DIR          install into DIR/lib/carapace and link DIR/bin/carapace
                        (default: $HOME/.local, so ~/.local/lib/carapace and ~/.local/bin/carapace)
  --release-key FILE    the release's public key (PEM); default: the key published in this script
  -h, --help            print this help

Environment:
  CARAPACE_HOME         Carapace's home (default: ~/.carapace); created 0700 with a 0700
                        credentials/ directory inside
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY (or lower case)
                        used for downloads

Recommended: download install.sh, check its SHA-256, then run the file you checked, rather than
piping it into sh. Needs Node.js >= 20.17, curl or wget, sha256sum or shasum, tar and gzip. The
previous installation is kept as DIR/lib/carapace.previous.
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
  from=''
  key_file=''
  while [ "$#" -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --prefix | --from | --release-key)
        if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
        case $1 in
          --prefix) prefix=$2 ;;
          --from) from=$2 ;;
          *) key_file=$2 ;;
        esac
        shift 2
        ;;
      --prefix=?*) prefix=${1#--prefix=}; shift ;;
      --from=?*) from=${1#--from=}; shift ;;
      --release-key=?*) key_file=${1#--release-key=}; shift ;;
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
check its SHA-256 against the published checksum, then run the file you checked. What arrives
through a pipe runs unchecked; the release it downloads is still verified below.
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
  from=${from:-$RELEASE_URL}
  [ -n "$from" ] || fail "no release location: this install.sh was not published with a release URL; pass --from URL|DIR"
  case $from in
    https://* | http://*) from=${from%/} ;;
    *)
      [ -d "$from" ] || fail "--from $from is neither an http(s) URL nor a directory"
      from=$(cd -- "$from" && pwd -P)
      ;;
  esac
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
  # The tarball's native addons are built for one platform and one Node ABI.
  platform=$("$node_bin" -p 'process.platform + "-" + process.arch')-node$major
}

check_tools() {
  for tool in tar gzip; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is required"
  done
  if command -v sha256sum >/dev/null 2>&1; then
    sha256_tool=sha256sum
  elif command -v shasum >/dev/null 2>&1; then
    sha256_tool=shasum
  else
    fail "sha256sum or shasum is required to check the download"
  fi
  case $from in
    http://* | https://*)
      if command -v curl >/dev/null 2>&1; then
        downloader=curl
      elif command -v wget >/dev/null 2>&1; then
        downloader=wget
      else
        fail "curl or wget is required to download the release"
      fi
      ;;
    *) downloader=local ;;
  esac
}

# The release key is what every check below rests on: without one, nothing could be verified, so
# nothing is downloaded.
check_release_key() {
  if [ -n "$key_file" ]; then
    [ -f "$key_file" ] || fail "--release-key $key_file is not a file"
    release_key=$(cat -- "$key_file")
    key_source=$key_file
  elif [ -n "$RELEASE_KEY" ]; then
    release_key=$RELEASE_KEY
    key_source='this install.sh'
  else
    fail "no release key: this install.sh was not published with one (a checkout's copy is not); pass --release-key FILE with the release's public key"
  fi
  key_id=$("$node_bin" -e '
    const c = require("node:crypto");
    const der = c.createPublicKey(process.argv[1]).export({ type: "spki", format: "der" });
    process.stdout.write("sha256:" + c.createHash("sha256").update(der).digest("hex"));' -- "$release_key" 2>/dev/null) ||
    fail "the release key from $key_source is not a PEM public key"
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

# curl reads only the lower-case http_proxy (the upper-case one is ignored for CGI safety), wget
# only lower-case names: export the lower-case ones from the upper-case ones the user may have set.
use_proxy_settings() {
  if [ -z "${https_proxy:-}" ] && [ -n "${HTTPS_PROXY:-}" ]; then https_proxy=$HTTPS_PROXY; export https_proxy; fi
  if [ -z "${http_proxy:-}" ] && [ -n "${HTTP_PROXY:-}" ]; then http_proxy=$HTTP_PROXY; export http_proxy; fi
  if [ -z "${no_proxy:-}" ] && [ -n "${NO_PROXY:-}" ]; then no_proxy=$NO_PROXY; export no_proxy; fi
  case $from in
    https://*) [ -z "${https_proxy:-}" ] || say "downloading through the proxy in HTTPS_PROXY/https_proxy" ;;
    http://*) [ -z "${http_proxy:-}" ] || say "downloading through the proxy in HTTP_PROXY/http_proxy" ;;
  esac
}

# Runs on every exit: removes the staging directory (downloads and an unfinished tree) and, if we
# were stopped between the two renames, puts the previous installation back.
cleanup() {
  if [ -n "$stage_dir" ]; then rm -rf -- "$stage_dir"; fi
  if [ "$swapping" = 1 ] && [ ! -e "$install_dir" ] && [ -d "$previous_dir" ]; then
    mv -- "$previous_dir" "$install_dir"
  fi
}

# The staging directory sits beside the installation, on the same filesystem, so that moving the
# extracted tree into place is one rename.
make_staging_dir() {
  mkdir -p -- "$lib_dir"
  stage_dir=$(mktemp -d "$lib_dir/.carapace-staging.XXXXXX")
  mkdir -- "$stage_dir/download"
}

# Fetches one file of the release into the download directory. Redirects may not leave https.
fetch() {
  target=$stage_dir/download/$1
  case $downloader in
    curl)
      protocols='=https'
      case $from in http://*) protocols='=http,https' ;; esac
      curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
        --retry 2 --connect-timeout 30 --output "$target" -- "$from/$1" ||
        fail "could not download $from/$1; nothing was installed"
      ;;
    wget)
      wget --quiet --tries=3 --timeout=30 --output-document="$target" -- "$from/$1" ||
        fail "could not download $from/$1; nothing was installed"
      ;;
    local)
      cp -- "$from/$1" "$target" || fail "could not read $from/$1; nothing was installed"
      ;;
  esac
}

sha256_of() {
  if [ "$sha256_tool" = sha256sum ]; then sha256sum -- "$1"; else shasum -a 256 -- "$1"; fi | cut -d ' ' -f 1
}

# Checks a Sigstore bundle (a key-pair message signature) over a file, with node:crypto and the
# release key: the verifier is this script and the Node.js already on the machine, never code
# from the download it is judging.
verify_signature() {
  "$node_bin" -e '
    const crypto = require("node:crypto"), fs = require("node:fs");
    const [file, bundleFile, keyPem, keyId] = process.argv.slice(1);
    const refuse = (why) => { process.stderr.write(why + "\n"); process.exit(1); };
    let bundle;
    try { bundle = JSON.parse(fs.readFileSync(bundleFile, "utf8")); } catch { refuse("the bundle is not JSON"); }
    if (typeof bundle !== "object" || bundle === null || !String(bundle.mediaType).startsWith("application/vnd.dev.sigstore.bundle")) refuse("not a Sigstore bundle");
    const signature = bundle.messageSignature;
    if (typeof signature !== "object" || signature === null || typeof signature.signature !== "string") refuse("the bundle holds no message signature");
    const hint = bundle.verificationMaterial && bundle.verificationMaterial.publicKey && bundle.verificationMaterial.publicKey.hint;
    if (hint !== keyId) refuse("signed by key " + JSON.stringify(String(hint).slice(0, 80)) + ", not by the release key " + keyId);
    const data = fs.readFileSync(file);
    const digest = signature.messageDigest;
    if (digest !== undefined && (digest.algorithm !== "SHA2_256" || digest.digest !== crypto.createHash("sha256").update(data).digest("base64"))) refuse("the bundle is for other content");
    if (!crypto.verify("sha256", data, crypto.createPublicKey(keyPem), Buffer.from(signature.signature, "base64"))) refuse("the signature does not match the file");
  ' -- "$1" "$2" "$release_key" "$key_id"
}

# SHA256SUMS is the one signed list that names everything else: once its signature verifies, a
# file whose SHA-256 is in it is the file the release key vouched for.
fetch_checksums() {
  say "downloading SHA256SUMS and its signature from $from"
  fetch SHA256SUMS
  fetch SHA256SUMS.sigstore.json
  reason=$(verify_signature "$stage_dir/download/SHA256SUMS" "$stage_dir/download/SHA256SUMS.sigstore.json" 2>&1) ||
    fail "SHA256SUMS is not signed by the release key ($reason); nothing was installed"
}

# Picks this platform's tarball out of the signed list; its name (and so the version) comes from
# there, never from the server's directory listing.
pick_tarball() {
  matches=$(awk -v suffix="-$platform.tar.gz" '
    length($2) > length(suffix) && substr($2, length($2) - length(suffix) + 1) == suffix { print }
  ' "$stage_dir/download/SHA256SUMS")
  [ -n "$matches" ] || fail "the release has no tarball for $platform (Node.js $node_version on $(uname -s) $(uname -m)); nothing was installed"
  [ "$(printf '%s\n' "$matches" | wc -l)" -eq 1 ] || fail "the release lists more than one tarball for $platform; nothing was installed"
  expected_sha256=${matches%% *}
  tarball=${matches##* }
  version=${tarball#carapace-}
  version=${version%-"$platform".tar.gz}
  case $expected_sha256 in *[!0-9a-f]*) fail "SHA256SUMS has a malformed line for $tarball" ;; esac
  [ "${#expected_sha256}" -eq 64 ] || fail "SHA256SUMS has a malformed line for $tarball"
  case $version in '' | *[!0-9A-Za-z.+-]*) fail "SHA256SUMS names an unusable tarball: $tarball" ;; esac
  case $tarball in carapace-*) ;; *) fail "SHA256SUMS names an unusable tarball: $tarball" ;; esac
}

fetch_tarball() {
  say "downloading $tarball"
  fetch "$tarball"
  fetch "$tarball.sigstore.json"
  actual_sha256=$(sha256_of "$stage_dir/download/$tarball")
  [ "$actual_sha256" = "$expected_sha256" ] ||
    fail "$tarball does not match the SHA-256 in the signed SHA256SUMS (got $actual_sha256, expected $expected_sha256); nothing was installed"
  reason=$(verify_signature "$stage_dir/download/$tarball" "$stage_dir/download/$tarball.sigstore.json" 2>&1) ||
    fail "$tarball is not signed by the release key ($reason); nothing was installed"
}

# The tarball is verified by now; the listing check still keeps every entry inside its one
# top-level directory, so even a release built wrongly cannot write beside the installation.
extract_tarball() {
  top=carapace-$version
  tar -tzf "$stage_dir/download/$tarball" | awk -v top="$top" '
    $0 != top && $0 != top "/" && index($0, top "/") != 1 { bad = 1 }
    $0 ~ /(^|\/)\.\.(\/|$)/ { bad = 1 }
    END { exit bad }' || fail "$tarball has entries outside $top/; nothing was installed"
  say "extracting into $stage_dir"
  tar -xzf "$stage_dir/download/$tarball" -C "$stage_dir" --no-same-owner --no-same-permissions ||
    fail "could not extract $tarball; nothing was installed"
  staged=$stage_dir/$top
  [ -f "$staged/dist/cli/main.js" ] || fail "$tarball holds no dist/cli/main.js; nothing was installed"
}

shell_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# The wrapper pins the Node.js that passed the checks: the native addons in node_modules are
# built for its ABI.
write_wrapper() {
  mkdir -p -- "$staged/bin"
  cat >"$staged/bin/carapace" <<WRAPPER
#!/bin/sh
# Written by install.sh. Carapace runs on the Node.js it was installed with.
node=$(shell_quote "$node_bin")
if [ ! -x "\$node" ]; then
  echo "carapace: \$node is gone; run install.sh again with the Node.js you use now" >&2
  exit 1
fi
exec "\$node" $(shell_quote "$install_dir/dist/cli/main.js") "\$@"
WRAPPER
  chmod 0700 "$staged/bin/carapace"
}

# Checks the staged tree before it replaces anything: the CLI starts and reports the version the
# signed list named, and the native addons load on this Node.js.
verify_staged() {
  actual=$("$node_bin" "$staged/dist/cli/main.js" --version) ||
    fail "the downloaded Carapace does not start on Node.js $node_version; nothing was installed"
  [ "$actual" = "$version" ] || fail "the downloaded Carapace reports version '$actual', expected '$version'; nothing was installed"
  (cd "$staged" && "$node_bin" -e 'new (require("better-sqlite3"))(":memory:").close(); require("zeromq")') ||
    fail "the release's native addons do not load on Node.js $node_version; nothing was installed"
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
  mv -- "$staged" "$install_dir"
  swapping=0
}

link_command() {
  mkdir -p -- "$bin_dir"
  [ -L "$command_link" ] || ln -s -- "$install_dir/bin/carapace" "$command_link"
}

report() {
  say "installed Carapace $version in $install_dir"
  say "verified: SHA256SUMS is signed by the release key $key_id (from $key_source), checked with node:crypto by this script"
  say "verified: $tarball matches its SHA-256 in SHA256SUMS and carries its own signature by that key"
  say "not verified here: this install.sh itself (check its SHA-256 before running it), the Node.js at $node_bin, and that $version is the newest release"
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
  check_tools
  check_release_key
  check_prefix
  check_command_link
  check_carapace_home
  use_proxy_settings

  stage_dir=''
  swapping=0
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 131' QUIT
  trap 'exit 143' TERM
  trap 'exit 141' PIPE

  make_staging_dir
  fetch_checksums
  pick_tarball
  fetch_tarball
  extract_tarball
  write_wrapper
  verify_staged
  create_carapace_home
  swap_into_place
  link_command
  report
}

main "$@"; }
