"""TLS on the SMTP ports: the self-signed certificate, protocol versions,
STARTTLS command injection (catalogue 1), state reset after STARTTLS and a
second STARTTLS (catalogue 2), ALPACA/ALPN, and openssl s_client as a
client for STARTTLS and implicit TLS."""
import hashlib
import queue
import re
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from conftest import (ALICE, BOB, HOSTNAME, USERS, SMTPConn, check_delivered,
                      client_tls_context, dot_stuff, make_message, plain_auth_blob,
                      scaled, token)


# --------------------------------------------------------------------------
# certificate and versions


def test_selfsigned_certificate_verifies(postel):
    cert = postel.cert_path
    assert cert.is_file(), f"no {cert}"
    ctx = client_tls_context(cafile=cert)
    with postel.submissions(context=ctx, server_hostname=HOSTNAME) as c:
        assert c.greeting.code == 220
        peer = c.sock.getpeercert()
        names = [v for k, v in peer.get("subjectAltName", ()) if k == "DNS"]
        cn = [v for rdn in peer["subject"] for k, v in rdn if k == "commonName"]
        assert HOSTNAME in names + cn, peer
        c.quit()


def test_certificate_fingerprint_logged(postel):
    pem = postel.cert_path.read_text()
    der = ssl.PEM_cert_to_DER_cert(pem)
    fp = hashlib.sha256(der).hexdigest()
    log = postel.log().lower().replace(":", "")
    assert fp in log, "SHA-256 fingerprint of the generated certificate not logged"


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls12_and_tls13_accepted(postel, version):
    v = getattr(ssl.TLSVersion, version)
    ctx = client_tls_context()
    ctx.minimum_version = v
    ctx.maximum_version = v
    with postel.submissions(context=ctx) as c:
        assert c.sock.version() == version.replace("_", "."), c.sock.version()
        c.ehlo()
        c.quit()
    with postel.submission() as c:
        c.ehlo()
        c.starttls(context=ctx)
        assert c.sock.version() == version.replace("_", ".")
        c.ehlo()
        c.quit()


def test_tls11_refused(postel):
    ctx = client_tls_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with postel.submissions(context=ctx):
            pass


