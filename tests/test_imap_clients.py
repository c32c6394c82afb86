"""Real IMAP clients against Postel (issue 9 "How it is shown", TESTING.md
real clients): mbsync two-way sync over IMAPS, neomutt/mutt in batch mode,
offlineimap, fetchmail (with and without keep), curl imaps:// LIST and
SEARCH. Each test skips when its client is not installed; every run is
bounded by a timeout, on loopback, with HOME in a temp dir."""
import contextlib
import os
import shutil
import subprocess
import time

import pytest

from conftest import HOSTNAME, make_message, scaled, token
from imap_helpers import (IMAPRaw, append_sync, deliver, fetchmail_mda, new_user, offlineimap_rc,
                          status_of)


def run(argv, tmp_path, timeout=60, **kw):
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path), LC_ALL="C.UTF-8")
    p = subprocess.run(argv, capture_output=True, timeout=scaled(timeout), env=env,
                       stdin=subprocess.DEVNULL, **kw)
    return p, (p.stdout + p.stderr).decode(errors="replace")


def need(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (scripts/install-deps.sh check)")
    return path


@contextlib.contextmanager
def imap(postel, user, password):
    """IMAPRaw over 993, logged in; LOGOUT at the end (a clean close)."""
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, password)
        yield c
        assert status_of(c.command("LOGOUT")[0]) == "OK"


