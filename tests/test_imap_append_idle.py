"""IMAP APPEND (RFC 9051 6.3.12, RFC 4315 APPENDUID, RFC 7889
APPENDLIMIT, RFC 3516 ~{n}) streamed into the store, and IDLE (RFC 2177)
with changes from other sessions in other workers (issue 9 items 8-10)."""
import calendar
import imaplib
import poplib
import re
import signal
import smtplib
import socket
import time

import pytest

from conftest import ASAN, BOB, SANITIZER_MARKERS, client_tls_context, make_message, scaled, token
from imap_helpers import IMAPRaw, fresh_ip, login, new_user, status_of
from procs import children_of, pid_alive


def session(srv, user, pw, source=None):
    c = IMAPRaw(srv.imaps_port, tls=True, source=source)
    c.login(user, pw)
    return c


def append_raw(c, head, msg, prefix=None):
    """'TAG APPEND head {n}', the octets after '+', the tagged reply."""
    tag = c.tag()
    prefix = prefix or f"{{{len(msg)}}}"
    c.send(f"{tag} APPEND {head} {prefix}\r\n".encode())
    if not prefix.endswith("+}"):
        line = c.read_line()
        if not line.startswith(b"+"):
            return line, []
    c.send(msg + b"\r\n")
    return c.read_tagged(tag)


