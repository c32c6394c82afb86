#!/usr/bin/python3
"""make bench, outbound part (issue 10): queue runner throughput of
Postel against Postfix, same machine, same run, same sink.

    sudo /usr/bin/python3 bench/relay.py      # make bench runs it

Load: 5,000 messages of 4 KiB (BENCH_RELAY_MESSAGES, BENCH_SIZE), all to
one remote domain, sent to Postfix's smtp-sink on a loopback port (the
same sink command line for both sides; -d dumps each transaction to a
file, which is how the bench counts arrivals). Per-destination
concurrency is 20 on both sides (relay_max_per_domain = 20;
default_destination_concurrency_limit = 20 and initial_destination_
concurrency = 20, so Postfix does not ramp up from 5 either).

Each side's queue is filled while delivery is held, then released; the
clock runs from the release to the last message at the sink:
  Postel: the entries are written into DATA/queue (envelope v2, as a
    worker commits them) while no runner is up (postel serve stopped
    after it laid out the data directory); the release is starting
    `postel serve` with relay = yes, so Postel's time includes its own
    start-up and queue recovery. MX lookups go to a dnslib zone server on
    loopback (tests/probe_dns_server.py): bench.sink MX -> 127.0.0.1.
  Postfix: a private instance (own config and spool in a temporary
    directory, as bench/run.sh starts it) with defer_transports = smtp
    and transport_maps sending the domain to [127.0.0.1]:sink-port; the
    messages go in through its smtpd with smtp-source (-s 20); once all
    5,000 sit in the deferred queue, the release is `postconf -e
    defer_transports=`, `postfix reload`, `postqueue -f`.
Rounds alternate (BENCH_RELAY_ROUNDS [1]); the ratio is of the medians.
Environment: POSTEL_BIN [./build/postel], BENCH_KEEP=1 keeps the files,
BENCH_ONLY=postel|postfix runs one side.
"""
import os
import pathlib
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from peers import POSTFIX, Postfix  # noqa: E402  (tests/peers.py)

