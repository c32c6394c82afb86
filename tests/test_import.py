"""`postel import maildir PATH ADDRESS` (issue 12 item 8): migration from
Dovecot keeping UIDs. A private Dovecot (own config in /tmp, loopback)
holds folders (one empty, one nested, one non-ASCII), keywords, flags,
expunged gaps and subscriptions, synced by mbsync into a local Maildir;
after the import mbsync pointed at Postel with the same sync state moves
nothing, and both servers show the same UIDVALIDITY, UIDNEXT, UIDs, flags
and subscriptions, Postel's HIGHESTMODSEQ no lower. Without Dovecot: the
refusal, resuming after kill -9, and the report of what is not taken."""
import contextlib
import imaplib
import os
import pathlib
import pwd
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import make_message, scaled, token
from imap_helpers import deliver, login, new_user
from peers import DOVECOT, Dovecot, missing

RUN_USER = "postel"
DV_USER, DV_PASSWORD = "migr", "pw-migr-1"
# Dovecot's names (separator '.'), the store's names
FOLDERS = {"INBOX": "INBOX", "Work": "Work", "Work.Projects": "Work/Projects",
           "Empty": "Empty", "&AMQ-pfel": "\u00c4pfel",
           # what Postel gives every user, empty on Dovecot's side too
           "Drafts": "Drafts", "Sent": "Sent", "Junk": "Junk", "Trash": "Trash",
           "Archive": "Archive"}
SUBSCRIBED = ["INBOX", "Work", "Work.Projects", "&AMQ-pfel"]


def run_user():
    try:
        return pwd.getpwnam(RUN_USER)
    except KeyError:
        pytest.skip(f"no user {RUN_USER} (postel creates it when it starts)")


def chown_tree(top, pw):
    os.chown(top, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def import_cmd(srv, path, address, **kw):
    """Runs the import; (exit status, stdout, stderr)."""
    return srv.cli("import", "maildir", str(path), address, check=False, **kw)


@pytest.fixture(scope="module")
def dovecot(postel):
    """A private Dovecot (tests/peers.py) on a loopback port, plain IMAP,
    its Maildir owned by postel's run user (so `postel import`, which runs
    as that user, reads it)."""
    reason = missing(DOVECOT)
    if reason:
        pytest.skip(f"{reason} (scripts/install-deps.sh check)")
    pw = run_user()
    peer = Dovecot(plain=True, host="127.0.0.1", users={DV_USER: DV_PASSWORD},
                   uid=pw.pw_uid, gid=pw.pw_gid, prefix="postel-import-dovecot-")
    peer.start()
    try:
        yield {"port": peer.imap, "maildir": peer.maildir(DV_USER), "dir": peer.dir}
    finally:
        peer.stop()


@contextlib.contextmanager
def postel_session(srv, user, password):
    c = login(srv, user, password)
    try:
        yield c
    finally:
        c.logout()


def dv_login(dv):
    c = imaplib.IMAP4("127.0.0.1", dv["port"], timeout=scaled(10))
    c.login(DV_USER, DV_PASSWORD)
    return c


def ok(res):
    assert res[0] == "OK", res
    return res[1]


def populate_dovecot(dv):
    """Folders, messages with flags and keywords, expunged gaps, CONDSTORE
    changes and subscriptions, all through Dovecot's IMAP."""
    c = dv_login(dv)
    try:
        for name in FOLDERS:
            if name != "INBOX":
                ok(c.create(name))
        counts = {"INBOX": 8, "Work": 4, "Work.Projects": 3, "&AMQ-pfel": 2}
        for name, n in counts.items():
            for i in range(n):
                flags = ["(\\Seen)", "(\\Flagged $Label1)", "(Important)", "()"][i % 4]
                msg = make_message(token(), subject=f"{name} {i}").replace(b"\r\n", b"\n")
                ok(c.append(name, flags, imaplib.Time2Internaldate(1700000000 + i),
                            msg.replace(b"\n", b"\r\n")))
        ok(c.enable("CONDSTORE"))
        ok(c.select("INBOX"))
        ok(c.uid("STORE", "2,5", "+FLAGS", "(\\Deleted)"))
        ok(c.expunge())
        ok(c.uid("STORE", "1,3", "+FLAGS", "(\\Answered $Label1)"))
        ok(c.uid("STORE", "1", "-FLAGS", "($Label1)"))
        ok(c.select("Work"))
        ok(c.uid("STORE", "4", "+FLAGS", "(\\Deleted)"))
        ok(c.expunge())   # the last UID gone: UIDNEXT stays above it
        ok(c.uid("STORE", "1:3", "+FLAGS", "(\\Seen)"))
        ok(c.close())
        for name in SUBSCRIBED:
            ok(c.subscribe(name))
    finally:
        c.logout()


def mbsync_rc(tmp_path, local, far):
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        "IMAPAccount far\n"
        f"Host 127.0.0.1\nPort {far['port']}\nUser {far['user']}\nPass {far['password']}\n"
        f"{far['ssl']}\nTimeout {int(scaled(20))}\n\n"
        "IMAPStore remote\nAccount far\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel ch\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
        "Remove Both\nExpunge Both\nSync All\nSyncState *\n")
    return rc


