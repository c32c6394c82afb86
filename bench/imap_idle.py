#!/usr/bin/python3
"""make bench, IMAP part 2 (issue 9 item 15): memory per idle connection.

    sudo /usr/bin/python3 bench/imap_idle.py      # make bench runs it

BENCH_IDLE_CONNS (10,000) connections over implicit TLS to Postel, spread
over BENCH_IDLE_USERS (100) users, each logged in, INBOX selected and in
IDLE (when the server answers IDLE with "+"; otherwise the connection just
stays selected, and the output says so). The client is bench/imap-load.c
("idle" mode). The figure is (PSS of all the server's processes, summed
from /proc/PID/smaps_rollup, with the connections held) minus (the same
of the idle server, after a warm-up of a few logins), divided by the
number of connections; the marginal cost (second half of the connections
only) is printed beside it. No COMPRESS. Target: <= 16 KiB per connection.

Dovecot's figure is printed beside it, measured the same way with
BENCH_IDLE_DOVECOT_CONNS (2,000) connections and process_limit raised to
hold them: in its default (high-security) login mode every TLS
connection costs an imap-login and an imap process, about 2 MiB, so
10,000 would need some 20 GiB and 20,000 processes (pid_max here is
printed); the count is lowered further to fit half of MemAvailable.

Where an idle connection's KiB go (one worker, measured with heaptrack
and malloc deltas, 2026-12-06): OpenSSL 3.0 keeps about 14.4 KiB per
TLS 1.3 server connection with SSL_MODE_RELEASE_BUFFERS (the SSL object
7.4, two AES-GCM contexts 1.9, the session 0.9, a copy of the CERT 0.5,
the rest small; the cipher, tickets and the session cache change it by
0.2 at most); the session, connection, parser, view, watch and pools
about 1.5 more. Empty buffers, the command pool and SELECT's message list
are given back while idle (see tests/test_conn_memory.py). Per user, each
worker holds the user's lane and store handle (SQLite): the "per
connection" figure includes that, the "marginal" one leaves it out.

Measured here (2 cores shared with other builds, load ~25, 100 users):
2,000 connections opened in 249 s (5 to 8 logins a second over both
cores), postel 31.9 KiB per connection (16.3 marginal: the first 1,000
also opened every user's lane and store handle in both workers, about
300 KiB a user), dovecot 1,888 KiB at 600 connections (1,819 marginal).
10,000 connections (the full run) opened in 1,033 s: postel 20.3 KiB per
connection (PSS 11.6 MiB idle, 124.0 at 5,000, 209.7 at 10,000; 17.6
marginal), dovecot 2,143 KiB at 20 (BENCH_IDLE_DOVECOT_CONNS=20 in that
run, to fit the time).

RLIMIT_NOFILE is raised to the hard limit (65,536 when CAP_SYS_RESOURCE
allows) for this process, the servers and the client. Loopback only;
every wait is bounded (BENCH_IDLE_TIMEOUT, 1800 s, for opening them all).

Since 2026-12-06 (session 6) a user whose sessions all rest (IDLE, or
between commands) has its SQLite handle closed after 15 s and the freed
arena pages trimmed: at 1,000 connections over 100 users that took the
figure from 49.7 to 18.0 KiB per connection (the per-user 300 KiB above
is gone; what stays per user is its lane entry). The full run at 10,000
connections (same day, two helpers building beside it): postel 17.8 KiB
per connection, 17.1 marginal (was 20.3 and 17.6); dovecot 2,150 KiB.

Session 7 (2026-12-06): what an idle connection's heap holds, from a
gdb trace of one worker (live allocations per IDLE-ing connection) and a
CRYPTO_set_mem_functions count: OpenSSL asks 13,874 bytes in 34
allocations (glibc makes them 14,256 with chunk headers: a size-class
allocator could save at most ~0.37 KiB), Postel ~2.6 KiB. Postel's share
was cut by ~1 KiB: the parser gives its arrays, list stack and strings
back at each reset, the session id is inline (no 288-byte pool block),
the view keeps its address packed (not a 321-byte struct store_address)
and its UID map exact, \Recent ranges grow from none. At 2,000
connections over 100 users, both runs side by side on a loaded machine:
17.4 KiB per connection (18.3 marginal) before, 16.5 (17.3) after;
tests/test_conn_memory.py (240 connections, one worker's RSS): 17.4 ->
16.4. The figure moves with how many handshakes overlap: side by side on a
quieter machine (2,000 opened in 292 s) it was 19.9 (18.2 marginal)
before and 19.0 (17.8) after: their 16 KiB record buffers and
temporaries leave holes between the long-lived objects (where a
size-class allocator for OpenSSL's small objects would help most);
compare runs made side by side.

Session 8 (2026-12-06): OpenSSL's live allocations per idle connection,
counted with a CRYPTO_set_mem_functions hook (one worker, 240
connections): 14,355 bytes of chunks in 36 allocations before, 14,066 in
34 after (the SSL 7,616, two AES-GCM contexts 1,952, the session 944, the
CERT copy 544, eight locks 513, two cipher contexts 384, the client's
cipher list 352, the two X25519 key shares kept after the handshake ~880,
two SHA-256 transcript states 416 with their EVP_MD_CTXs, ...); Postel's
share ~1.7 KiB (conn 368, imap_session 400, parser 208, the view, the
watch, timers). Record buffers come from src/lib/tls_mem.c's pool, not the
main heap. 3,000 connections over 100 users, both runs side by side on a
loaded machine: 17.2 KiB per connection (17.1 marginal) at 60cf7b8, 16.8
(16.7) after; dovecot ~2,000-2,200 KiB at 20.

Session 10 (2026-12-07): what kept the figure above 16 was not the
connections' own blocks but the users' closed SQLite handles (about 300
KiB each, opened and closed by every worker while the connections
arrive): freed in glibc's one arena among the connections' long-lived
blocks, their pages stayed resident wherever one live block sat. SQLite
now allocates from a zone of its own (src/lib/zone.c, sqlite_mem.c),
whose empty spans give their pages back; OpenSSL's blocks up to 1 KiB
(its contexts, keys, locks and the handshake's temporaries) from
another (tls_mem.c). measure() at 10,000 connections, runs alternated on
a quiet machine: 16.5 KiB per connection (15.8 marginal) twice before;
SQLite's zone 15.4 (15.5) twice; both zones 15.0 (15.1) and 14.9 (15.0),
with helpers building beside it (SQLite's zone alone, same conditions:
15.4 (16.0)).

Environment: POSTEL_BIN, BENCH_IDLE_CONNS, BENCH_IDLE_USERS,
BENCH_IDLE_DOVECOT_CONNS, BENCH_IDLE_TIMEOUT, BENCH_KEEP=1.
"""
import os
import select
import subprocess
import sys
import time

