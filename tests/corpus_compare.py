"""Comparison of Postel's FETCH results with Python's email package (an
independent parser) for test_imap_fetch_corpus.py: the BODYSTRUCTURE
part by part, every ENVELOPE field, and the bytes of every leaf. Each
compare_* returns a list of (aspect, part, detail) mismatches; aspects
are "tree", "type", "params", "encoding", "size", "lines", "body",
"envelope". Messages come in wire form (CRLF), as BODY[] sends them."""
import email
import email.header
import email.errors
import email.policy
import email.utils
import itertools
import re

ENVELOPE_ADDRS = ("from", "sender", "reply-to", "to", "cc", "bcc")


def imap_kids(bs):
    """The parts of a multipart BODYSTRUCTURE: its leading lists."""
    return list(itertools.takewhile(lambda p: isinstance(p, list), bs))


def is_multi(bs):
    return isinstance(bs[0], list)


def is_message(bs):
    return not is_multi(bs) and (bs[0] or b"").lower() == b"message" and \
        (bs[1] or b"").lower() in (b"rfc822", b"global")


def raw(s):
    """A compat32 str (8-bit bytes kept as surrogates) back to bytes."""
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s


def ws(b):
    """Whitespace-folded bytes: unfolding (RFC 5322 2.2.3) and the
    space runs around it are not part of a value."""
    return re.sub(rb"\s+", b" ", b).strip() if b is not None else None


def _join(prefix, i):
    return f"{prefix}.{i}" if prefix else str(i)


def _py_kids(py):
    if py is None or not py.is_multipart():
        return []
    return py.get_payload()


def walk_body(bs, py, prefix, out):
    """(part number, BODYSTRUCTURE node, Python part) of a message's body
    and everything below it (RFC 9051 6.4.5 part numbering): a
    multipart's parts are prefix.1..n, a single body is prefix.1."""
    if is_multi(bs):
        out.append((prefix or "", bs, py))
        kids = _py_kids(py)
        for i, k in enumerate(imap_kids(bs), 1):
            walk_part(k, kids[i - 1] if i <= len(kids) else None, _join(prefix, i), out)
    else:
        walk_part(bs, py, _join(prefix, 1), out)


def walk_part(bs, py, num, out):
    if is_multi(bs):
        out.append((num, bs, py))
        kids = _py_kids(py)
        for i, k in enumerate(imap_kids(bs), 1):
            walk_part(k, kids[i - 1] if i <= len(kids) else None, f"{num}.{i}", out)
        return
    out.append((num, bs, py))
    if is_message(bs) and len(bs) > 8 and isinstance(bs[8], list):
        kids = _py_kids(py)
        walk_body(bs[8], kids[0] if kids else None, num, out)


def parts(bs, py):
    out = []
    walk_body(bs, py, "", out)
    return out


def py_params(py):
    """Content-Type parameters as Python decodes them (RFC 2231 joined),
    names lower case; type/subtype left out."""
    out = {}
    for k, v in (py.get_params(header="content-type") or [])[1:]:
        if isinstance(v, tuple):
            v = email.utils.collapse_rfc2231_value(v)
        if k:                   # feedparser's "" for an empty ";;" slot
            out[k.lower()] = decoded(raw(v))
    return out


def imap_params(node):
    out = {}
    if isinstance(node, list):
        for k in range(0, len(node) - 1, 2):
            out[(node[k] or b"").decode().lower()] = decoded(node[k + 1])
    return out


def decoded(b):
    """RFC 2047 encoded words decoded (Postel re-encodes a decoded name
    as UTF-8 encoded words, RFC 6855 7; the sender may have used any
    charset), whitespace folded; raw 8-bit bytes stay as they are."""
    if b is None or b"=?" not in b:
        return ws(b)
    try:
        s = str(email.header.make_header(email.header.decode_header(b.decode("ascii"))))
    except (UnicodeDecodeError, LookupError, email.errors.HeaderParseError):
        return ws(b)
    return ws(s.encode("utf-8", "surrogateescape"))


def leaf_bytes(py):
    """The body of a leaf as it is on the wire: compat32 keeps the
    payload undecoded, and the line end before a delimiter belongs to the
    delimiter (RFC 2046 5.1.1), which feedparser strips too."""
    payload = py._payload      # get_payload() would decode 8-bit by charset
    return raw(payload) if isinstance(payload, str) else None


def body_lines(b):
    """Lines of a body as IMAP counts them (RFC 9051 7.5.2
    body-fld-lines): its line ends, as Dovecot counts them; a last line
    without one is not counted."""
    return b.count(b"\n")