def mbsync(tmp_path, rc):
    """mbsync on a pseudo-terminal (it prints its counters on a TTY only):
    its output and [(op, done, total)] of its last counters line."""
    env = dict(os.environ, HOME=str(tmp_path), LC_ALL="C.UTF-8")
    cmd = f"mbsync -c {rc} -a"
    argv = (["script", "-qec", cmd, "/dev/null"] if shutil.which("script")
            else cmd.split())
    p = subprocess.run(argv, capture_output=True, timeout=scaled(90), env=env,
                       stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0, out
    last = [line for line in re.split(r"[\r\n]+", out) if re.search(r"[FM]: \+", line)]
    counters = re.findall(r"([-+*#])(\d+)/(\d+)", last[-1]) if last else []
    return out, counters


def local_snapshot(local):
    return sorted((str(f.relative_to(local)), f.read_bytes()) for f in local.rglob("*")
                  if f.is_file() and ".mbsyncstate" not in f.name and "uidvalidity" not in f.name)


def mailbox_state(c, name):
    """(UIDVALIDITY, UIDNEXT, {uid: flags}) of a mailbox over imaplib."""
    st = ok(c.status(f'"{name}"', "(UIDVALIDITY UIDNEXT MESSAGES)"))[0].decode()
    validity = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
    uidnext = int(re.search(r"UIDNEXT (\d+)", st).group(1))
    ok(c.select(f'"{name}"', readonly=True))
    msgs = {}
    if int(re.search(r"MESSAGES (\d+)", st).group(1)) > 0:
        for line in ok(c.uid("FETCH", "1:*", "(FLAGS)")):
            m = re.search(rb"UID (\d+).*FLAGS \(([^)]*)\)", line)
            msgs[int(m.group(1))] = set(m.group(2).decode().split()) - {"\\Recent"}
    ok(c.close())
    return validity, uidnext, msgs


def lsub(c):
    return sorted(line.decode().rsplit(" ", 1)[1].strip('"') for line in ok(c.lsub())
                  if line)


def postel_highestmodseq(srv, address, mailbox):
    local, domain = address.split("@")
    db = srv.datadir / "mail" / domain / local / "postel-index.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute("SELECT highestmodseq FROM mailboxes WHERE name = ?",
                           (mailbox,)).fetchone()[0]