import imap

CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "10000"))
USERS = int(os.environ.get("BENCH_IDLE_USERS", "100"))
DOVECOT_CONNS = int(os.environ.get("BENCH_IDLE_DOVECOT_CONNS", "2000"))
TIMEOUT = float(os.environ.get("BENCH_IDLE_TIMEOUT", "1800"))
# Postel closes the store handle of a user whose sessions all rest after
# 15 s (src/session/session_user.h SESSION_USER_QUIET_MS) and gives the
# memory back a second later: the figure is taken once that happened
SETTLE_S = 20
DOVECOT_MIB_PER_CONN = 2.5  # for the memory check only


def say(msg):
    print(f"bench-imap-idle: {msg}", file=sys.stderr, flush=True)


def tree_pids(root):
    children = imap.pop3.proc_children()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(c for c, _ in children.get(pid, []))
    return pids


def tree_pss(root):
    """KiB of PSS of root and every process below it; process count."""
    total, n = 0, 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        n += 1
                        break
        except OSError:
            pass
    return total, n


def hold(client, port, conns, users):
    """Starts the client; returns it once every connection is up (and
    the count idling), or dies."""
    p = subprocess.Popen([str(client), "idle", str(port), imap.PASSWORD, str(conns),
                          *users], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 5)
        if r:
            line = p.stdout.readline()
            if line.startswith("ready"):
                return p, int(line.split()[2])
            break
        if p.poll() is not None:
            break
    p.kill()
    p.wait()
    imap.die(f"the idle client failed or timed out after {TIMEOUT:.0f} s (exit {p.returncode})")


