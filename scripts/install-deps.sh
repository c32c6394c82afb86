#!/bin/sh
# Install the Debian 12 packages Postel needs to build, run and test,
# only those missing. Usage: install-deps.sh [run|check]
set -e
RUN_PKGS="meson ninja-build pkg-config gcc libc6-dev libssl-dev libsqlite3-dev libcrypt-dev libidn-dev openssl"
# Recommends are not installed, so name what is only recommended:
# libclang-rt-14-dev (libFuzzer and sanitizer runtimes for clang),
# libnet-ssleay-perl and libio-socket-ssl-perl (TLS in swaks).
CHECK_PKGS="mutt tmux libcmocka-dev python3-pytest swaks fetchmail libnet-ssleay-perl libio-socket-ssl-perl curl clang-14 libclang-rt-14-dev sqlite3 procps"
want="$RUN_PKGS"
[ "$1" = check ] && want="$RUN_PKGS $CHECK_PKGS"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
