"""The README's commands, in their order, as a new administrator runs them.

The commands are read from README.md, not copied here: the `make run`
line at its top and every code line beginning with `postel ` in its
"Running it" section. They run with the README's documented test
configuration (`dist/postel-try.conf` through `POSTEL_OPTS` and `-c`, a
temporary `DATA_DIR`), with `-o` overrides only for what a shared test
machine needs: free loopback ports instead of the file's fixed ones.

`make run` runs in the background (installing into a temporary SBINDIR
the binary under test, POSTEL_BIN, instead of building); once the server
greets, each README `postel` command runs from that SBINDIR on the PATH
and must exit as documented. Then a message goes in over SMTP to a user
the README made and comes back over POP3 byte for byte, and SIGTERM to
the server ends `make run` with status 0.

Placeholders are filled in: the password `user add` asks for, a real
SHA512-CRYPT hash for `$6$...`, a queued message's ID for `ID`, and
127.0.0.1 with the test ports for the hosts `probe` is pointed at. The
`serve` line is skipped (that is what `make run` started), and `probe
--dns` asks a loopback DNS server (tests/probe_dns_server.py) when
python3-dnslib is installed. POSTEL_README_VERBOSE=1 (with pytest -s)
prints each command's output.
"""
import os
import pathlib
import poplib
import re
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (HOSTNAME, POSTEL_BIN, SANITIZER_MARKERS, INHERITED_NOTIFY_SOCKET,
                      children_of, client_tls_context, free_ports, scaled,
                      token)

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TRY_CONF = "dist/postel-try.conf"      # as the README names it, from ROOT
SERVICES = ("smtp", "submission", "submissions", "pop3", "pop3s")
# probe options that take a value
PROBE_VALUE_OPTS = {"--ports", "--timeout", "--servername", "--cafile", "--user",
                    "--dns", "--selector", "--resolver", "--trust-anchor",
                    "--mta-sts-host"}


# --- reading the README


