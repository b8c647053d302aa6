"""Template helpers for the room page's attention bits (issue 18): who of a
DM's people is in do not disturb (the composer's warning)."""

from __future__ import annotations

from datetime import datetime

from django import template

from accounts import dnd

register = template.Library()


@register.simple_tag
def dnd_people(people) -> list:
    """The people (users) among ``people`` in DND now, each with ``dnd_ends``."""
    people = list(people or ())
    if not people:
        return []
    resting = dnd.in_dnd([p.id for p in people])
    out = []
    for person in people:
        if person.id in resting:
            ends = dnd.state_of(person)["ends_at"]
            person.dnd_ends = datetime.fromisoformat(ends.replace("Z", "+00:00")) if ends else None
            out.append(person)
    return out