def test_received_header_names_tls12(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    ctx = client_tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with postel.submission() as c:
        c.ehlo()
        c.starttls(context=ctx)
        c.ehlo()
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.2", submission=True)


# --------------------------------------------------------------------------
# catalogue 1: STARTTLS command injection


def _after_tls_nothing_pending(c):
    """Nothing may arrive for the injected plaintext, and the next command
    gets exactly its own reply."""
    extra = c.read_available(0.5)
    assert extra == b"", f"server answered injected plaintext: {extra!r}"
    r = c.cmd("EHLO good.example.net")
    assert r.code == 250, r
    assert "evil" not in r.lines[0], r
    r = c.cmd("NOOP")
    assert r.code == 250, r
    extra = c.read_available(0.5)
    assert extra == b"", f"extra replies: {extra!r}"


@pytest.mark.parametrize("port_name", ["smtp", "submission"])
def test_starttls_injection_all_in_one_write(postel, port_name):
    with SMTPConn(getattr(postel, f"{port_name}_port")) as c:
        c.send(b"EHLO a\r\nSTARTTLS\r\nEHLO evil\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        r = c.read_reply()
        assert r.code == 220, r
        leaked = c.read_available(0.5)
        assert leaked == b"", f"plaintext after 220: {leaked!r}"
        c.sock = client_tls_context().wrap_socket(c.sock)
        _after_tls_nothing_pending(c)
        c.quit()


def test_starttls_injection_after_ehlo(postel):
    with postel.smtp() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nEHLO evil\r\nMAIL FROM:<evil@evil.example>\r\n")
        r = c.read_reply()
        assert r.code == 220 and r.raw.startswith(b"220 "), r
        leaked = c.read_available(0.5)
        assert leaked == b"", f"plaintext after 220: {leaked!r}"
        c.sock = client_tls_context().wrap_socket(c.sock)
        extra = c.read_available(0.5)
        assert extra == b"", f"server answered injected plaintext: {extra!r}"
        # the injected EHLO was not taken: MAIL needs a fresh EHLO
        r = c.cmd("MAIL FROM:<x@remote.example>")
        assert r.code == 503, r
        _after_tls_nothing_pending(c)
        c.quit()


def test_starttls_injected_auth_ignored(postel):
    with postel.submission() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nEHLO evil\r\nAUTH PLAIN "
               + plain_auth_blob(ALICE, USERS[ALICE]).encode() + b"\r\n")
        r = c.read_reply()
        assert r.code == 220, r
        assert c.read_available(0.5) == b""
        c.sock = client_tls_context().wrap_socket(c.sock)
        extra = c.read_available(0.5)
        assert extra == b"", f"server answered injected plaintext: {extra!r}"
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530, f"injected AUTH took effect: {r!r}"
        c.quit()


# --------------------------------------------------------------------------
# catalogue 2: state reset, second STARTTLS


def test_starttls_forgets_helo(postel):
    with postel.smtp() as c:
        c.ehlo()
        c.starttls()
        r = c.cmd("MAIL FROM:<x@remote.example>")
        assert r.code == 503 and r.enhanced == "5.5.1", r
        c.ehlo()
        assert c.cmd("MAIL FROM:<x@remote.example>").code == 250
        c.quit()


def test_second_starttls_refused(postel):
    with postel.submission() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert r.code == 503, r
        # the session is still fine
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        c.quit()


def test_starttls_on_465_refused(postel):
    with postel.submissions() as c:
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert r.code == 503, r
        assert c.cmd("NOOP").code == 250
        c.quit()


def test_starttls_with_argument_and_in_transaction(postel):
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd("STARTTLS now")
        assert r.code == 501, r
        assert c.cmd("MAIL FROM:<x@remote.example>").code == 250
        r = c.cmd("STARTTLS")
        assert r.code == 503, r
        c.quit()


def test_starttls_before_ehlo(postel):
    with postel.smtp() as c:
        r = c.cmd("STARTTLS")
        assert r.code == 503, r
        c.quit()


# --------------------------------------------------------------------------
# ALPACA: only mail ALPN protocols


def test_alpn_http_refused_python(postel):
    with pytest.raises(ssl.SSLError):
        with postel.submissions(context=client_tls_context(alpn=["http/1.1"])):
            pass
    with pytest.raises(ssl.SSLError):
        with postel.submissions(context=client_tls_context(alpn=["h2", "http/1.1"])):
            pass


def test_alpn_smtp_accepted_python(postel):
    with postel.submissions(context=client_tls_context(alpn=["smtp"])) as c:
        assert c.sock.selected_alpn_protocol() == "smtp"
        c.quit()
    with postel.submissions(context=client_tls_context(alpn=["http/1.1", "smtp"])) as c:
        assert c.sock.selected_alpn_protocol() == "smtp"
        c.quit()


def test_alpn_http_refused_after_starttls(postel):
    with postel.submission() as c:
        c.ehlo()
        with pytest.raises(ssl.SSLError):
            c.starttls(context=client_tls_context(alpn=["http/1.1"]))


def _s_client(args, stdin=b"", timeout=20):
    return subprocess.run(["openssl", "s_client"] + args, input=stdin,
                          capture_output=True, timeout=scaled(timeout))


def test_alpn_openssl_s_client(postel):
    target = f"127.0.0.1:{postel.submissions_port}"
    bad = _s_client(["-connect", target, "-alpn", "http/1.1", "-servername", HOSTNAME])
    out = bad.stdout.decode(errors="replace") + bad.stderr.decode(errors="replace")
    assert bad.returncode != 0, out
    assert "220 " not in bad.stdout.decode(errors="replace"), out
    # -ign_eof: read until the server closes after QUIT (and no command letters)
    good = _s_client(["-connect", target, "-alpn", "smtp", "-servername", HOSTNAME,
                      "-ign_eof"], stdin=b"QUIT\r\n")
    out = good.stdout.decode(errors="replace") + good.stderr.decode(errors="replace")
    # (its exit status also depends on close_notify: see test_quit_sends_close_notify)
    assert "ALPN protocol: smtp" in out, out
    assert f"220 {HOSTNAME}" in out, out
    assert "221 " in out, out


@pytest.mark.parametrize("port_name", ["submissions", "submission"])
def test_quit_sends_close_notify(postel, port_name):
    """RFC 8446 6.1: each party MUST send close_notify before closing its
    write side. Without it, clients see a truncation attack ("unexpected
    eof while reading"; openssl s_client exits 1)."""
    ctx = client_tls_context()
    # Python ignores a missing close_notify by default; we want to see it
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if port_name == "submissions":
        c = SMTPConn(postel.submissions_port, greeting=False)
        c.sock = ctx.wrap_socket(c.sock, suppress_ragged_eofs=False)
        c.read_reply()
    else:
        c = postel.submission()
        c.ehlo()
        assert c.cmd("STARTTLS").code == 220
        c.sock = ctx.wrap_socket(c.sock, suppress_ragged_eofs=False)
    with c:
        c.ehlo()
        c.send(b"QUIT\r\n")
        c.sock.settimeout(scaled(5))
        got = b""
        try:
            for _ in range(100):
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ssl.SSLError as e:
            pytest.fail(f"TCP closed without TLS close_notify after {got!r}: {e}")
        assert got.startswith(b"221 "), got


# --------------------------------------------------------------------------
# openssl s_client as a real client, driven line by line


class SClient:
    """openssl s_client -quiet with a reader thread: send a line, wait for
    the reply."""

    def __init__(self, args):
        self.p = subprocess.Popen(["openssl", "s_client", "-quiet"] + args,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.buf = b""
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        while True:
            data = self.p.stdout.read1(65536)
            self.q.put(data)
            if not data:
                return

    def read_reply(self, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            m = re.search(rb"(?m)^\d{3} [^\r\n]*\r\n", self.buf)
            if m:
                raw, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return int(raw[m.start():m.start() + 3]), raw
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"s_client: no reply; got {self.buf!r}; stderr "
                                   f"{self._stderr()!r}")
            try:
                data = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if not data:
                raise ConnectionError(f"s_client ended; got {self.buf!r}; "
                                      f"stderr {self._stderr()!r}")
            self.buf += data

    def _stderr(self):
        if self.p.poll() is None:
            return "(running)"
        return self.p.stderr.read().decode(errors="replace")

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.read_reply()

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return self.p.returncode


def _s_client_send(sc, sender, rcpt, user, msg):
    code, raw = sc.cmd(b"EHLO s-client.example.net")
    assert code == 250, raw
    assert b"AUTH" in raw and b"STARTTLS" not in raw, raw
    code, raw = sc.cmd(b"AUTH PLAIN " + plain_auth_blob(user, USERS[user]).encode())
    assert code == 235, raw
    code, raw = sc.cmd(f"MAIL FROM:<{sender}>".encode())
    assert code == 250, raw
    code, raw = sc.cmd(f"RCPT TO:<{rcpt}>".encode())
    assert code == 250, raw
    code, raw = sc.cmd(b"DATA")
    assert code == 354, raw
    sc.send(dot_stuff(msg) + b".\r\n")
    code, raw = sc.read_reply()
    assert code == 250, raw
    code, raw = sc.cmd(b"QUIT")
    assert code == 221, raw


def test_openssl_s_client_starttls_smtp(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    sc = SClient(["-starttls", "smtp", "-connect", f"127.0.0.1:{postel.submission_port}",
                  "-name", "s-client.example.net"])
    try:
        _s_client_send(sc, ALICE, BOB, ALICE, msg)
    finally:
        sc.close()
    check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.3", submission=True)


def test_openssl_s_client_implicit_tls12(postel):
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE, date=False, message_id=False)
    sc = SClient(["-connect", f"127.0.0.1:{postel.submissions_port}", "-tls1_2",
                  "-alpn", "smtp"])
    try:
        code, raw = sc.read_reply()
        assert code == 220, raw
        _s_client_send(sc, BOB, ALICE, BOB, msg)
    finally:
        sc.close()
    check_delivered(postel, ALICE, msg, BOB, tls="TLSv1.2", submission=True)