def server_state(postel, user, password, mailbox):
    """{token-or-subject line: flags} of mailbox, read with UID FETCH."""
    with imap(postel, user, password) as c:
        tagged, _ = c.command(f'EXAMINE "{mailbox}"')
        assert status_of(tagged) == "OK", tagged
        tagged, lines = c.command("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert status_of(tagged) == "OK", tagged
    out = {}
    flags = None
    for line in lines:
        if b" FETCH (" in line:
            flags = line.split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode().split()
        elif line.lower().startswith(b"subject:") and flags is not None:
            out[line.split(b":", 1)[1].strip().decode()] = set(flags) - {"\\Recent"}
            flags = None
    return out


def subject_of(data):
    for line in data.split(b"\n"):
        if line.lower().startswith(b"subject:"):
            return line.split(b":", 1)[1].strip().decode()
    return None


def maildir_state(folder):
    """{subject: flags letters} of a local Maildir folder."""
    out = {}
    for sub in ("new", "cur"):
        d = folder / sub
        for p in (d.iterdir() if d.is_dir() else []):
            info = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
            out[subject_of(p.read_bytes())] = set(info)
    return out


def tok_state(state):
    return {k.split()[-1]: v for k, v in state.items()}


def append(postel, user, password, mailbox, tok, flags=""):
    """APPEND a message carrying tok to mailbox (created first if new)."""
    msg = make_message(tok, to=user)
    with imap(postel, user, password) as c:
        c.command(f'CREATE "{mailbox}"')  # NO [ALREADYEXISTS] is fine
        tagged = append_sync(c, f'"{mailbox}" ({flags})', msg)
        assert status_of(tagged) == "OK", tagged
    return msg


def local_message(folder, tok, user, info=""):
    """A Maildir file for tok in folder: new/ without info, else cur/."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = f"1700000000.{tok}.host" + (f":2,{info}" if info else "")
    (folder / ("cur" if info else "new") / name).write_bytes(
        make_message(tok, to=user).replace(b"\r\n", b"\n"))


def mbsync_config(tmp_path, postel, user, password, local):
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        "IMAPAccount postel\n"
        f"Host 127.0.0.1\nPort {postel.imaps_port}\nUser {user}\nPass {password}\n"
        f"SSLType IMAPS\nCertificateFile {postel.cert_path}\nTimeout {int(scaled(20))}\n\n"
        "IMAPStore remote\nAccount postel\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel ch\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
        "Remove Both\nExpunge Both\nSync All\nSyncState *\n")
    return rc


def test_mbsync_two_way(postel, tmp_path):
    mbsync = need("mbsync")
    user, password = new_user(postel)
    local = tmp_path / "mail"
    local.mkdir()
    rc = mbsync_config(tmp_path, postel, user, password, local)
    toks = {}
    for name in ("in1", "in2", "in3"):
        toks[name] = deliver(postel, user)[0]
    toks.update({n: token() for n in ("w1", "w2", "s1", "l1", "lin")})
    append(postel, user, password, "Work", toks["w1"])
    append(postel, user, password, "Work", toks["w2"], "\\Seen")
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out
    inbox = set(tok_state(maildir_state(local / "INBOX")))
    assert inbox == {toks[n] for n in ("in1", "in2", "in3")}, out
    work = tok_state(maildir_state(local / "Work"))
    assert work == {toks["w1"]: set(), toks["w2"]: {"S"}}, out

    # changes on both sides: flags, deletions, a new folder each
    with imap(postel, user, password) as c:
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        tagged, found = c.command(f"UID SEARCH SUBJECT {toks['in1']}")
        uid1 = found[0].split()[2].decode()
        tagged, found = c.command(f"UID SEARCH SUBJECT {toks['in2']}")
        uid2 = found[0].split()[2].decode()
        assert status_of(c.command(f"UID STORE {uid1} +FLAGS (\\Flagged)")[0]) == "OK"
        assert status_of(c.command(f"UID STORE {uid2} +FLAGS (\\Deleted)")[0]) == "OK"
        assert status_of(c.command("EXPUNGE")[0]) == "OK"
    append(postel, user, password, "FromServer", toks["s1"])
    for p_ in (local / "INBOX").glob("*/*"):
        if toks["in3"].encode() in p_.read_bytes():
            p_.rename(p_.parent.parent / "cur" / (p_.name.split(":2,")[0] + ":2,S"))
    for p_ in (local / "Work").glob("*/*"):
        if toks["w1"].encode() in p_.read_bytes():
            p_.unlink()
    local_message(local / "FromLocal", toks["l1"], user)
    local_message(local / "INBOX", toks["lin"], user, "F")
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out
    want_inbox = {toks["in1"]: {"\\Flagged"}, toks["in3"]: {"\\Seen"},
                  toks["lin"]: {"\\Flagged"}}
    assert tok_state(server_state(postel, user, password, "INBOX")) == want_inbox, out
    assert tok_state(server_state(postel, user, password, "Work")) == {toks["w2"]: {"\\Seen"}}
    assert tok_state(server_state(postel, user, password, "FromLocal")) == {toks["l1"]: set()}
    assert tok_state(maildir_state(local / "INBOX")) == {
        toks["in1"]: {"F"}, toks["in3"]: {"S"}, toks["lin"]: {"F"}}, out
    assert tok_state(maildir_state(local / "Work")) == {toks["w2"]: {"S"}}
    assert tok_state(maildir_state(local / "FromServer")) == {toks["s1"]: set()}

    # a second sync changes nothing on either side
    def snapshot():
        files = sorted(str(f.relative_to(local)) for f in local.glob("*/*/*"))
        server = {box: server_state(postel, user, password, box)
                  for box in ("INBOX", "Work", "FromLocal", "FromServer")}
        return files, server
    before = snapshot()
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out
    assert snapshot() == before, out


def test_fetchmail_imaps_flush(postel, tmp_path):
    """Without keep fetchmail marks each message \\Deleted and expunges:
    the server's INBOX is empty after, every message is in the mda's files."""
    fetchmail = need("fetchmail")
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(3)]
    out_dir, mda = fetchmail_mda(tmp_path)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"set no syslog\npoll {HOSTNAME} via 127.0.0.1 service {postel.imaps_port}\n"
        f"  protocol IMAP user \"{user}\" password \"{password}\" is nobody here\n"
        f"  ssl sslcommonname {HOSTNAME} sslcertck sslcertfile \"{postel.cert_path}\" fetchall\n"
        f"  mda \"{mda}\"\n")
    rc.chmod(0o600)
    argv = [fetchmail, "-f", str(rc), "-v", "--nodetach", "--pidfile", str(tmp_path / "pid")]
    p, out = run(argv, tmp_path)
    assert p.returncode == 0, out
    got = [f.read_bytes() for f in out_dir.iterdir()]
    assert sorted(t for t in toks for d in got if t.encode() in d) == sorted(toks), out
    assert postel.messages(user) == [], out
    assert server_state(postel, user, password, "INBOX") == {}
    # a second run finds nothing: exit status 1 is fetchmail's "no mail"
    p, out = run(argv, tmp_path)
    assert p.returncode == 1, out
    assert len(list(out_dir.iterdir())) == 3


def curl(postel, tmp_path, user, password, path, *extra):
    return run(["curl", "-s", "-S", "--cacert", str(postel.cert_path),
                "--max-time", str(int(scaled(20))), "-u", f"{user}:{password}",
                "--resolve", f"{HOSTNAME}:{postel.imaps_port}:127.0.0.1",
                *extra, f"imaps://{HOSTNAME}:{postel.imaps_port}/{path}"], tmp_path, timeout=30)


def test_curl_imaps_list_fetch_search(postel, tmp_path):
    need("curl")
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(2)]
    append(postel, user, password, "Projects", token())
    p, out = curl(postel, tmp_path, user, password, "")
    assert p.returncode == 0, out
    listed = p.stdout.decode()
    assert '"Projects"' in listed or " Projects\r\n" in listed, listed
    assert "INBOX" in listed, listed
    p, out = curl(postel, tmp_path, user, password, "INBOX;UID=2")
    assert p.returncode == 0, out
    assert toks[1].encode() in p.stdout and toks[0].encode() not in p.stdout
    p, out = curl(postel, tmp_path, user, password, "INBOX", "-X", "SEARCH ALL")
    assert p.returncode == 0, out
    assert p.stdout.decode().split("\r\n")[0] == "* SEARCH 1 2", p.stdout
    p, out = curl(postel, tmp_path, user, password, "INBOX", "-X", f"UID SEARCH SUBJECT {toks[0]}")
    assert p.returncode == 0, out
    assert p.stdout.decode().startswith("* SEARCH 1\r\n"), p.stdout


def test_offlineimap_sync(postel, tmp_path):
    """offlineimap syncs INBOX and a folder to a local Maildir; a second run
    changes nothing."""
    offlineimap = need("offlineimap")
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(2)]
    work_tok = token()
    append(postel, user, password, "Work", work_tok, "\\Seen \\Flagged")
    append(postel, user, password, "Other", token())
    local = tmp_path / "mail"
    rc = offlineimap_rc(postel, tmp_path, user, password, ["INBOX", "Work"])
    argv = [offlineimap, "-c", str(rc), "-o", "-u", "basic"]
    p, out = run(argv, tmp_path, timeout=120)
    assert p.returncode == 0, out
    assert "ERROR" not in out, out
    assert set(tok_state(maildir_state(local / "INBOX"))) == set(toks), out
    assert tok_state(maildir_state(local / "Work")) == {work_tok: {"S", "F"}}, out
    assert not (local / "Other").exists()
    before = sorted(str(f.relative_to(local)) for f in local.glob("*/*/*"))
    server = {b: server_state(postel, user, password, b) for b in ("INBOX", "Work")}
    p, out = run(argv, tmp_path, timeout=120)
    assert p.returncode == 0, out
    assert sorted(str(f.relative_to(local)) for f in local.glob("*/*/*")) == before, out
    assert {b: server_state(postel, user, password, b) for b in ("INBOX", "Work")} == server
    # then a change on each side: a flag and a new message locally, an
    # expunge on the server; a third run carries both across
    for f in (local / "INBOX").glob("*/*"):
        if toks[0].encode() in f.read_bytes():
            f.rename(f.parent.parent / "cur" / (f.name.split(":2,")[0] + ":2,FS"))
    local_message(local / "Work", "n" + token(), user)
    new_tok = [t for t in tok_state(maildir_state(local / "Work")) if t != work_tok][0]
    with imap(postel, user, password) as c:
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        _, found = c.command(f"UID SEARCH SUBJECT {toks[1]}")
        uid = found[0].split()[2].decode()
        assert status_of(c.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")[0]) == "OK"
        assert status_of(c.command(f"UID EXPUNGE {uid}")[0]) == "OK"
    p, out = run(argv, tmp_path, timeout=120)
    assert p.returncode == 0 and "ERROR" not in out, out
    assert tok_state(server_state(postel, user, password, "INBOX")) == {
        toks[0]: {"\\Seen", "\\Flagged"}}, out
    assert tok_state(server_state(postel, user, password, "Work")) == {
        work_tok: {"\\Seen", "\\Flagged"}, new_tok: set()}, out
    assert tok_state(maildir_state(local / "INBOX")) == {toks[0]: {"F", "S"}}, out


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-L", sock, *args], check=check,
                          capture_output=True, text=True, timeout=30)


def test_neomutt_read_flag_move_delete(postel, tmp_path):
    """neomutt (or mutt) in tmux, driven by a pushed key sequence: reads a
    message (\\Seen), flags one, saves one to Archive (UID COPY, then
    deleted), deletes one, syncs (EXPUNGE) and quits; the server state is
    checked after with IMAPRaw."""
    mutt = shutil.which("neomutt") or need("mutt")
    need("tmux")
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(5)]
    append(postel, user, password, "Archive", token())  # the target exists
    muttrc = tmp_path / "muttrc"
    keys = (f"<search>~s {toks[0]}<enter><display-message><exit>"
            f"<search>~s {toks[1]}<enter><flag-message>"
            f"<search>~s {toks[2]}<enter><save-message>\\Cu=Archive<enter>"
            f"<search>~s {toks[3]}<enter><delete-message>"
            "<sync-mailbox><quit>")
    muttrc.write_text(
        f"set folder=\"imaps://{user}@127.0.0.1:{postel.imaps_port}/\"\n"
        f"set imap_user=\"{user}\"\nset imap_pass=\"{password}\"\n"
        f"set certificate_file=\"{postel.cert_path}\"\nset ssl_verify_host=no\n"
        "set spoolfile=+INBOX\nset record=\"\"\nset postponed=\"\"\n"
        "set quit=yes\nset delete=yes\nset move=no\nset confirmappend=no\n"
        "set mark_old=no\nset wait_key=no\nunset header_cache\nunset message_cachedir\n"
        f"set timeout={int(scaled(10))}\nset imap_keepalive=30\n"
        f"push \"{keys}\"\n")
    sock = "postel-imapclients-" + token()[1:9]
    log = tmp_path / "mutt.out"
    tmux(sock, "new-session", "-d", "-s", "m", "-x", "160", "-y", "50",
         f"HOME={tmp_path} TERM=xterm {mutt} -n -F {muttrc} -f =INBOX; echo rc=$? > {log}")
    try:
        deadline = time.monotonic() + scaled(40)
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        screen = tmux(sock, "capture-pane", "-p", "-t", "m", check=False).stdout
        assert log.exists(), f"{mutt} did not finish:\n{screen}"
    finally:
        tmux(sock, "kill-server", check=False)
    assert log.read_text().strip() == "rc=0"
    inbox = tok_state(server_state(postel, user, password, "INBOX"))
    assert inbox == {toks[0]: {"\\Seen"}, toks[1]: {"\\Flagged"}, toks[4]: set()}, inbox
    archive = tok_state(server_state(postel, user, password, "Archive"))
    assert toks[2] in archive and len(archive) == 2, archive


def test_openssl_s_client_starttls_verified_login(postel, tmp_path):
    """openssl s_client -starttls imap verifies the certificate against the
    server's CA and host name, then LOGIN and SELECT succeed over it."""
    need("openssl")
    user, password = new_user(postel)
    deliver(postel, user)
    script = f'a LOGIN "{user}" "{password}"\nb SELECT INBOX\nc LOGOUT\n'
    p = subprocess.run(["openssl", "s_client", "-starttls", "imap", "-crlf", "-ign_eof",
                        "-verify_return_error", "-CAfile", str(postel.cert_path),
                        "-verify_hostname", HOSTNAME, "-servername", HOSTNAME,
                        "-connect", f"127.0.0.1:{postel.imap_port}"],
                       input=script.encode(), capture_output=True, timeout=scaled(30))
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out
    assert "\na OK " in out and "* 1 EXISTS" in out and "\nb OK [READ-WRITE]" in out, out
    assert "* BYE" in out and "\nc OK " in out, out


def test_mbsync_starttls_arrival_date(postel, tmp_path):
    """mbsync over STARTTLS (143) with CopyArrivalDate: a local message is
    APPENDed with its file's mtime as the date-time argument, which the
    server keeps as INTERNALDATE (RFC 9051 6.3.12); a server message
    arrives with its INTERNALDATE as the file's mtime."""
    mbsync = need("mbsync")
    user, password = new_user(postel)
    local = tmp_path / "mail"
    server_tok, local_tok = deliver(postel, user)[0], token()
    local_message(local / "INBOX", local_tok, user, "S")
    when = 1700000000  # 2023-11-14T22:13:20Z
    for f in (local / "INBOX" / "cur").iterdir():
        os.utime(f, (when, when))
    rc = mbsync_config(tmp_path, postel, user, password, local)
    text = rc.read_text().replace("SSLType IMAPS", "SSLType STARTTLS")
    text = text.replace(f"Port {postel.imaps_port}", f"Port {postel.imap_port}")
    rc.write_text(text + "CopyArrivalDate yes\n")
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out
    assert tok_state(server_state(postel, user, password, "INBOX")) == {
        server_tok: set(), local_tok: {"\\Seen"}}, out
    with imap(postel, user, password) as c:
        assert status_of(c.command("EXAMINE INBOX")[0]) == "OK"
        _, found = c.command(f"UID SEARCH SUBJECT {local_tok}")
        uid = found[0].split()[2].decode()
        _, lines = c.command(f"UID FETCH {uid} INTERNALDATE")
    assert b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in lines[0], lines
    got = [f for f in (local / "INBOX").glob("*/*") if server_tok.encode() in f.read_bytes()]
    assert len(got) == 1, out
    assert abs(got[0].stat().st_mtime - time.time()) < scaled(600)


def screen_with(sock, text, timeout):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        shown = tmux(sock, "capture-pane", "-p", "-t", "m", check=False).stdout
        if text in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_neomutt_shows_new_mail(postel, tmp_path):
    """neomutt with imap_idle and a 1 s mail_check: a message delivered
    over SMTP while it has INBOX open shows up in its index (EXISTS pushed
    during IDLE or reported on its next check; the test does not tell
    which)."""
    mutt = shutil.which("neomutt") or need("mutt")
    need("tmux")
    user, password = new_user(postel)
    first = deliver(postel, user)[0]
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        f"set folder=\"imaps://{user}@127.0.0.1:{postel.imaps_port}/\"\n"
        f"set imap_user=\"{user}\"\nset imap_pass=\"{password}\"\n"
        f"set certificate_file=\"{postel.cert_path}\"\nset ssl_verify_host=no\n"
        "set spoolfile=+INBOX\nset record=\"\"\nset postponed=\"\"\nset quit=yes\n"
        "set imap_idle=yes\nset mail_check=1\nset timeout=1\nunset header_cache\n"
        "set index_format=\"%4C %s\"\n")
    sock = "postel-imapclients-" + token()[1:9]
    tmux(sock, "new-session", "-d", "-s", "m", "-x", "160", "-y", "40",
         f"HOME={tmp_path} TERM=xterm {mutt} -n -F {muttrc} -f =INBOX")
    try:
        screen = screen_with(sock, first, 20)
        assert first in screen, screen
        time.sleep(scaled(2))  # neomutt enters IDLE after its first check
        second = deliver(postel, user)[0]
        screen = screen_with(sock, second, 20)
        assert second in screen, screen
    finally:
        tmux(sock, "kill-server", check=False)


