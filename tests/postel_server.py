"""The server under test: Postel starts `postel serve` on free loopback
ports in a fresh data directory (the standard accounts copied from a
per-process template), checks at stop() that no worker died, the master
obeyed SIGTERM and no sanitizer spoke; running_postel() wraps it."""
import atexit
import contextlib
import os
import pathlib
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

from e2e_env import (ALIASES, ALICE, CATCH_DOMAIN, DOMAIN, HOSTNAME, INHERITED_NOTIFY_SOCKET,
                     KEEP, POSTEL_BIN, SANITIZER_MARKERS, SERVICES, USERS, scaled)
from ports import free_ports
from procs import children_of, pid_alive
from smtp_client import ConnectionClosed, SMTPConn


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
        there: seven CLI runs per server cost ~1 s of CPU under ASan."""
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

    def launch(self, accounts=True):
        """setup_accounts() (unless accounts is false) and start(); a
        half-started server is killed before the error goes on."""
        try:
            if accounts:
                self.setup_accounts()
            self.start()
        except BaseException:
            self.kill_all()
            raise
        return self

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


# config keys that change what setup_accounts_cli() makes: no template then
TEMPLATE_UNSAFE_KEYS = ("run_user", "password_min_length")
_template = {}


def account_template(overrides):
    """A data directory holding what setup_accounts_cli() makes, built
    once per pytest process with the binary under test; None when the
    overrides would change it. It holds no tls/: every server makes its
    own self-signed certificate at its first start (tests read the
    event=tls_self_signed line, and servers that talk to each other must
    not share a key)."""
    if any(k in overrides for k in TEMPLATE_UNSAFE_KEYS):
        return None
    if "dir" not in _template:
        tmpl = Postel()
        tmpl.setup_accounts_cli()
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
    srv = Postel({k: str(v) for k, v in overrides.items()}).launch(accounts)
    try:
        yield srv
    finally:
        finish(srv)
