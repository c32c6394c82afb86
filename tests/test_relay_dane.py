"""Issue 10 item 4: DANE (RFC 7672) in the queue runner.

On loopback only: dane.example is signed here with dnssec-keygen and
dnssec-signzone (bind9-utils) and served by the dnslib zone server
(probe_dns_server.py); dns_trust_anchor names its DS set, so libunbound
validates it. plain.example is served unsigned beside it (no anchor covers
it: insecure). The remote MX is aiosmtpd with STARTTLS and a self-signed
test certificate made here (openssl); every MX host name resolves to
127.0.0.1 and relay_port points at the sink.

In dane.example each destination domain has its own MX host and TLSA:
  good      3 1 1 of the sink's key          -> delivered, dane=verified
  wrong     3 1 1 of another key             -> deferred, nothing received
  bogus     3 1 1 changed after signing      -> deferred (RFC 7672 2.2)
  unusable  1 1 1 (PKIX-EE, not for SMTP)    -> TLS required, unauthenticated
  none      no TLSA (validated denial)       -> opportunistic, dane=none
  ta        2 0 1 of a test CA; the MX's chain from it names mx-ta
                                             -> delivered, dane=verified
  taname    the same TLSA, but the certificate names mx-ta, not
            mx-taname (RFC 7672 3.2.2)     -> deferred, dane=failed
plain.example carries the wrong TLSA but is unsigned: opportunistic
delivery, and its TLSA is never even asked for (RFC 7672 2.2.2). A sink
without STARTTLS behind the good TLSA defers: never plaintext."""
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ALICE, scaled, token
from test_queue_cli import queue_remote

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.controller import Controller  # noqa: E402
from probe_dns_server import ZoneServer  # noqa: E402
from probe_fakes import ProbeCA  # noqa: E402
from test_relay_runner import free_port  # noqa: E402

ZONE = """$TTL 60
dane.example. IN SOA ns.dane.example. host.dane.example. 1 3600 600 86400 60
dane.example. IN NS ns.dane.example.
ns.dane.example. IN A 127.0.0.1
{mx}
"""
MX = """{d}.dane.example. IN MX 10 mx-{d}.dane.example.
mx-{d}.dane.example. IN A 127.0.0.1
_25._tcp.mx-{d}.dane.example. IN TLSA {tlsa}
"""
PLAIN = """
plain.example. 60 IN MX 10 mx.plain.example.
mx.plain.example. 60 IN A 127.0.0.1
_25._tcp.mx.plain.example. 60 IN TLSA 3 1 1 {wrong}
"""


