#!/usr/bin/env node
// Prints the size of each recorded release history in test/fixtures: events and
// bytes of JSON. Re-record with BLUEGREEN_RECORD_FIXTURES=1 npx vitest run test/workflow/release.test.ts
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../test/fixtures/', import.meta.url);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const text = readFileSync(new URL(file, dir), 'utf8');
  const { events } = JSON.parse(text);
  const activities = events.filter((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' || e.activityTaskScheduledEventAttributes).length;
  console.log(`${file.padEnd(28)} ${String(events.length).padStart(4)} events ${String(activities).padStart(3)} activities ${String(text.length).padStart(7)} bytes`);
}
