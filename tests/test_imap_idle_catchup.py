"""An IDLE client that stops reading and then catches up gets the net
state of its mailbox, not every change made meanwhile (imap_select_sync.c
"Catching up", imap_idle.c; RFC 9051 7.5.2 and RFC 7162 3.2 let the
server report flags and MODSEQ as they are now).

The stalled session's pipe is first filled with a burst of long FETCH
lines (keywords on FILLER messages: more than the kernel and the output
threshold hold), so that every later round is made while it is behind.
Then another session toggles \\Flagged ROUNDS times on TOGGLED other
messages. Reading again, the client must get at most one FETCH per
toggled message (the old code rendered every round: ROUNDS per message),
with the final flags and, under CONDSTORE, the final MODSEQ. The same
for a NOTIFY session between commands (RFC 5465 5.1-5.3: SELECTED with
FlagChange), whose reports take the same path."""
import re
import socket
import time

import pytest

from conftest import running_postel, scaled
from imap_helpers import IMAPRaw, new_user, status_of
from test_imap_idle_slow_reader import fill

FILLER = 200
TOGGLED = 100
ROUNDS = 21  # odd: the last round sets \Flagged
# 10 keywords of 90 characters: ~930-octet FETCH lines, ~190 KB in all
KEYWORDS = " ".join(f"k{i}" + "x" * 88 for i in range(10))


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1) as s:
        yield s


def stalled_session(srv, user, pw, mode):
    c = IMAPRaw(srv.imaps_port, tls=True)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.login(user, pw)
    tagged, _ = c.command("ENABLE CONDSTORE")
    assert status_of(tagged) == "OK", tagged
    tagged, _ = c.command("SELECT INBOX")
    assert status_of(tagged) == "OK", tagged
    if mode == "notify":
        tagged, _ = c.command("NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange))")
        assert status_of(tagged) == "OK", tagged
        return c
    c.send(b"i1 IDLE\r\n")
    assert c.read_line().startswith(b"+ "), "no IDLE continuation"
    return c


@pytest.mark.parametrize("mode", ["idle", "notify"])
def test_stalled_session_catches_up_with_net_state(srv, mode):
    user, pw = new_user(srv)
    first, last = FILLER + 1, FILLER + TOGGLED
    with IMAPRaw(srv.imaps_port, tls=True) as writer:
        writer.login(user, pw)
        fill(writer, FILLER + TOGGLED)
        tagged, _ = writer.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        stalled = stalled_session(srv, user, pw, mode)

        # the burst that leaves the stalled session behind
        tagged, _ = writer.command(f"STORE 1:{FILLER} +FLAGS.SILENT ({KEYWORDS})")
        assert status_of(tagged) == "OK", tagged
        time.sleep(0.5)
        for r in range(ROUNDS):
            op = "+" if r % 2 == 0 else "-"
            tagged, _ = writer.command(f"STORE {first}:{last} {op}FLAGS.SILENT (\\Flagged)",
                                       timeout=scaled(30))
            assert status_of(tagged) == "OK", tagged
        time.sleep(0.5)

        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        stalled.sock.settimeout(scaled(30))
        # IDLE ends with DONE; a NOTIFY session reads what was pushed
        # and then a NOOP's reply
        stalled.send(b"DONE\r\n" if mode == "idle" else b"i1 NOOP\r\n")
        told = {}  # sequence number -> list of (flags, modseq)
        stream = []  # ("ok", HIGHESTMODSEQ) or ("fetch", MODSEQ), in order
        for _ in range(20 * ROUNDS * (FILLER + TOGGLED)):
            line = stalled.read_line(timeout=scaled(30))
            if line.startswith(b"i1 "):
                assert status_of(line) == "OK", line
                break
            m = re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", line)
            if m:
                stream.append(("ok", int(m.group(1))))
            m = re.match(rb"\* (\d+) FETCH \((.*)\)\r?\n?$", line)
            if m:
                flags = re.search(rb"FLAGS \(([^)]*)\)", m.group(2))
                modseq = re.search(rb"MODSEQ \((\d+)\)", m.group(2))
                assert flags and modseq, line
                told.setdefault(int(m.group(1)), []).append(
                    (set(flags.group(1).split()), int(modseq.group(1))))
                stream.append(("fetch", int(modseq.group(1))))
        else:
            raise AssertionError("no tagged reply to DONE / NOOP")

        counts = [len(told.get(seq, [])) for seq in range(first, last + 1)]
        print(f"{mode}: toggled messages told {sum(counts)} times "
              f"(max {max(counts)} each) after {ROUNDS} rounds")
        # at most one FETCH per toggled message: the old code sent ROUNDS
        assert max(counts) <= 1, counts
        # a report cut short says so (RFC 7162 3.2's rule): a HIGHESTMODSEQ
        # below every change told after it, so a client that keeps the
        # highest MODSEQ it saw never skips an owed one
        cuts = [i for i, (kind, _) in enumerate(stream) if kind == "ok"]
        assert cuts, "the burst was never cut short"
        for i in cuts:
            later = [v for kind, v in stream[i + 1:] if kind == "fetch"]
            assert all(v > stream[i][1] for v in later), (stream[i], min(later))
        # and what it was told is the mailbox's state, MODSEQ included
        tagged, untagged = stalled.command(f"FETCH {first}:{last} (FLAGS MODSEQ)")
        assert status_of(tagged) == "OK", tagged
        now = {}
        for line in untagged:
            m = re.match(rb"\* (\d+) FETCH .*MODSEQ \((\d+)\)", line)
            if m:
                now[int(m.group(1))] = int(m.group(2))
        for seq in range(first, last + 1):
            assert told.get(seq), f"message {seq}'s net change was never told"
            flags, modseq = told[seq][-1]
            assert b"\\Flagged" in flags, (seq, flags)
            assert modseq == now[seq], (seq, modseq, now[seq])
        tagged, untagged = stalled.command("SEARCH FLAGGED")
        assert untagged[0].split()[2:] == [str(i).encode() for i in range(first, last + 1)]
        stalled.close()