def run(*args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def spki_sha256(directory, cert):
    """RFC 6698 2.1.2 selector 1: the SubjectPublicKeyInfo, DER."""
    pub = run("openssl", "x509", "-in", cert, "-noout", "-pubkey", cwd=directory)
    p = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return hashlib.sha256(p.stdout).hexdigest()


@pytest.fixture(scope="module")
def world():
    if shutil.which("dnssec-signzone") is None:
        pytest.skip("needs bind9-utils (dnssec-keygen, dnssec-signzone)")
    # readable by the runner (it drops root): not pytest's 0700 tmp_path
    d = tempfile.mkdtemp(prefix="postel-dane-", dir="/tmp")
    os.chmod(d, 0o755)
    for name in ("mx", "other"):
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.crt", "-subj", f"/CN={name}.test.invalid", "-days", "2", cwd=d)
    good, wrong = spki_sha256(d, "mx.crt"), spki_sha256(d, "other.crt")
    # DANE-TA(2): a CA, and the chain the MX presents to SNI mx-ta*
    ca = ProbeCA(d)
    leaf, _ = ca.issue("ta", "mx-ta.dane.example", "mx-ta.dane.example", 2)
    with open(os.path.join(d, "ta-chain.crt"), "w") as f:
        f.write(leaf.read_text() + ca.ca.read_text())
    ca_der = run("openssl", "x509", "-in", str(ca.ca), "-outform", "DER", cwd=d)
    ta = hashlib.sha256(ca_der).hexdigest()
    mx = "".join(MX.format(d=dom, tlsa=t) for dom, t in (
        ("good", f"3 1 1 {good}"), ("wrong", f"3 1 1 {wrong}"),
        ("bogus", f"3 1 1 {good}"), ("unusable", f"1 1 1 {good}"),
        ("ta", f"2 0 1 {ta}"), ("taname", f"2 0 1 {ta}")))
    # no TLSA name at all: a signed NXDOMAIN (NSEC proof)
    mx += MX.format(d="none", tlsa="x").split("_25")[0]
    zone = ZONE.format(mx=mx)
    for flags in (["-f", "KSK"], []):
        key = run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *flags, "-K", ".",
                  "dane.example", cwd=d).decode().strip()
        with open(os.path.join(d, f"{key}.key")) as f:
            zone += f.read()
    with open(os.path.join(d, "db"), "w") as f:
        f.write(zone)
    run("dnssec-signzone", "-q", "-O", "full", "-o", "dane.example", "-f", "db.signed",
        "db", cwd=d)
    with open(os.path.join(d, "db.signed")) as f:
        signed = f.read()
    # the bogus host's TLSA changed after signing: its RRSIG no longer fits
    forged = re.sub(rf"(_25\._tcp\.mx-bogus\.dane\.example\.\s+\d+\s+IN\s+TLSA\s+3 1 1 )"
                    rf"{good[:8]}", rf"\g<1>{'0' * 8}", signed, flags=re.I)
    assert forged != signed
    anchor = os.path.join(d, "dsset-dane.example.")
    os.chmod(anchor, 0o644)
    dns = ZoneServer(forged + PLAIN.format(wrong=wrong))
    try:
        yield {"dir": d, "dns": dns, "anchor": anchor}
    finally:
        dns.close()
        shutil.rmtree(d, ignore_errors=True)


class Sink:
    """The remote MX; records each message and whether it came over TLS."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), bool(session.ssl),
                                  envelope.original_content))
        return "250 OK queued"

    def wait(self, pred, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            with self.lock:
                got = [m for m in self.messages if pred(m)]
            if got:
                return got
            time.sleep(0.05)
        return []


@pytest.fixture
def sink_tls(world):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(world["dir"], "mx.crt"),
                        os.path.join(world["dir"], "mx.key"))
    ta_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ta_ctx.load_cert_chain(os.path.join(world["dir"], "ta-chain.crt"),
                           os.path.join(world["dir"], "ta.key"))

    def by_name(sslobj, name, _ctx):
        if name and name.startswith("mx-ta"):
            sslobj.context = ta_ctx
    ctx.sni_callback = by_name
    port = free_port()
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx)
    ctl.start()
    yield sink, port
    ctl.stop()


def runner(world, postel_factory, port, anchor=None):
    srv = postel_factory(relay="yes", relay_port=str(port),
                         dns_resolver=world["dns"].address,
                         dns_trust_anchor=anchor or world["anchor"],
                         queue_retry_min="600", queue_retry_max="600")
    assert srv.wait_for_log(r"event=runner_started", timeout=10), srv.log_tail(30)
    return srv


def send(srv, domain):
    tok = token()
    rcpt = f"u{tok[1:9]}@{domain}"
    return queue_remote(srv, tok, [rcpt]), rcpt


def attempt(srv, qid):
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=15)
    assert line, srv.log_tail(40)
    return line


def received(sink, rcpt, timeout):
    return sink.wait(lambda m: rcpt in m[0], timeout)


def deferred(srv, sink, domain, dane, codes=r"4\d\d"):
    """Sends to domain: the attempt logs dane=<dane> and a 4xx, the
    recipient stays deferred (no bounce) and nothing reaches the MX.
    Returns the attempt's log line."""
    qid, rcpt = send(srv, domain)
    line = attempt(srv, qid)
    assert f"dane={dane} " in line and re.search(rf"codes={codes}\b", line), line
    out = srv.cli("queue", "show", qid)[1]
    assert re.search(rf"{re.escape(rcpt)} attempts=1\n +state: deferred", out), out
    assert not received(sink, rcpt, 0.5)
    return line


