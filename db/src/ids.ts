import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

/** Random bytes are drawn from the system 4 KiB at a time: one call per 256 ids instead of one per id. */
const POOL_BYTES = 4_096;
let pool = new Uint8Array(0);
let offset = POOL_BYTES;
/** As uuid's own v7 state: ids of one process stay strictly ordered within a millisecond. */
let lastMs = -Infinity;
let seq = 0;

function randomBytes16(): Uint8Array {
  if (offset >= POOL_BYTES) {
    pool = randomFillSync(new Uint8Array(POOL_BYTES));
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

/** Time-ordered ids made by the application (never sequences: YugabyteDB caches them per connection). */
export function newId(): string {
  const random = randomBytes16();
  const now = Date.now();
  if (now > lastMs) {
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs += 1;
  }
  return v7({ msecs: lastMs, seq, random });
}
