#!/usr/bin/env bash
# Builds Carapace's release artifacts for this machine's platform into an output directory:
#   carapace-VERSION-OS-ARCH-nodeMAJOR.tar.gz   compiled dist/, plugins/, images/, package.json,
#                                               pnpm-lock.yaml, production node_modules (native
#                                               addons built for this Node's ABI), release-key.pem
#   install.sh                                  the installer, with the release URL and key stamped in
#   release.json                                the manifest `carapace update` reads
#   release-key.pem                             the public release key (the pinned release identity)
#   SHA256SUMS                                  sha256sum lines for all of the above
#   FILE.sigstore.json                          a Sigstore bundle for each file above
# Never uses sudo. See docs/install.md ("Release artifacts") for what is deterministic.
set -euo pipefail
umask 022

usage() {
  cat <<'USAGE'
usage: scripts/release.sh --key FILE --out DIR [--url URL] [--tree DIR]

  --key FILE   the release signing key: a PEM private key (ECDSA P-256 or RSA), mode 0600
  --out DIR    where to write the artifacts; must not exist yet or be empty
  --url URL    the release URL stamped into the published install.sh as its default --from
               (without it, the published install.sh needs --from)
  --tree DIR   pack and sign an already built tree (package.json, dist/, node_modules/, ...)
               instead of building one from this checkout's tracked files

SOURCE_DATE_EPOCH (default: the HEAD commit's time) fixes every timestamp in the tarball.
USAGE
}

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'release.sh: %s\n' "$*" >&2; exit 1; }

key_file='' out_dir='' release_url='' tree_in=''
while (($# > 0)); do
  case $1 in
    --key | --out | --url | --tree)
      if (($# < 2)) || [[ -z $2 ]]; then printf 'release.sh: %s needs a value\n' "$1" >&2; exit 2; fi
      case $1 in --key) key_file=$2 ;; --out) out_dir=$2 ;; --url) release_url=$2 ;; --tree) tree_in=$2 ;; esac
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'release.sh: unknown argument: %s\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n $key_file && -n $out_dir ]] || { usage >&2; exit 2; }
# The URL lands inside single quotes in install.sh.
[[ $release_url != *"'"* ]] || fail "--url must not contain a single quote"

repo=$(cd "$(dirname "$0")/.." && pwd -P)
key_file=$(cd "$(dirname "$key_file")" && pwd -P)/$(basename "$key_file")
for tool in git node pnpm tar gzip sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || fail "GNU tar is required (for --sort=name and fixed ownership)"
if [[ -e $out_dir ]] && [[ -n $(ls -A "$out_dir") ]]; then fail "$out_dir is not empty"; fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH must be seconds since 1970"

work=$(mktemp -d "${TMPDIR:-/tmp}/carapace-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/tree

# Checked before the build, not after it: the signing key must be a private key only its owner
# can read (sign-artifacts.mjs refuses it otherwise, but only once everything is built).
[[ -f $key_file && ! -L $key_file ]] || fail "$key_file is not a regular file"
[[ $(stat -c %a "$key_file") == [0-7]00 ]] || fail "$key_file can be read by others (mode $(stat -c %a "$key_file")); chmod 600 it"
node -e 'const c = require("node:crypto"), fs = require("node:fs");
  process.stdout.write(c.createPublicKey(fs.readFileSync(process.argv[1])).export({ type: "spki", format: "pem" }))' -- "$key_file" >"$work/release-key.pem" 2>/dev/null ||
  fail "$key_file is not a PEM private key"
grep -q 'PRIVATE KEY' "$key_file" || fail "$key_file is a public key; --key takes the private key"

# Everything is written to $work/out first and moved to --out at the end: a failed run leaves no
# half release behind.
mkdir -p "$out_dir"
final_dir=$(cd "$out_dir" && pwd -P)
out_dir=$work/out
mkdir "$out_dir"

# The checkout's files as git sees them (tracked and new, not ignored), from the source folders
# only: build output and anything .gitignore names never reach a release. A release for users is
# built from a clean clone; a dirty one is recorded as such in release.json.
copy_sources() {
  mkdir "$work/src"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard -- src plugins images package.json pnpm-lock.yaml tsconfig.json tsconfig.build.json) |
    while IFS= read -r -d '' path; do
      [[ -e $repo/$path ]] || continue
      mkdir -p "$work/src/$(dirname "$path")"
      cp -p "$repo/$path" "$work/src/$path"
    done
  dirty=false
  [[ -z $(git -C "$repo" status --porcelain) ]] || dirty=true
  commit=$(git -C "$repo" rev-parse HEAD)
  if [[ $dirty == true ]]; then say "building from a checkout with uncommitted changes (recorded in release.json)"; fi
}

# Only better-sqlite3's addon is loaded from better-sqlite3's build/ (the rest is compiler output with
# the builder's paths in it), and zeromq's prebuilds for other operating systems are dead weight.
prune_tree() {
  local os=$1 sqlite zeromq
  for sqlite in "$tree"/node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3/build; do
    find "$sqlite" -mindepth 1 ! -path "$sqlite/Release" ! -path "$sqlite/Release/better_sqlite3.node" -prune -exec rm -rf {} +
  done
  for zeromq in "$tree"/node_modules/.pnpm/zeromq@*/node_modules/zeromq/build; do
    find "$zeromq" -mindepth 1 -maxdepth 1 -type d ! -name "$os" -exec rm -rf {} +
  done
  # pnpm's bookkeeping records the builder's store path and the install time, and its .bin shims
  # the build directory; Carapace runs no package's command-line tools.
  rm -f "$tree/node_modules/.modules.yaml" "$tree/node_modules/.pnpm-workspace-state-v1.json"
  find "$tree/node_modules" -type d -name .bin -prune -exec rm -rf {} +
}

