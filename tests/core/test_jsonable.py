import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from core.jsonable import jsonable


def test_json_types_pass_and_the_rest_becomes_text():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    uid = uuid.uuid4()
    value = {"at": at, "day": date(2026, 1, 2), "id": uid, "n": Decimal("1.5"), 3: (1, [None, True]), "s": "x"}
    assert jsonable(value) == {"at": "2026-01-02T03:04:05+00:00", "day": "2026-01-02", "id": str(uid), "n": "1.5",
                               "3": [1, [None, True]], "s": "x"}


def test_usable_as_the_default_of_json_dumps():
    uid = uuid.uuid4()
    assert json.loads(json.dumps({"id": uid}, default=jsonable)) == {"id": str(uid)}
