"""A Python reference for SORT and THREAD (RFC 5256, RFC 5957), written
from the RFC text independently of the C code, for
test_imap_sort_thread.py: base subject (2.1), sort keys (3),
ORDEREDSUBJECT and REFERENCES (4), thread-list rendering (5)."""
import email.utils
import functools
import re

WSP = re.compile(r"[ \t\r\n]+")
BLOB = re.compile(r"\[[^\[\]]*\] *")
REFWD = re.compile(r"(?:\[[^\[\]]*\] *)*(?:re|fwd?) *(?:\[[^\[\]]*\] *)?:", re.I)


def base_subject(raw):
    """(base subject, is reply/forward) of an ASCII or decoded subject."""
    s = WSP.sub(" ", raw or "").strip()
    reply = False
    while True:
        while True:                                   # step 2
            if s.endswith(" "):
                s = s[:-1]
            elif s.lower().endswith("(fwd)"):
                s, reply = s[:-5], True
            else:
                break
        while True:                                   # steps 3 and 4
            before = s
            while True:
                if s.startswith(" "):
                    s = s[1:]
                    continue
                m = REFWD.match(s)
                if not m:
                    break
                s, reply = s[m.end():], True
            m = BLOB.match(s)
            if m and m.end() < len(s):
                s = s[m.end():]
            if s == before:
                break
        if len(s) >= 6 and s[:5].lower() == "[fwd:" and s.endswith("]"):   # step 5
            s, reply = s[5:-1], True
            continue
        return s.strip(" "), reply


def first_address(value):
    for name, addr in email.utils.getaddresses([value]) if value else []:
        if "@" in addr:
            return name, addr
    return None


def addr_mailbox(value):
    a = first_address(value)
    return a[1].rsplit("@", 1)[0].lower() if a else ""


def display(value):
    a = first_address(value)
    if not a:
        return ""
    return (a[0] or a[1]).lower()


def sent_date(hdr_date, internal):
    t = email.utils.parsedate_tz(hdr_date) if hdr_date else None
    return email.utils.mktime_tz(t) if t else internal


MSGID = re.compile(r"<([^<>\s@]*@[^<>\s]*)>")


def msg_ids(value):
    return MSGID.findall(value or "")


class Msg:
    """One message as the reference needs it: seq (1-based), uid, size,
    internal date (epoch) and its header fields (dict, first of each)."""

    def __init__(self, seq, uid, size, internal, headers):
        self.seq, self.uid, self.size, self.internal = seq, uid, size, internal
        h = {k.lower(): v for k, v in reversed(headers)}
        self.subject, self.reply = base_subject(h.get("subject", ""))
        self.subject = self.subject.lower()
        self.keys = {
            "ARRIVAL": internal, "SIZE": size, "DATE": sent_date(h.get("date"), internal),
            "SUBJECT": self.subject, "FROM": addr_mailbox(h.get("from")),
            "TO": addr_mailbox(h.get("to")), "CC": addr_mailbox(h.get("cc")),
            "DISPLAYFROM": display(h.get("from")), "DISPLAYTO": display(h.get("to")),
        }
        self.date = self.keys["DATE"]
        ids = msg_ids(h.get("message-id"))
        self.mid = ids[0] if ids else None
        # RFC 5256 4 1.A as mime_references.h keeps them: the root and
        # the 99 nearest ancestors
        refs = msg_ids(h.get("references"))
        refs = refs[:1] + refs[1:][-99:]
        self.refs = refs or msg_ids(h.get("in-reply-to"))[:1]


def sort(msgs, criteria):
    """criteria: [(key, reverse)]; ties by sequence number."""
    def cmp(a, b):
        for key, rev in criteria:
            x, y = a.keys[key], b.keys[key]
            if x != y:
                return (-1 if x < y else 1) * (-1 if rev else 1)
        return a.seq - b.seq
    return sorted(msgs, key=functools.cmp_to_key(cmp))


class Node:
    def __init__(self, msg=None):
        self.msg, self.parent, self.children = msg, None, []

    def key(self):
        n = self
        while n.msg is None and n.children:
            n = n.children[0]
        return (n.msg.date, n.msg.seq) if n.msg else (float("inf"), 0)


def _link(p, c):
    c.parent = p
    p.children.append(c)


def _unlink(c):
    if c.parent:
        c.parent.children.remove(c)
        c.parent = None


def _descends(a, b):
    """a is b or below b"""
    while a is not None:
        if a is b:
            return True
        a = a.parent
    return False


def _sort_tree(node):
    for c in node.children:
        _sort_tree(c)
    node.children.sort(key=Node.key)


def _prune(node, is_root):
    kept = []
    for c in node.children:
        _prune(c, False)
        if c.msg is None and not c.children:
            continue
        if c.msg is None and (not is_root or len(c.children) == 1):
            for g in c.children:
                g.parent = node
                kept.append(g)
            continue
        kept.append(c)
    node.children = kept


def thread_references(msgs):
    table, nodes = {}, [Node(m) for m in msgs]
    for n in nodes:
        if n.msg.mid and n.msg.mid not in table:
            table[n.msg.mid] = n
    dummies = []
    for n in nodes:
        prev = None
        for r in n.msg.refs:
            c = table.get(r)
            if c is None:
                c = table[r] = Node()
                dummies.append(c)
            if prev is not None and c.parent is None and not _descends(prev, c):
                _link(prev, c)
            prev = c
        _unlink(n)
        if prev is not None and not _descends(prev, n):
            _link(prev, n)
    root = Node()
    for n in nodes + dummies:
        if n.parent is None:
            _link(root, n)
    _prune(root, True)
    _sort_tree(root)

    def subj(n):
        if n.msg is None:
            n = n.children[0]
        return n.msg.subject
    table = {}
    for c in root.children:
        s = subj(c)
        if not s:
            continue
        t = table.get(s)
        if t is None or (t.msg is not None and (c.msg is None or (t.msg.reply and not c.msg.reply))):
            table[s] = c
    for c in list(root.children):
        s = subj(c)
        t = table.get(s) if s else None
        if t is None or t is c:
            continue
        if c.msg is None and t.msg is None:
            for g in list(c.children):
                _unlink(g)
                _link(t, g)
            _unlink(c)
        elif t.msg is None or (c.msg.reply and not t.msg.reply):
            _unlink(c)
            _link(t, c)
        else:
            d = Node()
            i = root.children.index(t)
            root.children[i] = d
            d.parent, t.parent = root, None
            _unlink(c)
            _link(d, t)
            _link(d, c)
            table[s] = d
    _sort_tree(root)
    return root


def thread_orderedsubject(msgs):
    root = Node()
    prev = None
    for m in sorted(msgs, key=lambda m: (m.subject.encode(), m.date, m.seq)):
        n = Node(m)
        if prev is not None and prev.msg.subject == m.subject:
            _link(prev, n)
        else:
            _link(root, n)
            prev = n
    root.children.sort(key=Node.key)
    for c in root.children:
        c.children.sort(key=Node.key)
    return root


def render(root, uid=False):
    def one(n):
        out, first = "(", True
        while True:
            if n.msg is not None:
                out += ("" if first else " ") + str(n.msg.uid if uid else n.msg.seq)
                first = False
            if len(n.children) != 1:
                break
            n = n.children[0]
        if n.children:
            out += ("" if first else " ") + "".join(one(c) for c in n.children)
        return out + ")"
    return "".join(one(c) for c in root.children)
