import { TickwiseError } from '@tickwise/platform/errors';

/**
 * The nearest-rank quantile of values already sorted ascending: the smallest value such that at
 * least `q` of the values are at or below it (p50 of [1, 2, 3, 4] is 2, p95 of 20 values is the
 * 19th). Nearest rank always returns an observed value, so a p95 of durations is a duration some
 * run really took. Null for no values. Pure.
 */
export function nearestRank(sorted: ArrayLike<number>, q: number): number | null {
  if (!(q > 0 && q <= 1)) throw new TickwiseError('invalid_argument', `a quantile must be in (0, 1], got ${q}`);
  if (sorted.length === 0) return null;
  // The epsilon keeps float products such as 0.95 * 60 = 57.00000000000001 on their true rank.
  const rank = Math.ceil(q * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
