"""Issue 10 item 7: DKIM signing of mail submitted by local users.

`postel dkim keygen` makes a key for the sender's domain and prints the
TXT record; the test serves that record from a loopback dnslib server
(probe_dns_server.py), alice submits on 587 to a remote domain, the queue
runner delivers to aiosmtpd (the MX of test_relay_runner.py), and dkimpy
(python3-dkim, an independent verifier) checks every DKIM-Signature with
the key it looks up in that DNS server: rsa-sha256, ed25519-sha256
(RFC 8463) and both at once. A message whose From: domain has no key, and
the copy delivered to a local mailbox, and a From: in a domain other than
the envelope sender's carry no signature; a changed
header no longer verifies. An 8-bit message is signed after being made
7-bit (RFC 6376 5.3), so it verifies whether or not the MX offers
8BITMIME (RawMX of relay_mx.py)."""
import email
import imaplib
import re

import pytest

from conftest import ALICE, BOB, USERS, make_message, scaled, token
from test_queue_cli import queue_remote
from relay_mx import RawMX
from test_relay_faults import EIGHTBIT_BODY, eightbit_message, submit_raw
from test_relay_runner import ZONE, free_port, start_sink

dkim = pytest.importorskip("dkim")
pytest.importorskip("aiosmtpd.controller")
from dnslib import QTYPE, RR, TXT, DNSRecord  # noqa: E402
from probe_dns_server import ZoneServer  # noqa: E402

SIGNER_DOMAIN = ALICE.split("@")[1]
RECORD_RX = re.compile(r'^(\S+)\._domainkey\.(\S+)\. IN TXT ((?:"[^"]*" ?)+)$', re.M)


@pytest.fixture
def dkim_relay(postel_factory):
    """(server, sink, dns) with the runner on, delivering to aiosmtpd."""
    dns = ZoneServer(ZONE)
    port = free_port()
    sink, ctl = start_sink(port)
    srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                         dns_trust_anchor="none", queue_retry_min="2",
                         queue_retry_max="4")
    yield srv, sink, dns
    ctl.stop()
    dns.close()


def keygen(srv, dns, domain, *args):
    """Run keygen, check its record and publish it; returns the selector."""
    _, out, _ = srv.cli("dkim", "keygen", domain, *args)
    m = RECORD_RX.search(out)
    assert m, out
    selector, name, quoted = m[1], m[2], m[3]
    assert name == domain
    strings = re.findall(r'"([^"]*)"', quoted)
    # RFC 6376 3.6.2.2: one TXT rdata of strings of at most 255 octets
    assert all(0 < len(s) <= 255 for s in strings), strings
    record = "".join(strings)
    assert record.startswith("v=DKIM1; k=") and "; p=" in record, record
    if "rsa" in args or "--type" not in args:
        assert len(strings) >= 2, "a 2048-bit key's record needs two strings"
    dns.resolver.records.append(RR(f"{selector}._domainkey.{domain}.", QTYPE.TXT,
                                   rdata=TXT([s.encode() for s in strings]), ttl=60))
    return selector