POSTEL_BIN = os.path.abspath(os.environ.get("POSTEL_BIN", "./build/postel"))
MESSAGES = int(os.environ.get("BENCH_RELAY_MESSAGES", "5000"))
SIZE = int(os.environ.get("BENCH_SIZE", "4096"))
ROUNDS = int(os.environ.get("BENCH_RELAY_ROUNDS", "1"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
ONLY = os.environ.get("BENCH_ONLY", "")
CONCURRENCY = 20
DOMAIN = "bench.sink"
SENDER = "sender@postel-bench.example"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
RUN_USER = "postel"


def say(msg):
    print(f"bench-relay: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(f"FAIL: {msg}")
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listen(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Sink:
    """smtp-sink dumping every transaction into its own directory."""

    def __init__(self, work, name):
        self.dir = work / f"sink-{name}"
        self.dir.mkdir()
        shutil.chown(self.dir, RUN_USER, RUN_USER)
        self.port = free_port()
        self.log = open(work / f"sink-{name}.log", "wb")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", RUN_USER, "-d", f"{self.dir}/%H%M/",
             f"127.0.0.1:{self.port}", "512"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        if not wait_listen(self.port):
            die("smtp-sink did not listen")

    def count(self):
        n = 0
        for _, _, files in os.walk(self.dir):
            n += len(files)
        return n

    def wait_all(self, n, t0):
        """seconds from t0 until n messages are in"""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.count() >= n:
                return time.monotonic() - t0
            time.sleep(0.05)
        die(f"only {self.count()} of {n} at the sink after {TIMEOUT:.0f}s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def body(i):
    head = (f"From: <{SENDER}>\r\nTo: <u{i}@{DOMAIN}>\r\nSubject: relay bench {i}\r\n"
            f"Message-ID: <{i}.relay@postel-bench.example>\r\n\r\n")
    line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n"
    return (head + line * (SIZE // len(line) + 1)).encode()[:len(head) + SIZE] + b"\r\n"




# ---------------------------------------------------------------- postel
def postel_round(work, sink):
    from probe_dns_server import ZoneServer
    from test_relay_crash import ENVELOPE  # as a worker commits an entry
    zone = (f"{DOMAIN}. 60 IN MX 10 mx.{DOMAIN}.\n"
            f"mx.{DOMAIN}. 60 IN A 127.0.0.1\n")
    dns = ZoneServer(zone)
    data = work / "postel"
    base = [POSTEL_BIN, "-d", str(data), "-o", "hostname=postel-bench.example"]
    for key in ("smtp_listen", "submission_listen", "submissions_listen", "pop3_listen",
                "pop3s_listen", "imap_listen", "imaps_listen"):
        base += ["-o", f"{key}="]
    log = open(work / "postel.log", "ab")
    try:
        # lay the data directory out (queue/ owned by postel), then stop
        proc = subprocess.Popen(base + ["serve"], stdout=log, stderr=log,
                                start_new_session=True)
        deadline = time.monotonic() + 30
        while not (data / "queue" / "env").is_dir() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        q = data / "queue"
        pw = pwd.getpwnam(RUN_USER)
        now = int(time.time())
        for i in range(MESSAGES):
            qid = f"{0xbe0000000 + i:025x}"
            b = body(i)
            for sub, content in (("msg", b), ("env", ENVELOPE.format(
                    id=qid, now=now, size=len(b), sender=SENDER,
                    rcpt=f"u{i}@{DOMAIN}").encode())):
                path = q / sub / qid
                path.write_bytes(content)
                os.chown(path, pw.pw_uid, pw.pw_gid)
        os.sync()
        args = base + ["-o", "relay=yes", "-o", f"relay_port={sink.port}",
                       "-o", f"dns_resolver={dns.address}", "-o", "dns_trust_anchor=none",
                       "-o", f"relay_max_per_domain={CONCURRENCY}"]
        t0 = time.monotonic()
        proc = subprocess.Popen(args + ["serve"], stdout=log, stderr=log,
                                start_new_session=True)
        took = sink.wait_all(MESSAGES, t0)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        return took
    finally:
        dns.close()
        log.close()


# ---------------------------------------------------------------- postfix
def postfix_round(work, sink):
    """A private Postfix (tests/peers.py) holding the messages deferred,
    then released to the sink."""
    pf = Postfix([[]], host="127.0.0.1", hostname="postfix-bench.example",
                 domain="postfix-bench.example", where=work / "postfix", keep=KEEP,
                 main=f"""myorigin = $myhostname
transport_maps = inline:{{{{{DOMAIN}=smtp:[127.0.0.1]:{sink.port}}}}}
defer_transports = smtp
default_destination_concurrency_limit = {CONCURRENCY}
initial_destination_concurrency = {CONCURRENCY}
""")
    d, cfg, (port,) = pf.dir, pf.cfg, pf.ports
    try:
        pf.start()
    except AssertionError as e:
        die(f"postfix: {e}")
    try:
        r = subprocess.run([SMTP_SOURCE, "-s", str(CONCURRENCY), "-m", str(MESSAGES),
                            "-l", str(SIZE), "-f", SENDER, "-t", f"u@{DOMAIN}",
                            f"127.0.0.1:{port}"], capture_output=True, timeout=TIMEOUT)
        if r.returncode != 0:
            die(f"smtp-source: {r.stderr!r}")
        deferred = d / "spool" / "deferred"
        deadline = time.monotonic() + TIMEOUT
        n = 0
        while time.monotonic() < deadline:
            n = sum(len(f) for _, _, f in os.walk(deferred))
            if n >= MESSAGES:
                break
            time.sleep(0.2)
        if n < MESSAGES:
            die(f"postfix: {n} of {MESSAGES} deferred")
        os.sync()
        t0 = time.monotonic()
        subprocess.run(["postconf"] + cfg + ["-e", "defer_transports="], check=True)
        subprocess.run([POSTFIX] + cfg + ["reload"], check=True, capture_output=True)
        subprocess.run(["postqueue"] + cfg + ["-f"], check=True)
        return sink.wait_all(MESSAGES, t0)
    finally:
        pf.stop()


def main():
    if os.geteuid() != 0:
        die("run as root (smtp-sink -u, Postfix, Postel's serve)")
    for tool in (SMTP_SINK, SMTP_SOURCE, POSTFIX):
        if not os.access(tool, os.X_OK):
            die(f"{tool} missing (bench/run.sh installs postfix)")
    say(f"{MESSAGES} messages of {SIZE} bytes to smtp-sink, concurrency {CONCURRENCY}, "
        f"{ROUNDS} round(s), {os.cpu_count()} CPUs")
    postel_rates, postfix_rates = [], []
    for rnd in range(ROUNDS):
        for name, fn, rates in (("postel", postel_round, postel_rates),
                                ("postfix", postfix_round, postfix_rates)):
            if ONLY and ONLY != name:
                continue
            work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-relay-{name}."))
            work.chmod(0o755)
            sink = Sink(work, name)
            try:
                took = fn(work, sink)
            finally:
                sink.stop()
                if not KEEP:
                    shutil.rmtree(work, ignore_errors=True)
            rate = MESSAGES / took
            rates.append(rate)
            print(f"relay round {rnd + 1} {name}: {MESSAGES} messages in {took:.2f} s "
                  f"= {rate:.0f} msg/s", flush=True)
    if not postel_rates or not postfix_rates:
        return
    a, b = statistics.median(postel_rates), statistics.median(postfix_rates)
    print(f"relay median of {ROUNDS}: postel {a:.0f} msg/s, postfix {b:.0f} msg/s")
    print(f"relay ratio postel/postfix: {a / b:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