def test_import_dovecot_mbsync(postel, dovecot, tmp_path):
    if shutil.which("mbsync") is None:
        pytest.skip("mbsync not installed (scripts/install-deps.sh check)")
    populate_dovecot(dovecot)
    local = tmp_path / "mail"
    local.mkdir()
    dv_far = {"port": dovecot["port"], "user": DV_USER, "password": DV_PASSWORD,
              "ssl": "SSLType None\nAuthMechs LOGIN"}
    out, counters = mbsync(tmp_path, mbsync_rc(tmp_path, local, dv_far))
    before = local_snapshot(local)
    assert len([f for f, _ in before if "/cur/" in f or "/new/" in f]) == 6 + 3 + 3 + 2, out

    user, password = new_user(postel)
    rc, stdout, stderr = import_cmd(postel, dovecot["maildir"], user)
    assert rc == 0, stdout + stderr
    assert "import: done mailboxes=10 imported=14 already=0 problems=0" in stdout, stdout
    assert re.search(r"import: mailbox=INBOX messages=6/6", stdout), stdout

    # both servers agree on every folder, the empty one included
    dv, pc = dv_login(dovecot), login(postel, user, password)
    try:
        for dv_name, name in FOLDERS.items():
            d_state = mailbox_state(dv, dv_name)
            p_name = dv_name.replace(".", "/")  # Postel's separator, same mUTF-7
            assert mailbox_state(pc, p_name) == d_state, (name, d_state)
            st = ok(dv.status(f'"{dv_name}"', "(HIGHESTMODSEQ)"))[0].decode()
            d_modseq = int(re.search(r"HIGHESTMODSEQ (\d+)", st).group(1))
            assert postel_highestmodseq(postel, user, name) >= d_modseq, name
        assert lsub(pc) == sorted(s.replace(".", "/") for s in SUBSCRIBED)
    finally:
        dv.logout()
        pc.logout()

    # mbsync, same local side and sync state, now against Postel: nothing moves
    postel_far = {"port": postel.imaps_port, "user": user, "password": password,
                  "ssl": f"SSLType IMAPS\nCertificateFile {postel.cert_path}"}
    with postel_session(postel, user, password) as pc:
        server_before = {name: mailbox_state(pc, name.replace(".", "/")) for name in FOLDERS}
    out, counters = mbsync(tmp_path, mbsync_rc(tmp_path, local, postel_far))
    if shutil.which("script"):
        # "C: 1/1  B: 10/10  F: +0/0 *0/0 #0/0  N: +0/0 *0/0 #0/0": every
        # box visited, no message (+), flag change (*) or deletion (#) either way
        assert "B: 10/10" in out and len(counters) >= 6, out
        assert all(c[1] == "0" and c[2] == "0" for c in counters), out
    assert "UIDVALIDITY" not in out and "Creating" not in out, out
    assert local_snapshot(local) == before, out
    with postel_session(postel, user, password) as pc:
        assert {name: mailbox_state(pc, name.replace(".", "/"))
                for name in FOLDERS} == server_before

    # a second import changes nothing
    rc, stdout, stderr = import_cmd(postel, dovecot["maildir"], user)
    assert rc == 0, stdout + stderr
    assert "import: done mailboxes=10 imported=0 already=14 problems=0" in stdout, stdout


def make_tree(top, pw, inbox=0, unlisted=0, validity=1234567, first_uid=1):
    """A Maildir++ tree like Dovecot's: INBOX with a dovecot-uidlist whose
    UIDs start at first_uid with every third one missing (expunged), plus
    unlisted files in new/; a nested folder; an empty folder."""
    for sub in ("", ".Lists.Daily", ".Empty"):
        for d in ("cur", "new", "tmp"):
            (top / sub / d).mkdir(parents=True, exist_ok=True)
    lines, uid = [], first_uid
    for i in range(inbox):
        base = f"1700000{i:03d}.M{i}P1.example"
        flags = "S" if i % 2 else "Fa"
        (top / "cur" / f"{base}:2,{flags}").write_bytes(
            make_message(token(), subject=f"inbox {i}").replace(b"\r\n", b"\n"))
        lines.append(f"{uid} :{base}")
        uid += 1 if i % 3 else 2
    (top / "dovecot-uidlist").write_text(f"3 V{validity} N{uid} Gabcdef\n" +
                                         "".join(l + "\n" for l in lines))
    (top / "dovecot-keywords").write_text("0 $Label1\n")
    for i in range(unlisted):
        (top / "new" / f"1800000{i:03d}.M{i}P2.example").write_bytes(
            make_message(token(), subject=f"unlisted {i}").replace(b"\r\n", b"\n"))
    (top / ".Lists.Daily" / "dovecot-uidlist").write_text("3 V777 N3 Gx\n2 :d1\n")
    (top / ".Lists.Daily" / "cur" / "d1:2,").write_bytes(b"Subject: d\n\nbody\n")
    (top / ".Empty" / "dovecot-uidlist").write_text("3 V888 N40 Gy\n")
    (top / "subscriptions").write_text("V\t2\n\nLists\tDaily\nINBOX\n")
    chown_tree(top, pw)
    return uid  # Dovecot's UIDNEXT


