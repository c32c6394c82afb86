#!/bin/sh
# Install the Debian 12 packages Postel needs to build, run and test,
# only those missing. Usage: install-deps.sh [run|check]
set -e
RUN_PKGS="meson ninja-build pkg-config gcc libc6-dev libssl-dev libsqlite3-dev libcrypt-dev libidn-dev openssl libunbound-dev dns-root-data zlib1g-dev"
# dns-root-data: the DNSSEC root trust anchor the runner validates with
# (dns_trust_anchor default; DANE needs secure answers).
# Recommends are not installed, so name what is only recommended:
# libclang-rt-14-dev (libFuzzer and sanitizer runtimes for clang),
# libnet-ssleay-perl and libio-socket-ssl-perl (TLS in swaks).
# python3-dnslib: the loopback DNS server of the probe --dns tests;
# python3-aiosmtpd: the receiving MX of the relay tests;
# bind9-utils: dnssec-keygen/dnssec-signzone sign their DNSSEC test zone.
# libfaketime: test_imap_timeouts runs a server on a sped-up clock.
# systemd: systemd-analyze verifies dist/postel.service (never started here).
CHECK_PKGS="mutt neomutt isync offlineimap3 tmux fetchmail libcmocka-dev python3-pytest swaks libnet-ssleay-perl libio-socket-ssl-perl curl clang-14 libclang-rt-14-dev sqlite3 procps python3-dnslib python3-aiosmtpd python3-dkim bind9-utils systemd libfaketime"
# Peers for the probe tests, each run there as a private instance on
# loopback high ports. They ship system services, which must never start:
# see install_services below.
SERVICE_PKGS="postfix dovecot-core dovecot-imapd dovecot-pop3d"
want="$RUN_PKGS"
[ "$1" = check ] && want="$RUN_PKGS $CHECK_PKGS $SERVICE_PKGS"
missing=""
missing_services=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
	case " $SERVICE_PKGS " in
	*" $p "*) missing_services="$missing_services $p" ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing$missing_services" ] && exit 0
echo "installing:$missing$missing_services"
if [ "$(id -u)" != 0 ]; then
	echo "need root to install:$missing$missing_services" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
[ -z "$missing" ] || apt-get install -y -q --no-install-recommends $missing
[ -z "$missing_services" ] && exit 0

# Install packages with a system service without starting it: a temporary
# /usr/sbin/policy-rc.d exits 101 (invoke-rc.d then starts nothing, under
# systemd or /etc/init.d), Postfix is preseeded with "No configuration"
# (no /etc/postfix/main.cf), and the boot-time services are disabled after.
policy_saved=""
policy_restore() {
	if [ -n "$policy_saved" ]; then
		mv -f "$policy_saved" /usr/sbin/policy-rc.d
	else
		rm -f /usr/sbin/policy-rc.d
	fi
}
if [ -e /usr/sbin/policy-rc.d ]; then
	policy_saved=$(mktemp)
	cp -p /usr/sbin/policy-rc.d "$policy_saved"
fi
trap policy_restore EXIT
printf '#!/bin/sh\n# installed by postel scripts/install-deps.sh while apt-get runs\nexit 101\n' \
	>/usr/sbin/policy-rc.d.postel
chmod 755 /usr/sbin/policy-rc.d.postel
mv -f /usr/sbin/policy-rc.d.postel /usr/sbin/policy-rc.d
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get install -y -q --no-install-recommends $missing_services
for s in postfix dovecot; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable "$s.service" >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d "$s" disable >/dev/null 2>&1 || true
	fi
done
