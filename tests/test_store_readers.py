"""Other programs read Postel's Maildir as their own: mutt (in tmux, the
way a person runs it) shows a delivered message with its headers parsed
and no stray carriage returns ("^M"), which it does show for Maildir files
written with CRLF line endings."""
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import ALICE, make_message, scaled, token

pytestmark = pytest.mark.skipif(
    shutil.which("mutt") is None or shutil.which("tmux") is None,
    reason="mutt and tmux are in CHECK_PKGS (scripts/install-deps.sh)")


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", "postel-test", *args], check=check,
                          capture_output=True, text=True, timeout=30)


def screen_with(text, timeout=10.0):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        shown = tmux("capture-pane", "-p", "-t", "mutt").stdout
        if text in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_mutt_reads_the_maildir(postel, tmp_path):
    tok = token()
    subject = f"Mutt check {tok[:8]}"
    msg = make_message(tok, subject=subject, body=["first body line", "second line"])
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=10) as s:
        s.sendmail("someone@remote.example", [ALICE], msg)
    maildir = postel.maildir(ALICE)
    muttrc = tmp_path / "muttrc"
    # no mail spool, no header cache, show every header in the pager
    muttrc.write_text(f"set mbox_type=Maildir\nset folder={maildir}\n"
                      "unset header_cache\nunignore *\nset sort=date\n")
    tmux("kill-server", check=False)
    tmux("new-session", "-d", "-s", "mutt", "-x", "160", "-y", "50",
         f"TERM=xterm mutt -n -R -F {muttrc} -f {maildir}")
    try:
        index = screen_with(subject)
        assert subject in index, f"mutt's index does not list the message:\n{index}"
        tmux("send-keys", "-t", "mutt", "/", f"~s {tok[:8]}", "Enter")
        time.sleep(scaled(0.5))
        tmux("send-keys", "-t", "mutt", "Enter")
        pager = screen_with("second line")
        assert "first body line" in pager and "second line" in pager, pager
        assert "Return-Path: <someone@remote.example>" in pager, pager
        assert f"Delivered-To: {ALICE}" in pager, pager
        assert "^M" not in pager, f"mutt shows carriage returns:\n{pager}"
    finally:
        tmux("kill-server", check=False)
