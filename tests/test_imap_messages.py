"""IMAP message commands (issue 9 items 8-10): STORE and UID STORE,
EXPUNGE and UID EXPUNGE (UIDPLUS, RFC 4315), COPY and MOVE with their
UID forms (RFC 9051 6.4.7-6.4.9, RFC 6851) with COPYUID and TRYCREATE,
CHECK (rev1), read-only refusals, sequence-set bounds, and the changes as
a second session sees them. Messages arrive by SMTP (deliver())."""
import re

from imap_helpers import IMAPRaw, deliver, login, new_user, status_of


def setup_session(c, postel, n):
    user, pw = new_user(postel)
    for _ in range(n):
        deliver(postel, user)
    c.login(user, pw)
    tagged, untagged = c.command("SELECT INBOX")
    assert status_of(tagged) == "OK", tagged
    assert f"* {n} EXISTS\r\n".encode() in untagged, untagged
    return user, pw


def fetch_flags(untagged):
    """{seq: (set of flags, uid or None)} from untagged FETCH lines"""
    out = {}
    for line in untagged:
        m = re.match(rb"\* (\d+) FETCH \(FLAGS \(([^)]*)\)(?: UID (\d+))?\)\r\n$", line)
        if m:
            out[int(m.group(1))] = (set(m.group(2).decode().split()),
                                    int(m.group(3)) if m.group(3) else None)
    return out


def uids_of(c, n):
    """UIDs of messages 1..n: copied into the same mailbox is not needed;
    a STORE of nothing (+FLAGS ()) with UID reports each UID."""
    tagged, untagged = c.command(f"UID STORE 1:* +FLAGS ()")
    assert status_of(tagged) == "OK", tagged
    ff = fetch_flags(untagged)
    assert sorted(ff) == list(range(1, n + 1)), untagged
    return [ff[i][1] for i in range(1, n + 1)]


def expunged(untagged):
    return [int(x.split()[1]) for x in untagged if x.endswith(b" EXPUNGE\r\n")]


def test_capabilities_name_uidplus_and_move(postel):
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        tagged, _ = c.login(user, pw)
        caps = tagged.decode().split("[CAPABILITY ", 1)[1].split("]")[0].split()
        assert caps.count("UIDPLUS") == 1 and caps.count("MOVE") == 1, caps


def test_store_forms_and_second_session(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 3)
        tagged, untagged = c.command("STORE 1 +FLAGS (\\Flagged $Label1)")
        assert status_of(tagged) == "OK", tagged
        # rev1: SELECT claimed the three as \Recent (RFC 3501 2.3.2)
        assert fetch_flags(untagged) == {1: ({"\\Flagged", "$Label1", "\\Recent"}, None)}
        # flags without parentheses (RFC 9051 9 store-att-flags)
        tagged, untagged = c.command("STORE 2:3 FLAGS \\Seen \\Answered")
        assert status_of(tagged) == "OK", tagged
        assert {k: v[0] for k, v in fetch_flags(untagged).items()} == {
            2: {"\\Seen", "\\Answered", "\\Recent"}, 3: {"\\Seen", "\\Answered", "\\Recent"}}
        # .SILENT: no untagged FETCH (RFC 9051 6.4.6)
        tagged, untagged = c.command("STORE 1:* +FLAGS.SILENT (\\Draft)")
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)
        uids = uids_of(c, 3)
        assert uids == sorted(uids)
        # UID STORE names the UID in each FETCH (RFC 9051 6.4.9)
        tagged, untagged = c.command(f"UID STORE {uids[1]} -FLAGS (\\Seen \\Draft)")
        assert status_of(tagged) == "OK", tagged
        assert fetch_flags(untagged) == {2: ({"\\Answered", "\\Recent"}, uids[1])}
        # a UID not in the mailbox: nothing, and OK
        tagged, untagged = c.command(f"UID STORE {uids[2] + 100} +FLAGS (\\Seen)")
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)
        # \Recent is never set by a client (RFC 9051 2.3.2); bad items
        for bad in ("STORE 1 +FLAGS (\\Recent)", "STORE 1 +FLAGS (\\Bogus)",
                    "STORE 1 XFLAGS (\\Seen)", "STORE 1 +FLAGS", "STORE 4 +FLAGS (\\Seen)",
                    "STORE 1:4 +FLAGS (\\Seen)", "STORE 0 +FLAGS (\\Seen)"):
            tagged, _ = c.command(bad)
            assert status_of(tagged) == "BAD", (bad, tagged)
        # a second session sees the flags at SELECT and the next change at NOOP
        with IMAPRaw(postel.imaps_port, tls=True) as d:
            d.login(user, pw)
            tagged, untagged = d.command("EXAMINE INBOX")
            assert status_of(tagged) == "OK", tagged
            assert any(b"$Label1" in x for x in untagged if b"FLAGS (" in x), untagged
            tagged, _ = c.command("STORE 3 FLAGS (\\Deleted)")
            assert status_of(tagged) == "OK", tagged
            tagged, untagged = d.command("NOOP")
            assert fetch_flags(untagged).get(3, (None,))[0] == {"\\Deleted"}, untagged


