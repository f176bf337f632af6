import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';

// Request payloads (Connect JSON) shaped like a procedure's input message, every string, map key,
// number and body value drawn from values that once reached PostgreSQL or the HTTP client and failed
// there: NUL, lone surrogates, CR/LF, characters past Latin-1, padded values, headers the client
// owns, numbers JSON cannot keep (1e400, beyond 2^53), times out of range. Ordinary values are mixed
// in so that requests also get past the first check and reach the write paths.

/** Stands for a JSON number token that JSON.stringify cannot write; replaced in the text. */
const RAW_NUMBERS: readonly [string, string][] = [
  ['\u0001inf', '1e400'],
  ['\u0001-inf', '-1e400'],
  ['\u0001big', '123456789012345678901234567890'],
];

export const HOSTILE_STRINGS = ['a\u0000b', '\u0000', '\ud800', 'x\udc00y', 'a\r\nX-Injected: 1', 'line\nbreak', '\u20ac', ' padded ', '\t', 'http://127.0.0.1:1/\u0000', 'http://127.0.0.1:1/a b', 'Transfer-Encoding', 'Content-Length', 'Host', 'Proxy-Authorization', 'Connection', '\u{1F600}', ''];
const ORDINARY_STRINGS = ['ok', 'poll', '30s', '1h', '* * * * *', 'Europe/Paris', 'http://127.0.0.1:1/x', 'POST', 'X-Team', 'once', 'skip', '2xx', 'maintenance'];

const hostileString = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.constantFrom(...ORDINARY_STRINGS), fc.string({ maxLength: 12, unit: 'binary' }));
const rawNumber = fc.constantFrom(...RAW_NUMBERS.map(([stand]) => stand));
const hostileNumber = fc.oneof(rawNumber, fc.constantFrom(0, 1, -1, 3, 100, 2 ** 31, 2 ** 53 + 2, 1e20, 0.5), fc.integer({ min: -10, max: 1_000 }));

/** A JSON value for an endpoint body: hostile strings, keys and numbers at any depth. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 3 }),
  ),
})).value;

function scalarArbitrary(type: ScalarType, name: string, ids: readonly string[]): fc.Arbitrary<unknown> {
  if (type === ScalarType.STRING) return name.endsWith('_id') || name === 'id' ? fc.oneof(fc.constantFrom(...ids), fc.uuid(), hostileString) : hostileString;
  if (type === ScalarType.BOOL) return fc.boolean();
  if (type === ScalarType.BYTES) return fc.constant('');
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) return fc.oneof(hostileNumber, fc.constantFrom('NaN', 'Infinity', '-Infinity'));
  return hostileNumber;
}

function fieldArbitrary(field: DescField, ids: readonly string[], depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarArbitrary(field.scalar, field.name, ids);
    case 'enum':
      return fc.constantFrom(...field.enum.values.map((value) => value.name));
    case 'message':
      return messageArbitrary(field.message, ids, depth + 1);
    case 'list': {
      const item = field.listKind === 'scalar' ? scalarArbitrary(field.scalar, field.name.replace(/s$/, ''), ids) : field.listKind === 'enum' ? fc.constantFrom(...field.enum.values.map((value) => value.name)) : messageArbitrary(field.message, ids, depth + 1);
      return fc.array(item, { maxLength: 2 });
    }
    case 'map': {
      const value = field.mapKind === 'scalar' ? scalarArbitrary(field.scalar, field.name, ids) : field.mapKind === 'enum' ? fc.constantFrom(...field.enum.values.map((each) => each.name)) : messageArbitrary(field.message, ids, depth + 1);
      return fc.dictionary(hostileString, value, { maxKeys: 2 });
    }
  }
}

/** A payload shaped like `desc` (JSON names), any subset of its fields set, nested messages to a few levels. */
export function messageArbitrary(desc: DescMessage, ids: readonly string[], depth = 0): fc.Arbitrary<unknown> {
  if (desc.typeName === 'google.protobuf.Value') return hostileJson;
  if (desc.typeName === 'google.protobuf.Timestamp') return fc.constantFrom('2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2000-01-01T00:00:00.5Z', '9999-12-31T23:59:59Z');
  if (depth > 3) return fc.constant({});
  const shape = Object.fromEntries(desc.fields.filter((field) => !field.oneof).map((field) => [field.jsonName, fieldArbitrary(field, ids, depth)]));
  // A oneof takes one of its members at most (both is a protocol error, not what is tested here).
  const oneofs = desc.oneofs.map((oneof) => fc.option(fc.oneof(...oneof.fields.map((field) => fieldArbitrary(field, ids, depth).map((value) => ({ [field.jsonName]: value })))), { nil: {} }));
  return fc.tuple(fc.record(shape, { requiredKeys: [] }), ...oneofs).map(([fields, ...chosen]) => Object.assign({}, fields, ...chosen));
}

/** The payload as Connect JSON text, the number tokens JSON.stringify cannot write put in. */
export function hostileJsonText(payload: unknown): string {
  let text = JSON.stringify(payload);
  for (const [stand, raw] of RAW_NUMBERS) text = text.replaceAll(JSON.stringify(stand), raw);
  return text;
}
