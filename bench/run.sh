#!/bin/sh
# make bench: SMTP ingest throughput of Postel against Postfix, same machine,
# same run, same load generator (Postfix's smtp-source).
#
#   sudo make bench                       # or: sh bench/run.sh
#
# Environment (defaults in brackets):
#   POSTEL_BIN      postel binary to measure [./build/postel]
#   BENCH_SESSIONS  parallel SMTP sessions [20]
#   BENCH_MESSAGES  messages in total [5000]
#   BENCH_SIZE      payload bytes per message [4096]
#   BENCH_TIMEOUT   seconds any one wait may last [300]
#   BENCH_ONLY      "postel" or "postfix" to run one side only [both]
#   BENCH_KEEP      1 keeps the temporary directories and logs [0]
#   BENCH_ROUNDS    rounds, each side once per round, alternating; the
#                   ratio is of the medians, since one run here is noisy [3]
#
# Load: smtp-source -s 20 -m 5000 -l 4096, one SMTP connection per message
# (smtp-source's default), all to one local user, over loopback.
#
# Postel: a fresh data directory; 250 after DATA means the message is in
# the user's Maildir, fsync'd, so its time is the time smtp-source needs.
#
# Postfix: its own instance (own main.cf/master.cf, queue and data
# directories in a temporary directory, smtpd on 127.0.0.1:high port),
# delivering with virtual(8) into a Maildir. Postfix answers 250 once the
# message is fsync'd into its queue (cleanup(8)) and delivers later, so its
# fair time is until the last message is in the Maildir; the time until
# smtp-source finished is printed too. virtual(8) fsyncs each Maildir file
# (it does not fsync the directory after the rename, Postel does). Postfix
# keeps its defaults except: no chroot, no DNS, no client reverse lookup.
#
# Installing postfix (for smtp-source and the peer) must never start or leave
# a system Postfix: a temporary /usr/sbin/policy-rc.d exits 101 (denies every
# service start, whether invoke-rc.d then drives systemd or /etc/init.d),
# debconf is preseeded with "No configuration" (no /etc/postfix/main.cf),
# the boot-time service is disabled, and no system master may be running.
#
# Running a second Postfix instance on Debian 12 (Postfix 3.7): `postfix -c
# DIR start` run as root works for a config directory that is not listed in
# the default main.cf's alternate_config_directories (that list is only
# checked for the set-gid commands postqueue/postdrop and for non-root
# users), so no postmulti and no change to /etc/postfix are needed. The
# directory given with -c reaches master(8) and every daemon through
# MAIL_CONFIG; queue_directory and data_directory point into the temp dir.
# The script makes queue_directory; `postfix start` (its check step) makes
# the subdirectories with their owners. There is no syslog here (/dev/log),
# so the instance logs to maillog_file, which must match
# maillog_file_prefixes; the postfix command itself reports a fatal error
# only there (or on a terminal), not on stderr.
set -eu

cd "$(dirname "$0")/.."

SESSIONS=${BENCH_SESSIONS:-20}
MESSAGES=${BENCH_MESSAGES:-5000}
SIZE=${BENCH_SIZE:-4096}
TIMEOUT=${BENCH_TIMEOUT:-300}
ONLY=${BENCH_ONLY:-}
KEEP=${BENCH_KEEP:-0}
ROUNDS=${BENCH_ROUNDS:-3}
POSTEL_BIN=${POSTEL_BIN:-./build/postel}
DOMAIN=bench.example
RCPT=u@$DOMAIN
SENDER=sender@example.net
SMTP_SOURCE=/usr/sbin/smtp-source
POSTFIX=/usr/sbin/postfix

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

now() { date +%s.%N; }
# elapsed T0 T1 -> seconds with 2 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# rate N SECONDS -> messages per second, integer
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.001; printf "%.0f", n / s }'; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, starts servers that drop privileges)"

# ---------------------------------------------------------------- cleanup
POSTEL_DIR='' POSTEL_PID='' POSTEL_LOG='' SRC_PID=''
PF_DIR='' PF_STARTED=0
POLICY_SAVED='' POLICY_INSTALLED=0
WORK=$(mktemp -d /tmp/bench-logs.XXXXXX)

