"""IMAP APPENDLIMIT (RFC 7889, issue 9): the limit CAPABILITY advertises
is the one STATUS (3.2) and LIST-STATUS (RFC 5819) report for every
mailbox (the config's message_size_limit, never NIL since the config has
no "no limit"), and the one APPEND enforces: a literal over it is refused
with NO [TOOBIG] (RFC 7889 4, RFC 4469 / RFC 9051 7.1) before any "+",
while a message of exactly the limit is stored."""
import re

import pytest

from conftest import BOB, make_message, running_postel, token
from imap_helpers import IMAPRaw, append_sync, new_user, status_of

LIMIT = 20000


@pytest.fixture(scope="module")
def srv():
    with running_postel(message_size_limit=str(LIMIT)) as s:
        yield s


def lines(untagged):
    return [ln.rstrip(b"\r\n") for ln in untagged]


def session(srv):
    user, pw = new_user(srv)
    c = IMAPRaw(srv.imaps_port, tls=True)
    c.login(user, pw)
    return c


def test_capability_advertises_the_limit(srv):
    with session(srv) as c:
        tagged, untagged = c.command("CAPABILITY")
        assert status_of(tagged) == "OK", tagged
        assert f"APPENDLIMIT={LIMIT}".encode() in untagged[0].split(), untagged


def test_status_appendlimit(srv):
    with session(srv) as c:
        tagged, untagged = c.command("STATUS INBOX (APPENDLIMIT)")
        assert status_of(tagged) == "OK", tagged
        assert lines(untagged) == [f'* STATUS "INBOX" (APPENDLIMIT {LIMIT})'.encode()], untagged
        tagged, untagged = c.command("STATUS INBOX (MESSAGES appendlimit UIDNEXT)")
        assert status_of(tagged) == "OK", tagged
        # items in the server's table order, each once (RFC 9051 7.3.4)
        assert lines(untagged) == [
            f'* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1 APPENDLIMIT {LIMIT})'.encode()], untagged
        tagged, untagged = c.command("STATUS Drafts (APPENDLIMIT)")
        assert status_of(tagged) == "OK", tagged
        assert lines(untagged) == [f'* STATUS "Drafts" (APPENDLIMIT {LIMIT})'.encode()], untagged


def test_list_status_appendlimit(srv):
    with session(srv) as c:
        tagged, untagged = c.command('LIST "" * RETURN (STATUS (APPENDLIMIT))')
        assert status_of(tagged) == "OK", tagged
        untagged = lines(untagged)
        lists = [ln for ln in untagged if ln.startswith(b"* LIST ")]
        statuses = [ln for ln in untagged if ln.startswith(b"* STATUS ")]
        assert lists and len(statuses) == len(lists), untagged
        assert f'* STATUS "INBOX" (APPENDLIMIT {LIMIT})'.encode() in statuses, untagged
        for line in statuses:
            assert re.fullmatch(rb"\* STATUS \"[^\"]+\" \(APPENDLIMIT %d\)" % LIMIT, line), line


def test_append_over_the_limit_is_toobig(srv):
    with session(srv) as c:
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX {{{LIMIT + 1}}}\r\n".encode())
        reply = c.read_line().rstrip(b"\r\n")
        # RFC 7889 4: refused from the size alone, no "+" first
        assert re.fullmatch(rb"%s NO \[TOOBIG\] .*" % tag.encode(), reply), reply
        tagged, untagged = c.command("STATUS INBOX (MESSAGES)")
        assert lines(untagged) == [b'* STATUS "INBOX" (MESSAGES 0)'], untagged


def test_append_of_exactly_the_limit_is_stored(srv):
    tok = token()
    msg = make_message(tok, sender=BOB, to=BOB)
    msg += b"x" * (LIMIT - len(msg) - 2) + b"\r\n"
    assert len(msg) == LIMIT
    with session(srv) as c:
        tagged = append_sync(c, "INBOX", msg)
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = c.command("STATUS INBOX (MESSAGES APPENDLIMIT)")
        assert lines(untagged) == [
            f'* STATUS "INBOX" (MESSAGES 1 APPENDLIMIT {LIMIT})'.encode()], untagged
