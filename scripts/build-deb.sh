#!/bin/sh
# "make deb": builds libapache2-mod-authn-apikey_VERSION-N_ARCH.deb with
# dpkg-buildpackage -b -uc -us in a copy of the tree under build/deb/, so
# that debian/rules clean (make clean) leaves this tree's build alone, and
# prints the path of the .deb, which dpkg-buildpackage writes beside the
# copy (build/deb/).  Fails when debian/changelog's upstream version is not
# the one of src/core/apikey_version.h (make version).  Any user may run
# it: debian/control says Rules-Requires-Root: no, so dpkg-buildpackage
# needs neither root nor fakeroot.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
PKG=libapache2-mod-authn-apikey
VERSION=$(sed -n 's/^#define APIKEY_VERSION "\(.*\)"/\1/p' src/core/apikey_version.h)
DEBVER=$(dpkg-parsechangelog -S Version)
if [ "${DEBVER%-*}" != "$VERSION" ]; then
    echo "build-deb: debian/changelog says $DEBVER, src/core/apikey_version.h $VERSION:" \
         "add a changelog entry (dch -v $VERSION-1)" >&2
    exit 1
fi
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
OUT=$TOP/build/deb
SRC=$OUT/$PKG-$VERSION
rm -rf "$OUT"
mkdir -p "$SRC"
# The sources as they are, man/htapikey.1 too when it exists, without this
# tree's build products (debian/rules clean would remove them anyway).
tar -C "$TOP" --exclude=./.git --exclude=./build --exclude=./build.log \
    --exclude=./t/logs --exclude=./t/data --exclude=./.libs \
    --exclude='./src/*/.libs' --exclude='*.o' --exclude='*.lo' \
    --exclude='*.slo' --exclude='*.la' --exclude=./htapikey -cf - . |
    tar -C "$SRC" -xf -
# Nothing of a calling make's (make test's command-line variables, its
# jobserver) reaches the package's build.
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    dpkg-buildpackage -b -uc -us)
rm -rf "$SRC"
DEB=$OUT/${PKG}_${DEBVER}_$ARCH.deb
[ -f "$DEB" ] || { echo "build-deb: no $DEB" >&2; exit 1; }
echo "build-deb: $DEB"
