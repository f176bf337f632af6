import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform/errors';
import { decodeRunEventMessage, runEventDecodeReason, type RunEvent, type RunEventDecodeReason } from '../src/index.ts';

/** A message captured from a running Debezium (see each file's `captured` and `how`). */
interface Fixture {
  captured: string;
  how: string;
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  value: string | null;
}

function fixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;
}

/** As kafkajs hands it over: a Buffer, or null for a tombstone. */
function kafkaValue(name: string): Buffer | null {
  const { value } = fixture(name);
  return value === null ? null : Buffer.from(value, 'utf8');
}

// The rows behind the fixtures, written through tickwise_commit (db/migrations/0003_planner.sql).
const succeeded: RunEvent = {
  schema_version: 1,
  type: 'run.finished',
  event_id: '0193a000-0000-7000-8000-000000000001',
  run_id: '0193a000-0000-7000-8000-000000000001',
  endpoint_id: '0193a000-0000-7000-8000-0000000000e1',
  job_id: '0193a000-0000-7000-8000-0000000000f1',
  status: 'succeeded',
  http_status: 200,
  duration_ms: 12.5,
  scheduled_at: '2026-11-24T09:00:00.000Z',
  started_at: '2026-11-24T09:00:00.010Z',
  finished_at: '2026-11-24T09:00:00.022Z',
  lateness_ms: 10,
  error_kind: null,
  attempt: 1,
  planned_source: null,
  retry_after_ms: null,
  worker: 'probe',
};
const unavailable: RunEvent = {
  ...succeeded,
  event_id: '0193a000-0000-7000-8000-000000000002',
  run_id: '0193a000-0000-7000-8000-000000000002',
  endpoint_id: '0193a000-0000-7000-8000-0000000000e2',
  status: 'failed',
  http_status: 503,
  duration_ms: 40,
  scheduled_at: '2026-11-24T09:01:00.000Z',
  started_at: '2026-11-24T09:01:00.250Z',
  finished_at: '2026-11-24T09:01:00.290Z',
  lateness_ms: 250,
  error_kind: 'http_status',
  attempt: 2,
  planned_source: 'hint',
  retry_after_ms: 30_000,
};
const timedOut: RunEvent = {
  ...succeeded,
  event_id: '0193a000-0000-7000-8000-000000000003',
  run_id: '0193a000-0000-7000-8000-000000000003',
  status: 'failed',
  http_status: null,
  duration_ms: 10_000,
  scheduled_at: '2026-11-24T09:02:00.000Z',
  started_at: '2026-11-24T09:02:00.001Z',
  finished_at: '2026-11-24T09:02:10.001Z',
  lateness_ms: 1,
  error_kind: 'timeout',
  planned_source: 'backoff',
};

function decodeError(value: Parameters<typeof decodeRunEventMessage>[0]): TickwiseError {
  try {
    decodeRunEventMessage(value);
  } catch (error) {
    if (error instanceof TickwiseError) return error;
    throw error;
  }
  throw new Error('expected a TickwiseError, the message decoded');
}

function expectDecodeError(value: Parameters<typeof decodeRunEventMessage>[0], reason: RunEventDecodeReason, mentions: RegExp) {
  const error = decodeError(value);
  expect(error.code).toBe('invalid_argument');
  expect(error.reason).toBe(reason);
  expect(runEventDecodeReason(error)).toBe(reason);
  expect(error.message).toMatch(mentions);
}

describe('decodeRunEventMessage on real Debezium output (Debezium 3.2.3, pgoutput)', () => {
  it('reads the outbox event router value of deploy/connectors/postgres-outbox.json (expanded JSON, key = endpoint id)', () => {
    const message = fixture('router-expanded-failure');
    expect(decodeRunEventMessage(kafkaValue('router-expanded-failure'))).toEqual(unavailable);
    expect(message.key).toBe(unavailable.endpoint_id);
    expect(message.headers).toMatchObject({ id: unavailable.event_id, eventType: 'run.finished' });
  });

  it('keeps the nulls of the payload (table.json.payload.null.behavior=optional_bytes) and routes snapshot rows too', () => {
    expect(decodeRunEventMessage(kafkaValue('router-expanded-snapshot'))).toEqual(succeeded);
  });

  it('reads the router value whose payload stayed a JSON string (table.expand.json.payload=false)', () => {
    expect(fixture('router-string').value?.startsWith('"{')).toBe(true);
    expect(decodeRunEventMessage(kafkaValue('router-string'))).toEqual(timedOut);
  });

  it('reads the router value in the JsonConverter {schema, payload} wrapper', () => {
    expect(Object.keys(JSON.parse(fixture('router-schema').value!))).toEqual(['schema', 'payload']);
    expect(decodeRunEventMessage(kafkaValue('router-schema'))).toEqual(unavailable);
  });

  it('reads a plain envelope: insert (c) and snapshot read (r)', () => {
    expect(decodeRunEventMessage(kafkaValue('envelope-create'))).toEqual(timedOut);
    expect(decodeRunEventMessage(kafkaValue('envelope-read'))).toEqual(succeeded);
  });

  it('reads a plain envelope in the {schema, payload} wrapper', () => {
    expect(decodeRunEventMessage(kafkaValue('envelope-schema-create'))).toEqual(unavailable);
  });

  it('finds no event in an update (u), a delete (d, pruning) or the tombstone after it', () => {
    expect(decodeRunEventMessage(kafkaValue('envelope-update'))).toBeNull();
    expect(decodeRunEventMessage(kafkaValue('envelope-delete'))).toBeNull();
    expect(kafkaValue('envelope-tombstone')).toBeNull();
    expect(decodeRunEventMessage(kafkaValue('envelope-tombstone'))).toBeNull();
  });

  it('reads a flattened row (ExtractNewRecordState) and finds no event in a flattened delete', () => {
    expect(decodeRunEventMessage(kafkaValue('flattened-create'))).toEqual(timedOut);
    expect(decodeRunEventMessage(kafkaValue('flattened-delete'))).toBeNull();
  });
});

