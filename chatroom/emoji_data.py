"""The emoji picker's data: every fully-qualified emoji of the Unicode set, from
the pinned `emoji` package (requirements.txt), served as one cached JSON
document at /chat/emoji.json. Nothing is vendored: the list is built from the
installed package when first asked for, so upgrading the pin upgrades the set.

Skin-tone variants are left out (the base emoji stays); each entry is
[emoji, name, [aliases]], names in words ("thumbs up"), faces first and flags last,
by code point within, so related emoji sit together."""

from __future__ import annotations

import functools
import hashlib
import json

import emoji
from django.http import HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_GET


def _words(name: str) -> str:
    return name.strip(":").replace("_", " ")


def _order(entry):
    """Faces and people first, flags last, code point order within."""
    points = [ord(c) for c in entry[0]]
    first = points[0]
    group = (0 if 0x1F600 <= first <= 0x1F64F else 1 if 0x1F910 <= first <= 0x1F9FF
             else 3 if 0x1F1E6 <= first <= 0x1F1FF or first == 0x1F3F4 else 2)
    return group, points


@functools.cache
def emoji_json() -> tuple[bytes, str]:
    """The JSON document and its ETag (built once per process)."""
    qualified = emoji.STATUS["fully_qualified"]
    entries = []
    for char, data in emoji.EMOJI_DATA.items():
        if data.get("status") != qualified or "skin_tone" in data["en"]:
            continue
        aliases = sorted({_words(a) for a in data.get("alias", ())} - {_words(data["en"])})
        entries.append([char, _words(data["en"]), aliases])
    entries.sort(key=_order)
    body = json.dumps({"version": emoji.__version__, "emoji": entries}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@require_GET
def emoji_view(request):
    body, etag = emoji_json()
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    # The same for everyone and for the life of the deployment's pin.
    response["Cache-Control"] = "public, max-age=86400"
    return response
