#!/usr/bin/python3
"""make bench, SORT part: the SORT a webmail sends on every folder view
(Roundcube: SORT (criterion) UTF-8 ALL, RFC 5256) in a 50,000-message
mailbox, Postel against Dovecot, same machine, same run, same client, same
messages, same password hashes.

    sudo /usr/bin/python3 bench/sort.py      # make bench runs it

Scenario, for each server in turn:
 1. load: BENCH_SORT_MESSAGES (50,000) small messages (0.5 to 1.5 KiB)
    written once as Maildir files and hard-linked into the user's new/ of
    both servers; their headers vary as a real mailbox's do (a few hundred
    senders and recipients, display names, encoded words, Re:/Fwd:/[list]
    subject prefixes, dates over two years in several zones, some without
    Date or Cc). Each server builds its index at the first SELECT (timed,
    printed, not part of the figure);
 2. cold: one session, SELECT INBOX, then each of SORT (SUBJECT),
    SORT (REVERSE DATE), SORT (FROM) (all UTF-8 ALL) once: the first SORT
    the server answers on these messages (whatever it caches per message
    is built here);
 3. warm: BENCH_ROUNDS (5) more rounds of the three, alternating servers;
    the medians of wall time and of the server's CPU time (its process
    tree) are printed with the ratios.
Every answer must list each message once; each server's warm answers must
equal its cold ones (checked: a wrong answer fails the bench). Whether the
two servers' orders agree is printed, not required (ties and the fine
points of RFC 5256 2.1 differ between implementations). BENCH_SORT_DIGEST=1
prints a digest of each of Postel's answers, to compare two builds.

Environment: POSTEL_BIN [./build/postel], BENCH_SORT_MESSAGES [50000],
BENCH_ROUNDS [5], BENCH_KEEP=1, BENCH_SORT_ONLY=postel (skip Dovecot).
"""
import base64
import hashlib
import os
import pathlib
import random
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import imap  # noqa: E402  (servers, passwords)
import pop3  # noqa: E402
import resync  # noqa: E402  (the counting client and its login)