def release(p):
    p.stdin.close()
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def measure(name, client, port, server_pid, conns, users):
    """Held in two halves, so that besides (full - idle) / conns the
    marginal cost (full - half) / (conns / 2) is printed: it leaves out what
    the first connections cost once (per-user state, malloc arenas of the
    login threads)."""
    release(hold(client, port, min(20, conns), users)[0])  # warm-up: TLS, lanes
    time.sleep(2)
    base, nbase = tree_pss(server_pid)
    t0 = time.monotonic()
    first, idling = hold(client, port, conns // 2, users)
    time.sleep(SETTLE_S)
    half, _ = tree_pss(server_pid)
    second, idling2 = hold(client, port, conns - conns // 2, users)
    took = time.monotonic() - t0
    time.sleep(SETTLE_S)
    full, nfull = tree_pss(server_pid)
    release(first)
    release(second)
    idling += idling2
    per = (full - base) / conns
    marginal = (full - half) / (conns - conns // 2)
    print(f"{name}: {conns} TLS connections over {len(users)} users "
          f"({idling} in IDLE, {conns - idling} selected only), opened in {took:.0f} s; "
          f"PSS {base / 1024:.1f} MiB idle ({nbase} processes), {half / 1024:.1f} MiB at "
          f"{conns // 2}, {full / 1024:.1f} MiB at {conns} ({nfull} processes): "
          f"{per:.1f} KiB per connection, {marginal:.1f} KiB marginal", flush=True)
    return per, marginal


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def main():
    work, pw = imap.setup("postel-bench-imap-idle.")
    postel = dovecot = None
    users = imap.users_list(USERS)
    try:
        src, names = imap.make_sources(work, 20, 16 * 1024, pw.pw_uid, pw.pw_gid)
        postel, pport, hashes = imap.start_postel(
            work, src, names, pw.pw_uid, pw.pw_gid, USERS, tls=True,
            extra=(f"max_connections={CONNS + 100}",
                   f"max_connections_per_ip={CONNS + 100}"))
        client = imap.build_client(work)
        say(f"postel on 127.0.0.1:{pport} (imaps); opening {CONNS} connections")
        ppc, pm = measure("postel", client, pport, postel.pid, CONNS, users)
        imap.pop3.stop(postel)
        postel = None
        dconns = min(DOVECOT_CONNS,
                     int(mem_available_kib() / 2 / 1024 / DOVECOT_MIB_PER_CONN))
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        limits = (f"limits here: pid_max {pid_max}, RLIMIT_NOFILE "
                  f"{imap.resource.getrlimit(imap.resource.RLIMIT_NOFILE)[0]}, "
                  f"MemAvailable {mem_available_kib() >> 20} GiB")
        if dconns < CONNS:
            say(f"dovecot measured at {dconns} connections, not {CONNS} ({limits}; "
                "two processes per TLS connection in its default login mode)")
        dovecot, dport = imap.start_dovecot(work, src, names, pw.pw_uid, pw.pw_gid, hashes,
                                            tls=True, conns=dconns)
        dpc, dm = measure("dovecot", client, dport, dovecot.pid, dconns, users)
        print(f"memory per idle TLS connection: postel {ppc:.1f} KiB ({pm:.1f} marginal; "
              f"target <= 16 KiB), dovecot {dpc:.1f} KiB ({dm:.1f} marginal) at {dconns} "
              f"connections; {limits}")
    finally:
        imap.cleanup(work, postel, dovecot)


if __name__ == "__main__":
    main()