def compare_structure(bs, py, bodies):
    """bodies: {part number: BODY[n] bytes}."""
    bad = []
    for num, node, p in parts(bs, py):
        if p is None:
            bad.append(("tree", num, "no such part in Python's tree"))
            continue
        if is_multi(node):
            sub = node[len(imap_kids(node))]
            if not p.is_multipart() or p.get_content_maintype() != "multipart":
                bad.append(("tree", num, f"multipart/{sub} vs {p.get_content_type()}"))
                continue
            if (sub or b"").decode().lower() != p.get_content_subtype():
                bad.append(("type", num, (sub, p.get_content_type())))
            if len(imap_kids(node)) != len(_py_kids(p)):
                bad.append(("tree", num, (len(imap_kids(node)), len(_py_kids(p)))))
            ip = imap_params(node[len(imap_kids(node)) + 1]
                             if len(node) > len(imap_kids(node)) + 1 else None)
            if ip != py_params(p):
                bad.append(("params", num, (ip, py_params(p))))
            continue
        ctype = f"{node[0].decode().lower()}/{node[1].decode().lower()}"
        if ctype != p.get_content_type():
            bad.append(("type", num, (ctype, p.get_content_type())))
        ip, pp = imap_params(node[2]), py_params(p)
        if ctype.startswith("text/") and "charset" not in pp:
            pp["charset"] = b"us-ascii"     # RFC 2045 5.2, as Dovecot writes it
        if {k: v.lower() if k == "charset" and v else v for k, v in ip.items()} != \
                {k: v.lower() if k == "charset" and v else v for k, v in pp.items()}:
            bad.append(("params", num, (ip, pp)))
        cte = (p.get("content-transfer-encoding") or "7bit").strip().lower()
        if (node[5] or b"").decode().lower() != raw(cte).decode("latin-1"):
            bad.append(("encoding", num, (node[5], cte)))
        got = bodies.get(num)
        if got is None and int(node[6]) == 0:
            got = b""       # NIL (nstring) for a 0-octet part made up for the grammar
        if got is None:
            bad.append(("body", num, "not fetched"))
            continue
        if int(node[6]) != len(got):
            bad.append(("size", num, (int(node[6]), len(got))))
        if ctype.startswith("text/") and int(node[7]) != body_lines(got):
            bad.append(("lines", num, (int(node[7]), body_lines(got))))
        want = leaf_bytes(p)
        if is_message(node) or (want is None and ctype.startswith("message/")):
            # message/rfc822 is compared below it; other message/* types
            # (delivery-status, partial, external-body) Postel keeps as
            # leaves (RFC 2046 5.2), feedparser parses as headers: their
            # bytes are checked by size only
            continue
        if want != got:
            bad.append(("body", num, (got[:60], len(got),
                                      want[:60] if want else want, len(want or b""))))
    return bad


def _header(py, name):
    return next((v for k, v in py.raw_items() if k.lower() == name), None)


def _py_addrs(py, name):
    """[(name, mailbox, host)] of a header's first instance (what the
    envelope takes), groups flattened (IMAP's group markers are dropped
    on our side too); None without the header."""
    vals = [v for k, v in py.raw_items() if k.lower() == name]
    if not vals:
        return None
    out = []
    for disp, addr in email.utils.getaddresses([str(v) for v in vals[:1]]):
        if not addr and not disp:
            continue
        local, at, dom = addr.rpartition("@")
        if not at:
            local, dom = addr, ""
        out.append((decoded(raw(disp)) or None, raw(local), raw(dom).lower()))
    return out


def _imap_addrs(lst):
    if lst is None:
        return None
    out = []
    for a in lst:
        if a[3] is None:
            continue            # group start (host NIL) or end (all NIL)
        # a mailbox without a domain keeps host "" (NIL would be a group)
        out.append((decoded(a[0]) or None, a[2] or b"", a[3].lower()))
    return out


def compare_envelope(env, py):
    bad = []
    for i, name in ((0, "date"), (1, "subject"), (8, "in-reply-to"), (9, "message-id")):
        v = _header(py, name)
        want = ws(raw(str(v))) if v is not None else None
        if want == b"":
            want = None if env[i] is None else b""
        if ws(env[i]) != want:
            bad.append(("envelope", name, (env[i], want)))
    frm = None
    for i, name in enumerate(ENVELOPE_ADDRS, 2):
        want = _py_addrs(py, name)
        if name == "from":
            frm = want
        if not want and name in ("sender", "reply-to"):
            want = frm          # RFC 9051 7.5.2: absent or empty -> from
        got = _imap_addrs(env[i])
        if (got or None) != (want or None):
            bad.append(("envelope", name, (got, want)))
    return bad


def parse(whole):
    return email.message_from_bytes(whole, policy=email.policy.compat32)
