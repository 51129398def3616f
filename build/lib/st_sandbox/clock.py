"""Instants as epoch microseconds and as the API's timestamps (``YYYY-MM-DDTHH:MM:SS.ffffffZ``).

The generator formats every timestamp of a million records and the store parses every
``modifiedOn`` back at start-up, so both directions take a fast path through tables of
the seconds of a day and a cache of the days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# "HH:MM:SS" for every second of a day: formatting a timestamp is then two lookups, and
# parsing one back is a lookup too.
_TWO_DIGITS = [f"{i:02d}" for i in range(60)]
_HMS = [f"{h}:{m}:{s}" for h in _TWO_DIGITS[:24] for m in _TWO_DIGITS for s in _TWO_DIGITS]
_HMS_US = dict(zip(_HMS, range(0, 86400 * US_PER_SECOND, US_PER_SECOND), strict=True))
_DAY_US: dict[str, int] = {}


class Clock:
    """Formats epoch microseconds as API timestamps, caching the date part per day.

    A recording clock (``record=True``, the generator's) also keeps every stamp it made
    with its instant in ``seen``, so the store can index the generated records without
    parsing their stamps back.
    """

    def __init__(self, record: bool = False) -> None:
        self._days: dict[int, str] = {}
        self.seen: dict[str, int] | None = {} if record else None

    def fmt(self, us: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` for an epoch-microsecond instant."""
        day, rest = divmod(us, US_PER_DAY)
        date = self._days.get(day)
        if date is None:
            date = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._days[day] = date
        seconds, micro = divmod(rest, US_PER_SECOND)
        stamp = f"{date}{_HMS[seconds]}.{micro:06d}Z"
        if self.seen is not None:
            self.seen[stamp] = us
        return stamp


def to_us(value: datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds."""
    return EPOCH + timedelta(microseconds=us)


def to_us_from_ts(stamp: str) -> int:
    """Epoch microseconds of an API timestamp (``...Z``).

    The sandbox's own ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` takes a fast path (cached days and
    seconds of the day), since the store parses every record's ``modifiedOn`` at start-up.
    """
    if len(stamp) == 27 and stamp[10] == "T" and stamp[19] == "." and stamp[26] == "Z":
        day = _DAY_US.get(stamp[:10])
        if day is None:
            day = to_us(datetime.fromisoformat(stamp[:10]).replace(tzinfo=UTC))
            _DAY_US[stamp[:10]] = day
        seconds = _HMS_US.get(stamp[11:19])
        if seconds is not None and stamp[20:26].isdigit():
            return day + seconds + int(stamp[20:26])
    return to_us(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
