"""Postel under a service manager (issue 11, item 1): `serve` speaks the
sd_notify protocol to $NOTIFY_SOCKET (READY=1 once it serves, RELOADING=1
then READY=1 around SIGHUP, STOPPING=1 on SIGTERM), dist/postel.service
passes `systemd-analyze verify`, and `make install` puts the binary and
the unit where the README says.

PID 1 here is not systemd: the tests play the manager's part with a
datagram socket of their own, as systemd does."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import POSTEL_BIN, Postel, finish, scaled

REPO = pathlib.Path(__file__).resolve().parent.parent
UNIT = REPO / "dist" / "postel.service"


class NotifySocket:
    """A manager's end: a Unix datagram socket, by path or abstract name."""

    def __init__(self, abstract=False):
        self.dir = tempfile.mkdtemp(prefix="postel-notify-", dir="/tmp")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"postel-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(self.dir, "notify")
            self.sock.bind(path)
            self.env = path
        self.messages = []

    def wait_for(self, key, timeout=10.0):
        """The first message (a dict) holding key=..., reading in order."""
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            for i, m in enumerate(self.messages):
                if key in m:
                    del self.messages[:i + 1]
                    return m
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                break
            fields = dict(line.split("=", 1) for line in data.decode().split("\n")
                          if "=" in line)
            self.messages.append(fields)
        return None

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def notify(request, monkeypatch):
    n = NotifySocket(abstract=request.param)
    monkeypatch.setenv("NOTIFY_SOCKET", n.env)
    yield n
    n.close()


def test_notify_ready_reload_stopping(notify):
    srv = Postel()
    try:
        srv.start()  # returns once every port greets
        ready = notify.wait_for("READY")
        assert ready and ready["READY"] == "1", notify.messages
        assert "workers" in ready.get("STATUS", ""), ready
        # READY=1 came once, not before the data directory was made
        assert (srv.datadir / "db").is_dir()

        os.kill(srv.pid, signal.SIGHUP)
        reloading = notify.wait_for("RELOADING")
        assert reloading and reloading["RELOADING"] == "1", notify.messages
        assert int(reloading["MONOTONIC_USEC"]) > 0
        again = notify.wait_for("READY")
        assert again and again["READY"] == "1", notify.messages
        assert srv.wait_for_log(r"event=reload changed=")
        srv.stable_workers = False  # the reload replaced them

        srv.proc.send_signal(signal.SIGTERM)
        stopping = notify.wait_for("STOPPING")
        assert stopping and stopping["STOPPING"] == "1", notify.messages
        srv.proc.wait(timeout=scaled(15))
        assert srv.proc.returncode == 0
        srv.proc = None
        assert "event=notify_failed" not in srv.log(), srv.log_tail()
    finally:
        finish(srv)


def test_notify_ready_only_after_listeners(monkeypatch):
    """When READY=1 arrives, the ports already accept: systemd starts what
    is After=postel.service only then."""
    n = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", n.env)
    srv = Postel()
    try:
        srv.proc = subprocess.Popen(srv.global_args() + ["serve"],
                                    stdin=subprocess.DEVNULL,
                                    stdout=open(srv.log_path, "ab"),
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
        ready = n.wait_for("READY", timeout=20)
        assert ready, srv.log_tail()
        with socket.create_connection(("127.0.0.1", srv.smtp_port), timeout=5) as s:
            s.settimeout(scaled(5))
            assert s.recv(512).startswith(b"220 ")
        srv.stable_workers = False
    finally:
        n.close()
        finish(srv)


def test_no_notify_socket_no_message(monkeypatch, tmp_path):
    """Without NOTIFY_SOCKET nothing is sent; a socket nobody listens on is
    logged and serving goes on."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody"))
    srv = Postel()
    try:
        srv.start()
        assert srv.wait_for_log(r"event=notify_failed .*nobody"), srv.log_tail()
        with srv.smtp() as c:
            assert c.greeting.code == 220
    finally:
        finish(srv)


def systemd_analyze():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    return tool


def installed_unit(tmp_path):
    """dist/postel.service as `make install` writes it, with ExecStart on
    the binary under test (verify checks that ExecStart exists)."""
    text = UNIT.read_text().replace("/usr/local/sbin/postel", POSTEL_BIN)
    unit = tmp_path / "postel.service"
    unit.write_text(text)
    return unit, text


def test_unit_verifies(tmp_path):
    tool = systemd_analyze()
    unit, text = installed_unit(tmp_path)
    p = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True,
                       timeout=scaled(60), text=True)
    # verify exits 0 on unknown keys and bad values too, so any output is
    # a finding (it runs offline; PID 1 need not be systemd)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", (p.stdout, p.stderr)
    # the check itself works here: a typo in a directive is reported
    bad = tmp_path / "bad.service"
    bad.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=strictest"))
    p = subprocess.run([tool, "verify", "--man=no", str(bad)], capture_output=True,
                       timeout=scaled(60), text=True)
    assert "strictest" in p.stderr, p.stderr


def test_unit_directives():
    lines = [l.strip() for l in UNIT.read_text().splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    d = {}
    for l in lines:
        if "=" in l:
            k, v = l.split("=", 1)
            d.setdefault(k, v)
    assert d["Type"] == "notify"  # notify-reload needs systemd 253
    assert d["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert d["ReadWritePaths"] == "/var/lib/postel"
    assert " -d /var/lib/postel serve" in d["ExecStart"]
    assert d["ProtectSystem"] == "strict" and d["NoNewPrivileges"] == "yes"
    caps = set(d["CapabilityBoundingSet"].split())
    # what the master needs to bind, drop to postel and signal its workers
    assert {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_KILL",
            "CAP_CHOWN"} <= caps
    assert "CAP_SYS_ADMIN" not in caps and "CAP_FOWNER" not in caps


def test_unit_security_exposure(tmp_path):
    """systemd's own sandbox score, offline: at most 'OK' (below 5)."""
    tool = systemd_analyze()
    unit, _ = installed_unit(tmp_path)
    p = subprocess.run([tool, "security", "--offline=true", "--threshold=50",
                        str(unit)], capture_output=True, timeout=scaled(60), text=True)
    if "Unknown option" in p.stderr or "unrecognized option" in p.stderr:
        pytest.skip("systemd-analyze security --offline needs systemd 250")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr


def test_make_install_staged(tmp_path):
    """`make install` (DESTDIR staged): postel in SBINDIR, the unit with
    ExecStart pointing at it, the README beside; no user made."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dest = tmp_path / "root"
    p = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "install-files",
                        f"DESTDIR={dest}", "SBINDIR=/opt/postel/sbin",
                        f"INSTALL_BIN={POSTEL_BIN}"],
                       capture_output=True, timeout=scaled(120), text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    binary = dest / "opt/postel/sbin/postel"
    assert os.access(binary, os.X_OK)
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                         timeout=scaled(30))
    assert out.stdout.startswith("postel "), out
    unit = (dest / "etc/systemd/system/postel.service").read_text()
    assert "ExecStart=/opt/postel/sbin/postel -d /var/lib/postel serve" in unit
    assert (dest / "usr/local/share/doc/postel/README.md").is_file()
