"""Parses an iCalendar feed (stdin) with the `icalendar` package, independently of the
server's writer, and prints what a calendar application would see, as JSON: the calendar's
properties and, per event, its UID, status, summary, description and its start and end as
UTC instants and as wall-clock times in the calendar's zone. Exits non-zero when the text is
not valid iCalendar or an event lacks a property RFC 5545 requires."""
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
zone = ZoneInfo(zone_name)
events = []
for ev in cal.walk("VEVENT"):
    if ev.errors:
        sys.exit(f"event errors: {ev.errors}")
    for required in ("UID", "DTSTAMP", "DTSTART"):
        if required not in ev:
            sys.exit(f"an event lacks {required}")
    start = ev.decoded("DTSTART")
    end = ev.decoded("DTEND")
    if start.tzinfo is None or end.tzinfo is None:
        sys.exit("a floating time: every DTSTART/DTEND must be in UTC or name its zone")
    events.append({
        "uid": str(ev["UID"]),
        "status": str(ev.get("STATUS")),
        "summary": str(ev.get("SUMMARY")),
        "description": str(ev.get("DESCRIPTION")),
        "tzid": ev["DTSTART"].params.get("TZID"),
        "startUtc": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endUtc": end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "startLocal": start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    })
timezones = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
print(json.dumps({
    "version": str(cal.get("VERSION")),
    "prodid": str(cal.get("PRODID")),
    "name": str(cal.get("X-WR-CALNAME")),
    "zone": zone_name,
    "timezones": timezones,
    "events": events,
}))