describe('decodeRunEventMessage on YugabyteDB yboutput columns ({value, set})', () => {
  const envelope = JSON.parse(fixture('yugabyte-envelope-create.synthetic').value!) as { after: Record<string, { value: unknown; set: boolean }>; op: string };

  it('unwraps every column of the envelope', () => {
    expect(envelope.after.payload).toMatchObject({ set: true });
    expect(decodeRunEventMessage(kafkaValue('yugabyte-envelope-create.synthetic'))).toEqual(timedOut);
  });

  it('finds no event in a wrapped update or delete', () => {
    expect(decodeRunEventMessage({ ...envelope, op: 'u' })).toBeNull();
    expect(decodeRunEventMessage({ before: { id: envelope.after.id, payload: null }, after: null, op: 'd' })).toBeNull();
  });

  it('reads a wrapped flattened row', () => {
    expect(decodeRunEventMessage(envelope.after)).toEqual(timedOut);
  });
});

describe('decodeRunEventMessage on other inputs', () => {
  it('takes the payload as an object, a string or a Buffer', () => {
    expect(decodeRunEventMessage(succeeded)).toEqual(succeeded);
    expect(decodeRunEventMessage(JSON.stringify(succeeded))).toEqual(succeeded);
    expect(decodeRunEventMessage(Buffer.from(JSON.stringify(succeeded)))).toEqual(succeeded);
  });

  it('treats null, undefined and an empty value as a tombstone', () => {
    expect(decodeRunEventMessage(null)).toBeNull();
    expect(decodeRunEventMessage(undefined)).toBeNull();
    expect(decodeRunEventMessage(Buffer.alloc(0))).toBeNull();
    expect(decodeRunEventMessage('  ')).toBeNull();
  });
});

describe('decodeRunEventMessage refuses what is not a run event, with a reason', () => {
  it('not_json: bytes that are not JSON, at any level', () => {
    expectDecodeError(Buffer.from('not json at all'), 'not_json', /the message is not JSON/);
    expectDecodeError(JSON.stringify('{"schema_version": 1,'), 'not_json', /the message payload is not JSON/);
    const row = JSON.parse(fixture('envelope-create').value!) as { after: Record<string, unknown> };
    expectDecodeError({ ...row, after: { ...row.after, payload: '{broken' } }, 'not_json', /the outbox row payload is not JSON/);
  });

  it('unknown_shape: JSON that is no object, an object of another kind, an insert without its row', () => {
    expectDecodeError('[1, 2]', 'unknown_shape', /must be a JSON object, got an array/);
    expectDecodeError('42', 'unknown_shape', /must be a JSON object, got number/);
    expectDecodeError({ hello: 'world', id: 7 }, 'unknown_shape', /got an object with keys hello, id/);
    expectDecodeError({ before: null, after: null, op: 'c' }, 'unknown_shape', /"c" envelope must carry an "after" row/);
  });

  it('unsupported_version: a schema_version this consumer does not read', () => {
    expectDecodeError({ ...succeeded, schema_version: 2 }, 'unsupported_version', /schema_version 2 is not supported/);
  });

  it('invalid_event: version 1 with a field missing or wrong, naming the field', () => {
    const { endpoint_id: _dropped, ...withoutEndpoint } = succeeded;
    expectDecodeError(withoutEndpoint, 'invalid_event', /endpoint_id/);
    expectDecodeError({ ...succeeded, status: 'maybe' }, 'invalid_event', /status/);
    expectDecodeError({ ...succeeded, http_status: 700 }, 'invalid_event', /http_status/);
  });

  it('invalid_event: the router payload with its nulls dropped (EventRouter default table.json.payload.null.behavior=ignore)', () => {
    const withoutNulls = Object.fromEntries(Object.entries(succeeded).filter(([, value]) => value !== null));
    expectDecodeError(withoutNulls, 'invalid_event', /error_kind|planned_source|retry_after_ms/);
  });

  it('names no decode reason for any other error (consumers count those as unexpected)', () => {
    expect(runEventDecodeReason(new Error('boom'))).toBeUndefined();
    expect(runEventDecodeReason(new TickwiseError('invalid_argument', 'other', { reason: 'not_a_decode_reason' }))).toBeUndefined();
    expect(runEventDecodeReason(new TickwiseError('internal', 'wrong code', { reason: 'not_json' }))).toBeUndefined();
  });
});