@pytest.fixture
def source():
    """A fresh directory for a Maildir++ tree, readable by the run user."""
    pw = run_user()
    top = pathlib.Path(tempfile.mkdtemp(prefix="postel-import-", dir="/tmp"))
    yield top, pw
    shutil.rmtree(top, ignore_errors=True)


def test_import_refuses_nonempty(postel, source):
    top, pw = source
    make_tree(top, pw, inbox=3)
    user, password = new_user(postel)
    deliver(postel, user)
    rc, stdout, stderr = import_cmd(postel, top, user)
    assert rc == 1, stdout + stderr
    assert re.search(r"refused: mailbox INBOX of \S+ already holds 1 messages", stderr), stderr
    assert "imported=0" in stdout
    with postel_session(postel, user, password) as c:
        names = [line.decode() for line in ok(c.list())]
        assert not any("Lists" in n or "Empty" in n for n in names), names
        assert len(mailbox_state(c, "INBOX")[2]) == 1
        assert mailbox_state(c, "INBOX")[0] != 1234567


def test_import_resume_after_kill(postel, source):
    top, pw = source
    n, unlisted = 450, 2
    uidnext = make_tree(top, pw, inbox=n, unlisted=unlisted, first_uid=5)
    user, password = new_user(postel)
    argv = postel.global_args() + ["import", "maildir", str(top), user]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(scaled(60), proc.kill)  # readline() below blocks
    watchdog.start()
    try:
        deadline = time.monotonic() + scaled(60)
        seen = b""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen += line
            if re.match(rb"import: mailbox=INBOX messages=(1|2)00/", line) or not line:
                break
        proc.kill()   # SIGKILL mid-way
    finally:
        watchdog.cancel()
        proc.wait(timeout=scaled(10))
        proc.stdout.close()
        proc.stderr.close()
    assert re.search(rb"messages=(1|2)00/452", seen), seen
    assert b"import: done" not in seen, seen

    rc, stdout, stderr = import_cmd(postel, top, user)
    assert rc == 0, stdout + stderr
    done = re.search(r"import: done mailboxes=3 imported=(\d+) already=(\d+) problems=0",
                     stdout)
    assert done, stdout
    imported, already = int(done.group(1)), int(done.group(2))
    assert already >= 100 and imported + already == n + unlisted + 1, stdout

    with postel_session(postel, user, password) as c:
        validity, next_uid, msgs = mailbox_state(c, "INBOX")
        assert validity == 1234567
        listed = sorted(msgs)[:n]
        assert listed[0] == 5 and len(msgs) == n + unlisted
        # the unlisted ones got Dovecot's UIDNEXT and the next
        assert sorted(msgs)[n:] == [uidnext, uidnext + 1]
        assert next_uid == uidnext + 2
        assert msgs[5] == {"\\Flagged", "$Label1"} and msgs[7] == {"\\Seen"}
        assert mailbox_state(c, "Lists/Daily")[:2] == (777, 3)
        assert mailbox_state(c, "Empty") == (888, 40, {})
        assert lsub(c) == ["INBOX", "Lists/Daily"]

    rc, stdout, stderr = import_cmd(postel, top, user)
    assert rc == 0, stdout + stderr
    assert (f"import: done mailboxes=3 imported=0 already={n + unlisted + 1} "
            "problems=0") in stdout, stdout


def test_import_reports_what_it_cannot_take(postel, source):
    top, pw = source
    make_tree(top, pw, inbox=4)
    (top / ".a&AC8-b" / "cur").mkdir(parents=True)       # '/' in a name
    with open(top / "dovecot-uidlist", "a") as f:
        f.write("3 :out-of-order\n")
    unreadable = next((top / "cur").iterdir())
    os.chmod(unreadable, 0)
    chown_tree(top, pw)
    user, password = new_user(postel)
    rc, stdout, stderr = import_cmd(postel, top, user)
    assert rc == 1, stdout + stderr
    assert re.search(r"\.a&AC8-b: bad folder name", stderr), stderr
    assert re.search(r"dovecot-uidlist: 1 lines not taken \(line 6: UID not above", stderr), \
        stderr
    assert f"{unreadable}: Permission denied" in stderr, stderr
    assert "import: done mailboxes=3 imported=4 already=0 problems=3" in stdout, stdout
    with postel_session(postel, user, password) as c:
        assert len(mailbox_state(c, "INBOX")[2]) == 3


