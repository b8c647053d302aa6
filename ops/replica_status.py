"""The read replicas as operations shows them: on /metrics (a lag gauge and
a state per replica) and on the staff dashboard (a row per replica, its lag
in words: "0.3 s", "2 min 5 s", "down").

Both read the answering process's own watcher (core.replica_health): every
process checks every replica, so any one of them answers for all. Without
DATABASE_REPLICA_URLS there is nothing to show and nothing is started."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from prometheus_client.core import GaugeMetricFamily

from core import replica_health
from jobs.figures import hours_text, minutes_text
from jobs.figures import seconds_text as secs_text

STATES = (replica_health.OK, replica_health.LAGGING, replica_health.DOWN, replica_health.NOT_STANDBY,
          replica_health.UNKNOWN)
_STATE_WORDS = {
    replica_health.OK: gettext_lazy("in use"),
    replica_health.LAGGING: gettext_lazy("skipped: lagging"),
    replica_health.DOWN: gettext_lazy("skipped: down"),
    replica_health.NOT_STANDBY: gettext_lazy("skipped: not a standby"),
    replica_health.UNKNOWN: gettext_lazy("not checked yet"),
}


def seconds_text(seconds: float | None) -> str:
    """0.34 -> "0.3 s", 12.6 -> "13 s", 125 -> "2 min 5 s", 7300 -> "2 h 1 min"
    (the unit words and the decimal separator are the reader's language's,
    as on the job pages: jobs.figures)."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return secs_text(f"{seconds:.1f}".replace(".", get_format("DECIMAL_SEPARATOR")))
    whole = int(round(seconds))
    if whole < 60:
        return secs_text(whole)
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes_text(minutes)} {secs_text(secs)}" if secs else minutes_text(minutes)
    hours, minutes = divmod(minutes, 60)
    return f"{hours_text(hours)} {minutes_text(minutes)}" if minutes else hours_text(hours)


def lag_text(status: str, lag: float | None) -> str:
    """The lag column: a duration while the replica answers, else why not."""
    if status == replica_health.DOWN:
        return _("down")
    if status == replica_health.NOT_STANDBY:
        return _("not a standby")
    if lag is None:
        return _("unknown")
    return seconds_text(lag)


@dataclass
class Row:
    alias: str
    server: str
    status: str
    ok: bool | None  # None: not checked yet
    state: str
    lag_seconds: float | None
    lag: str
    checked: str


LOCAL_SOCKET = "local socket"


def _server(alias: str) -> str:
    db = settings.DATABASES.get(alias, {})
    host, port = db.get("HOST") or LOCAL_SOCKET, db.get("PORT")  # also a /metrics label: never translated
    return f"{host}:{port}" if port else str(host)


def rows() -> list[Row]:
    """One row per configured replica, in alias order; [] without replicas."""
    result = []
    for alias, state in replica_health.report().items():
        status, lag = state["status"], state["lag_seconds"]
        checked = state["checked_seconds_ago"]
        result.append(Row(
            alias=alias, server=_server(alias), status=status,
            ok=None if status == replica_health.UNKNOWN else status == replica_health.OK,
            state=str(_STATE_WORDS.get(status, status)), lag_seconds=lag, lag=lag_text(status, lag),
            checked=_("never") if checked is None else _("%(duration)s ago") % {"duration": seconds_text(checked)}))
    return result


class ReplicaCollector:
    """teamhub_replica_lag_seconds{replica} (left out while unknown or down)
    and teamhub_replica_state{replica,state}: 1 for the replica's state now,
    0 for the others (a state set, so an alert can say ``state="down"``)."""

    def collect(self):
        current = rows()
        if not current:
            return
        lag = GaugeMetricFamily(
            "teamhub_replica_lag_seconds",
            "How far a read replica's replay is behind the primary, in seconds (left out while it is down).",
            labels=["replica", "server"])
        state = GaugeMetricFamily(
            "teamhub_replica_state",
            "A read replica's state: 1 for the current one (ok: reads go to it; lagging, down, not_standby: "
            "skipped; unknown: not checked yet).", labels=["replica", "server", "state"])
        limit = GaugeMetricFamily("teamhub_replica_max_lag_seconds",
                                  "REPLICA_MAX_LAG_SECONDS: a replica further behind is skipped.")
        limit.add_metric([], float(settings.REPLICA_MAX_LAG_SECONDS))
        for row in current:
            if row.lag_seconds is not None and row.status not in (replica_health.DOWN, replica_health.NOT_STANDBY):
                lag.add_metric([row.alias, row.server], row.lag_seconds)
            for name in STATES:
                state.add_metric([row.alias, row.server, name], 1 if row.status == name else 0)
        yield lag
        yield state
        yield limit
