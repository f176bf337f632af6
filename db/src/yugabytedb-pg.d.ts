// @yugabytedb/pg is node-postgres 8.7.3 with load balancing; it ships no types of its own.
declare module '@yugabytedb/pg' {
  import type pg from 'pg';
  const yb: typeof pg;
  export default yb;
}
