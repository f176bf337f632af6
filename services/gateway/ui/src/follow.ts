import type { Selection, Subscription } from '@xstate/store';

/**
 * Draws a part of a store now and again each time it changes (`equal` says when it has not), so a
 * view renders from the store's snapshots instead of keeping copies of them.
 */
export function follow<C, T>(store: { select<S>(selector: (context: C) => S, equal?: (a: S, b: S) => boolean): Selection<S> }, selector: (context: C) => T, render: (value: T) => void, equal?: (a: T, b: T) => boolean): Subscription {
  const selection = store.select(selector, equal);
  render(selection.get());
  return selection.subscribe(render);
}
