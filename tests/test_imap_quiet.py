"""A user whose IMAP sessions all rest has its store handle (a SQLite
connection, about 170 KiB a worker) closed after SESSION_USER_QUIET_MS
(15 s), while the sessions stay selected and in IDLE; the next change or
command opens it again and the sessions go on in step (issue 9 items 3
and 15, src/session/session_user.h)."""
import os
import smtplib
import time

from conftest import BOB, make_message, scaled, token
from imap_helpers import new_user, status_of
from test_imap_append_idle import idle_session, in_other_worker, wait_untagged

QUIET_S = 15


def user_files_open(pid, user):
    """Files under the user's mail directory that process pid holds."""
    local, domain = user.split("@")
    found = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if f"/{domain}/{local}/" in target:
            found.append(target)
    return found


def test_resting_idle_session_lets_the_handle_go_and_resumes(postel):
    user, pw = new_user(postel)
    c, tag, pid = idle_session(postel, user, pw)
    with c:
        # SELECT opened the user's index in the session's worker
        assert user_files_open(pid, user), "no file of the user open after SELECT"
        deadline = time.monotonic() + QUIET_S + scaled(10)
        while user_files_open(pid, user) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not user_files_open(pid, user), "the resting user's handle stayed open"
        # a delivery in another worker reaches the idling session as before
        smtp = in_other_worker(postel, lambda ip: smtplib.SMTP(
            "127.0.0.1", postel.smtp_port, timeout=scaled(10), source_address=(ip, 0)),
            "smtp", pid)
        tok = token()
        smtp.sendmail(BOB, [user], make_message(tok, sender=BOB, to=user))
        smtp.quit()
        wait_untagged(c, b"* 1 EXISTS\r\n", 1.0)
        assert c.read_line(timeout=scaled(2)) == b"* 1 RECENT\r\n"
        c.send(b"DONE\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK"
        # the view (its UID map) survived the reopen: sequence numbers,
        # flags and the body are the new message's
        tagged, untagged = c.command("STORE 1 +FLAGS (\\Flagged)")
        assert status_of(tagged) == "OK", tagged
        assert any(b"\\Flagged" in line for line in untagged), untagged
        tagged, untagged = c.command("FETCH 1 (UID BODY.PEEK[])")
        assert status_of(tagged) == "OK", tagged
        assert tok.encode() in b"".join(untagged)
        assert user_files_open(pid, user), "the handle did not open again"
