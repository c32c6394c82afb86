#!/usr/bin/python3
"""make bench, resync part (issue 12 "How it is shown"): a client that was
offline resynchronises a 50,000-message mailbox with QRESYNC (RFC 7162
3.2.5), Postel against Dovecot, same machine, same run, same client, same
messages, same password hashes.

    sudo /usr/bin/python3 bench/resync.py      # make bench runs it

Scenario, for each server in turn:
 1. load: BENCH_RESYNC_MESSAGES (50,000) messages of 2 to 6 KiB written once
    as Maildir files and hard-linked into the user's new/ of both servers
    (each builds its own index at the first SELECT: timed, printed, not
    part of the figure);
 2. full sync: a client logs in, ENABLE QRESYNC, SELECT INBOX (CONDSTORE),
    UID FETCH 1:* (UID FLAGS MODSEQ), and records UIDVALIDITY,
    HIGHESTMODSEQ, UIDNEXT, every UID and its flags (timed, informational);
 3. another session sets \\Flagged on 500 messages (UID STORE in tens) and
    expunges 500 others (\\Deleted, then EXPUNGE), drawn with a fixed seed;
 4. the figure: reconnect, LOGIN, ENABLE QRESYNC, SELECT INBOX (QRESYNC
    (uidvalidity modseq known-uids)) (known-uids left out once the line
    would pass 8192 octets, RFC 7162 4), UID FETCH uidnext:* (UID FLAGS) for
    new mail, LOGOUT. The client applies VANISHED (EARLIER) and the FETCHes
    to its copy, which must then equal the server's state exactly (checked:
    a wrong answer fails the bench).
Steps 3 and 4 are repeated BENCH_ROUNDS (5) times per server, alternating,
each round with new changes from the copy the last reconnect left (so
every reconnect is the first after changes, as for a real client); the
medians of wall time and of bytes on the wire (both directions, counted at
the socket) are printed with the ratios.
    "sync" is the same time without connect, greeting and LOGIN (one
    yescrypt hash each, which both servers pay alike); the server's CPU
    time for the whole reconnect (its process tree, reaped children
    included) is printed too, steadier than wall time on a shared machine.
A server that does not advertise QRESYNC gets the resync a client without
it must do (SELECT, UID FETCH 1:* (UID FLAGS)), printed as such.

Target (issue 12): no more bytes than Dovecot and at least 2x faster.

Client: Python on plain loopback TCP (no TLS: bytes are IMAP bytes). Its
own work per reconnect is parsing about a thousand short lines, small next
to either server's; the 50,000-line full sync is informational only.

Environment: POSTEL_BIN [./build/postel], BENCH_RESYNC_MESSAGES [50000],
BENCH_RESYNC_CHANGES [500] (flag changes, and as many expunges),
BENCH_ROUNDS [5], BENCH_KEEP=1, BENCH_RESYNC_FORCE=1 (use ENABLE QRESYNC and
SELECT (QRESYNC) even where QRESYNC is not advertised: for a server whose
extension works before it is announced), BENCH_RESYNC_TRANSCRIPT=DIR (write
each server's last reconnect, both directions, to DIR/<server>.txt, to
compare where the bytes go).
"""
import os
import pathlib
import random
import re
import socket
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import imap  # noqa: E402  (servers, message files, passwords)
import pop3  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_RESYNC_MESSAGES", "50000"))
TRANSCRIPT = os.environ.get("BENCH_RESYNC_TRANSCRIPT")
CHANGES = int(os.environ.get("BENCH_RESYNC_CHANGES", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
USER = f"user0@{imap.DOMAIN}"
# seconds any one reply may take (the first SELECT indexes)
TIMEOUT = float(os.environ.get("BENCH_RESYNC_TIMEOUT", "600"))


def say(msg):
    print(f"bench-resync: {msg}", file=sys.stderr, flush=True)


class Wire:
    """A blocking IMAP client that counts the bytes both ways."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf, self.rx, self.tx, self.tag = b"", 0, 0, 0
        self.log = []  # (direction, bytes): the transcript
        self.greeting = self.response()

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        self.rx += len(data)
        self.buf += data
        self.log.append(("S", data))

    def response(self):
        """One response, literals inline (a line ending in {N} goes on)."""
        out = b""
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                self.fill()
                continue
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self.fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def command(self, text):
        """(tagged status, tagged line, untagged responses)."""
        self.tag += 1
        tag = f"r{self.tag}".encode()
        out = tag + b" " + text.encode() + b"\r\n"
        self.sock.sendall(out)
        self.tx += len(out)
        self.log.append(("C", out))
        untagged = []
        for _ in range(10 * MESSAGES + 1000):
            try:
                line = self.response()
            except socket.timeout:
                raise AssertionError(f"{text[:80]}: no answer within {TIMEOUT:.0f} s "
                                     f"({len(untagged)} untagged lines)") from None
            if line.startswith(tag + b" "):
                return line.split()[1].decode(), line, untagged
            if line.startswith(b"* BAD"):  # a command the server could not take
                raise AssertionError(f"{text[:80]}: {line[:200]!r}")
            untagged.append(line)
        raise AssertionError(f"no tagged answer to {text}")

    def ok(self, text):
        status, line, untagged = self.command(text)
        if status != "OK":
            raise AssertionError(f"{text[:60]}: {line[:300]!r}")
        return line, untagged

    def close(self):
        self.sock.close()


def login(port):
    c = Wire(port)
    c.ok(f'LOGIN "{USER}" "{imap.PASSWORD}"')
    return c


def capabilities(c):
    _, lines = c.ok("CAPABILITY")
    return set(b" ".join(lines).decode().upper().split())


def uid_set(uids):
    """A sorted UID list as a compact sequence set (1:5,7,9:10)."""
    out, run = [], None
    for u in sorted(uids):
        if run and u == run[1] + 1:
            run[1] = u
        else:
            if run:
                out.append(f"{run[0]}:{run[1]}" if run[1] > run[0] else str(run[0]))
            run = [u, u]
    if run:
        out.append(f"{run[0]}:{run[1]}" if run[1] > run[0] else str(run[0]))
    return ",".join(out)


def parse_set(text):
    uids = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        uids.update(range(lo, hi + 1))
    return uids


FETCH_RE = re.compile(rb"^\* \d+ FETCH \((.*)\)$", re.S)


def fetch_items(line):
    """(uid, flags or None, modseq or None) of an untagged FETCH, or None."""
    m = FETCH_RE.match(line)
    if not m:
        return None
    body = m.group(1)
    uid = re.search(rb"\bUID (\d+)", body)
    flags = re.search(rb"\bFLAGS \(([^)]*)\)", body)
    modseq = re.search(rb"\bMODSEQ \((\d+)\)", body)
    return (int(uid.group(1)) if uid else None,
            frozenset(flags.group(1).decode().split()) - {"\\Recent"} if flags else None,
            int(modseq.group(1)) if modseq else None)


def code(line, name):
    m = re.search(rb"\[" + name.encode() + rb" (\d+)\]", line)
    return int(m.group(1)) if m else None


def select_state(tagged, untagged):
    st = {"highestmodseq": code(tagged, "HIGHESTMODSEQ")}
    for line in untagged:
        for name in ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ"):
            v = code(line, name)
            if v is not None:
                st[name.lower()] = v
    return st


def full_sync(port):
    """Step 2: the client's copy {uids: {uid: flags}, uidvalidity, ...}."""
    t0 = time.monotonic()
    c = login(port)
    qresync = "QRESYNC" in capabilities(c) or os.environ.get("BENCH_RESYNC_FORCE") == "1"
    if qresync:
        c.ok("ENABLE QRESYNC")
    tagged, untagged = c.ok("SELECT INBOX (CONDSTORE)" if qresync else "SELECT INBOX")
    st = select_state(tagged, untagged)
    _, lines = c.ok("UID FETCH 1:* (UID FLAGS MODSEQ)" if qresync else
                    "UID FETCH 1:* (UID FLAGS)")
    uids = {}
    for line in lines:
        f = fetch_items(line)
        if f and f[0] is not None:
            uids[f[0]] = f[1]
    c.ok("LOGOUT")
    c.close()
    st.update(uids=uids, qresync=qresync, seconds=time.monotonic() - t0,
              bytes=c.rx + c.tx)
    return st


def change(port, known, seed):
    """Step 3: CHANGES flag changes and CHANGES expunges by another
    session; returns the server's state as the client must see it."""
    rng = random.Random(7162 + seed)
    picked = rng.sample(sorted(known), 2 * CHANGES)
    flag, gone = sorted(picked[:CHANGES]), sorted(picked[CHANGES:])
    c = login(port)
    c.ok("SELECT INBOX")
    for i in range(0, len(flag), 10):
        c.ok(f"UID STORE {uid_set(flag[i:i + 10])} +FLAGS.SILENT (\\Flagged)")
    for i in range(0, len(gone), 10):
        c.ok(f"UID STORE {uid_set(gone[i:i + 10])} +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok("LOGOUT")
    c.close()
    want = dict(known)
    for u in gone:
        del want[u]
    for u in flag:
        want[u] = want[u] | {"\\Flagged"}
    return want


def qresync_select(copy, uids):
    """SELECT (QRESYNC (uidvalidity modseq [known-uids])): RFC 7162 4 asks
    clients to keep a command line within 8192 octets, so known-uids is
    left out when it would not fit (the answer is then every UID expunged
    since modseq, 3.2.5.2, which the client drops from its copy alike)."""
    cmd = f"SELECT INBOX (QRESYNC ({copy['uidvalidity']} {copy['highestmodseq']}"
    known = uid_set(uids)
    if len(cmd) + len(known) + 16 <= 8192:  # with the tag, "))" and CRLF
        cmd += " " + known
    return cmd + "))"


def keep_transcript(name, c):
    """BENCH_RESYNC_TRANSCRIPT: the reconnect as sent and received."""
    if not TRANSCRIPT:
        return
    path = pathlib.Path(TRANSCRIPT)
    path.mkdir(parents=True, exist_ok=True)
    turns = []  # consecutive chunks of one direction joined, then split in lines
    for who, data in c.log:
        if turns and turns[-1][0] == who:
            turns[-1][1].append(data)
        else:
            turns.append((who, [data]))
    with open(path / f"{name}.txt", "wb") as f:
        for who, chunks in turns:
            f.write(b"".join(b"%s: %s\n" % (who.encode(), line)
                             for line in b"".join(chunks).split(b"\r\n") if line))


def resync(port, pid, copy, want, name):
    """Step 4, the figure: ((seconds, sync seconds, bytes, fetches,
    vanished, server CPU seconds), the client's copy after it)."""
    cpu0 = pop3.tree_cpu(pid)
    t0 = time.monotonic()
    c = login(port)
    t1 = time.monotonic()
    uids = dict(copy["uids"])
    if copy["qresync"]:
        c.ok("ENABLE QRESYNC")
        tagged, untagged = c.ok(qresync_select(copy, uids))
    else:
        tagged, untagged = c.ok("SELECT INBOX")
    st = select_state(tagged, untagged)
    if st.get("uidvalidity") != copy["uidvalidity"]:
        raise AssertionError(f"UIDVALIDITY changed: {st} vs {copy['uidvalidity']}")
    _, more = c.ok(f"UID FETCH {copy['uidnext']}:* (UID FLAGS)" if copy["qresync"] else
                   "UID FETCH 1:* (UID FLAGS)")
    fetches = vanished = 0
    if not copy["qresync"]:
        uids = {}
    for line in untagged + more:
        if line.startswith(b"* VANISHED (EARLIER) "):
            gone = parse_set(line.split()[3].decode())
            vanished += len(gone)
            for u in gone:
                uids.pop(u, None)
            continue
        f = fetch_items(line)
        if f and f[0] is not None and f[1] is not None:
            fetches += 1
            if copy["qresync"] and f[0] >= copy["uidnext"] and f[0] not in want:
                continue  # "uidnext:*" names the last message when none is new
            uids[f[0]] = f[1]
    c.ok("LOGOUT")
    t2 = time.monotonic()
    c.close()
    keep_transcript(name, c)
    time.sleep(0.05)  # the server's session process ends and is reaped
    cpu = pop3.tree_cpu(pid) - cpu0
    if uids != want:
        wrong = sorted(set(uids.items()) ^ set(want.items()))[:5]
        raise AssertionError(f"after the resync the copy differs, e.g. {wrong}")
    after = dict(copy, uids=want, highestmodseq=st.get("highestmodseq"),
                 uidnext=st.get("uidnext"))
    return (t2 - t0, t2 - t1, c.rx + c.tx, fetches, vanished, cpu), after


def index_build(port):
    """The first SELECT makes the server index the new files (untimed in
    the figure); returns its seconds."""
    t0 = time.monotonic()
    c = login(port)
    _, untagged = c.ok("SELECT INBOX")
    c.ok("LOGOUT")
    c.close()
    exists = [int(x.split()[1]) for x in untagged if x.endswith(b" EXISTS")]
    if exists != [MESSAGES]:
        raise AssertionError(f"SELECT saw {exists} messages, {MESSAGES} delivered")
    return time.monotonic() - t0


def median(runs, i):
    return statistics.median(r[i] for r in runs)


def report(copies, results, builds, rounds):
    print(f"IMAP resync: {MESSAGES} messages, another session flags {CHANGES} and "
          f"expunges {CHANGES}, then a reconnect; median of {rounds} rounds")
    for name in ("postel", "dovecot"):
        cp = copies[name]
        how = ("SELECT (QRESYNC ...)" if cp["qresync"] else
               "no QRESYNC advertised: SELECT + UID FETCH 1:* (UID FLAGS)")
        print(f"{name}: index build {builds[name]:.2f} s; full sync {cp['seconds']:.2f} s "
              f"{cp['bytes']} bytes; resync via {how}")
    print(f"{'resync':10} {'seconds':>9} {'sync s':>9} {'bytes':>9} {'FETCH':>6} "
          f"{'VANISHED':>9} {'server CPU s':>13}")
    for name in ("postel", "dovecot"):
        runs = results[name]
        print(f"{name:10} {median(runs, 0):9.4f} {median(runs, 1):9.4f} "
              f"{median(runs, 2):9.0f} {median(runs, 3):6.0f} {median(runs, 4):9.0f} "
              f"{median(runs, 5):13.3f}")
    p, d = results["postel"], results["dovecot"]
    print(f"ratio dovecot/postel time: {median(d, 0) / median(p, 0):.2f}x, sync only "
          f"{median(d, 1) / median(p, 1):.2f}x (target >= 2x); "
          f"bytes postel/dovecot: {median(p, 2) / median(d, 2):.2f} (target <= 1); "
          f"server CPU dovecot/postel {median(d, 5) / max(median(p, 5), 1e-3):.2f}x")


def main():
    work, pw = imap.setup("postel-bench-resync.")
    postel = dovecot = None
    try:
        t0 = time.monotonic()
        src, names = imap.make_sources(work, MESSAGES, 6 * 1024, pw.pw_uid, pw.pw_gid)
        say(f"{MESSAGES} messages written in {time.monotonic() - t0:.1f} s")
        postel, pport, hashes = imap.start_postel(work, src, names, pw.pw_uid, pw.pw_gid, 1)
        dovecot, dport = imap.start_dovecot(work, src, names, pw.pw_uid, pw.pw_gid, hashes)
        ports = {"postel": pport, "dovecot": dport}
        pids = {"postel": postel.pid, "dovecot": dovecot.proc.pid}
        say(f"postel on 127.0.0.1:{pport}, dovecot on 127.0.0.1:{dport}")
        builds, copies, first = {}, {}, {}
        for name, port in ports.items():
            builds[name] = index_build(port)
            copies[name] = first[name] = full_sync(port)
            if len(copies[name]["uids"]) != MESSAGES:
                raise AssertionError(f"{name}: full sync saw {len(copies[name]['uids'])}")
            say(f"{name}: index {builds[name]:.1f} s, full sync {copies[name]['seconds']:.1f} s")
        results = {"postel": [], "dovecot": []}
        failed = None
        for r in range(ROUNDS):
            for name, port in ports.items():
                try:
                    want = change(port, copies[name]["uids"], r)
                    res, copies[name] = resync(port, pids[name], copies[name], want, name)
                except (AssertionError, OSError) as e:
                    failed = f"{name}, round {r + 1}: {str(e)[:300]}"
                    break
                results[name].append(res)
            if failed:
                break
        done = min(len(v) for v in results.values())
        if done:  # the rounds both servers completed, even when one failed later
            report(first, {k: v[:done] for k, v in results.items()}, builds, done)
        if failed:
            pop3.die(failed)
    except AssertionError as e:
        pop3.die(str(e))
    finally:
        imap.cleanup(work, postel, dovecot)


if __name__ == "__main__":
    main()
