"""Issue 10 item 4: MTA-STS (RFC 8461) in the queue runner.

On loopback only: a dnslib zone (probe_dns_server.py) gives each test
domain an MX, the _mta-sts TXT record and an A record for mta-sts.DOMAIN,
all at 127.0.0.1; a python HTTPS server on a free port (the config key
mta_sts_port, which exists for tests) serves the policies; an aiosmtpd
server with STARTTLS on relay_port is every MX. TEST KEYS: the CA and the
certificates are made for this run by ProbeCA (probe_fakes.py) and are
trusted only through relay_ca_file; they protect nothing.

enforce with an MX outside the policy defers without connecting, enforce
with a certificate that does not name the MX defers, enforce that matches
delivers over verified TLS, testing with a mismatch delivers and logs;
the policy is fetched once, kept across a restart (DATA/queue/mta-sts/)
and fetched again when the TXT id changes (RFC 8461 5.1)."""
import http.server
import os
import pathlib
import shutil
import ssl
import tempfile
import threading
import time

import pytest

from conftest import token
from test_queue_cli import queue_remote

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.controller import Controller  # noqa: E402
from dnslib import RR  # noqa: E402
from probe_dns_server import ZoneServer  # noqa: E402
from probe_fakes import ProbeCA, https_server  # noqa: E402
from test_relay_runner import Sink, free_port  # noqa: E402

# nopolicy: a TXT record, but its policy server answers 404
DOMAINS = ("enforce", "mismatch", "badcert", "testing", "slow", "nopolicy", "v6first")
SLOW_SECS = 4  # the policy server of slow.example answers this late
POLICIES = {
    "mta-sts.enforce.example": "version: STSv1\r\nmode: enforce\r\n"
                               "mx: mx.enforce.example\r\nmax_age: 86400\r\n",
    "mta-sts.mismatch.example": "version: STSv1\nmode: enforce\n"
                                "mx: mail.elsewhere.example\nmax_age: 86400\n",
    "mta-sts.badcert.example": "version: STSv1\nmode: enforce\n"
                               "mx: *.badcert.example\nmax_age: 86400\n",
    "mta-sts.testing.example": "version: STSv1\nmode: testing\n"
                               "mx: mail.elsewhere.example\nmax_age: 86400\n",
    "mta-sts.slow.example": "version: STSv1\nmode: enforce\n"
                            "mx: mx.slow.example\nmax_age: 86400\n",
    "mta-sts.v6first.example": "version: STSv1\nmode: enforce\n"
                               "mx: mx.v6first.example\nmax_age: 86400\n",
}


def zone(ids=None):
    ids = ids or {}
    lines = []
    for d in DOMAINS:
        lines += [f"{d}.example. 60 IN MX 10 mx.{d}.example.",
                  f"mx.{d}.example. 60 IN A 127.0.0.1",
                  f"mta-sts.{d}.example. 60 IN A 127.0.0.1",
                  # TTL 0: a changed id is seen at the next attempt
                  f'_mta-sts.{d}.example. 0 IN TXT "v=STSv1; id={ids.get(d, "1")}"']
    # tried first, nothing listens there: the fetch moves on to 127.0.0.1
    lines.append("mta-sts.v6first.example. 60 IN AAAA ::1")
    return "\n".join(lines) + "\n"


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    hits = {}
    lock = threading.Lock()

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        with self.lock:
            self.hits[host] = self.hits.get(host, 0) + 1
        body = POLICIES.get(host)
        if host == "mta-sts.slow.example":
            time.sleep(SLOW_SECS)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class TLSSink(Sink):
    """Sink that also records whether each message came over TLS."""

    def __init__(self):
        super().__init__()
        self.tls = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def pki():
    # the runner drops to the postel user: the CA file must be readable
    d = pathlib.Path(tempfile.mkdtemp(prefix="postel-mtasts-", dir="/tmp"))
    os.chmod(d, 0o755)
    ca = ProbeCA(d)
    os.chmod(ca.ca, 0o644)
    sts = ca.issue("sts", "mta-sts.enforce.example",
                   list(POLICIES) + ["mta-sts.nopolicy.example"], 30)
    # every MX name but mx.badcert.example
    mx = ca.issue("mx", "mx.enforce.example",
                  [f"mx.{n}.example" for n in DOMAINS if n != "badcert"], 30)
    yield ca, sts, mx
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def policy_server(pki):
    _, (cert, key), _ = pki
    httpd = https_server(PolicyHandler, cert, key)
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sts(pki, policy_server, postel_factory):
    """(make server, sink, dns) with every MTA-STS piece on loopback."""
    ca, _, (mx_cert, mx_key) = pki
    dns = ZoneServer(zone())
    with PolicyHandler.lock:
        PolicyHandler.hits.clear()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(mx_cert), str(mx_key))
    port = free_port()
    sink = TLSSink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=False)
    ctl.start()

    def make(**overrides):
        o = {"relay": "yes", "relay_port": str(port), "dns_resolver": dns.address,
             "dns_trust_anchor": "none", "queue_retry_min": "600",
             "queue_retry_max": "600", "relay_ca_file": str(ca.ca),
             "mta_sts_port": str(policy_server)}
        o.update(overrides)
        return postel_factory(**o)
    yield make, sink, dns
    ctl.stop()
    dns.close()


def attempt_line(srv, qid, timeout=10):
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=timeout)
    assert line, srv.log_tail(40)
    return line


