/** `endpointId` → `endpoint_id`, as a type. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}` ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}` : S;

/** An object's fields under their column names. */
export type Columns<T> = { [K in keyof T & string as SnakeCase<K>]: T[K] };

const names = new Map<string, string>();

function columnName(field: string): string {
  let name = names.get(field);
  if (name === undefined) {
    name = field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    names.set(field, name);
  }
  return name;
}

/**
 * The object with its fields renamed to column names (`endpointId` → `endpoint_id`), for the
 * functions that populate rows from JSON (`jsonb_populate_recordset`, `jsonb_to_recordset`).
 * Fields left undefined are left out (JSON drops them; the column reads as null). Pure.
 */
export function toColumns<T extends object>(record: T): Columns<T> {
  const columns: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(record)) if (value !== undefined) columns[columnName(field)] = value;
  return columns as Columns<T>;
}