def dns_txt(dns):
    """dkimpy's dnsfunc: TXT lookups answered by the test DNS server."""
    def lookup(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        q = DNSRecord.question(name, "TXT")
        reply = DNSRecord.parse(q.send("127.0.0.1", dns.port, timeout=timeout))
        for rr in reply.rr:
            if rr.rtype == QTYPE.TXT:
                return b"".join(rr.rdata.data)
        return None
    return lookup


def submit(srv, rcpts, tok, **kw):
    return queue_remote(srv, tok, rcpts, **kw)


def received(sink, n=1):
    got = sink.wait(n, 10)
    assert len(got) == n
    return got[-1][2]


def signatures(content):
    header = content.split(b"\r\n\r\n", 1)[0]
    return re.findall(rb"^DKIM-Signature:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", header, re.M)


def verify_all(content, dns):
    d = dkim.DKIM(content)
    sigs = signatures(content)
    return [d.verify(idx=i, dnsfunc=dns_txt(dns)) for i in range(len(sigs))]


@pytest.mark.parametrize("types", [("rsa",), ("ed25519",), ("rsa", "ed25519")])
def test_submitted_mail_is_signed_and_verifies(dkim_relay, types):
    srv, sink, dns = dkim_relay
    selectors = [keygen(srv, dns, SIGNER_DOMAIN, "--type", t, "--selector", f"s-{t}")
                 for t in types]
    tok = token()
    # spaces a relaxed canonicaliser must fold, and a long folded header
    extra = ["Cc: carol@remote.example", "X-Folded: one\r\n\ttwo   three  "]
    submit(srv, [f"ok{tok[1:9]}@remote.example"], tok, extra_headers=extra)
    content = received(sink)
    sigs = signatures(content)
    assert len(sigs) == len(types), content[:2000]
    # one per key, in selector order
    for sig, t in zip(sigs, sorted(types)):
        assert f"a={t}-sha256".encode() in sig and f"s=s-{t};".encode() in sig, sig
        assert b"c=relaxed/relaxed" in sig and b"d=example.org" in sig
        assert b" l=" not in sig and b"t=" in sig
        flat = re.sub(rb"\s+", b"", sig)
        h = re.search(rb";h=([^;]*);", flat)[1].split(b":")
        # From oversigned; the headers a client wrote are all covered
        assert h.count(b"from") == 2, h
        for name in (b"to", b"cc", b"subject", b"date", b"message-id"):
            assert name in h, h
        for line in sig.split(b"\r\n"):
            assert len(line) <= 78, line
    assert verify_all(content, dns) == [True] * len(types)
    # an independent check that verification can fail: change the subject
    tampered = content.replace(f"e2e test {tok}".encode(), f"e2e test {tok}!".encode(), 1)
    assert tampered != content
    assert verify_all(tampered, dns) == [False] * len(types)
    # signed by a worker inside its sandbox (Landlock: the data directory)
    assert "event=sandbox_active" in srv.log()
    for sel in selectors:
        assert srv.wait_for_log(rf"event=dkim_signed domain=example.org selector={sel} "), \
            srv.log_tail(20)


def test_large_spooled_message_is_signed(dkim_relay):
    """A body bigger than the in-memory limit goes through the spool file:
    it is hashed read back in pieces."""
    srv, sink, dns = dkim_relay
    keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519")
    tok = token()
    body = [f"line {i:06d} with   some  spaces \t" for i in range(12000)] + ["end " + tok]
    submit(srv, [f"ok{tok[1:9]}@remote.example"], tok, body=body)
    content = received(sink)
    assert len(content) > 300_000
    assert len(signatures(content)) == 1
    assert verify_all(content, dns) == [True]


def test_domain_without_key_is_not_signed(dkim_relay):
    srv, sink, dns = dkim_relay
    keygen(srv, dns, "other.example", "--type", "ed25519")
    tok = token()
    submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    content = received(sink)
    assert signatures(content) == [], content[:1000]
    assert "event=dkim_signed" not in srv.log()


def test_from_domain_other_than_the_senders_is_not_signed(dkim_relay):
    """alice owns her envelope sender (submission checks it), not the
    From: she writes: another hosted domain's key must not sign it."""
    srv, sink, dns = dkim_relay
    keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519")
    keygen(srv, dns, "other.example", "--type", "ed25519")
    tok = token()
    msg = make_message(tok, sender="boss@other.example", to="x@remote.example")
    with srv.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<ok{tok[1:9]}@remote.example>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    content = received(sink)
    assert b"From: <boss@other.example>" in content
    assert signatures(content) == [], content[:1000]
    assert srv.wait_for_log(r"event=dkim_skipped domain=other.example reason=")


def fetch_inbox(srv, user):
    imap = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=scaled(10))
    try:
        imap.starttls()
        imap.login(user, USERS[user])
        imap.select("INBOX")
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, msg = imap.fetch(num, "(BODY.PEEK[])")
            out.append(msg[0][1])
        return out
    finally:
        imap.logout()


def test_local_copy_is_not_signed(dkim_relay):
    srv, sink, dns = dkim_relay
    keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519")
    tok = token()
    submit(srv, [f"ok{tok[1:9]}@remote.example", BOB], tok)
    remote = received(sink)
    assert len(signatures(remote)) == 1
    assert verify_all(remote, dns) == [True]
    local = [m for m in fetch_inbox(srv, BOB) if tok.encode() in m]
    assert len(local) == 1
    assert b"DKIM-Signature" not in local[0]


def test_keygen_refuses_bad_input_and_lists_keys(dkim_relay):
    srv, _, dns = dkim_relay
    sel = keygen(srv, dns, SIGNER_DOMAIN)  # defaults: rsa, rsa-YYYYMMDD
    assert re.fullmatch(r"rsa-\d{8}", sel), sel
    key = srv.datadir / "dkim" / SIGNER_DOMAIN / f"{sel}.key"
    st = key.stat()
    assert st.st_mode & 0o777 == 0o640
    assert key.parent.stat().st_mode & 0o777 == 0o750
    if st.st_uid == 0:
        assert key.parent.stat().st_uid == 0
    # the same selector again: refused, the key unchanged
    before = key.read_bytes()
    rc, _, err = srv.cli("dkim", "keygen", SIGNER_DOMAIN, "--selector", sel, check=False)
    assert rc == 1 and "exists" in err and key.read_bytes() == before
    for bad in (["../etc"], ["a..b"], [SIGNER_DOMAIN, "--selector", "../x"],
                [SIGNER_DOMAIN, "--type", "dsa"]):
        rc, _, _ = srv.cli("dkim", "keygen", *bad, check=False)
        assert rc == 2, bad
    _, out, _ = srv.cli("dkim", "list")
    assert f"{SIGNER_DOMAIN} {sel} rsa {sel}._domainkey.{SIGNER_DOMAIN}" in out
    _, out, _ = srv.cli("dkim", "record", SIGNER_DOMAIN)
    assert out.startswith(f"{sel}._domainkey.{SIGNER_DOMAIN}. IN TXT \"v=DKIM1; k=rsa; p=")


