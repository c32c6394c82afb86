#!/usr/bin/python3
"""make bench, POP3 part: retrieve-all against Postel and Dovecot, same
machine, same run, same client, same files.

    sudo /usr/bin/python3 bench/pop3.py      # make bench runs it

Load (issue 3): 10 users, each with a maildrop of 2,000 messages of mixed
sizes (log-uniform 2 KiB to 1 MiB, the same 2,000 for every user), all
retrieved by 10 concurrent sessions, one per user: USER/PASS, STAT, then
RETR 1..2000 one at a time (as fetchmail does), QUIT; the client is
bench/pop3_retrieve.c, built with cc when the bench starts. Nothing is deleted,
so every round reads the same maildrops. The figure is messages per second
over the whole round; rounds alternate between the two servers and the
ratio is of the medians.

Files: the messages are written once as Maildir files (LF line endings,
",S=<size>,W=<wire size>" names, as Postel writes them) and hard-linked
into each user's new/ for both servers, so both read the very same inodes
through the same page cache. A warm-up session per user before the
rounds lets each server build its index (Postel's SQLite index, Dovecot's
dovecot.index and dovecot-uidlist) and is not timed.

Passwords: both servers check the same yescrypt hash (Postel's default,
read back from its accounts.db, given to Dovecot as {CRYPT}), so each login
costs both the same; with Dovecot on {PLAIN} the ten logins of a round
were about 0.8 s of CPU charged to Postel alone.

Dovecot: a private instance (tests/peers.py, the tests' own: config,
base_dir, state_dir and log in the work directory, POP3 only, on a loopback
high port), Debian's package defaults otherwise; plaintext login allowed on
both servers since TLS is not what is measured. It never touches
/etc/dovecot or the system service.

Environment: POSTEL_BIN [./build/postel], BENCH_POP3_USERS [10],
BENCH_POP3_MESSAGES [2000], BENCH_POP3_MAX [1048576], BENCH_ROUNDS [3],
BENCH_KEEP=1 keeps the temporary directory.
"""
import math
import os
import pathlib
import pwd
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from peers import DOVECOT, Dovecot  # noqa: E402  (tests/peers.py)
from ports import free_port  # noqa: E402  (tests/ports.py)

POSTEL_BIN = os.path.abspath(os.environ.get("POSTEL_BIN", "./build/postel"))
USERS = int(os.environ.get("BENCH_POP3_USERS", "10"))
MESSAGES = int(os.environ.get("BENCH_POP3_MESSAGES", "2000"))
MIN_SIZE = 2048
MAX_SIZE = int(os.environ.get("BENCH_POP3_MAX", str(1 << 20)))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
DOMAIN = "bench.example"
PASSWORD = "bench-pw"
RUN_USER = "postel"  # Postel's default run_user; Dovecot reads as it too


