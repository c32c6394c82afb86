"""End-to-end test harness for Postel.

Every test talks to a real `postel serve` process started here on free
loopback ports, in a fresh data directory, with real clients (smtplib,
swaks, curl, openssl s_client) or raw sockets for byte-exact exchanges.

Environment:
  POSTEL_BIN   the binary (default /work/main/build/postel)
  POSTEL_ASAN  "1" when POSTEL_BIN is a sanitizer build: timeouts are
               stretched; sanitizer reports in the log fail the test anyway
  POSTEL_KEEP  "1" keeps data and log directories after the run

Rules kept everywhere: every socket has a timeout, every loop is bounded,
only loopback addresses are used.
"""
import atexit
import base64
import contextlib
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

POSTEL_BIN = os.environ.get("POSTEL_BIN", "/work/main/build/postel")
ASAN = os.environ.get("POSTEL_ASAN") == "1"
KEEP = os.environ.get("POSTEL_KEEP") == "1"
# sanitizer builds are several times slower
SCALE = 3.0 if ASAN else 1.0
# a service manager's socket that this test run itself may have been given:
# servers under test must not notify it (tests that want sd_notify set
# their own with monkeypatch)
INHERITED_NOTIFY_SOCKET = os.environ.get("NOTIFY_SOCKET")

HOSTNAME = "mail.example.org"
DOMAIN = "example.org"
CATCH_DOMAIN = "catch.example"
USERS = {
    "alice@example.org": "Alice-secret-7 horse",
    "bob@example.org": "bob-Pa55word",
}
ALICE = "alice@example.org"
BOB = "bob@example.org"
# postmaster@example.org -> alice, @catch.example -> bob
ALIASES = [
    ("postmaster@example.org", ALICE),
    ("@" + CATCH_DOMAIN, BOB),
]
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "UndefinedBehaviorSanitizer")
# services whose readiness start() checks, and whether they use implicit TLS
SERVICES = {"smtp": False, "submission": False, "submissions": True,
            "pop3": False, "pop3s": True, "imap": False, "imaps": True}


def scaled(seconds):
    return seconds * SCALE


def free_ports(n, host="127.0.0.1"):
    """n distinct free TCP ports: bind all to port 0 at once, then release."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def children_of(pid):
    """Live child pids of pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the comm field may hold spaces and parens: split after the last ")"
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) >= 2 and int(rest[1]) == pid and rest[0] != b"Z":
            out.append(int(entry))
    return sorted(out)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def socket_fds(pid):
    """Number of socket descriptors pid holds (-1 if unreadable)."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        return -1
    return n


def client_tls_context(cafile=None, alpn=None):
    """A client context. Without cafile nothing is verified (self-signed)."""
    if cafile:
        ctx = ssl.create_default_context(cafile=str(cafile))
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def stalled_connections(port, n):
    """n loopback connections to port that never send a byte: a TLS
    handshake that stalls before the ClientHello."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(n)]


def assert_all_dropped(socks, seconds=10):
    """Every socket in socks is closed by the server (EOF or reset) within
    scaled(seconds) for all of them together; closes each."""
    deadline = time.monotonic() + scaled(seconds)
    for sock in socks:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
        sock.close()


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain_auth_blob(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}".encode())


def token():
    """A unique marker to find one test's message among many."""
    return "T" + uuid.uuid4().hex


def make_message(tok, sender=ALICE, to=ALICE, subject=None, body=None,
                 date=True, message_id=True, extra_headers=()):
    """A CRLF message carrying tok in its Subject and its last body line.

    The body deliberately holds a line starting with a dot, a line that is
    only a dot-dot, trailing spaces and 8-bit-free text, so the dot-stuffing
    round trip is checked every time."""
    lines = [f"From: <{sender}>", f"To: <{to}>",
             f"Subject: {subject or 'e2e test'} {tok}"]
    if date:
        lines.append("Date: Thu, 01 Jan 2026 12:00:00 +0000")
    if message_id:
        lines.append(f"Message-ID: <{tok}@e2e.test>")
    lines.extend(extra_headers)
    lines.append("")
    if body is None:
        body = ["Hello,", ".a line starting with a dot", "..", "trailing space  ",
                "", "end " + tok]
    lines.extend(body)
    return ("\r\n".join(lines) + "\r\n").encode()


