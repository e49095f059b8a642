#!/usr/bin/env bash
# Installs the XMPP servers the test matrix runs that Debian 12 cannot install beside its own
# Prosody 0.12 and ejabberd 23.01: Prosody 13.0.1 and ejabberd 24.12 from bookworm-backports.
#
# How: Debian's own .deb files, unpacked (dpkg-deb -x) into $ROOT/<name>, never registered with
# dpkg, so the system packages stay as they are. Only what differs from bookworm is unpacked:
# prosody (its Lua libraries are bookworm's lua5.4 ones), ejabberd and the Erlang libraries
# whose backports version it needs (erlang-p1-*, erlang-jose); everything else it depends on
# comes from bookworm with apt-get as usual. Each copy gets its paths patched (Prosody's
# CFG_SOURCEDIR/CFG_PLUGINDIR, ejabberdctl's ERL_LIBS, which Erlang searches before its own
# lib dir). The backports index is read through a private apt state under $ROOT/.apt: the
# machine's sources.list is not touched. Idempotent: a second run checks stamps and exits.
#   sudo scripts/install-servers.sh          (XIOTA_SERVERS_ROOT overrides /opt/xiota-servers)
# scripts/local-prosody.ts and scripts/local-ejabberd.ts find them there.
set -euo pipefail

ROOT="${XIOTA_SERVERS_ROOT:-/opt/xiota-servers}"
MIRROR="${XIOTA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PROSODY_VERSION=13.0.1
EJABBERD_VERSION=24.12
# ejabberd 24.12's dependencies that bookworm has too old (apt-cache policy: bookworm vs backports).
EJABBERD_BPO_DEPS=(erlang-jose erlang-p1-acme erlang-p1-cache-tab erlang-p1-eimp erlang-p1-mqtree
  erlang-p1-pkix erlang-p1-stringprep erlang-p1-stun erlang-p1-tls erlang-p1-utils erlang-p1-xml
  erlang-p1-xmpp erlang-p1-yaml erlang-p1-yconf erlang-p1-zlib)
# Dependencies not needed to run from $ROOT (maintainer-script tools, virtual packages).
SKIP_DEPS=" adduser debconf debconf-2.0 ucf ssl-cert erlang-abi "

log() { echo "== install-servers: $*"; }
die() { echo "install-servers: $*" >&2; exit 1; }

prosody_ok() {
  [ -x "$ROOT/prosody-13/usr/bin/prosody" ] && [ "$(cat "$ROOT/prosody-13/.xiota-installed" 2>/dev/null)" = "$PROSODY_VERSION" ]
}
ejabberd_ok() {
  [ -x "$ROOT/ejabberd-24.12/usr/sbin/ejabberdctl" ] && [ "$(cat "$ROOT/ejabberd-24.12/.xiota-installed" 2>/dev/null)" = "$EJABBERD_VERSION" ]
}

if prosody_ok && ejabberd_ok; then
  log "Prosody $PROSODY_VERSION and ejabberd $EJABBERD_VERSION already in $ROOT"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root (it unpacks into $ROOT and installs bookworm dependencies with apt-get)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg-deb (Debian 12)"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "install-servers: warning: this is ${PRETTY_NAME:-not Debian 12}; the packages are bookworm-backports builds" >&2
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

# --- the backports index, through a private apt state -----------------------------------
APT="$ROOT/.apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
echo "deb $MIRROR bookworm-backports main" > "$APT/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=root")
log "reading bookworm-backports"
apt-get "${APT_OPTS[@]}" update -qq < /dev/null