def test_read_only_refusals(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 2)
        tagged, _ = c.command("EXAMINE INBOX")
        assert b"[READ-ONLY]" in tagged, tagged
        for cmd in ("STORE 1 +FLAGS (\\Deleted)", "UID STORE 1:* +FLAGS (\\Seen)",
                    "EXPUNGE", "UID EXPUNGE 1:*", "MOVE 1 Trash", "UID MOVE 1:* Trash"):
            tagged, untagged = c.command(cmd)
            assert status_of(tagged) == "NO", (cmd, tagged)
        # copying out of a read-only mailbox is fine
        tagged, _ = c.command("COPY 1:2 Trash")
        assert status_of(tagged) == "OK" and b"[COPYUID " in tagged, tagged
        tagged, untagged = c.command("NOOP")
        assert expunged(untagged) == [], untagged


def test_expunge_highest_first_and_seen_elsewhere(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 5)
        with IMAPRaw(postel.imaps_port, tls=True) as d:
            d.login(user, pw)
            d.command("SELECT INBOX")
            tagged, _ = c.command("STORE 2,4:5 +FLAGS.SILENT (\\Deleted)")
            assert status_of(tagged) == "OK", tagged
            tagged, untagged = c.command("EXPUNGE")
            assert status_of(tagged) == "OK", tagged
            # RFC 9051 7.4.1: each renumbers the ones above it
            assert expunged(untagged) == [5, 4, 2], untagged
            tagged, untagged = c.command("NOOP")
            assert expunged(untagged) == [] and b"EXISTS" not in b"".join(untagged)
            tagged, untagged = d.command("NOOP")
            assert expunged(untagged) == [5, 4, 2], untagged
            # nothing deleted: EXPUNGE is a plain OK
            tagged, untagged = c.command("EXPUNGE")
            assert status_of(tagged) == "OK" and expunged(untagged) == [], untagged
            tagged, _ = c.command("EXPUNGE 1")
            assert status_of(tagged) == "BAD", tagged


