#!/usr/bin/python3
"""make bench, IMAP part 1 (issue 9 item 14): a command mix against Postel
and Dovecot, same machine, same run, same client, same messages, same
password hashes.

    sudo /usr/bin/python3 bench/imap.py      # make bench runs it

Load: BENCH_IMAP_CLIENTS (20) concurrent clients over BENCH_IMAP_USERS (20)
users, each INBOX holding the same BENCH_IMAP_MESSAGES (200) messages of
2 KiB to 64 KiB (log-uniform; the generator of bench/pop3.py, hard-linked
Maildir files for both servers). The client is bench/imap-load.c (built
with cc here): sessions of LOGIN, SELECT, 5 x (LIST, STATUS, FETCH FLAGS,
FETCH ENVELOPE, FETCH BODY.PEEK[], STORE, APPEND, STORE \\Deleted,
EXPUNGE), LOGOUT, for BENCH_SECONDS (20) per round. Prints commands per
second per command for each server and the ratio (medians over
BENCH_ROUNDS rounds, alternating servers). A command a server answers BAD
is printed as unsupported.

Passwords: the users are created with `postel user add` (yescrypt); the
very hashes of Postel's accounts.db are given to Dovecot in a passwd-file
as {CRYPT} (libxcrypt's crypt() reads $y$), so a login costs alike.

Dovecot: a private instance (tests/peers.py, the tests' own: config,
base_dir, state_dir and log in the work directory, IMAP only, loopback high
port), Debian's defaults otherwise (Maildir); never /etc/dovecot or the
system service. Plaintext login is allowed on both since TLS is not what
this part measures.

Environment: POSTEL_BIN [./build/postel], BENCH_IMAP_USERS, BENCH_IMAP_CLIENTS,
BENCH_IMAP_MESSAGES, BENCH_SECONDS, BENCH_ROUNDS [3], BENCH_KEEP=1.
"""
import os
import pathlib
import resource
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import pop3  # noqa: E402  (message generator, Maildir links, stop, tree_cpu)

