"""Dovecot and Postfix as private peers, for the tests and bench/*.py.

Each runs as its own instance with its own configuration in a temporary
directory, on loopback high ports, never as a system service: nothing in
/etc/dovecot or /etc/postfix is read or changed, and stop() ends the
instance and removes its directory (unless keep=True).

Dovecot(cert, key): IMAP (STARTTLS), IMAPS, POP3 (STLS) and POP3S with
  TLS required before login (the probe tests, neomutt's resync reference;
  bench/imap_idle.py's IMAPS);
  Dovecot(plain=True, ...): no TLS, plaintext login, IMAP unless protocols
  says otherwise (the import test: its Maildir owned by Postel's run user;
  bench/imap.py, resync.py: IMAP; bench/pop3.py: POP3).
  users: {address: password}, or a "{SCHEME}hash" Dovecot checks as is (the
  benches give it Postel's own yescrypt hashes as {CRYPT}); extra: more
  dovecot.conf text (limits); where: the instance directory.
Postfix(listeners, ...): smtpd on the given loopback ports with the
  main.cf lines the caller adds (probe: STARTTLS and SASL through
  Dovecot's auth socket; relay test: virtual(8) delivery; bench/relay.py:
  a deferred queue released to smtp-sink).

This file imports nothing from conftest (ports.py gives the ports), so
bench/*.py can use it with tests/ on sys.path. The packages come from scripts/install-deps.sh check
(policy-rc.d denies service starts); a caller skips with missing()'s
reason when a binary is absent."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ports import free_port

DOVECOT = "/usr/sbin/dovecot"
POSTFIX = "/usr/sbin/postfix"
PEER_USER = "carol@example.org"
PEER_PASSWORD = "Carol-probe-pw 9"
NOBODY = 65534
# sanitizer builds are slower; peers are not, but a loaded machine is
SCALE = 3.0 if os.environ.get("POSTEL_ASAN") == "1" else 1.0

# The TLS peers listen on 127.0.0.2: a client connecting there comes from
# 127.0.0.1 (the loopback route's source), and Dovecot counts a connection
# whose remote and local addresses are equal as "secured" and would offer
# plaintext login before TLS on it, which is not what it does for real
# clients.
PEER_HOST = "127.0.0.2"


def missing(binary):
    return None if os.access(binary, os.X_OK) else f"{binary} is not installed"


def wait_port(port, timeout, host=PEER_HOST, proc=None):
    """True once host:port accepts, within timeout (scaled) s; False at
    the deadline or when proc (a Popen) has exited."""
    deadline = time.monotonic() + timeout * SCALE
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def private_dir(prefix, where=None):
    d = pathlib.Path(where) if where else \
        pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    return d


def copy_key_pair(d, cert, key):
    shutil.copy(cert, d / "cert.pem")
    shutil.copy(key, d / "key.pem")
    os.chmod(d / "key.pem", 0o600)


def kill_group(proc, timeout):
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout * SCALE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def login_service(proto, port, tls_port, ssl_yes):
    """dovecot.conf's {proto}-login with its cleartext and TLS listener"""
    return f"""service {proto}-login {{
  inet_listener {proto} {{
    port = {port}
  }}
  inet_listener {proto}s {{
    port = {tls_port}
{ssl_yes}  }}
}}
"""