def dot_stuff(msg):
    """RFC 5321 4.5.2 transparency, for raw DATA: msg must be CRLF-only."""
    out = re.sub(rb"(?m)^\.", b"..", msg)
    return out


# --------------------------------------------------------------------------
# raw SMTP client


class Reply:
    def __init__(self, lines, raw):
        self.lines = lines      # text after "NNN-" / "NNN "
        self.raw = raw          # the bytes as received
        self.code = int(raw[:3])

    @property
    def text(self):
        return self.lines[-1]

    @property
    def enhanced(self):
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})( |$)", self.lines[-1])
        return m.group(1) if m else None

    def keywords(self):
        """EHLO keywords, upper case, first line (the greeting) excluded."""
        return {line.split()[0].upper(): line for line in self.lines[1:] if line}

    def __repr__(self):
        return f"Reply({self.raw!r})"


class ConnectionClosed(Exception):
    pass


class SMTPConn:
    """A byte-exact SMTP client over a plain or TLS socket."""

    MAX_BUFFER = 4 * 1024 * 1024

    def __init__(self, port, host="127.0.0.1", timeout=10.0, tls=False,
                 source=None, greeting=True, context=None, server_hostname=None):
        self.timeout = scaled(timeout)
        self.sock = socket.create_connection(
            (host, port), timeout=self.timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.transcript = []
        if tls:
            ctx = context or client_tls_context()
            self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.greeting = self.read_reply() if greeting else None

    # --- low level
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append((">", data))
        self.sock.sendall(data)

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            data = b""
        except ssl.SSLError as e:
            if "EOF" in str(e) or "record layer" in str(e).lower():
                data = b""
            else:
                raise
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass
        if data:
            self.transcript.append(("<", data))
        return data

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (scaled(timeout) if timeout else self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete line; buffered {self.buf[:200]!r}")
            data = self._recv(left)
            if data is None:
                continue
            if data == b"":
                raise ConnectionClosed(f"EOF; buffered {self.buf[:200]!r}")
            self.buf += data
            if len(self.buf) > self.MAX_BUFFER:
                raise AssertionError("server sent a line over 4 MiB")
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_reply(self, timeout=None):
        """Lines up to the final 'NNN ' (or bare 'NNN') line."""
        raw, lines = b"", []
        for _ in range(10000):
            line = self.read_line(timeout)
            raw += line
            assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
            m = re.match(rb"^(\d{3})([ -]?)(.*)\r\n$", line, re.S)
            assert m, f"malformed reply line {line!r}"
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(lines, raw)
        raise AssertionError("reply with over 10000 lines")

    def read_replies(self, n, timeout=None):
        return [self.read_reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.read_reply(timeout)

    def read_available(self, wait=0.5):
        """Everything that arrives within `wait` s (buffered bytes first)."""
        data, self.buf = self.buf, b""
        deadline = time.monotonic() + scaled(wait)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data
            chunk = self._recv(left)
            if chunk is None:
                return data
            if chunk == b"":
                return data
            data += chunk

    def read_until_eof(self, timeout=10.0):
        """All bytes until the server closes; TimeoutError if it does not."""
        data, self.buf = self.buf, b""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection not closed; got {data[:300]!r}")
            chunk = self._recv(left)
            if chunk is None:
                continue
            if chunk == b"":
                return data
            data += chunk
            if len(data) > self.MAX_BUFFER:
                raise AssertionError("unbounded output")

    def is_closed(self, wait=0.5):
        try:
            self.read_until_eof(wait)
            return True
        except TimeoutError:
            return False

    def starttls(self, context=None, server_hostname=None):
        """STARTTLS; asserts 220 and that nothing else was sent in the clear."""
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b"", f"plaintext after 220: {self.buf!r}"
        ctx = context or client_tls_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return r

    def ehlo(self, name="client.example.net"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def auth_plain(self, user, password):
        return self.cmd(f"AUTH PLAIN {plain_auth_blob(user, password)}")

    def data(self, msg, stuff=True):
        """DATA with msg (CRLF-terminated), returns the final reply."""
        r = self.cmd("DATA")
        assert r.code == 354, r
        self.send((dot_stuff(msg) if stuff else msg) + b".\r\n")
        return self.read_reply()

    def quit(self):
        try:
            r = self.cmd("QUIT")
            assert r.code == 221, r
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------
# the server


class Postel:
    def __init__(self, overrides=None, name="postel"):
        self.name = name
        self.datadir = pathlib.Path(tempfile.mkdtemp(prefix="postel-data-", dir="/tmp"))
        self.logdir = pathlib.Path(tempfile.mkdtemp(prefix="postel-log-", dir="/tmp"))
        (self.smtp_port, self.submission_port, self.submissions_port,
         self.pop3_port, self.pop3s_port, self.imap_port,
         self.imaps_port) = free_ports(7)
        self.overrides = {
            "hostname": HOSTNAME,
            "smtp_listen": f"127.0.0.1:{self.smtp_port}",
            "submission_listen": f"127.0.0.1:{self.submission_port}",
            "submissions_listen": f"127.0.0.1:{self.submissions_port}",
            "pop3_listen": f"127.0.0.1:{self.pop3_port}",
            "pop3s_listen": f"127.0.0.1:{self.pop3s_port}",
            "imap_listen": f"127.0.0.1:{self.imap_port}",
            "imaps_listen": f"127.0.0.1:{self.imaps_port}",
            "workers": "2",
            # no queue runner unless a test asks (tests/test_relay*.py):
            # queued mail stays put for the queue tests
            "relay": "no",
        }
        self.overrides.update(overrides or {})
        # the first address of each listen list is where clients go
        self.hosts = {}
        for service in SERVICES:
            value = self.overrides.get(f"{service}_listen", "")
            if value:
                host, _, port = value.split(",")[0].strip().rpartition(":")
                setattr(self, f"{service}_port", int(port))
                self.hosts[service] = host.strip("[]")
        self.proc = None
        self.starts = 0
        self.workers_at_start = []
        self.stable_workers = True   # no worker may die unless a test says so
        self.users = dict(USERS)

    # --- command line
    def global_args(self):
        args = [POSTEL_BIN, "-d", str(self.datadir)]
        for k, v in self.overrides.items():
            args += ["-o", f"{k}={v}"]
        return args

    def cli(self, *args, input=None, check=True, timeout=60):
        p = subprocess.run(self.global_args() + list(args), input=input,
                           capture_output=True, timeout=scaled(timeout))
        if check:
            assert p.returncode == 0, (
                f"postel {' '.join(args)} exited {p.returncode}\n"
                f"stdout: {p.stdout!r}\nstderr: {p.stderr!r}")
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        for marker in SANITIZER_MARKERS:
            assert marker not in err, f"sanitizer report from postel {args}:\n{err}"
        return p.returncode, out, err

    def add_user(self, address, password):
        self.cli("user", "add", address, input=(password + "\n").encode())
        self.users[address] = password

    def setup_accounts(self):
        """The standard domains, users and aliases. Made once per pytest
        process by the CLI under test (account_template()) and copied from
        there: seven CLI runs and an RSA key per server cost ~1 s under ASan."""
        template = account_template(self.overrides)
        if template is None:
            self.setup_accounts_cli()
            return
        p = subprocess.run(["cp", "-a", f"{template}/.", str(self.datadir)],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr

    def setup_accounts_cli(self):
        self.cli("domain", "add", DOMAIN)
        self.cli("domain", "add", CATCH_DOMAIN)
        for address, password in USERS.items():
            self.cli("user", "add", address, input=(password + "\n").encode())
        for source, target in ALIASES:
            self.cli("alias", "add", source, target)

    # --- process
    @property
    def log_path(self):
        return self.logdir / "stderr.log"

    def log(self):
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def start(self, timeout=20.0):
        assert self.proc is None
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"=== start {self.starts} ===\n".encode())
        log.flush()
        env = dict(os.environ)
        if INHERITED_NOTIFY_SOCKET and env.get("NOTIFY_SOCKET") == INHERITED_NOTIFY_SOCKET:
            del env["NOTIFY_SOCKET"]
        self.proc = subprocess.Popen(self.global_args() + ["serve"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True, env=env)
        log.close()
        deadline = time.monotonic() + scaled(timeout)
        pending = [p for p in SERVICES if self.overrides.get(f"{p}_listen")]
        last_error = None
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"postel serve exited {self.proc.returncode} during start-up:\n"
                    + self.log_tail())
            service = pending[0]
            try:
                port = getattr(self, f"{service}_port")
                if service.startswith(("pop3", "imap")):
                    # POP3 greets with "+OK" (RFC 1939 section 4), IMAP
                    # with "* OK" (RFC 9051 7.1.1)
                    with SMTPConn(port, host=self.hosts[service], timeout=2,
                                  tls=SERVICES[service], greeting=False) as c:
                        line = c.read_line(timeout=2)
                        want = b"+OK " if service.startswith("pop3") else b"* OK "
                        assert line.startswith(want), line
                else:
                    with SMTPConn(port, host=self.hosts[service], timeout=2,
                                  tls=SERVICES[service]) as c:
                        assert c.greeting.code == 220, c.greeting
                pending.pop(0)
            except (OSError, TimeoutError, ConnectionClosed, ssl.SSLError) as e:
                last_error = e
                time.sleep(0.02)   # a refused connect costs nothing: poll often
        if pending:
            self.kill_all()
            raise AssertionError(f"postel not ready after {timeout}s ({pending}: "
                                 f"{last_error!r}):\n" + self.log_tail())
        # the ports answer once the first worker runs; the others may still
        # be forking (16 workers on a loaded machine): wait for all of them
        # before taking the snapshot that stop() compares against
        want = int(self.overrides.get("workers") or 0)
        settle = time.monotonic() + scaled(10)
        while want and len(self.children()) < want and time.monotonic() < settle:
            time.sleep(0.05)
        self.workers_at_start = self.children()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def children(self):
        return children_of(self.proc.pid)

    def kill_children(self, sig=signal.SIGKILL):
        pids = self.children()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def kill_all(self):
        """SIGKILL the whole server: master and its children."""
        if self.proc is None:
            return
        kids = self.children()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout. Returns problems found."""
        problems = []
        if self.proc is None:
            return problems
        kids = self.children()
        if self.proc.poll() is not None:
            problems.append(f"postel serve died during the tests "
                            f"(exit {self.proc.returncode})")
        elif self.stable_workers and self.workers_at_start and \
                sorted(kids) != sorted(self.workers_at_start):
            problems.append(f"worker processes changed (crash/restart?): "
                            f"{self.workers_at_start} -> {kids}")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                problems.append(f"postel serve ignored SIGTERM for {timeout}s")
                self.kill_all()
                kids = []
        rc = self.proc.returncode if self.proc is not None else None
        if rc not in (0, None) and not problems:
            problems.append(f"postel serve exited {rc} after SIGTERM")
        deadline = time.monotonic() + scaled(5)
        while any(pid_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [k for k in kids if pid_alive(k)]
        if left:
            problems.append(f"children still running after the master exited: {left}")
            for k in left:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None
        log = self.log()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                i = log.index(marker)
                problems.append(f"sanitizer report in the log:\n{log[max(0, i - 2000):i + 4000]}")
                break
        return problems

    def restart(self):
        problems = self.stop()
        assert not problems, "\n".join(problems) + "\n" + self.log_tail()
        return self.start()

    def cleanup(self):
        if KEEP:
            print(f"kept {self.datadir} {self.logdir}")
            return
        shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self.logdir, ignore_errors=True)

    # --- clients
    def smtp(self, **kw):
        return SMTPConn(self.smtp_port, **kw)

    def submission(self, **kw):
        return SMTPConn(self.submission_port, **kw)

    def submissions(self, **kw):
        kw.setdefault("tls", True)
        return SMTPConn(self.submissions_port, **kw)

    def submission_authed(self, user=ALICE, password=None, **kw):
        """587, EHLO, STARTTLS, EHLO, AUTH PLAIN: ready for MAIL."""
        c = self.submission(**kw)
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.auth_plain(user, password or self.users[user])
        assert r.code == 235, r
        return c

    @property
    def cert_path(self):
        return self.datadir / "tls" / "selfsigned.crt"

    # --- mail store
    def maildir(self, address, folder="INBOX"):
        local, domain = address.split("@")
        base = self.datadir / "mail" / domain / local
        return base if folder == "INBOX" else base / folder

    def messages(self, address, folder="INBOX"):
        """[(path, bytes)] of the delivered messages (new/ and cur/), in
        wire form. A Maildir file holds LF line endings (what mutt and
        Dovecot read); SMTP refuses bare CR and LF, so every LF stands for
        one CRLF, the file must hold no CR at all, and its name carries
        S=<file size>,W=<wire size>."""
        out = []
        base = self.maildir(address, folder)
        for sub in ("new", "cur"):
            d = base / sub
            if not d.is_dir():
                continue
            for p in sorted(d.iterdir()):
                try:
                    raw = p.read_bytes()
                except FileNotFoundError:
                    continue
                assert b"\r" not in raw, f"{p}: CR in a Maildir file"
                wire = raw.replace(b"\n", b"\r\n")
                m = re.search(r",S=(\d+),W=(\d+)", p.name)
                assert m and (int(m[1]), int(m[2])) == (len(raw), len(wire)), \
                    f"{p.name}: S=/W= do not match {len(raw)}/{len(wire)}"
                out.append((p, wire))
        return out

    def find(self, address, tok, folder="INBOX"):
        return [data for _, data in self.messages(address, folder)
                if tok.encode() in data]

    def all_files_containing(self, tok):
        """Every file anywhere in the data directory holding tok."""
        hits = []
        tokb = tok.encode()
        for root, _, files in os.walk(self.datadir):
            for f in files:
                p = pathlib.Path(root) / f
                try:
                    if tokb in p.read_bytes():
                        hits.append(p)
                except OSError:
                    pass
        return hits

    def tmp_files(self, address, folder="INBOX"):
        d = self.maildir(address, folder) / "tmp"
        return sorted(d.iterdir()) if d.is_dir() else []

    def wait_for_log(self, pattern, timeout=5.0):
        deadline = time.monotonic() + scaled(timeout)
        rx = re.compile(pattern)
        while True:
            for line in self.log().splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


# config keys that change what setup_accounts() makes: no template then
TEMPLATE_UNSAFE_KEYS = ("run_user", "password_min_length", "tls_cert", "tls_key")
_template = {}


def account_template(overrides):
    """A data directory holding what setup_accounts_cli() makes plus the
    self-signed certificate a first `serve` makes (tls/), built once per
    pytest process with the binary under test; None when overrides change
    either (another run_user, hostname, ...)."""
    if any(k in overrides for k in TEMPLATE_UNSAFE_KEYS) or \
            overrides.get("hostname", HOSTNAME) != HOSTNAME:
        return None
    if "dir" not in _template:
        tmpl = Postel()
        tmpl.setup_accounts_cli()
        scratch = Postel()
        try:
            p = subprocess.run(["cp", "-a", f"{tmpl.datadir}/.", str(scratch.datadir)],
                               capture_output=True, timeout=60)
            assert p.returncode == 0, p.stderr
            scratch.start()
            problems = scratch.stop()
            assert not problems, "\n".join(problems) + scratch.log_tail()
            p = subprocess.run(["cp", "-a", str(scratch.datadir / "tls"), str(tmpl.datadir)],
                               capture_output=True, timeout=60)
            assert p.returncode == 0, p.stderr
        finally:
            scratch.kill_all()
            scratch.cleanup()
        shutil.rmtree(tmpl.logdir, ignore_errors=True)
        _template["dir"] = tmpl.datadir
        if not KEEP:
            atexit.register(shutil.rmtree, tmpl.datadir, True)
    return _template["dir"]


def finish(srv):
    problems = srv.stop()
    tail = srv.log_tail(60)
    if not problems:
        srv.cleanup()
    assert not problems, "\n".join(problems) + f"\n--- log tail ({srv.logdir}):\n" + tail


@contextlib.contextmanager
def running_postel(accounts=True, **overrides):
    """A started server with the standard accounts; stopped and checked on exit."""
    srv = Postel({k: str(v) for k, v in overrides.items()})
    try:
        if accounts:
            srv.setup_accounts()
        srv.start()
    except BaseException:
        srv.kill_all()
        raise
    try:
        yield srv
    finally:
        finish(srv)


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session", autouse=True)
def _binary():
    if not os.access(POSTEL_BIN, os.X_OK):
        pytest.exit(f"POSTEL_BIN {POSTEL_BIN} is not an executable", returncode=2)


@pytest.fixture(scope="module")
def postel():
    """The default server of a test module, shared by its tests."""
    with running_postel() as srv:
        yield srv


@pytest.fixture
def postel_factory():
    """Start extra servers with config overrides: postel_factory(key=value...)."""
    started = []

    def make(accounts=True, **overrides):
        cm = running_postel(accounts=accounts, **overrides)
        srv = cm.__enter__()
        started.append(cm)
        return srv

    yield make
    errors = []
    for cm in reversed(started):
        try:
            cm.__exit__(None, None, None)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n\n".join(errors)


# --------------------------------------------------------------------------
# assertions shared by the test modules


def header_fields(block):
    """Split a CRLF header block into unfolded-by-hand fields (bytes each)."""
    fields = []
    for line in block.split(b"\r\n"):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t"):
            assert fields, f"continuation line first: {line!r}"
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def check_delivered(srv, address, original, sender, tok=None, tls=None,
                    submission=False, folder="INBOX"):
    """Exactly one message holding tok is in address's folder, and it is
    the original bytes preceded only by the headers the server adds.
    Returns (added header fields, stored bytes)."""
    tok = tok or re.search(rb"T[0-9a-f]{32}", original).group().decode()
    found = srv.find(address, tok, folder)
    assert len(found) == 1, (
        f"{len(found)} messages with {tok} for {address} in {folder}; "
        f"all files: {srv.all_files_containing(tok)}")
    stored = found[0]
    assert stored.endswith(original), (
        f"stored message does not end with the sent bytes\n"
        f"sent:   {original!r}\nstored: {stored!r}")
    prefix = stored[:len(stored) - len(original)]
    assert prefix.endswith(b"\r\n"), prefix
    fields = header_fields(prefix)
    assert len(fields) >= 3, fields
    assert fields[0] == f"Return-Path: <{sender}>".encode(), fields[0]
    assert fields[1] == f"Delivered-To: {address}".encode(), fields[1]
    assert fields[2].startswith(b"Received: from "), fields[2]
    received = fields[2]
    assert f"by {HOSTNAME}".encode() in received, received
    for line in received.split(b"\r\n"):
        assert len(line) <= 998, line
    if tls is not None:
        assert f"version={tls}".encode() in received, received
    elif tls is None:
        pass
    rest = fields[3:]
    names = [f.split(b":", 1)[0].lower() for f in rest]
    if submission:
        has_date = re.search(rb"(?mi)^Date:", original.split(b"\r\n\r\n")[0]) is not None
        has_mid = re.search(rb"(?mi)^Message-ID:", original.split(b"\r\n\r\n")[0]) is not None
        expect = []
        if not has_date:
            expect.append(b"date")
        if not has_mid:
            expect.append(b"message-id")
        assert sorted(names) == sorted(expect), f"added headers {rest}, expected {expect}"
        for f in rest:
            if f.lower().startswith(b"message-id:"):
                assert re.match(rb"(?i)message-id: <[^<>@\s]+@[^<>@\s]+>$", f), f
            if f.lower().startswith(b"date:"):
                assert re.match(rb"(?i)date: (\w{3}, )?\d{1,2} \w{3} \d{4} "
                                rb"\d\d:\d\d(:\d\d)? [+-]\d{4}", f), f
    else:
        assert names == [], f"unexpected added headers {rest}"
    return fields, stored


def assert_not_delivered(srv, tok):
    """No file anywhere in the data directory (Maildirs, tmp/, queue, spool)
    holds the message marked tok."""
    hits = srv.all_files_containing(tok)
    assert hits == [], f"message with {tok} was stored: {hits}"