def test_import_usage(postel):
    rc, out, err = postel.cli("import", "--help", check=False)
    assert rc == 0 and "postel import maildir PATH ADDRESS" in out
    rc, out, err = postel.cli("import", "mbox", "/x", "a@example.org", check=False)
    assert rc == 2, err
    rc, out, err = postel.cli("import", "maildir", "/nonexistent", "nobody@example.org",
                              check=False)
    assert rc == 1 and "no user nobody@example.org" in err, err


@pytest.mark.parametrize("k", [1, 2])
def test_import_resume_cut_short_delivery(postel, k):
    """What a kill between the store's rename of the file into its Maildir
    and its index commit leaves, made on purpose: an earlier run imported
    the first k messages, then the (k+1)-th message's file is in the
    store's new/ without an index row; the store takes it at its next
    open under UIDNEXT without flags. k=1: UIDNEXT is a gap of the
    uidlist (6; the message's UID is 7): the import expunges it and
    imports it again under 7. k=2: UIDNEXT is its UID (8): the import
    gives it its flags. Either way the result is a complete import."""
    pw = run_user()
    top = pathlib.Path(tempfile.mkdtemp(prefix="postel-import-", dir="/tmp"))
    part = pathlib.Path(tempfile.mkdtemp(prefix="postel-import-part-", dir="/tmp"))
    try:
        n = 5
        uidnext = make_tree(top, pw, inbox=n, first_uid=5)
        shutil.rmtree(part)
        shutil.copytree(top, part, symlinks=True)
        lines = (top / "dovecot-uidlist").read_text().splitlines()
        entries = [(int(l.split()[0]), l.split(":", 1)[1]) for l in lines[1:]]
        assert [u for u, _ in entries] == [5, 7, 8, 9, 11]
        files = {p.name.split(":2,")[0]: p for p in (part / "cur").iterdir()}
        for _, base in entries[k:]:
            files[base].unlink()
        (part / "dovecot-uidlist").write_text(
            f"3 V1234567 N{entries[k - 1][0] + 1} Gabcdef\n" +
            "".join(f"{u} :{b}\n" for u, b in entries[:k]))
        chown_tree(part, pw)
        user, password = new_user(postel)
        rc, stdout, stderr = import_cmd(postel, part, user)
        assert rc == 0, stdout + stderr

        # the cut-short delivery of message k+1
        new = postel.maildir(user) / "new"
        src = next(p for p in (top / "cur").iterdir()
                   if p.name.startswith(entries[k][1]))
        orphan = new / "1700009999.M1P99.cut-short"
        orphan.write_bytes(src.read_bytes())
        os.chown(orphan, pw.pw_uid, pw.pw_gid)
        later = time.time() + 5
        os.utime(new, (later, later))
        with postel_session(postel, user, password) as c:
            got = mailbox_state(c, "INBOX")[2]
            assert sorted(got) == [u for u, _ in entries[:k]] + [entries[k - 1][0] + 1]

        rc, stdout, stderr = import_cmd(postel, top, user)
        assert rc == 0, stdout + stderr
        if k == 1:
            assert "uid=6 expunged, to be imported again" in stdout, stdout
        else:
            assert "uid=8 flags restored" in stdout, stdout
        with postel_session(postel, user, password) as c:
            validity, next_uid, msgs = mailbox_state(c, "INBOX")
            assert (validity, next_uid) == (1234567, uidnext)
            assert sorted(msgs) == [u for u, _ in entries]
            assert msgs[7] == {"\\Seen"} and msgs[8] == {"\\Flagged", "$Label1"}
        rc, stdout, stderr = import_cmd(postel, top, user)
        assert rc == 0 and f"imported=0 already={n + 1}" in stdout, stdout + stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)
        shutil.rmtree(part, ignore_errors=True)
