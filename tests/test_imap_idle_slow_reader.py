"""An IDLE client that never reads while another session changes its
mailbox a lot (issue 9): the server's memory stays bounded (the worker's
PSS, /proc/PID/smaps_rollup), other sessions are served meanwhile, and
the stalled session ends bounded too: either it is dropped at the output
limit (conn's output_overflow) or its pushes wait (imap_idle.c: a sync
starts once earlier output is written, and stops rendering flag changes
when the client falls behind, imap_select_sync.c) and, once it reads, it
gets a state that matches the mailbox. Which of the two happened is
printed: Postel holds it and, as it catches up, sends the net state, not
every round's FETCH (41,003 lines before, ~3,500 now;
tests/test_imap_idle_catchup.py checks it message by message).

Volume: MESSAGES messages, ROUNDS flag flips of all of them by the other
session; reported one by one that is ROUNDS x MESSAGES FETCH lines
(1.3 MB at 40 rounds, 1000 messages); at 160 rounds (5.3 MB) the worker grew by 638 KiB, far above the 1 MiB output limit."""
import re
import socket
import time

import pytest

from conftest import ASAN, BOB, make_message, running_postel, scaled, token
from imap_helpers import IMAPRaw, new_user, status_of
from procs import worker_kib

MESSAGES = 300 if ASAN else 1000
ROUNDS = 40  # 1.3 MB of FETCH lines: above the 1 MiB output limit
# the worker may grow by this much while the stalled session holds its
# output (1 MiB) and its view: far less than the unreported pushes
PSS_GROWTH_MAX_KIB = 6 * 1024


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1) as s:
        yield s


def worker_pss_kib(srv):
    return worker_kib(srv, "smaps_rollup", "Pss")


def fill(c, n):
    """n small messages into INBOX: MULTIAPPENDs of 100 with non-synchronising
    literals (LITERAL-: each under 4096 octets), sent at once."""
    tok = token()
    tags = []
    for first in range(0, n, 100):
        tag = c.tag()
        line = f"{tag} APPEND INBOX".encode()
        for i in range(first, min(first + 100, n)):
            msg = make_message(f"{tok}-{i}", sender=BOB, to=BOB)
            line += b" {%d+}\r\n" % len(msg) + msg
        c.send(line + b"\r\n")
        tags.append(tag)
    for tag in tags:
        tagged, _ = c.read_tagged(tag, timeout=scaled(60))
        assert status_of(tagged) == "OK", tagged


def test_idle_client_that_never_reads(srv):
    user, pw = new_user(srv)
    with IMAPRaw(srv.imaps_port, tls=True) as writer:
        writer.login(user, pw)
        fill(writer, MESSAGES)
        tagged, _ = writer.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged

        stalled = IMAPRaw(srv.imaps_port, tls=True)
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.login(user, pw)
        tagged, _ = stalled.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        stalled.send(b"i1 IDLE\r\n")
        assert stalled.read_line().startswith(b"+ "), "no IDLE continuation"
        # one round read normally, so what is measured next is the stall
        tagged, _ = writer.command("STORE 1:* +FLAGS.SILENT (\\Flagged)")
        assert status_of(tagged) == "OK", tagged
        time.sleep(0.5)
        before = worker_pss_kib(srv)

        t0 = time.monotonic()
        for r in range(ROUNDS):
            op = "-" if r % 2 == 0 else "+"
            tagged, _ = writer.command(f"STORE 1:* {op}FLAGS.SILENT (\\Flagged)",
                                       timeout=scaled(60))
            assert status_of(tagged) == "OK", tagged
            assert time.monotonic() - t0 < scaled(120), f"round {r} too slow"
        # then 10 more messages
        t_rounds = time.monotonic() - t0
        fill(writer, 10)
        time.sleep(1.0)
        after = worker_pss_kib(srv)
        growth = after - before
        dropped = bool(re.search(r"reason=output_overflow", srv.log()))
        fate = "dropped" if dropped else "held, output paused"
        print(f"{ROUNDS} rounds in {t_rounds:.1f} s; "
              f"worker PSS {before} -> {after} KiB (+{growth}); stalled session {fate}")
        if not ASAN:
            assert growth < PSS_GROWTH_MAX_KIB, (before, after)

        # others are served while it stalls
        with IMAPRaw(srv.imaps_port, tls=True) as other:
            other.login(user, pw)
            tagged, untagged = other.command("STATUS INBOX (MESSAGES)")
            assert untagged[0].rstrip() == f'* STATUS "INBOX" (MESSAGES {MESSAGES + 10})'.encode()

        # the stalled one now reads: dropped, or everything up to a
        # consistent state, then DONE's OK
        stalled.sock.settimeout(scaled(30))
        # a 4 KiB window reads at delayed-ACK pace: open it up
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        exists, flagged, nlines = None, set(), 0
        if dropped:
            stalled.close()
            return
        stalled.send(b"DONE\r\n")
        t_read = time.monotonic()
        for _ in range(10 * ROUNDS * MESSAGES):
            line = stalled.read_line(timeout=scaled(30))
            nlines += 1
            if line.startswith(b"i1 "):
                assert status_of(line) == "OK", line
                break
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                exists = int(m.group(1))
            m = re.match(rb"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", line)
            if m:
                if b"\\Flagged" in m.group(2).split():
                    flagged.add(int(m.group(1)))
                else:
                    flagged.discard(int(m.group(1)))
        else:
            raise AssertionError("no tagged reply to DONE")
        print(f"read {nlines} lines in {time.monotonic() - t_read:.1f} s")
        # not every round (ROUNDS x MESSAGES lines): the net state
        assert nlines < ROUNDS * MESSAGES // 4, nlines
        assert exists == MESSAGES + 10, exists
        # the last round (odd) set \Flagged everywhere: what the session
        # was told is what the mailbox holds
        want = set(range(1, MESSAGES + 1))
        assert flagged == want, sorted(want - flagged)[:10]
        tagged, untagged = stalled.command("SEARCH FLAGGED")
        assert untagged[0].split()[2:] == [str(i).encode() for i in sorted(want)]
        stalled.close()