def test_signature_is_in_the_queue_entry(postel_factory):
    """Signed when queued, not when sent: the entry on disk (what the
    runner will send, also after a crash) already holds the signature."""
    srv = postel_factory()  # relay = no: the entry stays queued
    dns = ZoneServer("")
    try:
        keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519", "--selector", "q1")
    finally:
        dns.close()
    tok = token()
    qid = submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    _, out, _ = srv.cli("queue", "show", qid)
    assert "DKIM-Signature: v=1; a=ed25519-sha256;" in out, out
    assert "s=q1;" in out


@pytest.mark.parametrize("caps", [["PIPELINING"], ["PIPELINING", "8BITMIME"]],
                         ids=["no-8bitmime", "8bitmime"])
def test_8bit_message_is_signed_7bit_and_verifies(postel_factory, caps):
    """RFC 6376 5.3: an 8-bit text part (Content-Transfer-Encoding: 8bit)
    is made quoted-printable before signing, so the queued copy is 7-bit,
    MAIL carries no BODY=8BITMIME, the runner has nothing to convert and
    the signature verifies at an MX without 8BITMIME (before, the runner
    re-encoded the signed body there and broke it); the local copy stays
    8-bit and unsigned."""
    dns = ZoneServer(ZONE)
    port = free_port()
    mx = RawMX(port, caps)
    try:
        srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                             dns_trust_anchor="none", queue_retry_min="600",
                             queue_retry_max="600")
        keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519")
        tok = token()
        rcpt = f"ok{tok[1:9]}@remote.example"
        msg = eightbit_message(tok, rcpt)
        qid = submit_raw(srv, " BODY=8BITMIME", [(rcpt, ""), (BOB, "")], msg)
        session = mx.wait_data(10)
        assert session is not None, srv.log_tail(30)
        mail = [c for c in session["commands"] if c.upper().startswith(b"MAIL")]
        assert len(mail) == 1 and b"BODY=" not in mail[0].upper(), mail
        assert session["data"].endswith(b"\r\n.\r\n")
        wire = session["data"][:-3]
        content = re.sub(rb"(?m)^\.", b"", wire)  # RFC 5321 4.5.2
        assert all(b < 0x80 for b in content), content
        assert len(signatures(content)) == 1, content[:2000]
        assert verify_all(content, dns) == [True], content
        m = email.message_from_bytes(content)
        assert m["Content-Transfer-Encoding"] == "quoted-printable"
        text = m.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
        assert text == "\n".join(EIGHTBIT_BODY[:-1] + [EIGHTBIT_BODY[-1] + tok]) + "\n"
        assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
        assert "event=relay_8bit_converted" not in srv.log()
        local = [x for x in fetch_inbox(srv, BOB) if tok.encode() in x]
        assert len(local) == 1
        assert b"DKIM-Signature" not in local[0]
        assert "Grüße".encode() in local[0] and b"Transfer-Encoding: 8bit" in local[0]
    finally:
        mx.stop()
        dns.close()


def test_8bit_header_text_keeps_body_8bitmime(postel_factory):
    """8-bit header text without SMTPUTF8 passes the converter unchanged:
    the body is still made 7-bit before signing, but the entry keeps
    BODY=8BITMIME for an MX that offers it, and the signature verifies."""
    dns = ZoneServer(ZONE)
    port = free_port()
    mx = RawMX(port, ["PIPELINING", "8BITMIME"])
    try:
        srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                             dns_trust_anchor="none", queue_retry_min="600",
                             queue_retry_max="600")
        keygen(srv, dns, SIGNER_DOMAIN, "--type", "ed25519")
        tok = token()
        rcpt = f"ok{tok[1:9]}@remote.example"
        msg = eightbit_message(tok, rcpt).replace(b"Subject: 8bit",
                                                   "Subject: Grüße 8bit".encode())
        submit_raw(srv, " BODY=8BITMIME", [(rcpt, "")], msg)
        session = mx.wait_data(10)
        assert session is not None, srv.log_tail(30)
        mail = [c for c in session["commands"] if c.upper().startswith(b"MAIL")]
        assert len(mail) == 1 and b"BODY=8BITMIME" in mail[0].upper(), mail
        content = re.sub(rb"(?m)^\.", b"", session["data"][:-3])
        assert b"Content-Transfer-Encoding: quoted-printable" in content, content
        assert verify_all(content, dns) == [True], content
    finally:
        mx.stop()
        dns.close()
