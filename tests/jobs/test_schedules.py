"""Schedules: due runs create their job exactly once, even with two
concurrent beat ticks (separate threads, separate database connections)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import services
from jobs.models import Job, ScheduleRule

pytestmark = pytest.mark.django_db(transaction=True)


def make_rule(power, **kwargs):
    template = {"type": "copy", "source": {"remote": "src", "path": "/"}, "destination": {"remote": "dst", "path": "/"}}
    return services.schedule_create(actor=power, name="every minute", rule_type="interval", interval_seconds=60,
                                    job_template=template, **kwargs)


def test_two_concurrent_ticks_create_the_job_once(power, make_local):
    make_local("src")
    make_local("dst")
    rule = make_rule(power)
    due = timezone.now() - timedelta(seconds=1)
    ScheduleRule.objects.filter(id=rule.id).update(next_run_at=due)
    barrier = threading.Barrier(2)
    created = []

    def beat():
        try:
            barrier.wait()
            created.extend(services.schedules_tick())
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(created) == 1
    jobs = Job.objects.filter(schedule=rule)
    assert jobs.count() == 1 and jobs.get().schedule_run_at == due
    rule.refresh_from_db()
    assert rule.next_run_at > timezone.now() and rule.last_run_at == due
    # A later tick for the same time creates nothing more.
    assert services.schedule_run(rule_id=rule.id, run_at=due) is None
    assert Job.objects.filter(schedule=rule).count() == 1


def test_unique_constraint_backs_the_lock(power, make_local):
    make_local("src")
    make_local("dst")
    rule = make_rule(power)
    at = timezone.now()
    services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"}, schedule=rule,
                        schedule_run_at=at)
    from core.errors import Conflict

    with pytest.raises(Conflict):
        services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"}, schedule=rule,
                            schedule_run_at=at)


def test_paused_rule_does_not_run_and_once_rule_runs_once(power, make_local):
    make_local("src")
    make_local("dst")
    paused = make_rule(power, is_active=False)
    assert paused.next_run_at is None
    template = paused.job_template
    once = services.schedule_create(actor=power, name="once", rule_type="once",
                                    run_at=timezone.now() + timedelta(hours=1), job_template=template)
    assert services.schedules_tick(now=timezone.now()) == []
    jobs = services.schedules_tick(now=timezone.now() + timedelta(hours=2))
    assert [j.schedule_id for j in jobs] == [once.id]
    once.refresh_from_db()
    assert once.is_active is False and once.next_run_at is None
    assert services.schedules_tick(now=timezone.now() + timedelta(hours=3)) == []
