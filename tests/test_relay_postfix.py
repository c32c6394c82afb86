"""Issue 10 "how it is shown": Postfix as a real receiving MTA.

A private Postfix instance (its own main.cf/master.cf in a temporary
directory, smtpd on a 127.0.0.2 high port with STARTTLS and a test-CA
certificate, virtual(8) delivery of every pfx.example address into one
Maildir; nothing under /etc/postfix is read or changed) is the MX of
pfx.example in a dnslib zone on loopback. Mail submitted to Postel on 587
is relayed by the queue runner over STARTTLS (Postfix 3.7 offers CHUNKING,
so the body goes as BDAT) and arrives byte for byte: the Maildir file,
less the Return-Path, X-Original-To, Delivered-To and Received fields Postfix adds, is
Postel's Received field followed by the message as submitted (LF line
ends in Maildir, as Postfix writes them)."""
import os
import re
import time

import pytest

from conftest import ALICE, make_message, scaled, token
from peers import NOBODY, PEER_HOST, POSTFIX, Postfix, missing
from probe_fakes import ProbeCA
from test_relay_faults import submit_raw

pytest.importorskip("dnslib")
from probe_dns_server import ZoneServer  # noqa: E402

ZONE = f"""
pfx.example.      60 IN MX 10 mx.pfx.example.
mx.pfx.example.   60 IN A {PEER_HOST}
"""


class ReceivingPostfix(Postfix):
    """peers.Postfix with one smtpd offering STARTTLS and virtual(8)
    delivery of every pfx.example address into one Maildir."""

    def __init__(self, cert, key):
        super().__init__([[]], hostname="mx.pfx.example", domain="pfx.example",
                         cert=cert, key=key, prefix="relay-postfix-", main=f"""\
local_header_rewrite_clients =
smtpd_tls_cert_file = {{d}}/cert.pem
smtpd_tls_key_file = {{d}}/key.pem
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
virtual_mailbox_domains = pfx.example
virtual_mailbox_base = {{d}}/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{NOBODY}
virtual_gid_maps = static:{NOBODY}
virtual_minimum_uid = 100
message_size_limit = 20000000
""")
        (self.smtp,) = self.ports
        (self.dir / "mail").mkdir()
        os.chown(self.dir / "mail", NOBODY, NOBODY)

    def mails(self):
        out = []
        for sub in ("new", "cur"):
            d = self.dir / "mail" / "box" / sub
            if d.is_dir():
                out += [p.read_bytes() for p in sorted(d.iterdir())]
        return out

    def wait(self, n, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while len(self.mails()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.mails()


@pytest.fixture(scope="module")
def postfix(tmp_path_factory):
    reason = missing(POSTFIX)
    if reason:
        pytest.skip(f"{reason} (scripts/install-deps.sh check installs it)")
    ca = ProbeCA(tmp_path_factory.mktemp("relay-ca"))
    cert, key = ca.issue("mx", "mx.pfx.example", "mx.pfx.example", 30)
    pf = ReceivingPostfix(cert, key).start()
    yield pf
    pf.stop()


@pytest.fixture
def relay_to_postfix(postfix, postel_factory):
    z = ZoneServer(ZONE)
    try:
        srv = postel_factory(relay="yes", relay_port=str(postfix.smtp),
                             dns_resolver=z.address, dns_trust_anchor="none",
                             queue_retry_min="600", queue_retry_max="600")
        yield srv, postfix
    finally:
        z.close()


def split_fields(head):
    """[(name, raw field bytes with folded lines)] of an LF header block."""
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b"\n" + line)
        else:
            fields.append((line.split(b":", 1)[0].lower(), line))
    return fields


def body_lines(tok):
    return (["Grüße aus Köln, naïve café", ".a dot line", "..", ".", "trailing  ",
             "\ttab", ""] + [f"{i:05d} " + "x" * 70 for i in range(4000)] +
            ["end " + tok])


def test_relayed_to_postfix_over_starttls_byte_for_byte(relay_to_postfix):
    srv, pf = relay_to_postfix
    before = len(pf.mails())
    tok = token()
    rcpt = f"u{tok[1:9]}@pfx.example"
    msg = make_message(tok, to=rcpt, body=body_lines(tok),
                       extra_headers=["MIME-Version: 1.0",
                                      "Content-Type: text/plain; charset=utf-8",
                                      "Content-Transfer-Encoding: 8bit"])
    assert len(msg) > 300_000  # many BDAT chunks
    qid = submit_raw(srv, " BODY=8BITMIME", [(rcpt, "")], msg)
    mails = [m for m in pf.wait(before + 1, 20) if tok.encode() in m]
    assert len(mails) == 1, srv.log_tail(30) + pf.log()
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert line and "tls=yes" in line and "codes=250" in line, line
    got = mails[0]
    want = msg.replace(b"\r\n", b"\n")
    assert got.endswith(want), got[-400:]
    head = got[:-len(want)]
    fields = split_fields(head.rstrip(b"\n"))
    names = [n for n, _ in fields]
    # Postfix's own: Return-Path, X-Original-To and Delivered-To
    # (virtual), its Received (saying TLS was used); then Postel's
    # Received, then the message
    assert names == [b"return-path", b"x-original-to", b"delivered-to", b"received",
                     b"received"], fields
    assert fields[0][1] == f"Return-Path: <{ALICE}>".encode(), fields[0]
    assert b"by mx.pfx.example (Postfix)" in fields[3][1], fields[3]
    assert re.search(rb"\(using TLSv1\.[23] ", fields[3][1]), fields[3]
    assert b"(Postel)" in fields[4][1], fields[4]
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