def test_uid_expunge_only_its_set(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        setup_session(c, postel, 4)
        uids = uids_of(c, 4)
        tagged, _ = c.command("STORE 1:* +FLAGS.SILENT (\\Deleted)")
        assert status_of(tagged) == "OK", tagged
        # RFC 4315 2.1: only the \Deleted ones of the set go
        tagged, untagged = c.command(f"UID EXPUNGE {uids[1]}:{uids[2]}")
        assert status_of(tagged) == "OK", tagged
        assert expunged(untagged) == [3, 2], untagged
        assert uids_of(c, 2) == [uids[0], uids[3]]
        # a set with no message in it, and a bad one
        tagged, untagged = c.command(f"UID EXPUNGE {uids[3] + 50}")
        assert status_of(tagged) == "OK" and expunged(untagged) == [], untagged
        tagged, _ = c.command("UID EXPUNGE")
        assert status_of(tagged) == "BAD", tagged


def copyuid(line):
    m = re.search(rb"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", line)
    assert m, line
    return int(m.group(1)), m.group(2).decode(), m.group(3).decode()


def test_copy_copyuid_trycreate_and_flags_kept(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 3)
        uids = uids_of(c, 3)
        c.command("STORE 2 +FLAGS.SILENT (\\Flagged $Work)")
        tagged, untagged = c.command("COPY 2:3 Trash")
        assert status_of(tagged) == "OK", tagged
        v, src, dst = copyuid(tagged)
        assert src == f"{uids[1]}:{uids[2]}", tagged
        # the source is left as it was
        tagged, untagged = c.command("NOOP")
        assert expunged(untagged) == [], untagged
        # RFC 9051 6.4.7: a missing destination is [TRYCREATE]
        tagged, _ = c.command("COPY 1 NoSuchFolder")
        assert tagged.split()[1:3] == [b"NO", b"[TRYCREATE]"], tagged
        tagged, _ = c.command("UID COPY 1:* NoSuchFolder")
        assert tagged.split()[1:3] == [b"NO", b"[TRYCREATE]"], tagged
        # into the selected mailbox itself: new UIDs, seen at the next sync
        tagged, _ = c.command(f"UID COPY {uids[0]} INBOX")
        assert status_of(tagged) == "OK", tagged
        v_in, src_in, dst_in = copyuid(tagged)
        assert src_in == str(uids[0]) and int(dst_in) > uids[2], tagged
        tagged, untagged = c.command("NOOP")
        assert b"* 4 EXISTS\r\n" in untagged, untagged
        # the destination: its UIDVALIDITY and UIDs as COPYUID said, flags kept
        tagged, untagged = c.command("SELECT Trash")
        assert status_of(tagged) == "OK", tagged
        assert f"* OK [UIDVALIDITY {v}]".encode() in b"".join(untagged), untagged
        tagged, untagged = c.command("UID STORE 1:* +FLAGS ()")
        ff = fetch_flags(untagged)
        lo, _, hi = dst.partition(":")
        assert [ff[1][1], ff[2][1]] == [int(lo), int(hi)], (dst, untagged)
        assert {"\\Flagged", "$Work"} <= ff[1][0] and "$Work" not in ff[2][0], untagged


def test_move_copyuid_then_expunge(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 4)
        uids = uids_of(c, 4)
        with IMAPRaw(postel.imaps_port, tls=True) as d:
            d.login(user, pw)
            d.command("SELECT INBOX")
            tagged, untagged = c.command("MOVE 2:3 Trash")
            assert status_of(tagged) == "OK", tagged
            # RFC 6851 3.3: "* OK [COPYUID ...]" first, then the EXPUNGEs
            assert untagged[0].startswith(b"* OK [COPYUID "), untagged
            assert copyuid(untagged[0])[1] == f"{uids[1]}:{uids[2]}"
            assert expunged(untagged[1:]) == [3, 2], untagged
            tagged, untagged = c.command(f"UID MOVE {uids[3]} Trash")
            assert status_of(tagged) == "OK", tagged
            assert copyuid(untagged[0])[1] == str(uids[3]), untagged
            assert expunged(untagged) == [2], untagged
            tagged, _ = c.command("MOVE 1 INBOX")
            assert tagged.split()[1:3] == [b"NO", b"[CANNOT]"], tagged
            tagged, _ = c.command("MOVE 1 Nowhere")
            assert tagged.split()[1:3] == [b"NO", b"[TRYCREATE]"], tagged
            tagged, untagged = d.command("NOOP")
            assert expunged(untagged) == [4, 3, 2], untagged
        tagged, untagged = c.command("EXAMINE Trash")
        assert b"* 3 EXISTS\r\n" in untagged, untagged


def test_sequence_set_bounds(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = new_user(postel)
        c.login(user, pw)
        c.command("SELECT INBOX")
        # RFC 9051 9: "*" in an empty mailbox is BAD for sequence numbers,
        # while a UID set is only empty (6.4.9)
        tagged, _ = c.command("STORE * +FLAGS (\\Seen)")
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command("COPY 1 Trash")
        assert status_of(tagged) == "BAD", tagged
        tagged, untagged = c.command("UID STORE 1:* +FLAGS (\\Seen)")
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)
        tagged, _ = c.command("UID COPY 1:* Trash")
        assert status_of(tagged) == "OK" and b"COPYUID" not in tagged, tagged
        deliver(postel, user)
        c.command("NOOP")
        # 559:* names the highest UID even when 559 is above it
        tagged, untagged = c.command("UID STORE 4000000:* +FLAGS (\\Seen)")
        assert status_of(tagged) == "OK" and list(fetch_flags(untagged)) == [1], untagged
        tagged, _ = c.command("STORE 1,x +FLAGS (\\Seen)")
        assert status_of(tagged) == "BAD", tagged
        # RFC 5182 2.1: "$" before any SEARCH ... SAVE is the empty set
        tagged, untagged = c.command("STORE $ +FLAGS (\\Seen)")
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)


