# Installs, idempotently, what the local engines and the test suite need on a fresh Debian
# machine. Sourced by scripts/services, scripts/test and scripts/demo; defines no engine.
# Everything lands in $HUB_TOOLS_DIR so a second run (and CI on the same machine) reuses it.

: "${root:?tools.sh expects \$root to be the repository root}"
HUB_TOOLS_DIR=${HUB_TOOLS_DIR:-$HOME/.local/share/sourcing-hub}
NISSHI_VERSION=0.8.1

nisshi_bin() { echo "$HUB_TOOLS_DIR/nisshi-$NISSHI_VERSION/bin/nisshi"; }
venv_dir() { echo "$HUB_TOOLS_DIR/venv"; }
venv_python() { echo "$(venv_dir)/bin/python"; }

tools_say() { printf '[tools] %s\n' "$*" >&2; }

apt_updated=
apt_install() { # packages...
  # As root directly; otherwise through sudo (a CI runner's user), or say what to run.
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      tools_say "missing packages: $*; install them as root (apt-get install $*) and run again"
      return 1
    }
    as_root=(sudo)
  fi
  if [ -z "$apt_updated" ]; then
    tools_say "apt-get update"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  tools_say "apt-get install $*"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

install_system_packages() {
  local missing=()
  command -v curl >/dev/null || missing+=(curl)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v make >/dev/null || missing+=(make)
  command -v cc >/dev/null || missing+=(gcc)
  command -v g++ >/dev/null || missing+=(g++)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
  fi
  command -v cargo >/dev/null || { tools_say "cargo is missing: install the Rust toolchain (rustup) first"; return 1; }
}

install_python_tools() {
  local requirements="$root/devtools/requirements.txt" stamp
  stamp="$(venv_dir)/.requirements.sha256"
  if [ -x "$(venv_python)" ] && [ -f "$stamp" ] && sha256sum --status -c "$stamp" 2>/dev/null; then
    return 0
  fi
  tools_say "creating the Python dev-tools virtualenv in $(venv_dir)"
  python3 -m venv "$(venv_dir)"
  "$(venv_python)" -m pip install -q --disable-pip-version-check -r "$requirements" >&2
  sha256sum "$requirements" >"$stamp"
}

install_crate() { # crate version root [cargo install options...]
  local crate=$1 version=$2 root_dir=$3
  shift 3
  # Its own build directory, removed afterwards: only the binary under $root_dir is kept.
  CARGO_TARGET_DIR="$HUB_TOOLS_DIR/$crate-build" cargo install --quiet --locked \
    --root "$root_dir" "$@" "$crate" --version "$version" >&2
  rm -rf "$HUB_TOOLS_DIR/$crate-build"
}

install_nisshi() {
  local bin
  bin=$(nisshi_bin)
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$NISSHI_VERSION"; then
    return 0
  fi
  mkdir -p "$HUB_TOOLS_DIR"
  # One build at a time even if two scripts start together: it takes ~13 minutes on 2 cores.
  (
    flock 9
    if [ -x "$bin" ]; then exit 0; fi
    tools_say "building the nisshi $NISSHI_VERSION Kafka-protocol broker (about 13 minutes on 2 cores, once)"
    # nisshi's dependency rama declares rustc 1.96; it builds and works on 1.95.
    install_crate nisshi "$NISSHI_VERSION" "$HUB_TOOLS_DIR/nisshi-$NISSHI_VERSION" \
      --ignore-rust-version
  ) 9>"$HUB_TOOLS_DIR/nisshi.lock"
  [ -x "$bin" ] || { tools_say "nisshi was not installed at $bin"; return 1; }
}

# The test suite runs under cargo-nextest: every test in a process of its own, which the
# suites rely on (tests of one binary set environment variables). Rust machines usually
# carry it; a fresh one gets the same version from crates.io.
NEXTEST_VERSION=0.9.143
install_nextest() {
  if command -v cargo-nextest >/dev/null; then
    return 0
  fi
  local root_dir="$HUB_TOOLS_DIR/nextest-$NEXTEST_VERSION"
  if [ ! -x "$root_dir/bin/cargo-nextest" ]; then
    tools_say "building cargo-nextest $NEXTEST_VERSION (about 8 minutes on 2 cores, once)"
    install_crate cargo-nextest "$NEXTEST_VERSION" "$root_dir"
  fi
  export PATH="$root_dir/bin:$PATH"
  command -v cargo-nextest >/dev/null || { tools_say "cargo-nextest was not installed in $root_dir"; return 1; }
}

install_all() {
  install_system_packages
  install_python_tools
  install_nisshi
}
