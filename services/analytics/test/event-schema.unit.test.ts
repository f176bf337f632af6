import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeRunEventMessage, runEventSchema } from '@tickwise/events';

// docs/run-event.v1.schema.json is the contract for consumers outside TypeScript (docs/events.md).
const FILE = new URL('../../../docs/run-event.v1.schema.json', import.meta.url);
const REGENERATE = `printf "import { z } from 'zod';\\nimport { runEventSchema } from '@tickwise/events';\\nconsole.log(JSON.stringify(z.toJSONSchema(runEventSchema, { io: 'input' }), null, 2));\\n" | npx tsx --input-type=module > docs/run-event.v1.schema.json`;

describe('docs/run-event.v1.schema.json', () => {
  it('is the JSON Schema of runEventSchema, as consumers read it (unknown fields allowed)', () => {
    const published = JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>;
    expect(published, `out of date: regenerate it with\n${REGENERATE}`).toEqual(z.toJSONSchema(runEventSchema, { io: 'input' }));
    // Fields are only ever added within a version: a consumer must accept ones it does not know.
    expect(published).not.toHaveProperty('additionalProperties');
    expect((published.properties as Record<string, { const?: unknown }>).schema_version!.const).toBe(1);
  });

  it('matches what the decoder does with a field added later: accepted, and dropped', () => {
    const event = decodeRunEventMessage(JSON.stringify({
      schema_version: 1, type: 'run.finished', event_id: '019ab8f2-6c1e-7b3a-9d0e-4f5a6b7c8d9e', run_id: '019ab8f2-6c1e-7b3a-9d0e-4f5a6b7c8d9e',
      endpoint_id: '019ab8f0-0000-7000-8000-000000000001', job_id: '019ab8f0-0000-7000-8000-000000000002', status: 'succeeded', http_status: 200,
      duration_ms: 12, scheduled_at: '2026-11-24T09:00:00.000Z', started_at: '2026-11-24T09:00:00.002Z', finished_at: '2026-11-24T09:00:00.014Z',
      lateness_ms: 2, error_kind: null, attempt: 1, planned_source: 'baseline', retry_after_ms: null, worker: 'node-a', region: 'eu-west-1',
    }));
    expect(event).not.toBeNull();
    expect(event).not.toHaveProperty('region');
  });
});
