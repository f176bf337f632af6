/** `endpointId` → `endpoint_id`, as a type. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}` ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}` : S;

/**
 * An object's fields under their column names: the type of the JSON the functions that populate rows
 * (`jsonb_populate_recordset`, `jsonb_to_recordset`) read. Builders spell it out field by field, and
 * fail to compile when a field is left out.
 */
export type Columns<T> = { [K in keyof T & string as SnakeCase<K>]: T[K] };
