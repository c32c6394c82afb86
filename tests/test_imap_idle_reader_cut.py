"""An IDLE client that reads at once is never told "Flag changes pending":
a net report (imap_select_sync.c "Catching up") is cut short only when it
had to wait long for the client to read while the mailbox changed again.
conn_write() only appends and the loop writes after the report, so the
report's own unsent output must not count as a stalled client (the old
code cut any report over 16 KiB that raced another change).

A reader in IDLE (CONDSTORE on, so a cut says OK [HIGHESTMODSEQ] ... Flag
changes pending) reads on a thread while one session sets and clears a
long keyword on MESSAGES messages (reports of ~60 KiB each) and another
flips \\Answered on message 1 all the while, so that a change races every
big report. Every report must arrive whole: no cut, and the last round's
state told for every message."""
import re
import threading
import time

import pytest

from conftest import running_postel, scaled
from imap_helpers import IMAPRaw, new_user, status_of
from test_imap_idle_slow_reader import fill

MESSAGES = 600
ROUNDS = 5  # odd: the last round sets the keyword
KEYWORD = "kw" + "y" * 60
TOGGLE_MAX = 2000  # bound on the racing session's STOREs


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1) as s:
        yield s


def test_reading_idle_client_gets_whole_reports(srv):
    user, pw = new_user(srv)
    with IMAPRaw(srv.imaps_port, tls=True) as writer, \
            IMAPRaw(srv.imaps_port, tls=True) as toggler, \
            IMAPRaw(srv.imaps_port, tls=True) as reader:
        writer.login(user, pw)
        fill(writer, MESSAGES)
        for c in (writer, toggler):
            if c is toggler:
                c.login(user, pw)
            tagged, _ = c.command("SELECT INBOX")
            assert status_of(tagged) == "OK", tagged
        reader.login(user, pw)
        tagged, _ = reader.command("ENABLE CONDSTORE")
        assert status_of(tagged) == "OK", tagged
        tagged, _ = reader.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        reader.send(b"i1 IDLE\r\n")
        assert reader.read_line().startswith(b"+ "), "no IDLE continuation"

        lines = []
        finish = threading.Event()
        failure = []

        def read_all():
            # this thread alone uses the reader's (TLS) socket: it sends
            # DONE itself once the others are finished and a second passed
            # without a line
            try:
                sent_done = False
                deadline = time.monotonic() + scaled(180)
                while time.monotonic() < deadline:
                    try:
                        line = reader.read_line(timeout=1)
                    except TimeoutError:
                        if finish.is_set() and not sent_done:
                            reader.send(b"DONE\r\n")
                            sent_done = True
                        continue
                    lines.append(line)
                    if line.startswith(b"i1 "):
                        return
            except Exception as e:  # reported by the main thread
                failure.append(e)

        stop = threading.Event()

        def toggle():
            try:
                for i in range(TOGGLE_MAX):
                    if stop.is_set():
                        return
                    op = "+" if i % 2 == 0 else "-"
                    tagged, _ = toggler.command(f"STORE 1 {op}FLAGS.SILENT (\\Answered)")
                    assert status_of(tagged) == "OK", tagged
            except Exception as e:
                failure.append(e)

        rt = threading.Thread(target=read_all, daemon=True)
        tt = threading.Thread(target=toggle, daemon=True)
        rt.start()
        tt.start()
        try:
            for r in range(ROUNDS):
                op = "+" if r % 2 == 0 else "-"
                tagged, _ = writer.command(f"STORE 2:{MESSAGES} {op}FLAGS.SILENT ({KEYWORD})",
                                           timeout=scaled(30))
                assert status_of(tagged) == "OK", tagged
                time.sleep(0.3)
        finally:
            stop.set()
            tt.join(scaled(60))
        finish.set()
        rt.join(scaled(200))
        assert not failure, failure
        assert lines and lines[-1].startswith(b"i1 "), "no tagged reply to DONE"
        assert status_of(lines[-1]) == "OK", lines[-1]
        cuts = [line for line in lines if b"Flag changes pending" in line]
        fetches = sum(1 for line in lines if re.match(rb"\* \d+ FETCH ", line))
        print(f"{fetches} FETCH lines, {len(cuts)} cut(s)")
        assert not cuts, f"a reading client's report was cut: {cuts[:3]}"
        # the last round's state, told for every message
        last = {}
        for line in lines:
            m = re.match(rb"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", line)
            if m:
                last[int(m.group(1))] = m.group(2).split()
        missing = [seq for seq in range(2, MESSAGES + 1)
                   if KEYWORD.encode() not in last.get(seq, [])]
        assert not missing, f"{len(missing)} messages lack the last round's keyword"