def say(msg):
    print(f"bench-pop3: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(f"FAIL: {msg}")
    sys.exit(1)


def wait_greeting(port, proc, timeout=30.0, greeting=b"+OK", bye=b"QUIT\r\n",
                 wrap=None):
    """Until the server on port greets (wrap: a TLS wrapper for the socket)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                s = wrap(raw) if wrap else raw
                if s.makefile("rb").readline().startswith(greeting):
                    s.sendall(bye)
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


# ------------------------------------------------------------- messages
def make_messages(dirpath):
    """MESSAGES files in dirpath; returns their names."""
    rng = random.Random(1939)
    letters = "abcdefghijklmnopqrstuvwxyz     "
    # a pool of text lines, every 40th starting with a dot (dot-stuffed on
    # the way out); messages are drawn from it
    pool = []
    for n in range(4096):
        line = "".join(rng.choice(letters) for _ in range(71))
        pool.append(("." + line[1:] if n % 40 == 7 else line) + "\n")
    names = []
    for i in range(MESSAGES):
        size = int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))
        head = (f"Return-Path: <sender@remote.example>\n"
                f"Delivered-To: user@{DOMAIN}\n"
                f"From: Sender <sender@remote.example>\n"
                f"To: user@{DOMAIN}\n"
                f"Subject: bench message {i}\n"
                f"Date: Fri, 27 Nov 2026 00:00:00 +0000\n"
                f"Message-ID: <{i}.bench@remote.example>\n\n")
        lines = [head] + rng.choices(pool, k=max(1, (size - len(head)) // 72))
        data = "".join(lines).encode()
        wire = len(data) + data.count(b"\n")
        name = f"1795000000.M{i}P1Q{i}.bench,S={len(data)},W={wire}"
        (dirpath / name).write_bytes(data)
        names.append(name)
    return names


def link_maildrop(src, names, maildir, uid, gid):
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
        os.chown(maildir / sub, uid, gid)
    os.chown(maildir, uid, gid)
    for name in names:
        os.link(src / name, maildir / "new" / name)


# ---------------------------------------------------------------- client
def build_client(work):
    """bench/pop3_retrieve.c, the load generator (C, so that its own CPU
    time stays small on two shared cores)."""
    exe = work / "pop3_retrieve"
    src = pathlib.Path(__file__).resolve().parent / "pop3_retrieve.c"
    subprocess.run(["cc", "-O2", "-pthread", "-o", str(exe), str(src)], check=True)
    return exe


def tree_cpu(root):
    """CPU seconds used by root and every process below it, live or
    reaped (a reaped child's time is in its parent's cutime/cstime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = proc_children()
    total = 0
    try:
        f = open(f"/proc/{root}/stat").read()
    except OSError:
        return 0.0
    todo = [(root, f[f.rindex(")") + 2:].split())]
    while todo:
        pid, fields = todo.pop()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return total / ticks


def run_round(client, name, port, server_pid):
    users = [f"user{i}@{DOMAIN}" for i in range(USERS)]
    cpu0 = tree_cpu(server_pid)
    p = subprocess.run([str(client), str(port), PASSWORD, *users],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        die(f"{name}: {p.stderr.strip()[:1000]}")
    total, elapsed = p.stdout.split()
    total, elapsed = int(total), float(elapsed)
    if total != USERS * MESSAGES:
        die(f"{name}: retrieved {total} messages, expected {USERS * MESSAGES}")
    cpu = tree_cpu(server_pid) - cpu0
    rate = total / elapsed
    print(f"{name}: {total} msgs in {elapsed:.2f} s = {rate:.0f} msg/s "
          f"(server CPU {cpu:.2f} s)", flush=True)
    return rate, cpu


# --------------------------------------------------------------- servers
def start_postel(work, src, names, uid, gid):
    data = work / "postel"
    data.mkdir()
    base = [POSTEL_BIN, "-d", str(data)]
    subprocess.run(base + ["domain", "add", DOMAIN], check=True, capture_output=True)
    for i in range(USERS):
        subprocess.run(base + ["user", "add", f"user{i}@{DOMAIN}"], check=True,
                       input=(PASSWORD + "\n").encode(), capture_output=True)
        link_maildrop(src, names, data / "mail" / DOMAIN / f"user{i}", uid, gid)
    port = free_port()
    off = ["smtp_listen", "submission_listen", "submissions_listen", "pop3s_listen",
           "imap_listen", "imaps_listen"]
    args = base + ["-o", f"hostname={DOMAIN}", "-o", f"pop3_listen=127.0.0.1:{port}",
                   "-o", "allow_plaintext_auth=yes"]
    for key in off:
        args += ["-o", f"{key}="]
    log = open(work / "postel.log", "wb")
    proc = subprocess.Popen(args + ["serve"], stdout=log, stderr=log,
                            start_new_session=True)
    if not wait_greeting(port, proc):
        die(f"postel did not greet on {port}: {(work / 'postel.log').read_text()[-2000:]}")
    return proc, port


def postel_hashes(work):
    """{address: password hash} as Postel stored them."""
    db = sqlite3.connect(f"file:{work / 'postel' / 'db' / 'accounts.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT address, password_hash FROM users").fetchall()
    finally:
        db.close()
    return {a: h if h.startswith("{") else "{CRYPT}" + h for a, h in rows}


def start_dovecot(work, src, names, uid, gid):
    """The private Dovecot of tests/peers.py, POP3 only, with Postel's
    hashes and the same maildrops: (instance, port)."""
    hashes = postel_hashes(work)
    users = {f"user{i}@{DOMAIN}": hashes[f"user{i}@{DOMAIN}"] for i in range(USERS)}
    return start_peer(work, src, names, uid, gid, users, "pop3")


def start_peer(work, src, names, uid, gid, users, protocol, cert=None, key=None,
               extra=""):
    """tests/peers.py's Dovecot in work/dovecot on 127.0.0.1 (also
    bench/imap.py's): users {address: "{SCHEME}hash"}, each home holding
    the maildrop; plain unless cert; started once it greets. Returns
    (instance, the port of protocol: imaps with a cert)."""
    dv = Dovecot(cert, key, plain=cert is None, host="127.0.0.1", users=users, uid=uid,
                 gid=gid, protocols=protocol, extra=extra, where=work / "dovecot",
                 keep=KEEP)
    for user in users:
        maildir = dv.maildir(user)
        link_maildrop(src, names, maildir, uid, gid)
        os.chown(maildir.parent, uid, gid)
    try:
        dv.start()
    except AssertionError as e:
        die(str(e))
    port = {"pop3": dv.pop3, "imap": dv.imap if cert is None else dv.imaps}[protocol]
    return dv, port


def proc_children():
    """{ppid: [(pid, stat fields after the command name)]} of every process."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            fields = f[f.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append((int(d), fields))
    return children


def stop(proc):
    """A server started here, or a tests/peers.py instance."""
    if isinstance(proc, Dovecot):
        proc.stop()
        return
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def prepare(package, prefix):
    """Checks what a bench needs (also bench/imap.py's); returns a fresh
    work directory under /tmp and the run user's passwd entry."""
    if os.geteuid() != 0:
        die("run as root (the servers drop to the postel user)")
    if not os.access(POSTEL_BIN, os.X_OK):
        die(f"no postel binary at {POSTEL_BIN} (make build, or set POSTEL_BIN)")
    if not os.access(DOVECOT, os.X_OK):
        die(f"{DOVECOT} is missing: make deps-check installs {package} "
            "without starting it")
    try:
        pw = pwd.getpwnam(RUN_USER)
    except KeyError:
        die(f"no user {RUN_USER}: run postel once as root (make run) to create it")
    work = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(work, 0o755)
    return work, pw


def main():
    work, pw = prepare("dovecot-pop3d", "postel-bench-pop3.")
    postel = dovecot = None
    try:
        src = work / "messages"
        src.mkdir()
        names = make_messages(src)
        for n in names:
            os.chown(src / n, pw.pw_uid, pw.pw_gid)
        size = sum((src / n).stat().st_size for n in names)
        say(f"{USERS} users x {MESSAGES} messages ({size / MESSAGES / 1024:.0f} KiB "
            f"on average, {size >> 20} MiB per maildrop), {os.cpu_count()} CPUs, "
            f"{ROUNDS} rounds")
        postel, pport = start_postel(work, src, names, pw.pw_uid, pw.pw_gid)
        dovecot, dport = start_dovecot(work, src, names, pw.pw_uid, pw.pw_gid)
        say(f"postel on 127.0.0.1:{pport}, dovecot on 127.0.0.1:{dport}; warming up")
        client = build_client(work)
        run_round(client, "postel warm-up", pport, postel.pid)
        run_round(client, "dovecot warm-up", dport, dovecot.pid)
        prates, drates, pcpu, dcpu = [], [], [], []
        for _ in range(ROUNDS):
            rate, cpu = run_round(client, "postel", pport, postel.pid)
            prates.append(rate)
            pcpu.append(cpu)
            rate, cpu = run_round(client, "dovecot", dport, dovecot.pid)
            drates.append(rate)
            dcpu.append(cpu)
        a, b = statistics.median(prates), statistics.median(drates)
        print(f"median of {ROUNDS}: postel {a:.0f} msg/s, dovecot {b:.0f} msg/s")
        # CPU per round is steadier than wall time when the machine is shared
        print(f"server CPU per round (median): postel {statistics.median(pcpu):.2f} s, "
              f"dovecot {statistics.median(dcpu):.2f} s")
        print(f"ratio postel/dovecot: {a / b:.2f}x (target >= 1.5x)")
    finally:
        stop(postel)
        stop(dovecot)
        if KEEP:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