def deliver_one(srv, sink, domain):
    """Submit to ok...@domain; (queue id, attempt line) once the sink has it."""
    tok = token()
    rcpt = f"ok{tok[1:9]}@{domain}"
    before = len(sink.messages)
    qid = queue_remote(srv, tok, [rcpt])
    got = sink.wait(before + 1, 10)
    assert len(got) == before + 1 and got[-1][1] == [rcpt], srv.log_tail(40)
    line = attempt_line(srv, qid)
    assert "codes=250" in line, line
    return qid, line


def hits(host):
    with PolicyHandler.lock:
        return PolicyHandler.hits.get(host, 0)


def defer_one(srv, sink, domain):
    """Submit to ok...@domain; the attempt line, once the entry is deferred
    by MTA-STS with nothing received by the sink."""
    tok = token()
    qid = queue_remote(srv, tok, [f"ok{tok[1:9]}@{domain}"])
    line = attempt_line(srv, qid)
    assert "mta_sts=failed" in line and "codes=451" in line, line
    assert "deferred" in srv.cli("queue", "show", qid)[1]
    time.sleep(0.5)
    assert not sink.messages and not sink.rcpts_seen, sink.messages
    return qid, line


def test_enforce_mx_outside_policy_defers_without_connecting(sts):
    make, sink, _ = sts
    srv = make()
    qid, line = defer_one(srv, sink, "mismatch.example")
    assert "4.7.5 MTA-STS policy 1 (enforce)" in line, line
    skip = srv.wait_for_log(rf"event=mta_sts_mismatch queue_id={qid} ", timeout=5)
    assert skip and 'mx="mx.mismatch.example"' in skip and "action=skip" in skip, skip
    assert "ip=-" in line  # never even connected
    assert hits("mta-sts.mismatch.example") == 1
    cached = srv.datadir / "queue" / "mta-sts" / "mismatch.example"
    assert cached.exists() and "id=1\n" in cached.read_text()


def test_enforce_certificate_not_for_the_mx_defers(sts):
    make, sink, _ = sts
    srv = make()
    # RFC 8461 4.2: the MX matched, its certificate does not name it
    _, line = defer_one(srv, sink, "badcert.example")
    assert 'mx="mx.badcert.example"' in line and "tls=no" in line, line


def test_enforce_matching_mx_delivers_over_verified_tls(sts):
    make, sink, _ = sts
    srv = make()
    qid, line = deliver_one(srv, sink, "enforce.example")
    assert sink.tls == [True]
    assert "tls=yes" in line and "mta_sts=enforce" in line, line
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)


def test_testing_mismatch_delivers_and_logs(sts):
    make, sink, _ = sts
    srv = make()
    qid, line = deliver_one(srv, sink, "testing.example")
    assert "mta_sts=testing" in line, line
    mis = srv.wait_for_log(rf"event=mta_sts_mismatch queue_id={qid} ", timeout=5)
    assert mis and "mode=testing" in mis and "action=deliver" in mis, mis


def test_policy_fetch_failure_delivers_as_without_policy(sts):
    make, sink, _ = sts
    srv = make()
    # RFC 8461 5.1: no policy could be fetched and none is cached
    qid, line = deliver_one(srv, sink, "nopolicy.example")
    assert "mta_sts=failed" in line, line
    why = srv.wait_for_log(r"event=mta_sts_policy_failed domain=\"nopolicy.example\"",
                           timeout=5)
    assert why and "HTTP status 404" in why, why
    assert hits("mta-sts.nopolicy.example") == 1


def test_policy_fetch_tries_the_next_address(sts):
    make, sink, _ = sts
    srv = make()
    _, line = deliver_one(srv, sink, "v6first.example")
    assert "mta_sts=enforce" in line and "tls=yes" in line, line
    fetches = [l for l in srv.log().splitlines()
               if 'event=mta_sts_fetch host="mta-sts.v6first.example"' in l]
    assert len(fetches) == 2 and "result=failed" in fetches[0] and \
        "result=ok" in fetches[1], fetches


def test_slow_policy_fetch_does_not_hold_the_runner(sts):
    make, sink, _ = sts
    srv = make()
    tok = token()
    slow = f"ok{tok[1:9]}@slow.example"
    queue_remote(srv, tok, [slow])
    assert srv.wait_for_log(r"event=tls_client .*sni=\"mta-sts.slow.example\"", timeout=5)
    # while that fetch waits, another domain's mail goes out
    tok = token()
    fast = f"ok{tok[1:9]}@testing.example"
    queue_remote(srv, tok, [fast])
    got = sink.wait(2, SLOW_SECS + 10)
    assert [m[1] for m in got] == [[fast], [slow]], srv.log_tail(40)
    assert sink.tls == [True, True]
    line = srv.wait_for_log(r"event=relay_attempt .*domain=\"slow.example\"", timeout=5)
    assert line and "mta_sts=enforce" in line, line


def test_policy_cached_across_restart_and_refetched_on_new_id(sts):
    make, sink, dns = sts
    srv = make()
    host = "mta-sts.enforce.example"
    deliver_one(srv, sink, "enforce.example")
    deliver_one(srv, sink, "enforce.example")
    assert hits(host) == 1  # the second attempt used the cached policy
    srv.restart()
    deliver_one(srv, sink, "enforce.example")
    assert hits(host) == 1  # read back from DATA/queue/mta-sts/
    # RFC 8461 5.1: a new TXT id means a new policy
    dns.resolver.records = RR.fromZone(zone({"enforce": "2"}))
    _, line = deliver_one(srv, sink, "enforce.example")
    assert "mta_sts=enforce" in line, line
    assert hits(host) == 2
    line = srv.wait_for_log(r"event=mta_sts_policy domain=\"enforce.example\" id=2 ",
                            timeout=5)
    assert line and "source=fetched" in line, srv.log_tail(40)
