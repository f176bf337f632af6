const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID in its canonical 8-4-4-4-12 hex form (any version, any case). Pure. */
export function isUuid(text: unknown): boolean {
  return typeof text === 'string' && UUID.test(text);
}
