/** The endpoint page's schedule preview: its state in the endpoint store, and the table it draws from. */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { PreviewScheduleResponseSchema } from '@tickwise/api';
import { createEndpointStore, previewFromOf, previewOutdated, type EndpointEmitted } from '../ui/src/endpoint-store.ts';

const preview = (firstRun: string) => create(PreviewScheduleResponseSchema, { timezone: 'Europe/Paris', runs: [{ at: timestampFromDate(new Date(firstRun)), localTime: '2026-03-29T03:00:00+02:00', utcOffset: '+02:00', offsetChanged: true }] });

describe('the schedule preview in the endpoint store', () => {
  it('reads a start typed as RFC 3339 with its offset, or now when empty, and refuses anything else', () => {
    expect(previewFromOf('')).toEqual({ from: null });
    expect(previewFromOf(' 2026-03-29T00:58:00Z ')).toEqual({ from: new Date('2026-03-29T00:58:00Z') });
    expect(previewFromOf('2026-03-29T01:58:00+01:00')).toEqual({ from: new Date('2026-03-29T00:58:00Z') });
    expect(previewFromOf('2026-03-29T01:58:00')).toEqual({ error: '"2026-03-29T01:58:00" is not an RFC 3339 time with its offset, such as 2026-03-29T00:00:00Z' });
    expect(previewFromOf('tomorrow')).toHaveProperty('error');
  });

  it('asks for a read when the start changes, keeps the error of a bad one, and drops an answer for an older start', () => {
    const store = createEndpointStore('id-1');
    const emitted: EndpointEmitted[] = [];
    store.on('previewStale', (event) => emitted.push(event));
    store.trigger.previewFromTyped({ text: 'nope' });
    expect(store.getSnapshot().context.previewError).toContain('"nope" is not an RFC 3339 time');
    expect(emitted).toEqual([]);
    store.trigger.previewFromTyped({ text: '2026-03-29T00:58:00Z' });
    expect(emitted).toEqual([{ type: 'previewStale' }]);
    expect(store.getSnapshot().context).toMatchObject({ previewFrom: new Date('2026-03-29T00:58:00Z'), previewError: null });
    store.trigger.previewLoaded({ preview: preview('2026-03-29T01:00:00Z'), from: null });
    expect(store.getSnapshot().context.preview).toBeUndefined();
    store.trigger.previewLoaded({ preview: preview('2026-03-29T01:00:00Z'), from: new Date('2026-03-29T00:58:00Z') });
    expect(store.getSnapshot().context.preview?.timezone).toBe('Europe/Paris');
    store.trigger.previewFailed({ message: 'not allowed' });
    expect(store.getSnapshot().context.previewError).toBe('not allowed');
  });

  it('counts a preview from now as outdated once its first run has passed, and one from a typed time never', () => {
    const store = createEndpointStore('id-1');
    store.trigger.previewLoaded({ preview: preview('2026-03-29T01:00:00Z'), from: null });
    expect(previewOutdated(store.getSnapshot().context, Date.parse('2026-03-29T00:59:59Z'))).toBe(false);
    expect(previewOutdated(store.getSnapshot().context, Date.parse('2026-03-29T01:00:00Z'))).toBe(true);
    store.trigger.previewFromTyped({ text: '2026-03-29T00:58:00Z' });
    store.trigger.previewLoaded({ preview: preview('2026-03-29T01:00:00Z'), from: new Date('2026-03-29T00:58:00Z') });
    expect(previewOutdated(store.getSnapshot().context, Date.parse('2026-03-29T02:00:00Z'))).toBe(false);
  });
});
