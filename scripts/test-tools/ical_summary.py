"""Parses an iCalendar feed (stdin) with the `icalendar` package, independently of the
server's writer, and prints what a calendar application would see, as JSON: the calendar's
properties and, per event, its UID, status, summary, description and its start and end as
UTC instants and as wall-clock times in the calendar's zone.

Local times are resolved with the feed's own VTIMEZONE (built into a tzinfo by icalendar, not
looked up by name), so a wrong observance shows up as a wrong instant; the same times resolved
with the system's tz database are printed beside them for comparison. Exits non-zero when the
text is not valid iCalendar or an event lacks a property RFC 5545 requires."""
import json
import sys
from datetime import timezone
from zoneinfo import ZoneInfo

import icalendar

text = sys.stdin.buffer.read()
cal = icalendar.Calendar.from_ical(text)
if cal.errors:
    sys.exit(f"calendar errors: {cal.errors}")
zone_name = str(cal.get("X-WR-TIMEZONE"))
system_zone = ZoneInfo(zone_name)
feed_zones = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in cal.walk("VTIMEZONE")}


def instant(prop, zones):
    """The property's instant: UTC as written, or its local time in the named zone (a time
    the clocks repeat is its first occurrence, as RFC 5545 3.3.5 says: fold=0)."""
    value = prop.dt
    tzid = prop.params.get("TZID")
    if tzid is None:
        if value.tzinfo is None:
            sys.exit("a floating time: every DTSTART/DTEND must be in UTC or name its zone")
        return value.astimezone(timezone.utc)
    if tzid not in zones:
        sys.exit(f"TZID {tzid} has no VTIMEZONE in the feed")
    return value.replace(tzinfo=None).replace(tzinfo=zones[tzid], fold=0).astimezone(timezone.utc)


def utc(at):
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


events = []
for ev in cal.walk("VEVENT"):
    if ev.errors:
        sys.exit(f"event errors: {ev.errors}")
    for required in ("UID", "DTSTAMP", "DTSTART", "DTEND"):
        if required not in ev:
            sys.exit(f"an event lacks {required}")
    start = instant(ev["DTSTART"], feed_zones)
    end = instant(ev["DTEND"], feed_zones)
    if end <= start:
        sys.exit(f"DTEND is not after DTSTART in {ev['UID']}")
    events.append({
        "uid": str(ev["UID"]),
        "status": str(ev.get("STATUS")),
        "summary": str(ev.get("SUMMARY")),
        "description": str(ev.get("DESCRIPTION")),
        "tzid": ev["DTSTART"].params.get("TZID"),
        "startUtc": utc(start),
        "endUtc": utc(end),
        "startUtcBySystemZone": utc(instant(ev["DTSTART"], {zone_name: system_zone})),
        "startLocal": start.astimezone(system_zone).strftime("%Y-%m-%dT%H:%M"),
    })
print(json.dumps({
    "version": str(cal.get("VERSION")),
    "prodid": str(cal.get("PRODID")),
    "name": str(cal.get("X-WR-CALNAME")),
    "zone": zone_name,
    "timezones": list(feed_zones),
    "events": events,
}))
