"""What a person reads on a page, and the English left in it (issue 19).

The page is parsed (html.parser): text nodes, and the title, placeholder,
aria-label, alt and data-label attributes (data-label is shown as the
column name on narrow screens). Left out: script and style, and what is
marked as not to be translated: ``<code>`` (paths, commands) and any
element with ``translate="no"`` (names, rclone's own log lines). English is
a run of two or more ASCII letters that is not in tests/i18n_terms.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.i18n_terms import PRODUCT_TERMS

READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-label")
SKIPPED = {"script", "style", "code", "template"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[A-Za-z][A-Za-z_]+")


class _Reader(HTMLParser):
    def __init__(self, scope: str | None):
        super().__init__(convert_charrefs=True)
        self.scope = scope  # only inside this element (e.g. "main"), plus the <title>
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped here)
        self.inside = scope is None
        self.texts: list[str] = []

    def _skipping(self) -> bool:
        return any(skipped for _, skipped in self.stack)

    def _reading(self) -> bool:
        in_title = any(tag == "title" for tag, _ in self.stack)
        return (self.inside or in_title) and not self._skipping()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == self.scope:
            self.inside = True
        skipped = tag in SKIPPED or attrs.get("translate") == "no"
        if not skipped and (self.inside) and not self._skipping():
            self.texts += [attrs[a] for a in READ_ATTRIBUTES if attrs.get(a)]
        if tag not in VOID:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed <p>, <li>...
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag == self.scope:
            self.inside = False

    def handle_data(self, data):
        if self._reading() and data.strip():
            self.texts.append(data)


def visible_text(html: str, *, scope: str | None = "main") -> list[str]:
    reader = _Reader(scope)
    reader.feed(html)
    reader.close()
    return [" ".join(t.split()) for t in reader.texts]


def english_left(html: str, *, names=(), scope: str | None = "main") -> list[str]:
    """The English words in the page's visible text (each with its text, to
    say where), apart from the allow-list and ``names``."""
    allowed = PRODUCT_TERMS | {n.lower() for n in names}
    found = []
    for text in visible_text(html, scope=scope):
        for word in WORD.findall(text):
            if word.lower() not in allowed:
                found.append(f"{word!r} in {text[:80]!r}")
    return found