alive() { # pid: running and not a zombie
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
	[ "$st" != Z ]
}

stop_pid() { # pid seconds: SIGTERM, wait, then SIGKILL
	p=$1 t=$2
	kill -TERM "$p" 2>/dev/null || return 0
	i=0
	while alive "$p" && [ $i -lt $((t * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	if alive "$p"; then
		say "pid $p did not exit within ${t}s of SIGTERM; SIGKILL"
		kill -KILL "$p" 2>/dev/null || true
		return 1
	fi
	return 0
}

pf_master_pid() { # pid of our Postfix master, empty if none
	[ -n "$PF_DIR" ] && [ -f "$PF_DIR/spool/pid/master.pid" ] || return 0
	p=$(tr -dc 0-9 <"$PF_DIR/spool/pid/master.pid")
	[ -n "$p" ] && alive "$p" && echo "$p"
	return 0
}

pf_stop() {
	[ "$PF_STARTED" = 1 ] || return 0
	PF_STARTED=0
	mp=$(pf_master_pid)
	timeout 30 "$POSTFIX" -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
	# postfix stop signals master(8) and returns; wait for it to be gone.
	if [ -n "$mp" ]; then
		i=0
		while alive "$mp" && [ $i -lt 300 ]; do
			sleep 0.1; i=$((i + 1))
		done
		if alive "$mp"; then
			say "postfix master $mp still running; SIGKILL"
			kill -KILL "$mp" 2>/dev/null || true
		fi
	fi
}

policy_restore() {
	[ "$POLICY_INSTALLED" = 1 ] || return 0
	POLICY_INSTALLED=0
	if [ -n "$POLICY_SAVED" ]; then
		mv -f "$POLICY_SAVED" /usr/sbin/policy-rc.d
	else
		rm -f /usr/sbin/policy-rc.d
	fi
}

cleanup() {
	rc=$?
	set +e
	policy_restore
	if [ -n "$SRC_PID" ]; then kill -TERM "$SRC_PID" 2>/dev/null; SRC_PID=; fi
	if [ -n "$POSTEL_PID" ]; then stop_pid "$POSTEL_PID" 30; POSTEL_PID=; fi
	pf_stop
	if [ "$KEEP" = 1 ]; then
		say "kept: $WORK ${DONE_DIRS:-} ${POSTEL_DIR:-} ${PF_DIR:-}"
	else
		# shellcheck disable=SC2086 # a list of mktemp paths
		rm -rf ${DONE_DIRS:-} ${POSTEL_DIR:-} ${PF_DIR:-} "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# ---------------------------------------------------------------- install
postfix_masters() { # pids of every running Postfix master(8)
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = /usr/lib/postfix/sbin/master ] && echo "${d#/proc/}"
	done
	return 0
}

system_postfix_check() {
	# Called before our own instance starts, so any Postfix master running
	# now is a system one. If the install just now started it, stop it; one
	# that ran before this bench is not ours to touch.
	for p in $(postfix_masters); do
		if [ "$INSTALLED_NOW" = 1 ]; then
			say "a system postfix master ($p) runs after the install; stopping it"
			"$POSTFIX" stop >/dev/null 2>&1 || true
			sleep 1
			! alive "$p" || kill -TERM "$p" 2>/dev/null || true
			sleep 1
			! alive "$p" || die "cannot stop system postfix master $p"
		else
			say "note: a system postfix (master $p) was running before this bench; left alone"
		fi
	done
	if [ "$INSTALLED_NOW" = 1 ] && ss -Hltnp 'sport = :25' 2>/dev/null | grep -q '"master"'; then
		die "a postfix master holds port 25 after the install"
	fi
	return 0
}

INSTALLED_NOW=0
if [ ! -x "$SMTP_SOURCE" ] || [ ! -x "$POSTFIX" ]; then
	say "installing postfix (for smtp-source and the Postfix peer), no system service"
	if [ -e /usr/sbin/policy-rc.d ]; then
		POLICY_SAVED=$WORK/policy-rc.d.saved
		cp -p /usr/sbin/policy-rc.d "$POLICY_SAVED"
	fi
	POLICY_INSTALLED=1
	printf '#!/bin/sh\n# installed by postel bench/run.sh while apt-get runs\nexit 101\n' >/usr/sbin/policy-rc.d.bench
	chmod 755 /usr/sbin/policy-rc.d.bench
	mv -f /usr/sbin/policy-rc.d.bench /usr/sbin/policy-rc.d
	echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >"$WORK/apt-update.log" 2>&1 || { cat "$WORK/apt-update.log" >&2; die "apt-get update"; }
	apt-get install -y -q --no-install-recommends postfix >"$WORK/apt-install.log" 2>&1 ||
		{ tail -30 "$WORK/apt-install.log" >&2; die "apt-get install postfix"; }
	policy_restore
	INSTALLED_NOW=1
	# Nor at the next boot: the package enables its unit / init script.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable postfix.service >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d postfix disable >/dev/null 2>&1 || true
	fi
fi
command -v ss >/dev/null 2>&1 || die "ss (iproute2) is needed to find and wait for ports"
system_postfix_check

# ---------------------------------------------------------------- helpers
port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

free_port() { # a TCP port nobody listens on, in 20000-59999
	p=$(awk -v s="$$$(date +%N)" 'BEGIN { srand(s % 1000000007); printf "%d", 20000 + int(rand() * 40000) }')
	n=0
	while port_busy "$p"; do
		p=$((p + 1)); n=$((n + 1))
		[ $p -lt 60000 ] || p=20000
		[ $n -lt 40000 ] || die "no free port"
	done
	echo "$p"
}

wait_port() { # port pid-or-empty seconds
	i=0
	while ! port_busy "$1"; do
		if [ -n "$2" ] && ! alive "$2"; then return 1; fi
		[ $i -lt $(($3 * 10)) ] || return 1
		sleep 0.1; i=$((i + 1))
	done
}

# The port listens before the server can answer (Postel's master binds
# first and then may generate its TLS key; Postfix's master forks smtpd on
# the first connection): time only from the first 220 greeting on.
wait_greeting() { # port seconds
	/usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if s.makefile("rb").readline().startswith(b"220"):
                s.sendall(b"QUIT\r\n")
                sys.exit(0)
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.1)
PY
}

count_files() { # files in a directory, 0 if missing
	# ls -U: no sorting; Maildir names have no newline.
	# shellcheck disable=SC2012
	if [ -d "$1" ]; then ls -U "$1" | wc -l; else echo 0; fi
}

run_source() { # port log: the load, bounded
	# In the background so that a signal to this script is handled at once
	# (the shell runs traps only between foreground commands).
	timeout "$TIMEOUT" "$SMTP_SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" \
		-f "$SENDER" -t "$RCPT" "127.0.0.1:$1" >"$2" 2>&1 &
	SRC_PID=$!
	rc=0
	wait "$SRC_PID" || rc=$?
	SRC_PID=
	[ $rc != 124 ] || say "smtp-source timed out after ${TIMEOUT}s"
	return $rc
}

POSTEL_RATE='' PF_RATE=''

# ---------------------------------------------------------------- postel
bench_postel() {
	[ -x "$POSTEL_BIN" ] || die "no postel binary at $POSTEL_BIN (make build, or set POSTEL_BIN)"
	POSTEL_DIR=$(mktemp -d /tmp/postel-bench.XXXXXX)
	POSTEL_LOG=$WORK/postel.log
	P="$POSTEL_BIN -d $POSTEL_DIR"
	$P domain add "$DOMAIN" >"$WORK/postel-admin.log" 2>&1 ||
		{ cat "$WORK/postel-admin.log" >&2; die "postel domain add"; }
	printf 'bench-password\n' | $P user add "$RCPT" >>"$WORK/postel-admin.log" 2>&1 ||
		{ cat "$WORK/postel-admin.log" >&2; die "postel user add"; }
	port=$(free_port)
	$P -o hostname="$DOMAIN" -o smtp_listen="127.0.0.1:$port" \
		-o submission_listen= -o submissions_listen= \
		-o pop3_listen= -o pop3s_listen= -o imap_listen= -o imaps_listen= \
		serve 2>"$POSTEL_LOG" &
	POSTEL_PID=$!
	if ! wait_port "$port" "$POSTEL_PID" 30 || ! wait_greeting "$port" 30; then
		tail -20 "$POSTEL_LOG" >&2
		die "postel exited, or did not listen on 127.0.0.1:$port within 30s (log above)"
	fi
	say "postel listening on 127.0.0.1:$port (pid $POSTEL_PID, data $POSTEL_DIR)"
	new=$POSTEL_DIR/mail/$DOMAIN/u/new
	sync
	t0=$(now)
	src_rc=0
	run_source "$port" "$WORK/postel-source.log" || src_rc=$?
	t1=$(now)
	n=$(count_files "$new")
	stop_pid "$POSTEL_PID" 30 || say "postel did not drain within 30s of SIGTERM"
	wait "$POSTEL_PID" 2>/dev/null || true
	POSTEL_PID=
	if [ "$src_rc" != 0 ] || [ "$n" != "$MESSAGES" ]; then
		cat "$WORK/postel-source.log" >&2
		tail -20 "$POSTEL_LOG" >&2
		die "postel: smtp-source exit $src_rc, $n of $MESSAGES messages in $new"
	fi
	s=$(elapsed "$t0" "$t1")
	POSTEL_RATE=$(rate "$MESSAGES" "$s")
	echo "postel: $MESSAGES msgs in $s s = $POSTEL_RATE msg/s"
	# Anything the server logged above info level, for the reader.
	bad=$(grep -cE 'level=(warn|warning|err|error|crit|fatal|alert)' "$POSTEL_LOG" || true)
	if [ "$bad" != 0 ]; then
		say "postel logged $bad warning/error lines, first ones:"
		grep -E 'level=(warn|warning|err|error|crit|fatal|alert)' "$POSTEL_LOG" | head -5 >&2
	fi
}

# ---------------------------------------------------------------- postfix
bench_postfix() {
	PF_DIR=$(mktemp -d /tmp/postfix-bench.XXXXXX)
	chmod 755 "$PF_DIR"
	mkdir "$PF_DIR/etc" "$PF_DIR/vmail" "$PF_DIR/spool"
	# virtual(8) writes as this uid/gid; it refuses uid 0 (virtual_minimum_uid).
	vuid=$(id -u nobody) vgid=$(id -g nobody)
	chown "$vuid:$vgid" "$PF_DIR/vmail"
	port=$(free_port)
	cat >"$PF_DIR/etc/main.cf" <<EOF
# Generated by postel bench/run.sh: a throwaway Postfix instance.
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
myhostname = postfix-bench.example
mydomain = postfix-bench.example
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# No DNS anywhere: no MX lookups, no reverse lookups of the client.
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
# Delivery: virtual(8) into one Maildir (trailing / = Maildir).
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $PF_DIR/vmail
virtual_mailbox_maps = inline:{$RCPT=$DOMAIN/u/}
virtual_uid_maps = static:$vuid
virtual_gid_maps = static:$vgid
EOF
	# smtpd on a loopback high port only, then the internal services (no
	# chroot) every private Postfix of the tests and benches uses: tests/peers.py
	{
		echo "# Generated by postel bench/run.sh (services: tests/peers.py)"
		echo "127.0.0.1:$port inet n - n - - smtpd"
		/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests"); import peers
print(peers.POSTFIX_SERVICES, end="")'
	} >"$PF_DIR/etc/master.cf" || die "writing master.cf"
	PF_STARTED=1
	if ! timeout 60 "$POSTFIX" -c "$PF_DIR/etc" start >"$WORK/postfix-start.log" 2>&1; then
		cat "$WORK/postfix-start.log" >&2
		[ -f "$PF_DIR/maillog" ] && tail -20 "$PF_DIR/maillog" >&2
		die "postfix -c $PF_DIR/etc start"
	fi
	if ! wait_port "$port" "" 30 || ! wait_greeting "$port" 30; then
		cat "$WORK/postfix-start.log" >&2
		[ -f "$PF_DIR/maillog" ] && tail -20 "$PF_DIR/maillog" >&2
		die "postfix did not listen on 127.0.0.1:$port within 30s"
	fi
	say "postfix listening on 127.0.0.1:$port (master pid $(pf_master_pid), config $PF_DIR/etc)"
	new=$PF_DIR/vmail/$DOMAIN/u/new
	sync
	t0=$(now)
	src_rc=0
	run_source "$port" "$WORK/postfix-source.log" || src_rc=$?
	t1=$(now)
	if [ "$src_rc" != 0 ]; then
		cat "$WORK/postfix-source.log" >&2
		tail -20 "$PF_DIR/maillog" >&2
		die "postfix: smtp-source exit $src_rc"
	fi
	# Polled only now, so the poller costs nothing during ingest.
	i=0 limit=$((TIMEOUT * 20))
	while n=$(count_files "$new") && [ "$n" -lt "$MESSAGES" ]; do
		if [ $i -ge $limit ]; then
			tail -20 "$PF_DIR/maillog" >&2
			die "postfix: only $n of $MESSAGES messages delivered after ${TIMEOUT}s"
		fi
		sleep 0.05; i=$((i + 1))
	done
	t2=$(now)
	pf_stop
	[ "$n" = "$MESSAGES" ] || die "postfix: $n messages in $new, expected $MESSAGES"
	sa=$(elapsed "$t0" "$t1") sd=$(elapsed "$t0" "$t2")
	PF_RATE=$(rate "$MESSAGES" "$sd")
	echo "postfix: $MESSAGES msgs accepted in $sa s, delivered in $sd s = $PF_RATE msg/s"
	bad=$(grep -cE 'postfix/[a-z-]+\[[0-9]+\]: (warning|error|fatal|panic):' "$PF_DIR/maillog" || true)
	if [ "$bad" != 0 ]; then
		say "postfix logged $bad warning/error lines, first ones:"
		grep -E 'postfix/[a-z-]+\[[0-9]+\]: (warning|error|fatal|panic):' "$PF_DIR/maillog" | head -5 >&2
	fi
}

median() { # numbers as arguments
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# A finished round's data stays until the end. Deleting thousands of files
# between rounds would slow the next side's file creation: ext4 without a
# journal (as here) skips inodes freed in the last 30 s when it allocates
# one (fs/ext4/ialloc.c, recently_deleted()), at a page-cache lookup each,
# so whoever ran right after a delete paid for it.
round_cleanup() {
	DONE_DIRS="${DONE_DIRS:-} ${POSTEL_DIR:-} ${PF_DIR:-}"
	POSTEL_DIR= PF_DIR=
}

say "$SESSIONS sessions, $MESSAGES messages of $SIZE bytes to $RCPT, $(nproc) CPUs, $ROUNDS rounds"
POSTEL_RATES='' PF_RATES=''
r=1
while [ "$r" -le "$ROUNDS" ]; do
	if [ "$ONLY" != postfix ]; then
		bench_postel
		POSTEL_RATES="$POSTEL_RATES $POSTEL_RATE"
	fi
	if [ "$ONLY" != postel ]; then
		bench_postfix
		PF_RATES="$PF_RATES $PF_RATE"
	fi
	round_cleanup
	r=$((r + 1))
done
# shellcheck disable=SC2086 # word splitting of the rate lists is wanted
if [ -n "$POSTEL_RATES" ] && [ -n "$PF_RATES" ]; then
	a=$(median $POSTEL_RATES) b=$(median $PF_RATES)
	echo "median of $ROUNDS: postel $a msg/s, postfix $b msg/s"
	awk -v a="$a" -v b="$b" \
		'BEGIN { if (b <= 0) b = 1; printf "ratio postel/postfix: %.2fx (target >= 2x)\n", a / b }'
fi
