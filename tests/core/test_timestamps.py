from datetime import datetime, timedelta, timezone

from core.timestamps import isoformat_z


def test_utc_times_end_in_z_and_keep_their_microseconds():
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    assert isoformat_z(at) == "2026-01-02T03:04:05.678901Z"
    assert isoformat_z(at.replace(microsecond=0)) == "2026-01-02T03:04:05Z"


def test_other_offsets_and_no_time():
    seoul = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    assert isoformat_z(seoul) == "2026-01-02T03:04:05+09:00"
    assert isoformat_z(None) is None