def test_check_in_rev1_is_a_noop(postel):
    user, pw = new_user(postel)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, _ = c.command("CHECK")
        assert status_of(tagged) == "BAD", tagged  # selected state only
        c.command("SELECT INBOX")
        deliver(postel, user)
        tagged, untagged = c.command("CHECK")
        assert status_of(tagged) == "OK", tagged
        assert b"* 2 EXISTS\r\n" in untagged, untagged
    # (IMAP4rev2, which removed CHECK, cannot be enabled yet: ENABLE
    # answers an empty list until all of RFC 9051 is served)


def test_imaplib_commands(postel):
    user, pw = new_user(postel)
    for _ in range(3):
        deliver(postel, user)
    c = login(postel, user, pw)
    try:
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"3"]
        typ, data = c.store("1", "+FLAGS", "(\\Deleted)")
        assert typ == "OK" and b"\\Deleted" in data[0], data
        typ, data = c.copy("2", "Archive")
        assert typ == "OK", data
        typ, data = c.uid("MOVE", "1:*", "Junk")
        assert typ == "OK", data
        typ, data = c.expunge()
        assert typ == "OK", data
        typ, data = c.select("Junk")
        assert typ == "OK" and data == [b"3"], data
        typ, data = c.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
        assert typ == "OK", data
        typ, data = c.uid("EXPUNGE", "1:*")
        assert typ == "OK", data
        typ, data = c.check()
        assert typ == "OK", data
        typ, data = c.select("Junk")
        assert data == [b"0"], data
        typ, data = c.select("Archive")
        assert data == [b"1"], data
    finally:
        c.logout()


def test_store_reply_past_the_output_cap_is_paced(postel):
    """STORE 1:* on a mailbox whose FETCH lines add up to more than the
    output cap (1 MiB; a write past it ends the connection, conn.h) is
    written as the client reads, and ends with its tagged OK."""
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        setup_session(c, postel, 1)
        # 59 keywords of 99 octets (a message keeps 59, store_flags.c): a FETCH line
    # of about 6 KB
        kws = " ".join(f"K{i:02d}" + "x" * 96 for i in range(59))
        tagged, _ = c.command(f"STORE 1 +FLAGS.SILENT ({kws})")
        assert status_of(tagged) == "OK", tagged
        # 256 messages by doubling copies (flags are kept)
        for n in range(8):
            tagged, _ = c.command("COPY 1:* INBOX")
            assert status_of(tagged) == "OK", tagged
            tagged, untagged = c.command("NOOP")
            assert f"* {2 ** (n + 1)} EXISTS\r\n".encode() in untagged, untagged
        tagged, untagged = c.command("STORE 1:* +FLAGS (\\Seen)")
        assert status_of(tagged) == "OK", tagged
        ff = fetch_flags(untagged)
        assert sorted(ff) == list(range(1, 257))
        assert sum(len(x) for x in untagged) > 1024 * 1024
        assert all("\\Seen" in f and len([k for k in f if k.startswith("K")]) == 59
                   for f, _ in ff.values()), [(len(f), sorted(x for x in f if not x.startswith("K"))) for f, _ in ff.values()][:3]
        # the next sync reports the changes again (the view learns of them
        # there): as large, and paced the same way (imap_select.c)
        tagged, untagged = c.command("NOOP")
        assert status_of(tagged) == "OK", tagged
        assert sorted(fetch_flags(untagged)) == list(range(1, 257))
        tagged, untagged = c.command("NOOP")
        assert status_of(tagged) == "OK" and untagged == [], untagged


def test_store_sends_no_expunge_of_other_sessions(postel):
    """RFC 9051 7.5.1: no EXPUNGE during STORE; a message expunged by
    another session keeps its number until a command that may report it."""
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        user, pw = setup_session(c, postel, 3)
        with IMAPRaw(postel.imaps_port, tls=True) as d:
            d.login(user, pw)
            d.command("SELECT INBOX")
            d.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
            tagged, untagged = d.command("EXPUNGE")
            assert expunged(untagged) == [2], untagged
        tagged, untagged = c.command("STORE 1:3 +FLAGS (\\Flagged)")
        assert status_of(tagged) == "OK", tagged
        assert expunged(untagged) == [], untagged
        # message 3 is still number 3 for this client; 2 is gone, so no FETCH
        assert sorted(fetch_flags(untagged)) == [1, 3], untagged
        tagged, untagged = c.command("NOOP")
        assert expunged(untagged) == [2], untagged
        tagged, untagged = c.command("STORE 2 -FLAGS (\\Flagged)")
        assert status_of(tagged) == "OK" and list(fetch_flags(untagged)) == [2], untagged
