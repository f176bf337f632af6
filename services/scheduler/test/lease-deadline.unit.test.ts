import { describe, expect, it } from 'vitest';
import { dispatchMarginMs, leaseDeadline, mayDispatch, renewedDeadline } from '../src/lease-deadline.ts';

describe('the lease deadline a node keeps for each machine it holds', () => {
  const lease = 30_000;

  it('runs a lease from when the statement was sent, not from when its answer came', () => {
    // Sent at 1 000, answered at 9 000 (a slow network): the database's lease began no earlier than 1 000.
    expect(leaseDeadline(1_000, lease)).toBe(31_000);
  });

  it('moves forward with a renewal that landed, from when the renewal was sent', () => {
    expect(renewedDeadline(31_000, 11_000, lease)).toBe(41_000);
  });

  it('never moves back: a renewal sent before a later claim of the same machine changes nothing', () => {
    expect(renewedDeadline(41_000, 5_000, lease)).toBe(41_000);
  });

  it('keeps a tenth of the lease as slack', () => {
    expect(dispatchMarginMs(30_000)).toBe(3_000);
    expect(dispatchMarginMs(3_000)).toBe(300);
  });

  it('lets a slot be dispatched only while the lease surely holds for the slack', () => {
    const deadline = leaseDeadline(0, lease);
    expect(mayDispatch(deadline, 0, lease)).toBe(true);
    expect(mayDispatch(deadline, 26_999, lease)).toBe(true);
    expect(mayDispatch(deadline, 27_000, lease)).toBe(false);
    expect(mayDispatch(deadline, 31_000, lease)).toBe(false);
  });

  it('never lets a claimed slot be refused while renewals land: they keep two thirds of the lease ahead', () => {
    // Claimed at 0, renewed every third of the lease (each answered at once): at every moment the
    // remaining lease exceeds the slack.
    let deadline = leaseDeadline(0, lease);
    for (let now = 0; now <= 10 * lease; now += 500) {
      if (now > 0 && now % (lease / 3) === 0) deadline = renewedDeadline(deadline, now, lease);
      expect(mayDispatch(deadline, now, lease), `at ${now}`).toBe(true);
    }
  });

  it('stops dispatching within a lease of the last renewal that landed, whatever failed since', () => {
    // The last renewal that landed was sent at 20 000; those after it failed or never answered.
    const deadline = renewedDeadline(leaseDeadline(0, lease), 20_000, lease);
    expect(mayDispatch(deadline, 46_999, lease)).toBe(true);
    expect(mayDispatch(deadline, 47_000, lease)).toBe(false);
  });
});
