"""What final delivery does to a message's content (hardening issue 8,
items 15-18): unique generated Message-IDs, the empty line before a
message whose first line is no header field, mail to postmaster (RFC 5321
4.5.1), client Return-Path fields removed (RFC 5321 4.4) and Delivered-To
loops refused or dropped (554 5.4.6). Stored messages are read back from
the Maildir and parsed with Python's email package, an independent parser.
Loopback only; every wait is bounded."""
import email
import email.policy
import os
import re
import shutil
import subprocess

import pytest

from conftest import (ALICE, BOB, DOMAIN, USERS, assert_not_delivered, make_message,
                      scaled, token)
from pop3_helpers import new_user

FETCHMAIL = shutil.which("fetchmail")

SENDER = "sender@remote.example"


def send(c, sender, rcpts, msg):
    """MAIL, RCPT... (each must be 250), DATA; the final reply."""
    r = c.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 250, r
    for rcpt in rcpts:
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, f"RCPT TO:<{rcpt}>: {r!r}"
    return c.data(msg)


def smtp_send(srv, rcpts, msg, sender=SENDER):
    with srv.smtp() as c:
        c.ehlo()
        r = send(c, sender, rcpts, msg)
        c.quit()
    return r


def stored_one(srv, address, tok):
    found = srv.find(address, tok)
    assert len(found) == 1, f"{len(found)} copies with {tok} for {address}"
    return found[0]


def header_and_body(stored):
    head, sep, body = stored.partition(b"\r\n\r\n")
    assert sep, f"no empty line ends the header: {stored[:400]!r}"
    return head, body


def parse(stored):
    return email.message_from_bytes(stored, policy=email.policy.compat32)


def field_names(head):
    names = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        m = re.match(rb"([\x21-\x39\x3b-\x7e]+):", line)
        assert m, f"header line that is no field: {line!r}"
        names.append(m.group(1).decode().lower())
    return names


# --------------------------------------------------------------------------
# 15. Message-IDs


def test_generated_message_ids_unique_in_one_session(postel):
    """Three messages without Message-ID in one session, within a second or
    two: three different IDs (the old ID was time + session id, so at
    least two of three shared it)."""
    toks = [token() for _ in range(3)]
    with postel.submission_authed(ALICE) as c:
        for tok in toks:
            msg = make_message(tok, sender=ALICE, to=BOB, message_id=False)
            r = send(c, ALICE, [BOB], msg)
            assert r.code == 250, r
        c.quit()
    ids = []
    for tok in toks:
        m = parse(stored_one(postel, BOB, tok))
        values = m.get_all("Message-ID")
        assert values and len(values) == 1, values
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", values[0]), values[0]
        ids.append(values[0])
    assert len(set(ids)) == 3, f"generated Message-IDs repeat: {ids}"


# --------------------------------------------------------------------------
# 16. a message without a header


HEADERLESS = [
    b"Hello, this message has no header at all.\r\n",
    b"Subject : a space before the colon is no field here\r\n",
    b" an indented first line\r\n",
    b"From someone@example.net Thu Jan  1 00:00:00 2026\r\n",
    b"no colon on this line\r\nSubject: looks like a field but is body\r\n",
]


