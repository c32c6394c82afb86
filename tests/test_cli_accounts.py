"""Issue 11 item 5: account footguns. "user add" in a domain that is not
local refuses unless --create-domain; passwords have a minimum length
(password_min_length, default 8); an alias that would shadow a user or close
a loop (a -> b -> a, also through a catch-all) is refused; "user del"
removes the user's mail unless --keep-mail, so a user added again does not
inherit it; a data directory that does not exist is an error for every
account command but "domain add"."""
import pathlib
import smtplib
import tempfile

import pytest

from conftest import POSTEL_BIN, Postel, make_message, scaled, token
import subprocess


@pytest.fixture
def cli():
    """A data directory with one domain and one user, no server."""
    srv = Postel()
    srv.cli("domain", "add", "acct.example")
    srv.add_user("ann@acct.example", "ann password 1")
    yield srv
    srv.cleanup()


def add(srv, address, password="long enough pw", *options, check=False):
    return srv.cli("user", "add", *options, address, input=(password + "\n").encode(),
                   check=check)


def users(srv):
    return srv.cli("user", "list")[1].split()


def test_user_add_in_unknown_domain_refused(cli):
    rc, _, err = add(cli, "bob@typo.example")
    assert rc == 1, err
    assert "typo.example is not a local domain" in err and "--create-domain" in err, err
    assert "bob@typo.example" not in users(cli)
    assert "typo.example" not in cli.cli("domain", "list")[1].split()
    assert not (cli.datadir / "mail" / "typo.example").exists()
    rc, out, err = add(cli, "bob@typo.example", "long enough pw", "--create-domain")
    assert rc == 0, err
    assert "bob@typo.example" in users(cli)
    assert "typo.example" in cli.cli("domain", "list")[1].split()
    # a local domain needs no flag, in any case
    rc, _, err = add(cli, "cy@ACCT.example")
    assert rc == 0, err


def test_password_min_length(cli):
    rc, _, err = add(cli, "short@acct.example", "seven77")
    assert rc == 1 and "shorter than 8 characters" in err, err
    assert "password_min_length" in err, err
    assert "short@acct.example" not in users(cli)
    # characters, not bytes: 8 two-byte characters pass, 7 do not
    rc, _, err = add(cli, "utf@acct.example", "\u00e9" * 7)
    assert rc == 1, err
    rc, _, err = add(cli, "utf@acct.example", "\u00e9" * 8)
    assert rc == 0, err
    rc, _, err = cli.cli("user", "passwd", "ann@acct.example", input=b"abc\n", check=False)
    assert rc == 1 and "shorter than" in err, err
    # the key moves the bar
    p = subprocess.run([POSTEL_BIN, "-d", str(cli.datadir), "-o", "password_min_length=12",
                        "user", "add", "long@acct.example"], input=b"eleven char\n",
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 1 and b"shorter than 12" in p.stderr, p.stderr
    # an imported hash is not a password: no length to check
    rc, _, err = cli.cli("user", "add", "--hash", "$6$abcdefgh$" + "x" * 86,
                         "hashed@acct.example", check=False)
    assert "shorter" not in err, err


def test_alias_shadowing_a_user_refused(cli):
    rc, _, err = cli.cli("alias", "add", "ann@acct.example", "x@remote.example",
                         check=False)
    assert rc == 1 and "ann@acct.example is a user" in err, err
    assert "ann@acct.example" not in cli.cli("alias", "list")[1]
    # listing the user itself first keeps a copy there: no shadow
    cli.cli("alias", "add", "ann@acct.example", "ann@acct.example", "x@remote.example")
    out = cli.cli("alias", "list")[1]
    assert "ann@acct.example x@remote.example" in out, out


def test_alias_loops_refused(cli):
    # a -> a
    rc, _, err = cli.cli("alias", "add", "a@acct.example", "a@acct.example", check=False)
    assert rc == 1 and "loop" in err, err
    # a -> b -> a
    cli.cli("alias", "add", "a@acct.example", "b@acct.example")
    rc, _, err = cli.cli("alias", "add", "b@acct.example", "a@acct.example", check=False)
    assert rc == 1 and "loop" in err, err
    # a -> b -> c -> a
    cli.cli("alias", "add", "b@acct.example", "c@acct.example")
    rc, _, err = cli.cli("alias", "add", "c@acct.example", "a@acct.example", check=False)
    assert rc == 1 and "loop" in err, err
    # through a catch-all: nobody@ has no user or alias, so it goes to @acct
    rc, _, err = cli.cli("alias", "add", "@acct.example", "nobody@acct.example",
                         check=False)
    assert rc == 1 and "loop" in err, err
    cli.cli("domain", "add", "other.example")
    cli.cli("alias", "add", "@other.example", "d@acct.example")
    # d@acct has nothing of its own: with @acct -> x@other it goes round
    rc, _, err = cli.cli("alias", "add", "@acct.example", "x@other.example", check=False)
    assert rc == 1 and "loop" in err, err
    # not loops: to a user, to an external address, a fan-out that ends
    cli.cli("alias", "add", "@acct.example", "ann@acct.example")
    cli.cli("alias", "add", "c@acct.example", "ann@acct.example")
    cli.cli("alias", "add", "c@acct.example", "out@remote.example")
    out = cli.cli("alias", "list")[1]
    assert "b@acct.example a@acct.example" not in out, out
    assert "c@acct.example a@acct.example" not in out, out


def deliver_to(srv, rcpt, tok):
    msg = make_message(tok, sender="x@remote.example", to=rcpt)
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(10)) as s:
        s.sendmail("x@remote.example", [rcpt], msg)
    assert len(srv.find(rcpt, tok)) == 1


