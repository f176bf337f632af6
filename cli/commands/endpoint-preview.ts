import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type PreviewScheduleResponse, PreviewScheduleResponseSchema } from '@tickwise/api';
import { printJson, type Api } from '../api-client.ts';
import { dateOf, stateName } from '../api-format.ts';
import { invalidArgument } from '../settings.ts';
import { renderFields, renderTable, timeWithRelative } from '../table.ts';

export const PREVIEW_COUNT_MAX = 100;

/** `--count`: a whole number from 1 to 100 (the API's limit), 10 when absent. */
export function parsePreviewCount(text: string | undefined): number {
  if (text === undefined) return 10;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > PREVIEW_COUNT_MAX) throw invalidArgument(`--count must be a whole number from 1 to ${PREVIEW_COUNT_MAX}, got "${text}"`);
  return Number(text);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `--from`: an RFC 3339 time with its offset (2026-03-29T00:00:00Z, 2026-03-29T01:00:00+01:00). */
export function parsePreviewFrom(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const at = RFC3339.test(text) ? new Date(text.replace(' ', 'T')) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw invalidArgument(`--from must be an RFC 3339 time with its offset, such as 2026-03-29T00:00:00Z, got "${text}"`);
  return at;
}

/** `tickwise endpoints preview <endpoint>`: the next baseline runs, UTC and local, DST marked. */
export async function previewCommand(api: Api, ref: string, count: number, from: Date | undefined, json: boolean): Promise<number> {
  const endpoint = await api.endpoint(ref);
  const response = await api.endpoints.previewSchedule({ target: { case: 'endpointId', value: endpoint.id }, count, from: from ? timestampFromDate(from) : undefined });
  if (json) printJson(PreviewScheduleResponseSchema, response);
  else console.log(renderPreview(ref.includes('/') ? ref : endpoint.name, response, new Date()));
  return 0;
}

/** The preview as text: what it shows, then one row a run, a DST shift marked in its offset. Pure. */
export function renderPreview(label: string, preview: PreviewScheduleResponse, now: Date): string {
  const header = renderFields([
    ['endpoint', label],
    ['schedule', `${preview.schedule}: the baseline only (hints, backoff and catch-up move real runs)`],
    ['planned', `${timeWithRelative(dateOf(preview.nextRunAt), now)}, ${stateName(preview.state)}${preview.nextRunReason ? `: ${preview.nextRunReason}` : ''}`],
  ]);
  if (preview.runs.length === 0) return `${header}\n\nno runs after ${timeWithRelative(dateOf(preview.from), now)}`;
  let previous = '';
  const rows = preview.runs.map((run, index) => {
    const offset = run.offsetChanged ? `${run.utcOffset} (DST shift${previous ? ` from ${previous}` : ''})` : run.utcOffset;
    previous = run.utcOffset;
    return [String(index + 1), timeWithRelative(dateOf(run.at), now), run.localTime.slice(0, -6).replace('T', ' '), offset, run.note];
  });
  return `${header}\n\n${renderTable(['#', 'UTC', `LOCAL (${preview.timezone})`, 'OFFSET', 'NOTE'], rows)}`;
}
