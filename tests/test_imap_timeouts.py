"""IMAP's autologout timers (RFC 9051 5.4, issue 9).

(a) The timer of an authenticated session is imap_timeout: 1800 s by
default (`postel config show`), and the config refuses a shorter one
(RFC 9051 5.4: "at least 30 minutes").
(b) End to end at that minimum: the server runs under libfaketime at 100
times the speed (its loop reads CLOCK_MONOTONIC, which libfaketime
speeds up), so 30 minutes pass in about 18 s: an idle authenticated
session gets "* BYE" and is closed after it, not before ~30 (server)
minutes; an idle unauthenticated one is cut at login_timeout, much
sooner, with "* BYE Login timeout". Skipped without libfaketime
(Debian's libfaketime package, in scripts/install-deps.sh)."""
import os
import re
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import running_postel, scaled
from e2e_env import ASAN, POSTEL_BIN
from imap_helpers import IMAPRaw, new_user, status_of

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SPEED = 100
IMAP_TIMEOUT = 1800      # the RFC's (and the config's) minimum
LOGIN_TIMEOUT = 600      # server seconds: 6 s here


def config_show(*args):
    d = tempfile.mkdtemp(dir="/tmp", prefix="postel-cfg-")
    try:
        return subprocess.run([POSTEL_BIN, "-d", d, *args, "config", "show"],
                              capture_output=True, text=True, timeout=scaled(30))
    finally:
        subprocess.run(["rm", "-rf", d], check=False)


def test_default_imap_timeout_is_at_least_30_minutes():
    r = config_show()
    assert r.returncode == 0, r.stderr
    m = re.search(r"^imap_timeout = (\d+)$", r.stdout, re.M)
    assert m, r.stdout
    assert int(m.group(1)) >= 30 * 60, m.group(0)
    # the configured value is what a session uses (imap_auth.c sets it)
    r = config_show("-o", "imap_timeout=3600")
    assert re.search(r"^imap_timeout = 3600$", r.stdout, re.M), r.stdout


def test_shorter_imap_timeout_refused():
    r = config_show("-o", "imap_timeout=1799")
    assert r.returncode != 0, r.stdout
    assert "imap_timeout" in r.stderr and "1800" in r.stderr, r.stderr


def restore_env(saved):
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def fast_clock_srv():
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip("libfaketime is not installed")
    if ASAN:
        pytest.skip("libfaketime cannot be preloaded before the ASan runtime")
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "FAKETIME")}
    os.environ["LD_PRELOAD"] = FAKETIME_LIB
    os.environ["FAKETIME"] = f"+0 x{SPEED}"
    try:
        # every other timer runs 100 times faster too: give the TLS
        # handshake an hour (36 s here)
        with running_postel(imap_timeout=IMAP_TIMEOUT, login_timeout=LOGIN_TIMEOUT,
                            tls_handshake_timeout=3600) as srv:
            restore_env(saved)   # the CLI (add_user) runs at normal speed
            yield srv
    finally:
        restore_env(saved)


def wait_closed(c, limit):
    """Read until the server closes; (lines, seconds). limit: real seconds."""
    lines, t0 = [], time.monotonic()
    c.sock.settimeout(1)
    while time.monotonic() - t0 < limit:
        try:
            data = c.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            continue
        if not data:
            return lines, time.monotonic() - t0
        lines += data.splitlines()
    raise AssertionError(f"not closed after {limit} s: {lines}")


def test_authenticated_session_autologout(fast_clock_srv):
    srv = fast_clock_srv
    user, pw = new_user(srv)
    with IMAPRaw(srv.imaps_port, tls=True, timeout=30) as c:
        c.login(user, pw)
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        c.buf = b""
        lines, t = wait_closed(c, IMAP_TIMEOUT / SPEED * 3 + 30)
        assert lines == [b"* BYE Autologout; idle for too long"], lines
        # not before the 30 minutes (server time), with some slack for
        # the sped-up clock's start
        assert t >= IMAP_TIMEOUT / SPEED * 0.8, f"closed after {t:.1f} s"
    print(f"authenticated: BYE after {t:.1f} s at x{SPEED}")
    assert srv.wait_for_log(r"event=timeout ")


def test_unauthenticated_session_cut_sooner(fast_clock_srv):
    srv = fast_clock_srv
    with IMAPRaw(srv.imaps_port, tls=True, timeout=30) as c:
        c.buf = b""
        lines, t = wait_closed(c, LOGIN_TIMEOUT / SPEED * 3 + 30)
        assert lines == [b"* BYE Login timeout; closing connection"], lines
        assert t < IMAP_TIMEOUT / SPEED * 0.8, f"closed after {t:.1f} s"
    print(f"unauthenticated: BYE after {t:.1f} s at x{SPEED}")
