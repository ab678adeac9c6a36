#!/usr/bin/env python3
"""Writes croniter_cases.json: next runs computed by croniter, an independent implementation,
for the differential test in CronDifferentialTests.swift.

    python3 -m venv .venv && .venv/bin/pip install croniter==6.0.0 tzdata
    .venv/bin/python Tests/CronTests/Fixtures/make_croniter_fixture.py

croniter and FlowForge's DESIGN disagree on purpose in a few places; those cases are not
generated (DESIGN wins):
  * day fields that start with '*' but are not '*' (e.g. '*/2'): DESIGN/Vixie cron treats the
    field as unrestricted for the day-of-month/day-of-week rule (so both must match); croniter
    treats it as a restriction (either matches).
  * a restricted day-of-month with '#' or 'L' in day-of-week: croniter requires both to match,
    DESIGN fires when either matches.
  * runs near a UTC-offset change, where croniter 6.0.0 does not follow DESIGN's DST rules
    (observed with America/New_York, Europe/Berlin and America/Santiago):
      - spring-forward gap, hour-restricted: it returns the nonexistent wall time with the old
        offset ("30 2 * * *" -> 2024-03-10T02:30:00-05:00, i.e. 03:30 EDT); DESIGN fires once
        at 03:00 EDT, dst_adjusted. With a gap at midnight ("0 0 * * *" in Santiago) it skips
        2024-09-08 entirely; DESIGN fires at 01:00-03:00.
      - fall-back overlap, not hour-restricted: it skips the second pass ("*/30 * * * *" goes
        01:30-04:00 -> 02:00-05:00); DESIGN fires at 01:00-05:00 and 01:30-05:00 too.
      - fall-back overlap, hour-restricted: from a start inside the second pass it returns the
        first pass, an instant before the start (01:20-05:00 -> 01:30-04:00), so a chain of
        runs can fire twice; and the next day's run comes an hour late ("30 1 * * *" ->
        2024-11-04T02:30:00-05:00; Berlin "30 2 * * *" -> 2024-10-28T03:30:00+01:00).
    DESIGN's four DST rules are tested with literal instants in CronDSTTests.swift and against
    a minute-scanning reference in CronReferenceTests.swift instead. Each case here keeps only
    the runs before the first offset change after (start - 2 days), with 2 days to spare.
  * syntax croniter lacks: 'nW', 'LW', plain weekdays mixed with '#'/'L' in one field
    ('1,L5' is refused). 'dL' (last weekday d) is written 'Ld' for croniter.
  * croniter also accepts 6- and 7-field expressions (seconds, year), which DESIGN rejects, and
    accepts '0 0 30 2 *' until asked for a run; DESIGN rejects it as never firing.
"""
import json
import os
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import croniter as croniter_module
from croniter import croniter

SEED = 20240310
CASES = 400
RUNS = 6
MARGIN = 2 * 86400
ZONES = [
    "UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/Berlin",
    "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "Europe/Dublin",
]
START = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
END = int(datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp())
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

rng = random.Random(SEED)


def transitions(zone_name):
    """Instants in [START - 60 days, END + 2 years] where the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    found = []
    t = START - 60 * 86400
    previous = datetime.fromtimestamp(t, zone).utcoffset()
    while t < END + 2 * 366 * 86400:
        t += 900
        offset = datetime.fromtimestamp(t, zone).utcoffset()
        if offset != previous:
            found.append(t)
            previous = offset
    return found


def plain(low, high, star_weight=3):
    kind = rng.choice(["*"] * star_weight + ["one", "list", "range", "range-step", "star-step", "from-step"])
    a, b = sorted(rng.sample(range(low, high + 1), 2))
    step = rng.randint(2, max(2, (high - low) // 2))
    return {
        "*": "*",
        "one": str(a),
        "list": f"{a},{b}",
        "range": f"{a}-{b}",
        "range-step": f"{a}-{b}/{step}",
        "star-step": f"*/{step}",
        "from-step": f"{a}/{step}",
    }[kind]


def month_field():
    kind = rng.choice(["*", "*", "*", "*", "one", "name", "range", "names", "step"])
    a, b = sorted(rng.sample(range(1, 13), 2))
    return {
        "*": "*",
        "one": str(a),
        "name": MONTHS[a - 1].lower() if rng.random() < 0.3 else MONTHS[a - 1],
        "range": f"{a}-{b}",
        "names": f"{MONTHS[a - 1]}-{MONTHS[b - 1]}",
        "step": f"*/{rng.choice([2, 3, 4, 6])}",
    }[kind]


def day_fields():
    dom_kind = rng.choice(["*", "*", "*", "one", "list", "range", "L", "L-list", "from-step"])
    a, b = sorted(rng.sample(range(1, 29), 2))
    dom = {
        "*": "*", "one": str(rng.randint(1, 31)), "list": f"{a},{b}", "range": f"{a}-{b}",
        "L": "L", "L-list": f"{a},L", "from-step": f"{a}/{rng.randint(2, 10)}",
    }[dom_kind]
    dow_kind = rng.choice(["*", "*", "*", "one", "seven", "weekdays", "names", "weekend", "list", "nth", "last"])
    d = rng.randint(0, 6)
    dow = {
        "*": "*", "one": str(d), "seven": "7", "weekdays": "1-5", "names": "MON-FRI",
        "weekend": "SAT-SUN", "list": "1,3,5", "nth": f"{DAYS[d] if rng.random() < 0.5 else d}#{rng.randint(1, 5)}",
        "last": f"{d}L",
    }[dow_kind]
    if dom != "*" and ("#" in dow or dow.endswith("L")):
        dom = "*"  # croniter would require both (see the docstring)
    return dom, dow


def for_croniter(expression):
    fields = expression.split()
    if fields[4].endswith("L"):
        fields[4] = "L" + fields[4][:-1]
    return " ".join(fields)


def main():
    zone_transitions = {zone: transitions(zone) for zone in ZONES}
    cases = []
    attempts = 0
    while len(cases) < CASES:
        attempts += 1
        dom, dow = day_fields()
        expression = " ".join([plain(0, 59), plain(0, 23, star_weight=4), dom, month_field(), dow])
        zone_name = rng.choice(ZONES)
        zone = ZoneInfo(zone_name)
        after = rng.randint(START, END) + rng.choice([0, 0, 0.25, 0.999])
        later = [t for t in zone_transitions[zone_name] if t > after - MARGIN]
        cutoff = (later[0] - MARGIN) if later else float("inf")
        try:
            iterator = croniter(for_croniter(expression), datetime.fromtimestamp(after, zone))
            runs = [iterator.get_next(datetime) for _ in range(RUNS)]
        except Exception:
            continue  # croniter cannot evaluate it (e.g. it never fires); not a useful case
        kept = [run for run in runs if run.timestamp() < cutoff]
        if not kept:
            continue
        cases.append({
            "expression": expression,
            "timezone": zone_name,
            "after": after,
            "next": [int(run.timestamp()) for run in kept],
            "local": [run.isoformat() for run in kept],
        })
    fixture = {
        "generator": "make_croniter_fixture.py",
        "croniter": getattr(croniter_module, "__version__", "6.0.0"),
        "seed": SEED,
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "croniter_cases.json")
    with open(path, "w") as out:
        json.dump(fixture, out, indent=1)
        out.write("\n")
    print(f"wrote {len(cases)} cases ({attempts} attempts) to {path}")


if __name__ == "__main__":
    main()
