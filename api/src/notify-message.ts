import type { NotifyTarget } from '@tickwise/machines';

/** A job's stored notify targets in the NotifyTarget message's form (`webhook`/`slack` oneof, `after`). Pure. */
export function notifyMessages(targets: readonly NotifyTarget[]) {
  return targets.map((target) => ({ target: { case: target.channel, value: target.url }, after: target.after }));
}
