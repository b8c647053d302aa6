"""A message's text as HTML: a safe markdown subset rendered by markdown-it-py,
then sanitized by nh3 (Ammonia). The one place message markdown is turned into
HTML; chatroom.presenters puts the result in every message object's `html`
field (API, pages, socket frames), and the stored `content` stays the raw text.

The subset: bold, italic, inline code, code blocks (fenced and indented),
links (and bare URLs), lists, block quotes and line breaks. No raw HTML
(markdown-it escapes it), no images, no headings, no tables. Links may only be
http, https or mailto, and open in a new tab with rel="noopener noreferrer nofollow".
An @name becomes <span class="mention" data-mention="name">: the client
highlights it, and makes the reader's own mention stand out.

Sanitizing runs on markdown-it's output even though markdown-it already
escapes HTML and refuses javascript:/data: links: two independent guards,
so a parser bug or a future plugin cannot put script into a page."""

from __future__ import annotations

import functools
import re

import nh3
from markdown_it import MarkdownIt

# The mention rule, in one place (chatroom.services.message_send uses MENTION_RE):
# "@" then a handle of ASCII letters, digits and _ . - (it ends at the first
# other character: "@alice你好" mentions alice), not just after another "@"
# or a word character, so "bob@example.org" is no mention. Chinese, Japanese
# and Korean are written without spaces, so one of their characters before
# "@" does not count as a word ("你好@alice" mentions alice).
CJK_CHARS = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
MENTION_RE = re.compile(rf"(?<!@)(?<![^\W{CJK_CHARS}])@([A-Za-z0-9_.\-]{{1,50}})")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,50}")
_WORD = re.compile(rf"[^\W{CJK_CHARS}]|@")  # what may not come just before a mention's "@"

TAGS = {"p", "br", "strong", "em", "code", "pre", "a", "ul", "ol", "li", "blockquote", "span"}
ATTRIBUTES = {"a": {"href"}, "span": {"data-mention"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Rendered HTML of recent messages: history pages and broadcasts show the same
# messages again and again, and rendering is pure.
CACHE_SIZE = 4096


def _mention(state, silent: bool) -> bool:
    """Inline rule: "@name" not preceded by a word character or another "@"
    (so "bob@example.org" is no mention)."""
    pos = state.pos
    if state.src[pos] != "@" or (pos > 0 and _WORD.match(state.src[pos - 1])):
        return False
    match = _NAME.match(state.src, pos + 1)
    if not match:
        return False
    name = match.group(0).rstrip(".")
    if not name:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"name": name}
    state.pos = pos + 1 + len(name)
    return True


def _render_mention(self, tokens, idx, options, env) -> str:
    from markdown_it.common.utils import escapeHtml

    name = escapeHtml(tokens[idx].meta["name"])
    return f'<span class="mention" data-mention="{name.lower()}">@{name}</span>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"linkify": True, "breaks": True, "html": False})
    md.enable(["emphasis", "backticks", "escape", "entity", "newline", "link", "autolink", "linkify",
               "fence", "code", "list", "blockquote", "paragraph"])
    md.inline.ruler.before("emphasis", "mention", _mention)
    md.add_render_rule("mention", _render_mention)
    return md


_MD = _parser()


@functools.lru_cache(maxsize=CACHE_SIZE)
def render(content: str) -> str:
    """The sanitized HTML of a message's markdown text."""
    if not content:
        return ""
    return sanitize(_MD.render(content))


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes={"span": {"mention"}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        # Only absolute links: a relative one could point anywhere on this site.
        url_relative="deny",
        strip_comments=True,
    ).strip()