def test_user_del_removes_mail(postel):
    user = f"del{token()[1:9]}@example.org"
    tok = token()
    postel.add_user(user, "first password")
    deliver_to(postel, user, tok)
    _, out, _ = postel.cli("user", "del", user)
    assert "and its mail" in out, out
    assert not postel.maildir(user).exists()
    assert postel.all_files_containing(tok) == []
    # added again: starts empty, the old mail is not inherited
    postel.add_user(user, "second password")
    assert postel.messages(user) == []
    assert postel.maildir(user).is_dir()


def test_user_del_keep_mail(postel):
    user = f"keep{token()[1:9]}@example.org"
    tok = token()
    postel.add_user(user, "first password")
    deliver_to(postel, user, tok)
    _, out, _ = postel.cli("user", "del", "--keep-mail", user)
    assert "kept" in out, out
    assert len(postel.find(user, tok)) == 1
    rc, _, err = postel.cli("user", "del", "--keep-mail", user, check=False)
    assert rc == 1 and "no such user" in err


@pytest.mark.parametrize("args", [("user", "list"), ("user", "del", "a@b.example"),
                                  ("alias", "list"), ("domain", "list"),
                                  ("queue", "list"), ("user", "add", "a@b.example")])
def test_missing_data_dir_is_an_error(args):
    missing = pathlib.Path(tempfile.mkdtemp(prefix="postel-gone-", dir="/tmp")) / "typo"
    try:
        p = subprocess.run([POSTEL_BIN, "-d", str(missing), *args],
                           input=b"long password\n", capture_output=True,
                           timeout=scaled(30))
        assert p.returncode == 1, p
        assert b"does not exist" in p.stderr, p.stderr
        assert not missing.exists(), f"{args} created {missing}"
    finally:
        subprocess.run(["rm", "-rf", str(missing.parent)], check=False)


def test_domain_add_creates_missing_data_dir():
    missing = pathlib.Path(tempfile.mkdtemp(prefix="postel-new-", dir="/tmp")) / "data"
    missing.parent.chmod(0o755)  # the run user must reach its directories
    try:
        p = subprocess.run([POSTEL_BIN, "-d", str(missing), "domain", "add", "n.example"],
                           capture_output=True, timeout=scaled(30))
        assert p.returncode == 0, p.stderr
        assert (missing / "db").is_dir()
        # --help needs no data directory and creates none
        gone = missing.parent / "other"
        p = subprocess.run([POSTEL_BIN, "-d", str(gone), "user", "--help"],
                           capture_output=True, timeout=scaled(30))
        assert p.returncode == 0 and not gone.exists(), p
    finally:
        subprocess.run(["rm", "-rf", str(missing.parent)], check=False)