def msg_for(tok, size=None):
    msg = make_message(tok, sender=BOB, to=BOB)
    if size:
        msg += (b"x" * 76 + b"\r\n") * ((size - len(msg)) // 78)
    return msg


def test_append_with_flags_and_date_then_select(postel):
    user, pw = new_user(postel)
    tok = token()
    msg = msg_for(tok)
    with session(postel, user, pw) as c:
        tagged, _ = append_raw(c, 'INBOX (\\Seen $Work) "14-Jul-2024 02:44:25 +0200"', msg)
        m = re.match(rb"t\d+ OK \[APPENDUID (\d+) (\d+)\]", tagged)
        assert m, tagged
        uidvalidity, uid = int(m[1]), int(m[2])
        tagged, untagged = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK"
        assert b"* 1 EXISTS\r\n" in untagged, untagged
        flags = [x for x in untagged if x.startswith(b"* FLAGS")][0]
        assert b"$Work" in flags, flags
        assert not [x for x in untagged if b"[UNSEEN" in x], untagged  # it is \Seen
        assert [x for x in untagged if f"[UIDVALIDITY {uidvalidity}]".encode() in x]
        assert [x for x in untagged if f"[UIDNEXT {uid + 1}]".encode() in x]
    found = postel.messages(user)
    assert len(found) == 1 and found[0][1] == msg
    path = found[0][0]
    assert path.name.endswith(":2,S"), path.name
    want = calendar.timegm((2024, 7, 14, 0, 44, 25))
    assert int(path.stat().st_mtime) == want


def test_append_to_the_selected_mailbox_reports_exists(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 0 EXISTS\r\n" in untagged
        tagged, untagged = append_raw(c, "INBOX", msg_for(token()))
        assert b"APPENDUID" in tagged, tagged
        assert b"* 1 EXISTS\r\n" in untagged, untagged
        # another mailbox: no EXISTS for the selected one
        tagged, untagged = append_raw(c, "Drafts (\\Draft)", msg_for(token()))
        assert b"APPENDUID" in tagged and b"EXISTS" not in b"".join(untagged)


def test_append_trycreate_toobig_and_bad_forms(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        tagged, untagged = c.command("CAPABILITY")
        caps = untagged[0].split()
        assert b"APPENDLIMIT=52428800" in caps and b"IDLE" in caps, caps
        tagged, _ = append_raw(c, "NoSuchBox", b"x" * 10)
        assert tagged.split()[1:3] == [b"NO", b"[TRYCREATE]"], tagged
        # RFC 7889: over the limit refused before any "+"
        tagged, _ = append_raw(c, "INBOX", b"", prefix="{52428801}")
        assert tagged.split()[1:3] == [b"NO", b"[TOOBIG]"], tagged
        tagged, _ = append_raw(c, "INBOX (\\Bogus)", b"x" * 10)
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command("APPEND INBOX")
        assert status_of(tagged) == "BAD", tagged
        # a {n+} within 4096 needs no "+" (RFC 7888)
        tok = token()
        tagged, _ = append_raw(c, "INBOX", msg_for(tok), prefix=f"{{{len(msg_for(tok))}+}}")
        assert b"APPENDUID" in tagged, tagged
        # a refused {n+}'s octets are dropped, not run as commands
        tagged, _ = append_raw(c, "Nowhere", b"A1 LOGOUT", prefix="{9+}")
        assert tagged.split()[1:3] == [b"NO", b"[TRYCREATE]"], tagged
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"
        # NUL only in ~{n} (RFC 9051 4.3, RFC 3516)
        nul = b"Subject: x\r\n\r\na\x00b"
        tagged, _ = append_raw(c, "INBOX", nul)
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = append_raw(c, "INBOX", nul, prefix=f"~{{{len(nul)}}}")
        assert b"APPENDUID" in tagged, tagged
        # the mailbox as a literal, then the message
        tag = c.tag()
        c.send(f"{tag} APPEND {{6}}\r\n".encode())
        assert c.read_line().startswith(b"+")
        msg = msg_for(token())
        c.send(b"Drafts " + f"{{{len(msg)}}}\r\n".encode())
        assert c.read_line().startswith(b"+")
        c.send(msg + b"\r\n")
        tagged, _ = c.read_tagged(tag)
        assert b"APPENDUID" in tagged, tagged
    assert len(postel.messages(user)) == 2
    assert len(postel.messages(user, ".Drafts")) == 1


def test_nonsync_literal_over_4096_is_refused(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX {{5000+}}\r\n".encode())
        line = c.read_line()
        assert line.startswith(tag.encode() + b" BAD [TOOBIG]"), line
    assert postel.messages(user) == []


def test_append_cut_off_mid_literal_stores_nothing(postel):
    user, pw = new_user(postel)
    tok = token()
    msg = msg_for(tok, size=300000)
    with session(postel, user, pw) as c:
        c.send(f"a1 APPEND INBOX {{{len(msg)}}}\r\n".encode())
        assert c.read_line().startswith(b"+")
        c.send(msg[:200000])
        time.sleep(scaled(0.3))
    deadline = time.monotonic() + scaled(10)
    while postel.all_files_containing(tok) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert postel.all_files_containing(tok) == []
    with session(postel, user, pw) as c:
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 0 EXISTS\r\n" in untagged


def worker_vmhwm(srv):
    total = {}
    for pid in srv.children():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total[pid] = int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def test_a_20_mib_append_is_streamed(postel):
    user, pw = new_user(postel)
    tok = token()
    msg = msg_for(tok, size=20 * 1024 * 1024)
    with session(postel, user, pw) as c:
        # warm the workers up: a small APPEND in each, so the measure is
        # the big message only
        append_raw(c, "INBOX", msg_for(token()))
        before = worker_vmhwm(postel)
        tagged, _ = append_raw(c, "INBOX", msg)
        assert b"APPENDUID" in tagged, tagged
        after = worker_vmhwm(postel)
    growth = max(after[p] - before.get(p, 0) for p in after)
    print(f"vmhwm_growth_kib={growth} message_kib={len(msg) // 1024}")
    # under ASan freed memory sits in the quarantine: not judged (as in
    # test_memory_flat.py)
    if not ASAN:
        assert growth * 1024 < len(msg) // 4, (before, after)
    found = postel.find(user, tok)
    assert len(found) == 1 and found[0] == msg


def test_imaplib_append(postel):
    user, pw = new_user(postel)
    tok = token()
    c = login(postel, user, pw, implicit=True)
    typ, data = c.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(time.time()),
                         msg_for(tok))
    assert typ == "OK" and b"APPENDUID" in data[0], data
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    c.logout()
    assert postel.messages(user)[0][0].name.endswith(":2,F")


# --- IDLE

def pid_of_ip(srv, ip, service):
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline:
        for line in srv.log().splitlines():
            if f"event=connect ip={ip} " in line and f"service={service}" in line:
                return int(re.search(r" pid=(\d+)", line)[1])
        time.sleep(0.02)
    raise AssertionError(f"no connect line for {ip}")


def idle_session(srv, user, pw):
    ip = fresh_ip()
    c = session(srv, user, pw, source=ip)
    tagged, untagged = c.command("SELECT INBOX")
    assert status_of(tagged) == "OK"
    tag = c.tag()
    c.send(f"{tag} IDLE\r\n".encode())
    assert c.read_line() == b"+ idling\r\n"
    return c, tag, pid_of_ip(srv, ip, "imaps")


def in_other_worker(srv, make, service, idle_pid):
    """make(ip) opens a connection; retried until it lands in a worker
    other than idle_pid (bounded: 200 tries or scaled(20) seconds). Every
    worker polls the listening socket and the first awake accepts, so
    under load one worker may take many in a row: a short pause between
    tries lets the other one wake."""
    deadline = time.monotonic() + scaled(20)
    tries = 0
    for attempt in range(200):
        ip = fresh_ip()
        conn = make(ip)
        tries += 1
        if pid_of_ip(srv, ip, service) != idle_pid:
            return conn
        conn.close() if hasattr(conn, "close") else conn.quit()
        if time.monotonic() > deadline:
            break
        time.sleep(0.02 * min(attempt + 1, 10))
    # seen once in CI (not reproduced in 20 runs here, loaded or not): say
    # whether the other worker was alive and when it last accepted anything
    workers = children_of(srv.proc.pid)
    last = {}
    for line in srv.log().splitlines():
        # the pid is in the line's prefix, before event= (see pid_of_ip)
        m = re.search(r" pid=(\d+)", line) if "event=connect " in line else None
        if m:
            last[int(m[1])] = line[:40]
    pytest.fail(f"every connection ({tries}) landed in the idling session's worker "
                f"{idle_pid}; workers now {workers} (alive: "
                f"{[pid_alive(w) for w in workers]}); last connect per pid {last}")


def test_idle_done_and_garbage(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        # in the authenticated state IDLE just waits
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line() == b"+ idling\r\n"
        c.send(b"done\r\n")
        tagged, untagged = c.read_tagged(tag)
        assert status_of(tagged) == "OK" and untagged == []
        c.command("SELECT INBOX")
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line() == b"+ idling\r\n"
        c.send(b"a2 NOOP\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"
        tagged, _ = c.command("IDLE now")
        assert status_of(tagged) == "BAD"


def wait_untagged(c, want, limit):
    start = time.monotonic()
    line = c.read_line(timeout=5)
    elapsed = time.monotonic() - start
    assert line == want, line
    assert elapsed < scaled(limit), elapsed
    return elapsed


def test_idle_gets_smtp_delivery_and_pop3_expunge_from_other_workers(postel):
    user, pw = new_user(postel)
    c, tag, idle_pid = idle_session(postel, user, pw)
    with c:
        smtp = in_other_worker(postel, lambda ip: smtplib.SMTP(
            "127.0.0.1", postel.smtp_port, timeout=scaled(10), source_address=(ip, 0)),
            "smtp", idle_pid)
        smtp.sendmail(BOB, [user], make_message(token(), sender=BOB, to=user))
        smtp.quit()
        wait_untagged(c, b"* 1 EXISTS\r\n", 1.0)
        assert c.read_line(timeout=2) == b"* 1 RECENT\r\n"
        p = in_other_worker(postel, lambda ip: pop3_login_from(postel, user, pw, ip),
                            "pop3", idle_pid)
        p.dele(1)
        p.quit()
        wait_untagged(c, b"* 1 EXPUNGE\r\n", 1.0)
        c.send(b"DONE\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK"


class SourcePOP3(poplib.POP3):
    """poplib from a given source address."""

    def __init__(self, port, source):
        self.source = source
        super().__init__("127.0.0.1", port, timeout=scaled(10))

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))


def pop3_login_from(srv, user, pw, ip):
    p = SourcePOP3(srv.pop3_port, ip)
    p.stls(client_tls_context())
    p.user(user)
    p.pass_(pw)
    return p


def test_idle_gets_flag_change_and_expunge_from_imap(postel):
    user, pw = new_user(postel)
    tok = token()
    with session(postel, user, pw) as c0:
        append_raw(c0, "INBOX", msg_for(tok))
        append_raw(c0, "INBOX", msg_for(token()))
    c, tag, idle_pid = idle_session(postel, user, pw)
    with c:
        other = in_other_worker(postel, lambda ip: session(postel, user, pw, source=ip),
                                "imaps", idle_pid)
        with other:
            other.command("SELECT INBOX")
            other.command("STORE 2 +FLAGS (\\Seen)")
            line = c.read_line(timeout=scaled(1))
            assert line.startswith(b"* 2 FETCH (FLAGS (") and b"\\Seen" in line, line
            other.command("STORE 1 +FLAGS (\\Deleted)")
            c.read_line(timeout=scaled(1))
            other.command("EXPUNGE")
            wait_untagged(c, b"* 1 EXPUNGE\r\n", 1.0)
        c.send(b"DONE\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK"


def test_idle_ends_with_bye_when_the_server_stops(postel_factory):
    srv = postel_factory()
    user, pw = new_user(srv)
    c, tag, _ = idle_session(srv, user, pw)
    with c:
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        line = c.read_line(timeout=5)
        assert line.startswith(b"* BYE [UNAVAILABLE]"), line
        assert time.monotonic() - start < scaled(3)
        assert srv.proc.wait(timeout=scaled(10)) == 0
    srv.proc = None  # stopped here: the fixture has nothing to stop
    assert not [m for m in SANITIZER_MARKERS if m in srv.log()]
