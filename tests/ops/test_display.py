"""Event details and tags shown to people (ops.display): key: value lists,
escaped, nested, bounded; never a JSON text or a dict's repr; on the
dashboard too."""

from __future__ import annotations

import pytest

from ops.display import VALUE_MAX_CHARS, details_html, details_summary


def test_a_flat_object_is_a_list_of_key_value_items():
    html = str(details_html({"ok": True, "checked": 4, "first_broken": None, "task": "audit.tasks.audit_anchor"}))
    assert html == ('<ul class="kv"><li><span class="k">ok</span>: yes</li>'
                    '<li><span class="k">checked</span>: 4</li>'
                    '<li><span class="k">first_broken</span>: —</li>'
                    '<li><span class="k">task</span>: audit.tasks.audit_anchor</li></ul>')


def test_nested_objects_and_lists():
    html = str(details_html({"result": {"done": ["a", "b"], "errors": []},
                             "steps": [{"table": "messages"}, {"table": "job_logs"}]}))
    assert '<span class="k">result</span>: <ul class="kv"><li><span class="k">done</span>: a, b</li>' in html
    assert '<span class="k">errors</span>: —' in html
    assert '<span class="k">1</span>: <ul class="kv"><li><span class="k">table</span>: messages' in html
    assert "{" not in html and "[" not in html


def test_keys_and_values_are_escaped_and_long_values_cut():
    html = str(details_html({"<b>k</b>": "<script>alert(1)</script>", "long": "x" * 5000}))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;k&lt;/b&gt;" in html
    assert "x" * VALUE_MAX_CHARS not in html and "…" in html


def test_empty_and_odd_values():
    assert "—" in str(details_html({}))
    assert str(details_html("plain <text>")) == '<span class="kv">plain &lt;text&gt;</span>'
    assert '<span class="k">1</span>: a' in str(details_html(["a"]))
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert "(1 more field)" in str(details_html(deep))  # one field (e) left out, in the plural rule of the language


def test_the_one_line_summary():
    line = details_summary({"state": "SUCCESS", "result": {"done": ["create x"], "errors": []}, "n": 2})
    assert line == "state: SUCCESS · result.done: create x · result.errors: — · n: 2"
    assert details_summary({}) == "—" and details_summary(None) == "—"
    assert len(details_summary({"k": "v" * 500})) <= 120


@pytest.mark.django_db
def test_the_dashboard_shows_event_details_as_key_value_lists(client, make_user):
    from ops.services.events import event_record

    event_record(event_type="maintenance", event_name="core.tasks.partitions_maintain",
                 data={"state": "SUCCESS", "result": {"done": ["create system_metrics_2027_04"], "errors": []}})
    client.force_login(make_user("root", is_staff=True))
    html = client.get("/staff/dashboard/").content.decode()
    events = html.split('data-testid="events"')[1]
    assert '<span class="k">state</span>: SUCCESS' in events
    assert '<span class="k">done</span>: create system_metrics_2027_04' in events
    assert "{&#x27;" not in events and "&quot;state&quot;" not in events and "{'state'" not in events