POSTEL_BIN = pop3.POSTEL_BIN
DOMAIN = pop3.DOMAIN
PASSWORD = pop3.PASSWORD
KEEP = pop3.KEEP
USERS = int(os.environ.get("BENCH_IMAP_USERS", "20"))
CLIENTS = int(os.environ.get("BENCH_IMAP_CLIENTS", "20"))
MESSAGES = int(os.environ.get("BENCH_IMAP_MESSAGES", "200"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
NOFILE = 65536


def say(msg):
    print(f"bench-imap: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(f"FAIL: {msg}")
    sys.exit(1)


def raise_nofile():
    """For this process and everything it starts (servers, client);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
            return NOFILE
        except (ValueError, OSError):  # no CAP_SYS_RESOURCE (a container)
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_greeting(port, proc, tls=False):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return pop3.wait_greeting(port, proc, greeting=b"* OK", bye=b"a LOGOUT\r\n",
                              wrap=ctx.wrap_socket if tls else None)


def build_client(work):
    exe = work / "imap-load"
    src = pathlib.Path(__file__).resolve().parent / "imap-load.c"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", str(exe),
                    str(src), "-lssl", "-lcrypto"], check=True)
    return exe


def make_sources(work, count, max_size, uid, gid):
    src = work / "messages"
    src.mkdir()
    pop3.MESSAGES, pop3.MAX_SIZE = count, max_size
    names = pop3.make_messages(src)
    for n in names:
        os.chown(src / n, uid, gid)
    return src, names


def users_list(n):
    return [f"user{i}@{DOMAIN}" for i in range(n)]


def start_postel(work, src, names, uid, gid, nusers, tls=False, extra=()):
    data = work / "postel"
    data.mkdir()
    base = [POSTEL_BIN, "-d", str(data)]
    subprocess.run(base + ["domain", "add", DOMAIN], check=True, capture_output=True)
    for i, user in enumerate(users_list(nusers)):
        subprocess.run(base + ["user", "add", user], check=True,
                       input=(PASSWORD + "\n").encode(), capture_output=True)
        pop3.link_maildrop(src, names, data / "mail" / DOMAIN / f"user{i}", uid, gid)
    port = pop3.free_port()
    listen = "imaps_listen" if tls else "imap_listen"
    off = ["smtp_listen", "submission_listen", "submissions_listen", "pop3_listen",
           "pop3s_listen", "imap_listen", "imaps_listen"]
    args = base + ["-o", f"hostname={DOMAIN}", "-o", "allow_plaintext_auth=yes"]
    for key in off:
        args += ["-o", f"{key}=" + (f"127.0.0.1:{port}" if key == listen else "")]
    for kv in extra:
        args += ["-o", kv]
    log = open(work / "postel.log", "wb")
    proc = subprocess.Popen(args + ["serve"], stdout=log, stderr=log,
                            start_new_session=True)
    if not wait_greeting(port, proc, tls):
        die(f"postel did not greet on {port}: {(work / 'postel.log').read_text()[-2000:]}")
    db = sqlite3.connect(f"file:{data}/db/accounts.db?mode=ro", uri=True)
    hashes = dict(db.execute("SELECT address, password_hash FROM users"))
    db.close()
    return proc, port, hashes


def start_dovecot(work, src, names, uid, gid, hashes, tls=False, conns=0):
    """tests/peers.py's Dovecot with Postel's hashes (users 0..n-1 of
    hashes), IMAP, or IMAPS with a fresh certificate: (instance, port)."""
    if not all(h.startswith("$y$") for h in hashes.values()):
        say("note: Postel's hashes are not all yescrypt")
    users = {u: "{CRYPT}" + h for u, h in sorted(hashes.items())}
    cert = key = None
    if tls:
        cert, key = work / "dovecot-cert.pem", work / "dovecot-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", f"/CN={DOMAIN}", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
    limits = ""
    if conns:  # the idle part: room for every connection (issue 9 item 15)
        limits = (f"default_process_limit = {conns + 200}\n"
                  f"default_client_limit = {2 * conns + 1000}\n"
                  f"mail_max_userip_connections = {conns}\n"
                  f"service imap-login {{\n  process_limit = {conns + 200}\n}}\n"
                  f"service imap {{\n  process_limit = {conns + 200}\n}}\n")
    return pop3.start_peer(work, src, names, uid, gid, users, "imap", cert, key, limits)


def run_mix(client, name, port, server_pid, seconds):
    cpu0 = pop3.tree_cpu(server_pid)
    p = subprocess.run([str(client), "mix", str(port), PASSWORD, str(seconds), str(CLIENTS),
                        *users_list(USERS)], capture_output=True, text=True,
                       timeout=seconds + 300)
    if p.returncode != 0:
        die(f"{name}: {p.stderr.strip()[:1000]}")
    cpu = pop3.tree_cpu(server_pid) - cpu0
    counts, elapsed = {}, 0.0
    for line in p.stdout.splitlines():
        f = line.split()
        if f[0] == "cmd":
            counts[f[1]] = (int(f[3]), int(f[5]), int(f[7]), float(f[9]))
        elif f[0] == "elapsed":
            elapsed = float(f[1])
    total = sum(c[0] for c in counts.values())
    say(f"{name}: {total} commands answered OK in {elapsed:.1f} s "
        f"({total / elapsed:.0f}/s, server CPU {cpu:.2f} s)")
    return counts, elapsed, cpu


def report(results):
    """results: {server: [(counts, elapsed, cpu)...]}"""
    print(f"IMAP mix: {CLIENTS} clients, {USERS} users, {MESSAGES} messages each, "
          f"{SECONDS} s x {ROUNDS} rounds; commands/s answered OK (median)")
    print(f"{'command':16} {'postel':>10} {'dovecot':>10} {'ratio':>7}")
    names = list(results["postel"][0][0].keys())
    unsupported = {"postel": [], "dovecot": []}
    tot = {}
    for cmd in names:
        rates = {}
        for server, runs in results.items():
            rates[server] = statistics.median(r[0][cmd][0] / r[1] for r in runs)
            if all(r[0][cmd][2] > 0 and r[0][cmd][0] == 0 for r in runs):
                unsupported[server].append(cmd)
        a, b = rates["postel"], rates["dovecot"]
        if a > 0 and b > 0:  # the total counts what both servers answer
            tot["postel"] = tot.get("postel", 0) + a
            tot["dovecot"] = tot.get("dovecot", 0) + b
        ratio = f"{a / b:.2f}x" if b > 0 and a > 0 else "-"
        note = " (postel: unsupported, BAD)" if cmd in unsupported["postel"] else ""
        if not note and not any(sum(r[0][cmd][:3]) for r in results["postel"]):
            note = " (postel: not sent, it needs the commands before)"
        print(f"{cmd:16} {a:10.0f} {b:10.0f} {ratio:>7}{note}")
    print(f"{'both answer':16} {tot['postel']:10.0f} {tot['dovecot']:10.0f} "
          f"{tot['postel'] / tot['dovecot']:6.2f}x (target >= 2x)")
    # each client runs its commands in turn, so the rates above move
    # together; the time to the tagged answer tells the commands apart
    print(f"{'mean latency ms':16} {'postel':>10} {'dovecot':>10} {'dovecot/postel':>15}")
    for cmd in names:
        lat = {}
        for server, runs in results.items():
            lat[server] = statistics.median(r[0][cmd][3] / max(1, sum(r[0][cmd][:3]))
                                            for r in runs)
        a, b = lat["postel"], lat["dovecot"]
        ratio = f"{b / a:.2f}x" if a > 0 and b > 0 else "-"
        print(f"{cmd:16} {a:10.2f} {b:10.2f} {ratio:>15}")
    # CPU per command is steadier than wall time when the machine is shared
    for server, runs in results.items():
        cpu = statistics.median(r[2] for r in runs)
        per = statistics.median(1000 * r[2] / max(1, sum(c[0] for c in r[0].values()))
                                for r in runs)
        print(f"{server} CPU per round (median): {cpu:.2f} s, {per:.2f} ms per OK command")
    for server, cmds in unsupported.items():
        if cmds:
            print(f"{server}: unsupported (answered BAD): {', '.join(cmds)}")
    for server, runs in results.items():
        no = {c: sum(r[0][c][1] for r in runs) for c in names}
        no = {c: n for c, n in no.items() if n}
        if no:
            print(f"{server}: answered NO: " + ", ".join(f"{c} {n}" for c, n in no.items()))


def setup(prefix):
    say(f"RLIMIT_NOFILE {raise_nofile()}")
    return pop3.prepare("dovecot-imapd", prefix)


def cleanup(work, *procs):
    for p in procs:
        pop3.stop(p)
    if KEEP:
        say(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def main():
    work, pw = setup("postel-bench-imap.")
    postel = dovecot = None
    try:
        src, names = make_sources(work, MESSAGES, 64 * 1024, pw.pw_uid, pw.pw_gid)
        postel, pport, hashes = start_postel(work, src, names, pw.pw_uid, pw.pw_gid, USERS)
        dovecot, dport = start_dovecot(work, src, names, pw.pw_uid, pw.pw_gid, hashes)
        client = build_client(work)
        say(f"postel on 127.0.0.1:{pport}, dovecot on 127.0.0.1:{dport}; warming up")
        run_mix(client, "postel warm-up", pport, postel.pid, 3)
        run_mix(client, "dovecot warm-up", dport, dovecot.pid, 3)
        results = {"postel": [], "dovecot": []}
        for _ in range(ROUNDS):
            results["postel"].append(run_mix(client, "postel", pport, postel.pid, SECONDS))
            results["dovecot"].append(run_mix(client, "dovecot", dport, dovecot.pid,
                                              SECONDS))
        report(results)
    finally:
        cleanup(work, postel, dovecot)


if __name__ == "__main__":
    main()
