"""Dovecot and Postfix as private peers for the `postel probe` tests.

Each runs as its own instance with its own configuration in a temporary
directory, on loopback high ports, never as a system service: nothing in
/etc/dovecot or /etc/postfix is read or changed, and the instance is
stopped when the test module ends. Dovecot serves IMAP (STARTTLS), IMAPS,
POP3 (STLS) and POP3S with one passwd-file user; Postfix serves port-25
SMTP with STARTTLS, submission (TLS required before AUTH) and submissions
(implicit TLS), authenticating through Dovecot's auth socket.

The packages are installed by scripts/install-deps.sh check (with
policy-rc.d denying service starts); when a binary is missing the tests
are skipped with the reason."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import free_ports, scaled

DOVECOT = "/usr/sbin/dovecot"
POSTFIX = "/usr/sbin/postfix"
PEER_USER = "carol@example.org"
PEER_PASSWORD = "Carol-probe-pw 9"


# Both peers listen on 127.0.0.2: a client connecting there comes from
# 127.0.0.1 (the loopback route's source), and Dovecot counts a connection
# whose remote and local addresses are equal as "secured" and would offer
# plaintext login before TLS on it, which is not what it does for real
# clients.
PEER_HOST = "127.0.0.2"


def wait_port(port, timeout):
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((PEER_HOST, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def missing(binary):
    return None if os.access(binary, os.X_OK) else f"{binary} is not installed"


class Dovecot:
    def __init__(self, cert, key):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="probe-dovecot-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.imap, self.imaps, self.pop3, self.pop3s = free_ports(4, host=PEER_HOST)
        run = self.dir / "run"
        home = self.dir / "home"
        for d in (run, home):
            d.mkdir()
        os.chmod(home, 0o1777)
        shutil.copy(cert, self.dir / "cert.pem")
        shutil.copy(key, self.dir / "key.pem")
        os.chmod(self.dir / "key.pem", 0o600)
        (self.dir / "passwd").write_text(f"{PEER_USER}:{{PLAIN}}{PEER_PASSWORD}::::::\n")
        self.auth_socket = run / "auth-postfix"
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(f"""# a private Dovecot for postel's probe tests
base_dir = {run}
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap pop3
listen = {PEER_HOST}
ssl = required
ssl_cert = <{self.dir}/cert.pem
ssl_key = <{self.dir}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={home}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {self.imap}
  }}
  inet_listener imaps {{
    port = {self.imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    port = {self.pop3s}
    ssl = yes
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr.log", "wb"),
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        for port in (self.imap, self.imaps, self.pop3, self.pop3s):
            if not wait_port(port, 20):
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
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(15))
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Postfix:
    def __init__(self, cert, key, auth_socket):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="probe-postfix-", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.smtp, self.submission, self.submissions = free_ports(3, host=PEER_HOST)
        etc = self.dir / "etc"
        etc.mkdir()
        (self.dir / "spool").mkdir()
        shutil.copy(cert, self.dir / "cert.pem")
        shutil.copy(key, self.dir / "key.pem")
        os.chmod(self.dir / "key.pem", 0o600)
        d = self.dir
        (etc / "main.cf").write_text(f"""# a private Postfix for postel's probe tests
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = mail.example.org
mydomain = example.org
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
smtpd_tls_cert_file = {d}/cert.pem
smtpd_tls_key_file = {d}/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth_socket}
""")
        (etc / "master.cf").write_text(f"""# private services: smtpd on loopback high ports, no chroot
{PEER_HOST}:{self.smtp} inet n - n - - smtpd
{PEER_HOST}:{self.submission} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
{PEER_HOST}:{self.submissions} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
proxymap   unix  - - n -     - proxymap
tlsmgr     unix  - - n 1000? 1 tlsmgr
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
""")
        self.started = False

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
        p = subprocess.run([POSTFIX, "-c", str(self.dir / "etc"), "start"],
                           capture_output=True, timeout=scaled(60))
        if p.returncode != 0:
            log = self.log()
            self.stop()
            raise AssertionError(f"postfix start failed: {p.stderr!r}\n{log}")
        for port in (self.smtp, self.submission, self.submissions):
            if not wait_port(port, 30):
                log = self.log()
                self.stop()
                raise AssertionError(f"postfix did not listen on {port}:\n{log}")
        return self

    def stop(self):
        if self.started:
            pid = self.master_pid()
            subprocess.run([POSTFIX, "-c", str(self.dir / "etc"), "stop"],
                           capture_output=True, timeout=scaled(30))
            deadline = time.monotonic() + scaled(15)
            while pid and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid and os.path.exists(f"/proc/{pid}"):
                os.kill(pid, signal.SIGKILL)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