class Dovecot:
    def __init__(self, cert=None, key=None, plain=False, host=PEER_HOST,
                 users=None, uid=NOBODY, gid=NOBODY, prefix="peer-dovecot-",
                 protocols=None, extra="", where=None, keep=False):
        self.dir = private_dir(prefix, where)
        self.host, self.plain, self.keep = host, plain, keep
        protocols = protocols or ("imap" if plain else "imap pop3")
        self.users = users or {PEER_USER: PEER_PASSWORD}
        run, self.home = self.dir / "run", self.dir / "home"
        for d in (run, self.home, self.dir / "state"):
            d.mkdir()
        if uid == NOBODY:
            os.chmod(self.home, 0o1777)
        else:
            os.chown(self.home, uid, gid)
        (self.dir / "passwd").write_text(
            "".join(f"{u}:{p if p.startswith('{') else '{PLAIN}' + p}::::::\n"
                    for u, p in self.users.items()))
        self.auth_socket = run / "auth-postfix"
        self.conf = self.dir / "dovecot.conf"
        imap, pop3 = "imap" in protocols.split(), "pop3" in protocols.split()
        # a port per listener of each protocol on (None: protocol off);
        # plain: the TLS listeners stay shut (port 0)
        self.imap, self.imaps = (free_port(host), 0 if plain else free_port(host)) \
            if imap else (None, None)
        self.pop3, self.pop3s = (free_port(host), 0 if plain else free_port(host)) \
            if pop3 else (None, None)
        if plain:
            tls = "ssl = no\ndisable_plaintext_auth = no\n"
        else:
            copy_key_pair(self.dir, cert, key)
            tls = (f"ssl = required\nssl_cert = <{self.dir}/cert.pem\n"
                   f"ssl_key = <{self.dir}/key.pem\nssl_dh = </usr/share/dovecot/dh.pem\n"
                   "disable_plaintext_auth = yes\n")
        ssl_yes = "" if plain else "    ssl = yes\n"
        listeners = "".join(login_service(proto, port, tls_port, ssl_yes)
                            for proto, on, port, tls_port in
                            (("imap", imap, self.imap, self.imaps),
                             ("pop3", pop3, self.pop3, self.pop3s)) if on)
        self.conf.write_text(f"""# a private Dovecot for postel's tests (tests/peers.py)
base_dir = {run}
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = {protocols}
listen = {host}
{tls}auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.home}/%u
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
{listeners}service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
{extra}""")
        self.proc = None

    def ports(self):
        return [p for p in (self.imap, self.imaps, self.pop3, self.pop3s) if p]

    @property
    def pid(self):
        """The dovecot master's pid while started (benches measure its
        process group's CPU), else None."""
        return self.proc.pid if self.proc is not None else None

    def maildir(self, user):
        return self.home / user / "Maildir"

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr.log", "wb"),
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        for port in self.ports():
            if not wait_port(port, 20, self.host, self.proc):
                log = self.log()
                self.stop()
                raise AssertionError(f"dovecot did not listen on {port}:\n{log}")
        return self

    def log(self):
        out = ""
        for name in ("stderr.log", "dovecot.log"):
            p = self.dir / name
            if p.exists():
                out += p.read_text("utf-8", "replace")[-3000:]
        return out

    def stop(self):
        kill_group(self.proc, 15)
        self.proc = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


# the main.cf every private Postfix shares; callers add their own lines
POSTFIX_MAIN = """compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = {hostname}
mydomain = {domain}
mydestination =
inet_interfaces = {interfaces}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
"""
# master.cf's internal services, no chroot: the union the callers need
POSTFIX_SERVICES = """pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
virtual    unix  - n n -     - virtual
lmtp       unix  - - n -     - lmtp
tlsmgr     unix  - - n 1000? 1 tlsmgr
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """listeners: [[smtpd -o options], ...], one free port on host each
    (self.ports, in that order); main: extra main.cf text ({d} is the
    instance directory); cert/key: copied to {d}/cert.pem, {d}/key.pem."""

    def __init__(self, listeners, main="", hostname="mail.example.org",
                 domain="example.org", host=PEER_HOST, cert=None, key=None,
                 where=None, prefix="peer-postfix-", keep=False):
        self.dir = d = private_dir(prefix, where)
        self.host, self.keep = host, keep
        (d / "etc").mkdir()
        (d / "spool").mkdir()
        if cert:
            copy_key_pair(d, cert, key)
        self.ports = [free_port(host) for _ in listeners]
        interfaces = "loopback-only" if host.startswith("127.") else host
        (d / "etc" / "main.cf").write_text(
            "# a private Postfix for postel's tests (tests/peers.py)\n"
            + POSTFIX_MAIN.format(d=d, hostname=hostname, domain=domain,
                                  interfaces=interfaces)
            + main.format(d=d))
        smtpd = "".join(f"{host}:{port} inet n - n - - smtpd\n"
                        + "".join(f"  -o {o}\n" for o in opts)
                        for port, opts in zip(self.ports, listeners))
        (d / "etc" / "master.cf").write_text(
            "# smtpd on loopback high ports, no chroot\n" + smtpd + POSTFIX_SERVICES)
        self.started = False

    @property
    def cfg(self):
        return ["-c", str(self.dir / "etc")]

    def master_pid(self):
        p = self.dir / "spool" / "pid" / "master.pid"
        try:
            return int(p.read_text().strip())
        except (OSError, ValueError):
            return None

    def log(self):
        p = self.dir / "maillog"
        return p.read_text("utf-8", "replace")[-3000:] if p.exists() else ""

    def start(self):
        self.started = True
        p = subprocess.run([POSTFIX] + self.cfg + ["start"],
                           capture_output=True, timeout=60 * SCALE)
        if p.returncode != 0:
            log = self.log()
            self.stop()
            raise AssertionError(f"postfix start failed: {p.stderr!r}\n{log}")
        for port in self.ports:
            if not wait_port(port, 30, self.host):
                log = self.log()
                self.stop()
                raise AssertionError(f"postfix did not listen on {port}:\n{log}")
        return self

    def stop(self):
        """postfix stop signals master(8) and returns: wait for it to go."""
        if self.started:
            pid = self.master_pid()
            subprocess.run([POSTFIX] + self.cfg + ["stop"],
                           capture_output=True, timeout=30 * SCALE)
            deadline = time.monotonic() + 15 * SCALE
            while pid and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid and os.path.exists(f"/proc/{pid}"):
                os.kill(pid, signal.SIGKILL)
            self.started = False
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