build_tree() {
  copy_sources
  say "compiling (tsc) the sources of $commit$([[ $dirty == true ]] && printf ' with uncommitted changes')"
  ln -s "$repo/node_modules" "$work/src/node_modules"
  "$repo/node_modules/.bin/tsc" -p "$work/src/tsconfig.build.json" --sourceMap false --outDir "$tree/dist"
  cp -R "$work/src/package.json" "$work/src/pnpm-lock.yaml" "$work/src/plugins" "$work/src/images" "$tree/"
  say "installing production dependencies (pnpm install --prod --frozen-lockfile)"
  (cd "$tree" && pnpm install --prod --frozen-lockfile --prefer-offline --ignore-workspace --reporter=silent)
  prune_tree "$(node -p process.platform)"
}

if [[ -n $tree_in ]]; then
  [[ -f $tree_in/package.json && -d $tree_in/dist && -d $tree_in/node_modules ]] || fail "$tree_in is not a built tree"
  cp -a "$tree_in" "$tree"
  commit=$(git -C "$repo" rev-parse HEAD)
  dirty=unknown
else
  build_tree
fi

version=$(node -p 'require(process.argv[1]).version' "$tree/package.json")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || fail "package.json has an unusable version: $version"
os=$(node -p process.platform)
arch=$(node -p process.arch)
node_major=$(node -p 'process.versions.node.split(".")[0]')
name=carapace-$version-$os-$arch-node$node_major
tarball=$name.tar.gz

say "checking the tree: the CLI starts as $version, better-sqlite3 and zeromq load on $(node --version)"
[[ $(node "$tree/dist/cli/main.js" --version) == "$version" ]] || fail "the built CLI does not report version $version"
(cd "$tree" && node -e 'new (require("better-sqlite3"))(":memory:").close(); require("zeromq")') ||
  fail "the production node_modules do not load (was better-sqlite3's build allowed?)"

cp "$work/release-key.pem" "$tree/release-key.pem"

say "packing $tarball (sorted, owner 0, mtime $SOURCE_DATE_EPOCH)"
mkdir "$work/pack"
mv "$tree" "$work/pack/carapace-$version"
tree=$work/pack/carapace-$version
tar --create --sort=name --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX --hard-dereference \
  -C "$work/pack" "carapace-$version" | gzip -n >"$out_dir/$tarball"

# The published installer carries the release URL and key; the checkout's copy has empty ones.
stamp_installer() {
  local url_line key_line
  url_line="RELEASE_URL='$release_url'"
  key_line="RELEASE_KEY='$(cat "$work/release-key.pem")'"
  [[ $(grep -c "^RELEASE_URL=''\$" "$repo/install.sh") == 1 && $(grep -c "^RELEASE_KEY=''\$" "$repo/install.sh") == 1 ]] ||
    fail "install.sh lacks the RELEASE_URL='' and RELEASE_KEY='' lines to stamp"
  URL_LINE=$url_line KEY_LINE=$key_line awk '
    $0 == "RELEASE_URL='"''"'" { print ENVIRON["URL_LINE"]; next }
    $0 == "RELEASE_KEY='"''"'" { print ENVIRON["KEY_LINE"]; next }
    { print }' "$repo/install.sh" >"$out_dir/install.sh"
  chmod 0755 "$out_dir/install.sh"
}
stamp_installer
cp "$work/release-key.pem" "$out_dir/release-key.pem"

key_id=$(node -e 'const c = require("node:crypto"), fs = require("node:fs");
  const der = c.createPublicKey(fs.readFileSync(process.argv[1])).export({ type: "spki", format: "der" });
  process.stdout.write("sha256:" + c.createHash("sha256").update(der).digest("hex"))' -- "$work/release-key.pem")

# The manifest `carapace update` fetches. One platform per build; a release for several platforms
# merges the artifacts lists of builds made on each (see docs/install.md).
node -e '
  const [file, version, name, os, arch, major, modules, sha256, size, keyId, commit, dirty, epoch] = process.argv.slice(1);
  const manifest = {
    schema: 1,
    name: "carapace",
    version,
    created: new Date(Number(epoch) * 1000).toISOString(),
    source: { commit, dirty: dirty === "unknown" ? null : dirty === "true" },
    releaseKey: keyId,
    artifacts: [{ name, os, arch, node: Number(major), nodeModules: Number(modules), sha256, size: Number(size), bundle: name + ".sigstore.json" }],
  };
  require("node:fs").writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
' -- "$out_dir/release.json" "$version" "$tarball" "$os" "$arch" "$node_major" "$(node -p process.versions.modules)" \
  "$(sha256sum "$out_dir/$tarball" | cut -d' ' -f1)" "$(stat -c %s "$out_dir/$tarball")" "$key_id" "$commit" "$dirty" "$SOURCE_DATE_EPOCH"

(cd "$out_dir" && LC_ALL=C sha256sum -- "$tarball" install.sh release-key.pem release.json | LC_ALL=C sort -k2 >SHA256SUMS)

say "signing with release key $key_id"
node "$repo/scripts/sign-artifacts.mjs" "$tree/dist" "$key_file" \
  "$out_dir/$tarball" "$out_dir/install.sh" "$out_dir/release-key.pem" "$out_dir/release.json" "$out_dir/SHA256SUMS" >/dev/null

mv "$out_dir"/* "$final_dir/"
say "release $version written to $final_dir:"
(cd "$final_dir" && ls -l) >&2
printf '%s\n' "$final_dir/$tarball"
