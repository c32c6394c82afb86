"""SAVEDATE (RFC 8514, issue 12 item 6): FETCH SAVEDATE is when the
message entered this mailbox (APPEND, delivery, COPY, MOVE), not its
INTERNALDATE; SEARCH SAVEDBEFORE, SAVEDON, SAVEDSINCE compare its day,
SAVEDATESUPPORTED matches every message (every one has a save date:
rows older than schema 7 use their internal date); the capability."""
import re
import time

from fetch_helpers import FetchClient, fetch_items, fetches
from imap_helpers import deliver, new_user, status_of
from test_imap_objectid import append, session

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def day(t):
    tm = time.localtime(t)
    return f"{tm.tm_mday}-{MONTHS[tm.tm_mon - 1]}-{tm.tm_year}"


def test_savedate_fetch_and_search(postel):
    with session(postel) as c:
        tagged, untagged = c.command("CAPABILITY")
        assert b"SAVEDATE" in b"".join(untagged).split()
        tag = c.tag()
        msg = b"Subject: old\r\n\r\nold\r\n"
        c.send(f'{tag} APPEND INBOX "14-Jul-2020 02:44:25 +0000" {{{len(msg)}}}\r\n'.encode())
        assert c.read_line().startswith(b"+")
        c.send(msg + b"\r\n")
        assert status_of(c.read_tagged(tag)[0]) == "OK"
        now = time.time()
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        tagged, untagged = c.command("FETCH 1 (INTERNALDATE SAVEDATE)")
        assert status_of(tagged) == "OK", tagged
        items = fetch_items(fetches(untagged)[1])
        assert items["INTERNALDATE"].startswith(b"14-Jul-2020"), items
        saved = items["SAVEDATE"].decode()
        # RFC 8514 3: a date-time as INTERNALDATE's (day padded with a space)
        assert re.match(r"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}$", saved), saved
        assert saved.strip().split(" ")[0] in (day(now), day(now - 5)), saved
        for key, want in ((f"SAVEDON {day(now)}", b"* SEARCH 1"),
                          (f"SAVEDSINCE {day(now)}", b"* SEARCH 1"),
                          ("SAVEDBEFORE 1-Jan-2021", b"* SEARCH"),
                          ("SAVEDSINCE 1-Jan-2021 SINCE 1-Jan-2021", b"* SEARCH"),
                          ("SAVEDSINCE 1-Jan-2021 BEFORE 1-Jan-2021", b"* SEARCH 1"),
                          ("SAVEDATESUPPORTED", b"* SEARCH 1")):
            tagged, untagged = c.command(f"SEARCH {key}")
            assert status_of(tagged) == "OK", (key, tagged)
            assert untagged == [want + b"\r\n"], (key, untagged)
        # a copy has a save date of its own, the same internal date
        tagged, _ = c.command("COPY 1 Archive")
        assert status_of(tagged) == "OK", tagged
        assert status_of(c.command("SELECT Archive")[0]) == "OK"
        items = fetch_items(fetches(c.command("FETCH 1 (INTERNALDATE SAVEDATE)")[1])[1])
        assert items["INTERNALDATE"].startswith(b"14-Jul-2020"), items
        assert not items["SAVEDATE"].endswith(b"2020 02:44:25 +0000"), items


def test_savedate_of_delivered_mail(postel):
    """a delivery by SMTP gets its save date too"""
    user, pw = new_user(postel)
    deliver(postel, user)
    with FetchClient(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        tagged, untagged = c.command(f"SEARCH SAVEDON {day(time.time())}")
        assert untagged == [b"* SEARCH 1\r\n"], untagged