# Downloads PKG from backports into $APT/debs (once) and prints the .deb's path.
fetch() {
  local pkg="$1" want="${2:-}" ver
  ver="$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)"
  [ -n "$ver" ] || die "$pkg is not in bookworm-backports ($MIRROR)"
  if [ -n "$want" ] && [[ "$ver" != "$want"* ]]; then
    die "bookworm-backports has $pkg $ver, not $want: update the versions in $0 (and the test matrix)"
  fi
  local deb
  deb="$(ls "$APT/debs/${pkg}_"*"_"*.deb 2>/dev/null | grep -F "_${ver/:/%3a}_" | head -1 || true)"
  if [ -z "$deb" ]; then
    (cd "$APT/debs" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$ver" < /dev/null >&2)
    deb="$(ls "$APT/debs/${pkg}_"*.deb | grep -F "_${ver/:/%3a}_" | head -1)"
  fi
  echo "$deb"
}

# The bookworm packages the given .debs depend on (first alternative, minus what we unpack
# ourselves), installed with apt-get where missing.
install_bookworm_deps() {
  local own=" $1 "; shift
  local need=() d
  for d in $(for deb in "$@"; do dpkg-deb -f "$deb" Depends; done | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | sort -u); do
    [[ "$own" == *" $d "* || "$SKIP_DEPS" == *" $d "* ]] && continue
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || need+=("$d")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    log "apt-get install (bookworm, some may be provided already): ${need[*]}"
    apt-get install -y -qq --no-install-recommends "${need[@]}" < /dev/null || {
      apt-get update -qq < /dev/null
      apt-get install -y -qq --no-install-recommends "${need[@]}" < /dev/null
    }
  fi
}

# Unpacks .debs into a fresh staging dir; echoes it.
unpack() {
  local stage="$1"; shift
  rm -rf "$stage"
  mkdir -p "$stage"
  for deb in "$@"; do dpkg-deb -x "$deb" "$stage"; done
}

# --- Prosody 13 ---------------------------------------------------------------------------
if ! prosody_ok; then
  deb="$(fetch prosody "$PROSODY_VERSION")"
  install_bookworm_deps "prosody" "$deb"
  stage="$ROOT/.stage-prosody-13"
  unpack "$stage" "$deb"
  dest="$ROOT/prosody-13"
  for f in prosody prosodyctl; do
    sed -i -E "s#^CFG_SOURCEDIR='/usr/lib/prosody'#CFG_SOURCEDIR='$dest/usr/lib/prosody'#;
               s#^CFG_PLUGINDIR='/usr/lib/prosody/modules/'#CFG_PLUGINDIR='$dest/usr/lib/prosody/modules/'#" "$stage/usr/bin/$f"
    grep -q "^CFG_SOURCEDIR='$dest/" "$stage/usr/bin/$f" || die "could not patch CFG_SOURCEDIR in $f: the package layout changed"
  done
  rm -rf "$dest"
  mv "$stage" "$dest"
  # `prosodyctl about` loads Prosody's libraries (util.pposix & co) and prints its version.
  timeout 30 "$dest/usr/bin/prosodyctl" about < /dev/null 2>/dev/null | grep -q "^Prosody $PROSODY_VERSION" \
    || die "$dest/usr/bin/prosodyctl about does not report Prosody $PROSODY_VERSION (missing Lua libraries?)"
  echo "$PROSODY_VERSION" > "$dest/.xiota-installed"
  log "Prosody $PROSODY_VERSION in $dest"
fi

# --- ejabberd 24.12 -----------------------------------------------------------------------
if ! ejabberd_ok; then
  debs=("$(fetch ejabberd "$EJABBERD_VERSION")")
  for p in "${EJABBERD_BPO_DEPS[@]}"; do debs+=("$(fetch "$p")"); done
  install_bookworm_deps "ejabberd ${EJABBERD_BPO_DEPS[*]}" "${debs[@]}"
  # The system user ejabberdctl drops to (Debian's ejabberd 23.01 package makes it too).
  id ejabberd >/dev/null 2>&1 || adduser --quiet --system --group --home /var/lib/ejabberd --no-create-home ejabberd
  stage="$ROOT/.stage-ejabberd-24.12"
  unpack "$stage" "${debs[@]}"
  dest="$ROOT/ejabberd-24.12"
  ctl="$stage/usr/sbin/ejabberdctl"
  grep -q "^ERL_LIBS='/usr/lib/x86_64-linux-gnu'" "$ctl" || grep -q "^ERL_LIBS=" "$ctl" || die "no ERL_LIBS line in ejabberdctl: the package layout changed"
  libdir="$(cd "$stage/usr/lib" && ls -d */ejabberd-"$EJABBERD_VERSION"* | head -1 | cut -d/ -f1)"
  sed -i -E "s#^ERL_LIBS=.*#ERL_LIBS='$dest/usr/lib/$libdir:$dest/usr/lib/erlang/lib'#" "$ctl"
  rm -rf "$dest"
  mv "$stage" "$dest"
  ERL_LIBS="$dest/usr/lib/$libdir:$dest/usr/lib/erlang/lib" erl -noshell -eval \
    'case code:lib_dir(ejabberd) of {error,_} -> halt(1); D -> io:format("~s~n",[D]), halt(0) end.' | grep -q "$dest" \
    || die "Erlang does not find ejabberd in $dest"
  echo "$EJABBERD_VERSION" > "$dest/.xiota-installed"
  log "ejabberd $EJABBERD_VERSION in $dest"
fi
log "done in $(( $(date +%s) - t0 )) s"
