#!/bin/sh
# Installs the Debian packages that building, running, testing and
# packaging (make deb: debhelper, dpkg-dev, fakeroot, lintian, mandoc)
# need, only those missing, as root or through sudo.  Quiet when all are
# present.
# Services that packages would start (apache2 itself, PostgreSQL, MariaDB)
# are kept stopped: the project starts its own private servers and never
# touches system ones.
#
# APIKEY_EXTRA_PKGS adds packages (make bench).  APIKEY_POLICY_RC names the
# policy-rc.d file (t/unit/deps.t points it into a scratch directory; the
# default is Debian's).
set -e
PKGS="apache2 apache2-dev libaprutil1-dbd-sqlite3 libapache2-mod-perl2
      libwww-perl liblwp-protocol-https-perl libssl-dev openssl sqlite3 curl
      make gcc perl clang libclang-rt-14-dev valgrind faketime llvm zlib1g-dev
      postgresql mariadb-server libaprutil1-dbd-pgsql libaprutil1-dbd-mysql
      debhelper dpkg-dev fakeroot lintian mandoc"
[ -n "$APIKEY_EXTRA_PKGS" ] && PKGS="$PKGS $APIKEY_EXTRA_PKGS"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    # sudo may ask for a password on a terminal; without one (CI, a pipe)
    # it must fail at once rather than wait for input that never comes.
    if [ -t 0 ]; then SUDO="sudo"; else SUDO="sudo -n"; fi
else
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root, or install them with apt-get." >&2
    exit 1
fi

echo "deps: installing$missing"
# A policy-rc.d answering 101 stops maintainer scripts from starting
# services.  An existing one (most container images have one) is left as
# it is; one written here is removed however the script ends.
policy=${APIKEY_POLICY_RC:-/usr/sbin/policy-rc.d}
own_policy=""
cleanup() {
    if [ -n "$own_policy" ]; then
        $SUDO rm -f "$policy"
        own_policy=""
    fi
}
# An EXIT trap's own status would become the script's: keep the real one.
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ ! -e "$policy" ]; then
    own_policy=1
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing or a day old.
lists=${APIKEY_APT_LISTS:-/var/lib/apt/lists}
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    $missing >/dev/null
echo "deps: done"