def delivered_over_tls(world, sink_tls, postel_factory, domain, dane):
    """Sends to domain; it must arrive over TLS with dane=<dane> logged.
    Returns (server, queue id)."""
    sink, port = sink_tls
    srv = runner(world, postel_factory, port)
    qid, rcpt = send(srv, domain)
    got = received(sink, rcpt, 15)
    assert len(got) == 1 and got[0][1], (got, srv.log_tail(40))
    line = attempt(srv, qid)
    assert f"dane={dane}" in line and "tls=yes" in line and "codes=250" in line, line
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    return srv, qid


@pytest.mark.parametrize("domain", ["good.dane.example", "ta.dane.example"])
def test_matching_tlsa_verifies_and_delivers(world, sink_tls, postel_factory, domain):
    """DANE-EE(3) of the MX's key; DANE-TA(2) of the CA its chain is
    issued by, the MX host name in the certificate."""
    srv, qid = delivered_over_tls(world, sink_tls, postel_factory, domain, "verified")
    dane = srv.wait_for_log(rf"event=relay_dane queue_id={qid} ", timeout=5)
    assert "security=secure" in dane and "usable=1" in dane, dane


def test_wrong_or_bogus_tlsa_defers_never_sends(world, sink_tls, postel_factory):
    """A wrong certificate and a bogus TLSA answer: the entry stays
    deferred (4xx), nothing reaches the MX, no bounce."""
    sink, port = sink_tls
    srv = runner(world, postel_factory, port)
    deferred(srv, sink, "wrong.dane.example", "failed")
    line = deferred(srv, sink, "bogus.dane.example", "tempfail", "451")
    assert "TLSA lookup failed" in line, line
    # DANE-TA: the chain matches, the name does not
    deferred(srv, sink, "taname.dane.example", "failed")
    assert not sink.messages


def test_unsigned_zone_ignores_tlsa_and_delivers_opportunistically(
        world, sink_tls, postel_factory):
    delivered_over_tls(world, sink_tls, postel_factory, "plain.example", "insecure")
    # RFC 7672 2.2.2: no TLSA lookup for a host reached insecurely
    asked = [q for q, t in world["dns"].resolver.queries if t == "TLSA"]
    assert not any("plain.example" in q for q in asked), asked


@pytest.mark.parametrize("domain,dane,tlsa", [
    # RFC 7672 2.2: records, none usable: TLS, not authenticated
    ("unusable.dane.example", "unusable", "tlsa=yes"),
    # a validated denial: no DANE, opportunistic TLS
    ("none.dane.example", "none", "tlsa=no"),
])
def test_tlsa_without_usable_records_delivers_over_tls(world, sink_tls, postel_factory,
                                                       domain, dane, tlsa):
    srv, qid = delivered_over_tls(world, sink_tls, postel_factory, domain, dane)
    line = srv.wait_for_log(rf"event=relay_dane queue_id={qid} ", timeout=5)
    assert f"{tlsa} security=secure" in line and "usable=0" in line, line


def test_usable_tlsa_without_starttls_defers(world, postel_factory):
    port = free_port()
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)  # no STARTTLS
    ctl.start()
    running = True
    try:
        srv = runner(world, postel_factory, port)
        line = deferred(srv, sink, "good.dane.example", "failed", "451")
        assert "STARTTLS" in line, line
        # TLSA present but none usable: TLS is still mandatory
        deferred(srv, sink, "unusable.dane.example", "unusable", "451")
        # the unsigned domain still goes in plaintext (RFC 7435)
        qid, rcpt = send(srv, "plain.example")
        got = received(sink, rcpt, 15)
        assert len(got) == 1 and not got[0][1], srv.log_tail(40)
        # an MX that does not answer is no DANE failure: deferred, the
        # records still usable
        ctl.stop()
        running = False
        deferred(srv, sink, "good.dane.example", "usable", "451")
    finally:
        if running:
            ctl.stop()


def test_without_trust_anchor_nothing_is_secure(world, sink_tls, postel_factory):
    """dns_trust_anchor = none: the signed zone is not validated, so its
    (wrong) TLSA does not apply: delivered opportunistically."""
    sink, port = sink_tls
    srv = runner(world, postel_factory, port, anchor="none")
    qid, rcpt = send(srv, "wrong.dane.example")
    got = received(sink, rcpt, 15)
    assert len(got) == 1, srv.log_tail(40)
    assert "dane=insecure" in attempt(srv, qid)