MESSAGES = int(os.environ.get("BENCH_SORT_MESSAGES", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ONLY = os.environ.get("BENCH_SORT_ONLY", "")
DIGEST = os.environ.get("BENCH_SORT_DIGEST") == "1"
SORTS = ["SORT (SUBJECT) UTF-8 ALL", "SORT (REVERSE DATE) UTF-8 ALL",
         "SORT (FROM) UTF-8 ALL"]
resync.MESSAGES = MESSAGES  # the client's bound on untagged lines


def say(msg):
    print(f"bench-sort: {msg}", file=sys.stderr, flush=True)


def encoded(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def make_messages(dirpath, uid, gid):
    """MESSAGES files in dirpath, headers drawn with a fixed seed; returns
    their names."""
    rng = random.Random(5256)
    words = ["report", "meeting", "invoice", "release", "budget", "lunch", "draft",
             "review", "ticket", "server", "backup", "holiday", "patch", "schedule",
             "Überblick", "café", "naïve", "Zürich", "résumé", "Ärger"]
    first = ["Anna", "Bob", "Chloé", "Dmitri", "Eve", "Fatima", "Günther", "Hiro",
             "Ingrid", "José", "Kai", "Lena", "Marek", "Nadia", "Olaf", "Priya"]
    people = []
    for n in range(400):
        name = f"{rng.choice(first)} {rng.choice(words).capitalize()}{n}"
        addr = f"{name.split()[0].lower().encode('ascii', 'ignore').decode()}{n}" \
               f"@host{n % 37}.example"
        people.append((name, addr))
    prefixes = ["", "", "", "Re: ", "RE: ", "Fwd: ", "Re: Re: ", "[list] ",
                "[list] Re: ", "Fw: "]
    zones = ["+0000", "-0500", "+0100", "+0530", "-0800", "GMT", "EST"]
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
              "Nov", "Dec"]
    body = "".join(rng.choice("abcdefghij klmnopqrst uvwxyz") for _ in range(70)) + "\n"

    def addr(p):
        name, a = p
        if rng.random() < 0.2:
            return a
        shown = encoded(name) if not name.isascii() or rng.random() < 0.1 else name
        return f"{shown} <{a}>"

    names = []
    for i in range(MESSAGES):
        subj = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        subj = rng.choice(prefixes) + (encoded(subj) if not subj.isascii() else subj)
        head = [f"From: {addr(rng.choice(people))}",
                f"To: {addr(rng.choice(people))}"]
        if rng.random() < 0.3:
            head.append(f"Cc: {addr(rng.choice(people))}, {addr(rng.choice(people))}")
        head.append(f"Subject: {subj}")
        if rng.random() < 0.97:
            t = time.gmtime(1730000000 + rng.randint(0, 2 * 365 * 86400))
            head.append(f"Date: {days[t.tm_wday]}, {t.tm_mday} {months[t.tm_mon - 1]} "
                        f"{t.tm_year} {t.tm_hour:02}:{t.tm_min:02}:{t.tm_sec:02} "
                        f"{rng.choice(zones)}")
        head.append(f"Message-ID: <{i}.sort@bench.example>")
        data = ("\n".join(head) + "\n\n" + body * rng.randint(4, 16)).encode()
        wire = len(data) + data.count(b"\n")
        name = f"1795000000.M{i}P1Q{i}.bench,S={len(data)},W={wire}"
        (dirpath / name).write_bytes(data)
        os.chown(dirpath / name, uid, gid)
        # the INTERNALDATE of a message without Date: fixed, so that two
        # runs (two builds) sort alike
        os.utime(dirpath / name, (1795000000 + i, 1795000000 + i))
        names.append(name)
    return names


def sort_once(c, cmd):
    """(seconds, the answer's numbers)"""
    t0 = time.monotonic()
    _, untagged = c.ok(cmd)
    t = time.monotonic() - t0
    nums = []
    for line in untagged:
        if line.startswith(b"* SORT"):
            nums += [int(x) for x in line.split()[2:]]
    if sorted(nums) != list(range(1, MESSAGES + 1)):
        raise AssertionError(f"{cmd}: {len(nums)} numbers, not each message once")
    return t, nums


def run_sorts(port, pid):
    """[(seconds, cpu, numbers)] for SORTS in one session"""
    c = resync.login(port)
    c.ok("SELECT INBOX")
    out = []
    for cmd in SORTS:
        cpu0 = pop3.tree_cpu(pid)
        t, nums = sort_once(c, cmd)
        out.append((t, pop3.tree_cpu(pid) - cpu0, nums))
    c.ok("LOGOUT")
    c.close()
    return out


def report(cold, warm, agree):
    print(f"SORT: {MESSAGES} messages, UTF-8 ALL; cold = the first SORT on the "
          f"messages, warm = median of {ROUNDS} later rounds; seconds (server CPU s)")
    servers = list(cold)
    print(f"{'criteria':16} " + " ".join(f"{s + ' cold':>18} {s + ' warm':>18}"
                                         for s in servers) +
          ("   dovecot/postel warm" if len(servers) == 2 else ""))
    for i, cmd in enumerate(SORTS):
        crit = cmd.split("(")[1].split(")")[0]
        cells = []
        for s in servers:
            w = warm[s]
            cells.append(f"{cold[s][i][0]:8.3f} ({cold[s][i][1]:6.2f})")
            cells.append(f"{statistics.median(r[i][0] for r in w):8.3f} "
                         f"({statistics.median(r[i][1] for r in w):6.2f})")
        line = f"{crit:16} " + " ".join(f"{c:>18}" for c in cells)
        if len(servers) == 2:
            p = statistics.median(r[i][0] for r in warm["postel"])
            d = statistics.median(r[i][0] for r in warm["dovecot"])
            line += f"   {d / max(p, 1e-6):6.2f}x" + ("" if agree[i] else "  (orders differ)")
        print(line)


def main():
    work, pw = imap.setup("postel-bench-sort.")
    postel = dovecot = None
    try:
        t0 = time.monotonic()
        src = work / "messages"
        src.mkdir()
        names = make_messages(src, pw.pw_uid, pw.pw_gid)
        say(f"{MESSAGES} messages written in {time.monotonic() - t0:.1f} s")
        postel, pport, hashes = imap.start_postel(work, src, names, pw.pw_uid, pw.pw_gid, 1)
        ports, pids = {"postel": pport}, {"postel": postel.pid}
        if ONLY != "postel":
            dovecot, dport = imap.start_dovecot(work, src, names, pw.pw_uid, pw.pw_gid, hashes)
            ports["dovecot"], pids["dovecot"] = dport, dovecot.proc.pid
        cold, warm = {}, {name: [] for name in ports}
        for name, port in ports.items():
            say(f"{name}: index {resync.index_build(port):.1f} s")
            cold[name] = run_sorts(port, pids[name])
        for r in range(ROUNDS):
            for name, port in ports.items():
                res = run_sorts(port, pids[name])
                for i, cmd in enumerate(SORTS):
                    if res[i][2] != cold[name][i][2]:
                        raise AssertionError(f"{name}, round {r + 1}: {cmd} answered "
                                             "otherwise than the first time")
                warm[name].append(res)
        agree = [len(ports) == 2 and cold["postel"][i][2] == cold["dovecot"][i][2]
                 for i in range(len(SORTS))]
        if DIGEST:
            for i, cmd in enumerate(SORTS):
                h = hashlib.sha256(" ".join(map(str, cold["postel"][i][2])).encode())
                say(f"postel {cmd}: digest {h.hexdigest()[:16]}")
        report(cold, warm, agree)
    except AssertionError as e:
        pop3.die(str(e))
    finally:
        imap.cleanup(work, postel, dovecot)


if __name__ == "__main__":
    main()
