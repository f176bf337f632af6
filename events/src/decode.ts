import { isTickwiseError, TickwiseError } from '@tickwise/platform/errors';
import { RUN_EVENT_SCHEMA_VERSION, runEventSchema, type RunEvent } from './run-event.ts';

/** Why a message that claims to be a run event is not one: the `reason` of the decoder's `invalid_argument`. */
export const RUN_EVENT_DECODE_REASONS = ['not_json', 'unknown_shape', 'unsupported_version', 'invalid_event'] as const;
export type RunEventDecodeReason = (typeof RUN_EVENT_DECODE_REASONS)[number];

function decodeError(reason: RunEventDecodeReason, message: string): TickwiseError {
  return new TickwiseError('invalid_argument', message, { reason });
}

/** The decoder's reason when `error` is its refusal; undefined for anything else (a bug). Pure. */
export function runEventDecodeReason(error: unknown): RunEventDecodeReason | undefined {
  const reason = isTickwiseError(error, 'invalid_argument') ? error.reason : undefined;
  return RUN_EVENT_DECODE_REASONS.find((known) => known === reason);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw decodeError('not_json', `${what} is not JSON: ${(error as Error).message}`);
  }
}

/** YugabyteDB's yboutput wraps every column as `{ value, set }`; plain pgoutput does not. */
function unwrapColumns(row: Json): Json {
  const plain: Json = {};
  for (const [column, value] of Object.entries(row)) {
    const wrapped = isObject(value) && 'value' in value && 'set' in value && Object.keys(value).length === 2;
    plain[column] = wrapped ? value.value : value;
  }
  return plain;
}

function validate(candidate: unknown): RunEvent {
  if (isObject(candidate) && candidate.schema_version !== RUN_EVENT_SCHEMA_VERSION && typeof candidate.schema_version === 'number') {
    throw decodeError('unsupported_version', `run event schema_version ${candidate.schema_version} is not supported (this consumer reads ${RUN_EVENT_SCHEMA_VERSION})`);
  }
  const parsed = runEventSchema.safeParse(candidate);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw decodeError('invalid_event', `run event is invalid: ${issues}`);
  }
  return parsed.data;
}

/** The `payload` column of an outbox row: jsonb arrives as a JSON string (io.debezium.data.Json) or expanded. */
function fromOutboxRow(row: Json): RunEvent {
  const payload = row.payload;
  return validate(typeof payload === 'string' ? parseJson(payload, 'the outbox row payload') : payload);
}

/**
 * Decodes one Kafka message value (or an outbox payload) into a run event, whatever shape CDC gave
 * it: the outbox event router's output (payload as a JSON string or expanded, with or without the
 * JsonConverter `{schema, payload}` wrapper), a plain Debezium envelope (`before/after/op/source`),
 * a flattened row (ExtractNewRecordState), and YugabyteDB's `{value, set}` columns in any of them.
 * Returns null for messages that carry no new event: tombstones, and updates or deletes of outbox rows
 * (pruning). Pure; throws TickwiseError `invalid_argument` naming what is wrong, its reason one of
 * RUN_EVENT_DECODE_REASONS.
 */
export function decodeRunEventMessage(value: Buffer | string | object | null | undefined): RunEvent | null {
  if (value === null || value === undefined) return null;
  let message: unknown = value;
  if (Buffer.isBuffer(message)) message = message.toString('utf8');
  if (typeof message === 'string') {
    if (message.trim() === '') return null;
    message = parseJson(message, 'the message');
  }
  // The router with an unexpanded payload and a JSON converter yields the payload as a JSON string.
  if (typeof message === 'string') message = parseJson(message, 'the message payload');
  if (!isObject(message)) throw decodeError('unknown_shape', `a run event message must be a JSON object, got ${Array.isArray(message) ? 'an array' : typeof message}`);
  // JsonConverter with schemas.enable=true: { schema, payload }.
  if ('schema' in message && 'payload' in message && Object.keys(message).length === 2) {
    return decodeRunEventMessage(typeof message.payload === 'string' ? message.payload : (message.payload as object | null));
  }
  if ('schema_version' in message) return validate(message);
  if ('op' in message && ('after' in message || 'before' in message)) {
    if (message.op !== 'c' && message.op !== 'r') return null;
    if (!isObject(message.after)) throw decodeError('unknown_shape', `a Debezium "${message.op}" envelope must carry an "after" row`);
    return fromOutboxRow(unwrapColumns(message.after));
  }
  const row = unwrapColumns(message);
  if ('payload' in row && 'aggregate_id' in row) {
    // ExtractNewRecordState flattens deletes too: with delete.tombstone.handling.mode=rewrite the
    // row arrives with `__deleted: "true"` and empty columns (REPLICA IDENTITY DEFAULT), and with
    // add.fields=op it names the operation in `__op`. Only inserts and snapshot reads are events.
    if (row.__deleted === 'true' || row.__deleted === true) return null;
    if (typeof row.__op === 'string' && row.__op !== 'c' && row.__op !== 'r') return null;
    return fromOutboxRow(row);
  }
  throw decodeError('unknown_shape', `not a run event: expected an outbox payload, an outbox row or a Debezium envelope, got an object with keys ${Object.keys(message).slice(0, 8).join(', ') || '(none)'}`);
}
