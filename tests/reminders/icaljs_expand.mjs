// Parse a calendar with Mozilla's ical.js and print every occurrence of every event as
// JSON: [{uid, summary, start (UTC ISO), local (wall clock in its zone)}]. The Python
// tests compare that with the plan's own dose times.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const until = ICAL.Time.fromDateTimeString(process.argv[3]);
const component = new ICAL.Component(ICAL.parse(text));
for (const vtimezone of component.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
}
const out = [];
for (const vevent of component.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  const iterator = event.iterator();
  for (let next = iterator.next(); next && next.compare(until) < 0; next = iterator.next()) {
    const local = next.toString();
    out.push({
      uid: event.uid,
      summary: event.summary,
      start: next.toJSDate().toISOString(),
      local,
      alarms: vevent.getAllSubcomponents("valarm").length,
    });
  }
}
process.stdout.write(JSON.stringify(out));
