"""mutt reading a message over IMAPS (issue 9 item 11, real clients): run
on a pseudo-terminal, it accepts the self-signed certificate once, opens
INBOX (FETCH of the index: FLAGS, INTERNALDATE, RFC822.SIZE, header
fields) and pipes the message (BODY.PEEK[] or BODY[]) to a file."""
import os
import pty
import select
import shutil
import time

import pytest

from conftest import scaled
from imap_helpers import deliver, new_user

MUTT = shutil.which("mutt")


def _drive(cmd, env, steps, deadline):
    """Run cmd on a pty; steps: [(text to wait for or None, keys)]."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, env)
    seen = b""
    try:
        for want, keys in steps:
            while want is not None and want not in seen:
                if time.monotonic() > deadline:
                    raise AssertionError(f"waiting for {want!r}; screen {seen[-800:]!r}")
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        seen += os.read(fd, 65536)
                    except OSError:
                        break
            os.write(fd, keys)
            time.sleep(0.3)
        for _ in range(100):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return seen
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    pass
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    return seen


@pytest.mark.skipif(MUTT is None, reason="mutt not installed")
def test_mutt_reads_a_message(postel, tmp_path):
    user, password = new_user(postel)
    _, stored = deliver(postel, user)
    out = tmp_path / "piped.eml"
    rc = tmp_path / "muttrc"
    rc.write_text(
        f'set imap_user="{user}"\nset imap_pass="{password}"\n'
        f'set certificate_file="{tmp_path}/certs"\nset ssl_starttls=no\n'
        'set wait_key=no\nset pipe_decode=no\nset mail_check=0\n'
        'set header_cache=""\nset message_cachedir=""\nset move=no\n'
        'set confirmappend=no\nset quit=yes\nset sort=date\n')
    env = dict(os.environ, HOME=str(tmp_path), TERM="vt100", LANG="C.UTF-8")
    url = f"imaps://127.0.0.1:{postel.imaps_port}/INBOX"
    with rc.open("a") as f:
        f.write(f'set folder="imaps://127.0.0.1:{postel.imaps_port}/"\nset spoolfile="{url}"\n')
    deadline = time.monotonic() + scaled(40)
    screen = _drive([MUTT, "-n", "-F", str(rc), "-f", url], env, [
        (b"(o)nce", b"o"),                 # the self-signed certificate
        (b"1 ", b"|"),                      # the index shows message 1
        (b"Pipe to command:", f"cat > {out}\r".encode()),
        (None, b"q"),
    ], deadline)
    assert out.exists(), screen[-1500:]
    got = out.read_bytes().replace(b"\r\n", b"\n")
    want = stored.replace(b"\r\n", b"\n")
    # mutt pipes the message as it fetched it (header and body intact)
    assert got.endswith(want.partition(b"\n\n")[2]), got[:400]
    for line in want.partition(b"\n\n")[0].split(b"\n")[:3]:
        assert line in got
