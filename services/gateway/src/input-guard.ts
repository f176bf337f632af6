import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { Interceptor } from '@connectrpc/connect';
import { numberProblem, textProblem } from '@tickwise/machines';
import { TickwiseError, type FieldViolation } from '@tickwise/platform';

// Every request, of every procedure, is walked once before its handler runs: a string, a map key or
// a number that could never be stored is refused here, naming its proto path, so that nothing a
// handler forgets to check (a reason, a filter, a page token, a field of a service added later)
// reaches PostgreSQL and comes back as an `internal` answer. The handlers' own zod checks then say
// what is wrong with values that are storable but not acceptable.

/** The Timestamp range RFC 3339 can write (0001-01-01 to 9999-12-31), as Connect checks it in JSON but not in binary. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
/** The last instant a Timestamp can carry (9999-12-31T23:59:59.999Z in ms): no answer may hold a later one. */
export const LATEST_TIMESTAMP_MS = Number(MAX_SECONDS) * 1_000 + 999;
/** Most violations reported for one request; a repeated bad character is one mistake. */
const MAX_VIOLATIONS = 10;
/** google.protobuf.Value nesting walked at most: the body's own depth limit is far below it. */
const MAX_VALUE_DEPTH = 64;

type Message = Record<string, unknown> & { $typeName: string };

function key(name: string): string {
  return `[${JSON.stringify(name)}]`;
}

/** A body's key as a path step: `.name` where that reads clearly, `["a b"]` otherwise. */
function jsonStep(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : key(name);
}

class Walk {
  readonly violations: FieldViolation[] = [];

  add(field: string, reason: string): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push({ field, reason });
  }

  text(path: string, text: string): void {
    const problem = textProblem(text);
    if (problem) this.add(path, problem);
  }

  double(path: string, value: number): void {
    if (!Number.isFinite(value)) this.add(path, numberProblem(value)!);
  }

  scalar(path: string, type: ScalarType, value: unknown): void {
    if (type === ScalarType.STRING && typeof value === 'string') this.text(path, value);
    else if ((type === ScalarType.DOUBLE || type === ScalarType.FLOAT) && typeof value === 'number') this.double(path, value);
  }

  message(path: string, desc: DescMessage, message: Message): void {
    if (desc.typeName === 'google.protobuf.Value') return this.value(path, message, 0);
    if (desc.typeName === 'google.protobuf.Timestamp') return this.timestamp(path, message);
    for (const field of desc.fields) {
      let value: unknown;
      if (field.oneof) {
        const chosen = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
        if (chosen?.case !== field.localName) continue;
        value = chosen.value;
      } else {
        value = message[field.localName];
      }
      this.field(`${path}${path ? '.' : ''}${field.name}`, field, value);
    }
  }

  field(path: string, field: DescField, value: unknown): void {
    if (value === undefined || value === null) return;
    switch (field.fieldKind) {
      case 'scalar':
        return this.scalar(path, field.scalar, value);
      case 'enum':
        return;
      case 'message':
        return this.message(path, field.message, value as Message);
      case 'list':
        (value as unknown[]).forEach((item, index) => {
          if (field.listKind === 'scalar') this.scalar(`${path}[${index}]`, field.scalar, item);
          else if (field.listKind === 'message') this.message(`${path}[${index}]`, field.message, item as Message);
        });
        return;
      case 'map':
        for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
          const problem = textProblem(name);
          if (problem) {
            this.add(path, `the key ${JSON.stringify(name)} ${problem}`);
            continue;
          }
          if (field.mapKind === 'scalar') this.scalar(`${path}${key(name)}`, field.scalar, item);
          else if (field.mapKind === 'message') this.message(`${path}${key(name)}`, field.message, item as Message);
        }
        return;
    }
  }

  /** A google.protobuf.Value (an endpoint body) with JSON paths: `endpoint.body.items[2].name`. */
  value(path: string, value: Message, depth: number): void {
    if (depth > MAX_VALUE_DEPTH) return this.add(path, `nests deeper than ${MAX_VALUE_DEPTH} levels`);
    const kind = value.kind as { case?: string; value?: unknown } | undefined;
    if (kind?.case === 'stringValue') this.text(path, kind.value as string);
    else if (kind?.case === 'numberValue') this.double(path, kind.value as number);
    else if (kind?.case === 'listValue') ((kind.value as { values: Message[] }).values ?? []).forEach((item, index) => this.value(`${path}[${index}]`, item, depth + 1));
    else if (kind?.case === 'structValue') {
      for (const [name, item] of Object.entries((kind.value as { fields: Record<string, Message> }).fields ?? {})) {
        const problem = textProblem(name);
        if (problem) this.add(path, `the key ${JSON.stringify(name)} ${problem}`);
        else this.value(`${path}${jsonStep(name)}`, item, depth + 1);
      }
    }
  }

  timestamp(path: string, value: Message): void {
    const seconds = BigInt((value.seconds as bigint | number | undefined) ?? 0);
    const nanos = Number(value.nanos ?? 0);
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
      this.add(path, 'must be a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');
    }
  }
}

/** The violations of a request message: every string, map key, double and timestamp in it. Pure. */
export function requestViolations(desc: DescMessage, message: unknown): FieldViolation[] {
  const walk = new Walk();
  walk.message('', desc, message as Message);
  return walk.violations;
}

/** Refuses a unary request with any value no handler could store (INVALID_ARGUMENT naming each). */
export function inputGuardInterceptor(): Interceptor {
  return (next) => async (request) => {
    if (!request.stream) {
      const violations = requestViolations(request.method.input, request.message);
      if (violations.length > 0) throw TickwiseError.invalid(violations, 'unstorable_input');
    }
    return next(request);
  };
}
