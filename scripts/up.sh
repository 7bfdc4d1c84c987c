#!/usr/bin/env bash
# Sets up Carapace from this checkout on a Debian machine and runs it:
# installs what is missing (Podman, runc, busybox-static, shellcheck, nix-bin, docker-registry, openssl, pnpm, node_modules), builds, runs
# `carapace doctor`, then the core in the foreground. Never uses sudo: without root it prints the
# exact command to run and stops.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/up.sh [--no-start]
  --no-start   set up and run doctor, but do not start the core (CI uses this)
USAGE
}

start_core=1
for arg in "$@"; do
  case "$arg" in
    --no-start) start_core=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "up.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }

# Runtime: podman, runc, static busybox (the canary image). Tests: shellcheck, nix-bin (install.sh and flake checks),
# docker-registry (distribution 2.8, started on loopback by the registry tests; its own service is not used),
# openssl (the registry TLS test makes its certificate), curl and wget (install.sh downloads with either;
# the installer tests run both), dash (install.sh is tested under it).
APT_PACKAGES=(podman runc busybox-static shellcheck nix-bin docker-registry openssl curl wget dash)
PNPM_VERSION=10.34.9
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=17

require_node() {
  local version major minor
  version=$(node -p 'process.versions.node' 2>/dev/null) || { echo "Node.js >= ${NODE_MIN_MAJOR}.${NODE_MIN_MINOR} is required" >&2; exit 1; }
  IFS=. read -r major minor _ <<<"$version"
  if (( major < NODE_MIN_MAJOR || (major == NODE_MIN_MAJOR && minor < NODE_MIN_MINOR) )); then
    echo "Node.js $version is too old; Carapace needs >= ${NODE_MIN_MAJOR}.${NODE_MIN_MINOR}" >&2
    exit 1
  fi
}

install_system_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  (( ${#missing[@]} == 0 )) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "Missing packages: ${missing[*]}. Install them as root, then run this again:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Podman's defaults fail on VMs without a unified cgroup hierarchy or CAP_SYS_RESOURCE (crun refuses
# hybrid cgroups; root's default rlimits cannot be set). This configuration works everywhere we run.
configure_podman() {
  local conf=/etc/containers/containers.conf
  [[ -e $conf || $(id -u) -ne 0 ]] && return 0
  say "writing $conf (runc, cgroupfs, file events, lowered rlimits; see docs/install.md)"
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
}

install_pnpm() {
  if command -v pnpm >/dev/null 2>&1; then return 0; fi
  say "installing pnpm ${PNPM_VERSION}"
  npm install -g --silent "pnpm@${PNPM_VERSION}" || {
    echo "could not install pnpm; run: npm install -g pnpm@${PNPM_VERSION}" >&2
    exit 1
  }
}

require_node
install_system_packages
configure_podman
install_pnpm
say "installing dependencies (pnpm install --frozen-lockfile)"
pnpm install --frozen-lockfile --reporter=silent
say "building"
pnpm run --silent build
say "carapace doctor"
node dist/cli/main.js doctor
if (( start_core )); then
  say "starting the Carapace core (Ctrl-C stops it)"
  exec node dist/cli/main.js start
fi