@pytest.mark.parametrize("first", HEADERLESS, ids=range(len(HEADERLESS)))
def test_headerless_message_gets_the_empty_line(postel, first):
    tok = token()
    original = first + b"second line\r\n\r\nend " + tok.encode() + b"\r\n"
    with postel.submission_authed(ALICE) as c:
        r = send(c, ALICE, [BOB], original)
        assert r.code == 250, r
        c.quit()
    stored = stored_one(postel, BOB, tok)
    # fetchmail's shape: the added fields, one empty line, the original
    head, body = header_and_body(stored)
    assert body == original, f"body is not the original text: {stored!r}"
    names = field_names(head)
    for name in ("return-path", "delivered-to", "received", "date", "message-id"):
        assert name in names, f"{name} missing: {head!r}"
    m = parse(stored)
    assert not m.defects, m.defects
    assert m["Date"] and m["Message-ID"], head
    assert m.get_payload(decode=False).encode() == original


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail not installed")
def test_headerless_message_fetchmail(postel, tmp_path):
    """fetchmail (POP3 with STLS, nokeep) takes the message whole and
    deletes it from the maildrop, the original text as its body."""
    user, password = new_user(postel)
    tok = token()
    original = b"No header here, just text.\r\nend " + tok.encode() + b"\r\n"
    assert smtp_send(postel, [user], original).code == 250
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f"#!/bin/sh\nexec cat > \"$(mktemp -p {out_dir} msg.XXXXXX)\"\n")
    mda.chmod(0o755)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"set no syslog\npoll 127.0.0.1 service {postel.pop3_port} protocol pop3 uidl\n"
        f"  user \"{user}\" password \"{password}\" is nobody here\n"
        f"  sslproto TLS1.2+ no sslcertck nokeep fetchall\n"
        f"  mda \"{mda}\"\n")
    rc.chmod(0o600)
    env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
    p = subprocess.run([FETCHMAIL, "-f", str(rc), "-v", "--nodetach",
                        "--pidfile", str(tmp_path / "pid")],
                       capture_output=True, timeout=scaled(60), env=env)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    got = [f.read_bytes() for f in out_dir.iterdir()]
    assert len(got) == 1, (got, p.stdout)
    head, _, body = got[0].partition(b"\n\n")
    assert body == original.replace(b"\r\n", b"\n"), got[0]
    assert b"Return-Path:" in head and b"No header" not in head, head
    assert postel.messages(user) == [], "fetchmail left the message on the server"


def test_message_starting_with_empty_line_unchanged(postel):
    """An empty first line already ends the (empty) header: nothing is
    inserted, the message is stored as sent after the added fields."""
    tok = token()
    original = b"\r\nbody after an empty header " + tok.encode() + b"\r\n"
    r = smtp_send(postel, [ALICE], original)
    assert r.code == 250, r
    stored = stored_one(postel, ALICE, tok)
    assert stored.endswith(b"\r\n" + original), stored
    head, body = header_and_body(stored)
    assert body == original[2:]
    assert field_names(head)[:3] == ["return-path", "delivered-to", "received"]


def test_message_with_header_unchanged(postel):
    tok = token()
    original = make_message(tok, sender=SENDER, to=ALICE)
    assert smtp_send(postel, [ALICE], original).code == 250
    stored = stored_one(postel, ALICE, tok)
    assert stored.endswith(original)
    assert b"\r\n\r\n" + original not in stored


# --------------------------------------------------------------------------
# 17. postmaster


def fresh_server(postel_factory, **overrides):
    """Domains and users only: no postmaster alias."""
    srv = postel_factory(accounts=False, **overrides)
    srv.cli("domain", "add", DOMAIN)
    for address, password in USERS.items():
        srv.add_user(address, password)
    return srv


@pytest.mark.parametrize("rcpt", ["postmaster", "Postmaster@example.org",
                                  "POSTMASTER", "postmaster@EXAMPLE.ORG"])
def test_postmaster_without_alias(postel_factory, rcpt):
    """Port 25, not authenticated, no alias: accepted, and delivered to the
    first user added (alice)."""
    srv = fresh_server(postel_factory)
    tok = token()
    msg = make_message(tok, sender=SENDER, to=rcpt)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, f"RCPT TO:<{rcpt}>: {r!r}"
        r = c.data(msg)
        assert r.code == 250, r
        c.quit()
    assert len(srv.find(ALICE, tok)) == 1
    assert srv.find(BOB, tok) == []


def test_postmaster_address_setting(postel_factory):
    srv = fresh_server(postel_factory, postmaster_address=BOB)
    tok = token()
    assert smtp_send(srv, ["postmaster", "postmaster@example.org"],
                     make_message(tok, sender=SENDER, to="postmaster")).code == 250
    assert len(srv.find(BOB, tok)) == 1, "postmaster mail not in postmaster_address"
    assert srv.find(ALICE, tok) == []


def test_postmaster_bare_uses_alias(postel):
    """With the standard accounts postmaster@example.org is an alias of
    alice; <postmaster> reaches the same mailbox."""
    tok = token()
    assert smtp_send(postel, ["postmaster"],
                     make_message(tok, sender=SENDER, to="postmaster")).code == 250
    assert len(postel.find(ALICE, tok)) == 1


