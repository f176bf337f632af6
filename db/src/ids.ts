import { v7 } from 'uuid';

/** Time-ordered ids made by the application (never sequences: YugabyteDB caches them per connection). */
export function newId(): string {
  return v7();
}