def section(text, title):
    """The lines of the `## title` section."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == f"## {title}")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ")), len(lines))
    return lines[start + 1:end]


def code_lines(lines):
    """Code lines: indented by four spaces or inside ``` fences."""
    out, fenced = [], False
    for line in lines:
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    ") or line.startswith("\t"):
            if line.strip():
                out.append(line.strip())
    return out


def readme_make_run():
    text = README.read_text()
    top = text.split("\n## ", 1)[0]
    lines = [l for l in code_lines(top.splitlines()) if l.startswith("make run")]
    assert lines, "README.md has no `make run` line at its top"
    return shlex.split(lines[0], comments=True)


def readme_commands():
    """The `postel ...` lines of "Running it", without the synopsis."""
    lines = code_lines(section(README.read_text(), "Running it"))
    cmds = [l for l in lines
            if re.match(r"^(echo .*\|\s*)?postel ", l) and "[-d" not in l]
    assert len(cmds) >= 5, cmds
    return cmds


def test_readme_is_read():
    """Runs anywhere: the extraction finds the commands this file expects."""
    assert readme_make_run()[:2] == ["make", "run"]
    cmds = readme_commands()
    assert any(" domain add " in c for c in cmds)
    assert any(" user add " in c for c in cmds)
    assert (ROOT / TRY_CONF).is_file()
    text = README.read_text()
    assert TRY_CONF in text and "POSTEL_OPTS" in text


# --- the run


class Run:
    def __init__(self, base):
        self.base = base
        self.sbin = base / "sbin"
        self.data = base / "data"
        self.log_path = base / "make-run.log"
        self.ports = dict(zip(SERVICES, free_ports(len(SERVICES))))
        self.passwords = {}
        self.dns = None

    def opts(self):
        """The documented configuration, and the ports of this machine."""
        o = ["-c", TRY_CONF]
        for service, port in self.ports.items():
            o += ["-o", f"{service}_listen=127.0.0.1:{port}"]
        # queued mail stays for `postel queue show ID` (no queue runner)
        o += ["-o", "workers=2", "-o", "relay=no"]
        if self.dns is not None:
            o += ["-o", f"dns_resolver=127.0.0.1:{self.dns.port}",
                  "-o", "dns_trust_anchor=none"]
        return o

    def postel_args(self):
        return [str(self.sbin / "postel"), "-d", str(self.data)] + self.opts()

    def log(self):
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""


def wait_greeting(run, proc, service, timeout):
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited {proc.returncode}:\n{run.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", run.ports[service]), timeout=2) as s:
                s.settimeout(scaled(5))
                line = s.recv(512)
                if line.startswith(b"220 ") or line.startswith(b"+OK"):
                    return line
                last = line
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no {service} greeting: {last!r}\n{run.log()[-3000:]}")


def serve_pid(run, make_pid):
    """The master: the postel process under make whose parent is not postel."""
    todo, seen = [make_pid], []
    while todo:
        pid = todo.pop()
        for child in children_of(pid):
            seen.append(child)
            todo.append(child)
    for pid in seen:
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            parent_exe = os.readlink(f"/proc/{_ppid(pid)}/exe")
        except OSError:
            continue
        if exe == str(run.sbin / "postel") and parent_exe != exe:
            return pid
    return None


def _ppid(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rfind(b")") + 2:].split()[1])


def sha512_crypt(password):
    p = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                       capture_output=True, text=True, timeout=scaled(30))
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def queue_one(run, user):
    """Queue a message for another domain, as user, through submission."""
    with smtplib.SMTP("127.0.0.1", run.ports["submission"], timeout=scaled(20)) as s:
        s.ehlo("client.example.net")
        s.starttls(context=client_tls_context())
        s.ehlo("client.example.net")
        s.login(user, run.passwords[user])
        s.sendmail(user, ["someone@elsewhere.example"],
                   f"From: <{user}>\r\nTo: <someone@elsewhere.example>\r\n"
                   f"Subject: queued {token()}\r\n\r\nfor the queue\r\n")


def probe_argv(run, argv):
    """Point a probe at 127.0.0.1 and the test ports."""
    out, i, has_ports, has_timeout = [], 0, False, False
    while i < len(argv):
        a = argv[i]
        if a in PROBE_VALUE_OPTS and i + 1 < len(argv):
            value = argv[i + 1]
            if a == "--ports":
                has_ports = True
                items = []
                for item in value.split(","):
                    name = item.split("=")[0]
                    items.append(f"{name}={run.ports[name]}"
                                 if "=" not in item and name in run.ports else item)
                value = ",".join(items)
            elif a == "--timeout":
                has_timeout = True
            out += [a, value]
            i += 2
            continue
        if a.startswith("-") or a == "probe":
            out.append(a)
        elif "--dns" in out:
            out.append(a)        # the domain: it is asked of the test resolver
        else:
            out.append("127.0.0.1")
        i += 1
    if "--dns" not in out:
        # the README's host is mail.example.org, whose certificate the
        # system would trust: here the name is sent and the self-signed
        # certificate trusted, so only what is not served fails
        if "--servername" not in out:
            out[1:1] = ["--servername", HOSTNAME]
        if "--cafile" not in out:
            out[1:1] = ["--cafile", str(run.data / "tls" / "selfsigned.crt")]
        if not has_ports:
            out[1:1] = ["--ports", ",".join(f"{s}={p}" for s, p in run.ports.items())]
        if not has_timeout:
            out[1:1] = ["--timeout", "3"]
    else:
        out[1:1] = ["--timeout", "3"] if not has_timeout else []
    return out


def run_readme_command(run, line, env, report):
    """Run one README line; returns (argv, returncode, stdout)."""
    stdin = None
    m = re.match(r"^echo '([^']*)'\s*\|\s*(postel .*)$", line)
    if m:
        stdin, line = m.group(1) + "\n", m.group(2)
    argv = shlex.split(line, comments=True)
    assert argv[0] == "postel"
    cmd = argv[1:]
    expect = {0}
    if "serve" in cmd:
        report.append(f"skipped (make run started serve): {line}")
        return None
    if cmd[:2] == ["user", "add"]:
        user = cmd[2]
        if "--hash" in cmd:
            i = cmd.index("--hash")
            scheme, _, value = cmd[i + 1].partition("}")
            if value.endswith("..."):     # the README's placeholder
                password = f"imported-{token()[:12]}"
                cmd[i + 1] = scheme + "}" + sha512_crypt(password)
                run.passwords[user] = password
        elif stdin is None:
            run.passwords[user] = f"readme-{token()[:16]}"
            stdin = run.passwords[user] + "\n"
        else:
            run.passwords[user] = stdin.rstrip("\n")
    if cmd[:1] == ["queue"] and "ID" in cmd:
        queue_one(run, next(iter(run.passwords)))
        p = subprocess.run(run.postel_args() + ["queue", "list"], capture_output=True,
                           text=True, timeout=scaled(60), env=env, cwd=ROOT)
        ids = re.findall(r"^\s*([0-9A-Za-z]{6,})\b", p.stdout, re.M)
        assert p.returncode == 0 and ids, p.stdout + p.stderr
        cmd = [ids[0] if a == "ID" else a for a in cmd]
    if cmd[:1] == ["probe"]:
        expect = {0, 1}       # --dns: the zone has no DKIM or MTA-STS
        if "--dns" in cmd and run.dns is None:
            report.append(f"skipped (python3-dnslib for a loopback DNS server): {line}")
            return None
        if "--user" in cmd:
            stdin = run.passwords[cmd[cmd.index("--user") + 1]] + "\n"
        cmd = probe_argv(run, cmd)
        if "--dns" not in cmd:
            # 0 when every probed port is one served here, else 1 (the
            # README's imaps=10993)
            ports = cmd[cmd.index("--ports") + 1].split(",")
            served = {f"{s}={p}" for s, p in run.ports.items()}
            expect = {0} if all(p in served for p in ports) else {1}
    argv = run.postel_args() + cmd
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                       timeout=scaled(90), env=env, cwd=ROOT,
                       stdin=None if stdin is not None else subprocess.DEVNULL)
    report.append(f"exit {p.returncode}: {line}")
    if os.environ.get("POSTEL_README_VERBOSE") == "1":
        report.append(p.stdout + p.stderr)
    for marker in SANITIZER_MARKERS:
        assert marker not in p.stderr, f"{line}\n{p.stderr}"
    assert p.returncode in expect, (
        f"README line {line!r} ran as {shlex.join(argv)}\nexited {p.returncode}, "
        f"expected {sorted(expect)}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    if cmd[:1] == ["probe"] and "--dns" in cmd:
        assert re.search(r"^mx\s+example\.org\s+ok\b", p.stdout, re.M), p.stdout
    if cmd[:2] == ["config", "show"] and "smtp_listen" in cmd:
        assert f"127.0.0.1:{run.ports['smtp']}" in p.stdout, p.stdout
    return argv, p.returncode, p.stdout


def start_dns(run):
    try:
        from probe_dns_server import ZoneServer
    except ImportError:
        return
    run.dns = ZoneServer("""
example.org. 300 IN MX 10 mail.example.org.
mail.example.org. 300 IN A 127.0.0.1
1.0.0.127.in-addr.arpa. 300 IN PTR mail.example.org.
example.org. 300 IN TXT "v=spf1 mx -all"
_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"
""")


def test_readme_commands_in_order():
    if os.geteuid() != 0:
        pytest.skip("make run installs and serve binds as root")
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    base = pathlib.Path(tempfile.mkdtemp(prefix="postel-readme-", dir="/tmp"))
    os.chmod(base, 0o755)        # the workers, as postel, reach the data below
    run = Run(base)
    start_dns(run)
    env = dict(os.environ)
    env["PATH"] = f"{run.sbin}:{env.get('PATH', '/usr/bin:/bin')}"
    if INHERITED_NOTIFY_SOCKET and env.get("NOTIFY_SOCKET") == INHERITED_NOTIFY_SOCKET:
        del env["NOTIFY_SOCKET"]
    # make run: `-o build` because the binary under test is POSTEL_BIN,
    # installed as `make install` would, into directories of this run
    make = readme_make_run() + [
        "--no-print-directory", "-o", "build",
        f"INSTALL_BIN={os.path.abspath(POSTEL_BIN)}", f"SBINDIR={run.sbin}",
        f"UNITDIR={base / 'unit'}", f"DOCDIR={base / 'doc'}",
        f"DATA_DIR={run.data}", f"POSTEL_OPTS={shlex.join(run.opts())}"]
    log = open(run.log_path, "wb")
    proc = subprocess.Popen(make, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    log.close()
    report = [f"make run: {shlex.join(make)}"]
    try:
        for service in ("smtp", "submission", "pop3"):   # the plaintext greetings
            wait_greeting(run, proc, service, 60)
        for line in readme_commands():
            run_readme_command(run, line, env, report)

        # a message in over SMTP to a user the README made, back over POP3
        user = next(u for u in run.passwords if u.startswith("alice@"))
        tok = token()
        msg = (f"From: <sender@client.example.net>\r\nTo: <{user}>\r\n"
               f"Subject: README {tok}\r\n\r\nSent after the README's commands.\r\n"
               f"..a dot-stuffed line\r\n").encode()
        with smtplib.SMTP("127.0.0.1", run.ports["smtp"], timeout=scaled(20)) as s:
            s.ehlo("client.example.net")
            refused = s.sendmail("sender@client.example.net", [user], msg)
            assert not refused, refused
        pop = poplib.POP3("127.0.0.1", run.ports["pop3"], timeout=scaled(20))
        try:
            pop.stls(context=client_tls_context())
            pop.user(user)
            pop.pass_(run.passwords[user])
            found = []
            for entry in pop.list()[1]:
                num = int(entry.split()[0])
                lines = pop.retr(num)[1]
                got = b"\r\n".join(lines) + b"\r\n"
                if tok.encode() in got:
                    found.append(got)
            pop.quit()
        finally:
            pop.close()
        assert len(found) == 1, found
        # poplib undoes the dot-stuffing, so the lines are the sent ones
        assert found[0].endswith(msg), (found[0], msg)
        added = found[0][:-len(msg)]
        assert added.startswith(b"Return-Path: <sender@client.example.net>\r\n"
                                + f"Delivered-To: {user}\r\nReceived: ".encode()), added

        # SIGTERM to the server ends make run with status 0
        pid = serve_pid(run, proc.pid)
        assert pid, f"no postel serve under make run:\n{run.log()[-3000:]}"
        os.kill(pid, signal.SIGTERM)
        try:
            rc = proc.wait(timeout=scaled(30))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make run still running 30 s after SIGTERM:\n"
                                 f"{run.log()[-3000:]}")
        assert rc == 0, f"make run exited {rc}:\n{run.log()[-3000:]}"
        for marker in SANITIZER_MARKERS:
            assert marker not in run.log(), run.log()[-5000:]
        print("\n".join(report))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if run.dns is not None:
            run.dns.close()
        if os.environ.get("POSTEL_KEEP") != "1":
            shutil.rmtree(base, ignore_errors=True)