def test_other_unknown_user_still_refused(postel_factory):
    srv = fresh_server(postel_factory)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd("RCPT TO:<postmistress@example.org>")
        assert r.code == 550, r
        r = c.cmd("RCPT TO:<postmaster@elsewhere.example>")
        assert r.code == 554, r
        c.quit()


# --------------------------------------------------------------------------
# 18. trace fields the client wrote


@pytest.mark.parametrize("filler_lines", [0, 3000], ids=["in-memory", "spool-file"])
def test_client_return_path_removed(postel, filler_lines):
    """Also for a message over 64 KiB, which is spooled to a file and
    copied from it in pieces around the removed fields."""
    tok = token()
    filler = ["filler line %05d abcdefghijklmnopqrstuvwxyz" % i for i in range(filler_lines)]
    original = make_message(
        tok, sender=SENDER, to=ALICE,
        extra_headers=["Return-Path: <forged@evil.example>",
                       "return-path:", " <folded@evil.example>"],
        body=["Return-Path: <in-the-body@keep.example>"] + filler + ["end " + tok])
    assert smtp_send(postel, [ALICE], original).code == 250
    stored = stored_one(postel, ALICE, tok)
    head, body = header_and_body(stored)
    assert b"evil.example" not in head, head
    m = parse(stored)
    assert m.get_all("Return-Path") == [f"<{SENDER}>"], m.get_all("Return-Path")
    assert b"Return-Path: <in-the-body@keep.example>\r\n" in body
    # everything else the client sent is there, in order
    expect = original.replace(b"Return-Path: <forged@evil.example>\r\n", b"") \
        .replace(b"return-path:\r\n <folded@evil.example>\r\n", b"")
    assert stored.endswith(expect)


def test_delivered_to_loop_refused(postel):
    tok = token()
    msg = make_message(tok, sender=SENDER, to=ALICE,
                       extra_headers=["Delivered-To: ALICE@Example.org"])
    with postel.smtp() as c:
        c.ehlo()
        r = send(c, SENDER, [ALICE], msg)
        assert r.code == 554 and r.enhanced == "5.4.6", r
        assert c.cmd("NOOP").code == 250
        c.quit()
    assert_not_delivered(postel, tok)
    assert postel.wait_for_log(r"event=mail_loop rcpt=\S*alice@example.org\S* action=refused")


def test_delivered_to_loop_through_alias(postel):
    """postmaster@example.org -> alice: the final recipient is compared."""
    tok = token()
    msg = make_message(tok, sender=SENDER, to="postmaster@example.org",
                       extra_headers=["Delivered-To:", "\t<alice@example.org>"])
    r = smtp_send(postel, ["postmaster@example.org"], msg)
    assert r.code == 554 and r.enhanced == "5.4.6", r
    assert_not_delivered(postel, tok)


def test_delivered_to_loop_others_delivered(postel):
    """One reply for all recipients: the looping copy is dropped (its
    mailbox has the message already), the others are delivered."""
    tok = token()
    msg = make_message(tok, sender=SENDER, to=ALICE,
                       extra_headers=["Delivered-To: alice@example.org"])
    r = smtp_send(postel, [ALICE, BOB], msg)
    assert r.code == 250, r
    assert postel.find(ALICE, tok) == []
    stored = stored_one(postel, BOB, tok)
    m = parse(stored)
    # ours first, the client's kept
    assert m.get_all("Delivered-To") == [BOB, "alice@example.org"], m.get_all("Delivered-To")
    assert postel.wait_for_log(r"event=mail_loop rcpt=\S*alice@example.org\S* action=dropped")


def test_delivered_to_other_address_kept(postel):
    tok = token()
    msg = make_message(tok, sender=SENDER, to=ALICE,
                       extra_headers=["Delivered-To: someone@else.example"],
                       body=["Delivered-To: alice@example.org", "end " + tok])
    assert smtp_send(postel, [ALICE], msg).code == 250
    stored = stored_one(postel, ALICE, tok)
    assert stored.endswith(msg)
    assert parse(stored).get_all("Delivered-To") == [ALICE, "someone@else.example"]