def test_mbsync_nested_folders(postel, tmp_path):
    """Nested folders both ways with mbsync: a local Projects/Alpha (Maildir
    SubFolders Verbatim) is created on the server under the hierarchy
    delimiter; a server Lists/Beta arrives as a local nested folder."""
    mbsync = need("mbsync")
    user, password = new_user(postel)
    local = tmp_path / "mail"
    alpha, beta = token(), token()
    local_message(local / "Projects" / "Alpha", alpha, user)
    append(postel, user, password, "Lists", token())
    append(postel, user, password, "Lists/Beta", beta)
    rc = mbsync_config(tmp_path, postel, user, password, local)
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out
    assert tok_state(server_state(postel, user, password, "Projects/Alpha")) == {alpha: set()}
    assert tok_state(maildir_state(local / "Lists" / "Beta")) == {beta: set()}, out
    with imap(postel, user, password) as c:
        _, lines = c.command('LIST "" "*"')
    names = [line.rsplit(b" ", 1)[1].strip(b'"\r\n') for line in lines]
    assert b"Projects/Alpha" in names and b"Lists/Beta" in names, lines
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path)
    assert p.returncode == 0, out


def test_mbsync_many_messages_pipelined(postel, tmp_path):
    """150 messages pulled by mbsync (pipelined UID FETCH), then every one
    marked seen locally and pushed back (a burst of pipelined UID STORE):
    the server ends with all 150 \\Seen."""
    mbsync = need("mbsync")
    user, password = new_user(postel)
    toks = {token() for _ in range(150)}
    with imap(postel, user, password) as c:
        for tok in toks:
            msg = make_message(tok, to=user)
            tag = c.tag()
            c.send(f"{tag} APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
            assert status_of(c.read_tagged(tag)[0]) == "OK"
    local = tmp_path / "mail"
    local.mkdir()
    rc = mbsync_config(tmp_path, postel, user, password, local)
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path, timeout=120)
    assert p.returncode == 0, out
    assert set(tok_state(maildir_state(local / "INBOX"))) == toks, out
    for f in list((local / "INBOX").glob("*/*")):
        f.rename(f.parent.parent / "cur" / (f.name.split(":2,")[0] + ":2,S"))
    p, out = run([mbsync, "-c", str(rc), "-a"], tmp_path, timeout=120)
    assert p.returncode == 0, out
    assert tok_state(server_state(postel, user, password, "INBOX")) == {
        t: {"\\Seen"} for t in toks}, out
