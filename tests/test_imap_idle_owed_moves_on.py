"""Under constant changes an IDLE client that keeps falling behind is
still told every owed message in turn (imap_select_sync.c "Catching up",
imap_sync_owed()): each report cut short resumes from the UID where the
last one stopped, not from the lowest changed UID.

A stalled reader (small receive buffer, CONDSTORE) is left behind by a
burst of long FETCH lines on all MESSAGES messages; then, ROUNDS times,
another session changes the LOW lowest messages while the reader does not
read, and the reader reads up to the next "Flag changes pending". The old
code put the low messages (the sync's own changes, first in UID order)
first in every report, so each cut report told only them again and the
owed higher messages waited for ever; now the told UIDs move up."""
import re
import time

import pytest

from conftest import running_postel, scaled
from imap_helpers import IMAPRaw, new_user, status_of
from test_imap_idle_catchup import KEYWORDS, stalled_session
from test_imap_idle_slow_reader import fill

MESSAGES = 300
LOW = 100
ROUNDS = 5


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1) as s:
        yield s


def read_to_cut(c, seqs):
    """Read up to the next cut line; FETCH sequence numbers into seqs."""
    for _ in range(20 * MESSAGES):
        line = c.read_line(timeout=30)
        if b"Flag changes pending" in line:
            return True
        m = re.match(rb"\* (\d+) FETCH ", line)
        if m:
            seqs.append(int(m.group(1)))
    return False


def test_cut_reports_move_on(srv):
    user, pw = new_user(srv)
    with IMAPRaw(srv.imaps_port, tls=True) as writer:
        writer.login(user, pw)
        fill(writer, MESSAGES)
        tagged, _ = writer.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        c = stalled_session(srv, user, pw, "idle")

        tagged, _ = writer.command(f"STORE 1:{MESSAGES} +FLAGS.SILENT ({KEYWORDS})")
        assert status_of(tagged) == "OK", tagged
        told = []  # per round: the sequence numbers told up to its cut
        for r in range(ROUNDS + 1):
            time.sleep(0.3)
            op = "+" if r % 2 == 0 else "-"
            tagged, _ = writer.command(f"STORE 1:{LOW} {op}FLAGS.SILENT (\\Flagged)",
                                       timeout=scaled(30))
            assert status_of(tagged) == "OK", tagged
            time.sleep(0.6)  # the report waits for the reader that long
            seqs = []
            if not read_to_cut(c, seqs):
                break
            told.append(seqs)
        c.close()
    assert len(told) >= 3, f"only {len(told)} cut reports"
    highest = [max(s, default=0) for s in told]
    print(f"highest sequence number told per cut report: {highest}")
    # after the first cut, reports move on past the low messages
    assert max(highest[1:]) > LOW + 20, highest
