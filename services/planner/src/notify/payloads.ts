import type { NotificationKind, NotifyEndpoint } from '@tickwise/db';
import type { Streak } from './streaks.ts';

/**
 * What a notification says, made once when it is created and stored with it (so every retry sends
 * the same bytes): the webhook body, documented in docs/notifications.md. Slack's incoming-webhook
 * payload is derived from it when sent.
 */

/** A pause as an endpoint notice records it. */
export interface PauseDetail {
  by: 'person' | 'hint' | 'breaker';
  reason: string;
  until: string | null;
}

export type NoticeContent =
  | { kind: 'failing'; streak: Streak; threshold: number }
  | { kind: 'recovered'; streakKey: string; streak: Streak | null; runId: string; at: Date }
  | { kind: 'paused'; pause: PauseDetail; noticeId: string; at: Date };

export interface WebhookPayload {
  type: `endpoint.${NotificationKind}`;
  kind: NotificationKind;
  notification_id: string;
  created_at: string;
  summary: string;
  tenant: { id: string; name: string };
  job: { id: string; name: string };
  endpoint: { id: string; name: string };
  streak: {
    id: string;
    failures: number | null;
    first_failure_at: string | null;
    last_failure_at: string | null;
    last_error: string | null;
  } | null;
  recovered: { run_id: string; at: string } | null;
  pause: PauseDetail | null;
  link: string | null;
}

const BY = { person: 'a person', hint: 'a hint', breaker: 'the breaker (pauseAfter)' } as const;

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** The endpoint page of the visualizer, when the public URL is known. Pure. */
export function endpointLink(publicUrl: string | null, endpointId: string): string | null {
  return publicUrl === null ? null : `${publicUrl}/ui/#/endpoint/${endpointId}`;
}

/** The webhook body of a notification. Pure; executes nothing. */
export function webhookPayload(id: string, content: NoticeContent, endpoint: NotifyEndpoint, publicUrl: string | null, now: Date): WebhookPayload {
  const name = `${endpoint.jobName}/${endpoint.name}`;
  const streak = content.kind === 'paused' ? null : content.streak;
  let summary: string;
  if (content.kind === 'failing') {
    summary = `${name} is failing: ${plural(content.streak.failures, 'failed slot')} in a row${content.streak.lastError ? ` (last error: ${content.streak.lastError})` : ''}`;
  } else if (content.kind === 'recovered') {
    summary = `${name} recovered${content.streak ? ` after ${plural(content.streak.failures, 'failed slot')}` : ''}`;
  } else {
    summary = `${name} was paused by ${BY[content.pause.by]}${content.pause.until ? ` until ${content.pause.until}` : ''}: ${content.pause.reason}`;
  }
  return {
    type: `endpoint.${content.kind}`,
    kind: content.kind,
    notification_id: id,
    created_at: now.toISOString(),
    summary,
    tenant: { id: endpoint.tenantId, name: endpoint.tenantName },
    job: { id: endpoint.jobId, name: endpoint.jobName },
    endpoint: { id: endpoint.id, name: endpoint.name },
    streak:
      content.kind === 'paused'
        ? null
        : {
            id: content.kind === 'failing' ? content.streak.key : content.streakKey,
            failures: streak?.failures ?? null,
            first_failure_at: streak?.firstFailureAt.toISOString() ?? null,
            last_failure_at: streak?.lastFailureAt.toISOString() ?? null,
            last_error: streak?.lastError ?? null,
          },
    recovered: content.kind === 'recovered' ? { run_id: content.runId, at: content.at.toISOString() } : null,
    pause: content.kind === 'paused' ? content.pause : null,
    link: endpointLink(publicUrl, endpoint.id),
  };
}

/** Slack's mrkdwn escapes: `&`, `<` and `>` would start entities and links. Pure. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ICON = { failing: ':rotating_light:', recovered: ':white_check_mark:', paused: ':double_vertical_bar:' } as const;

/**
 * The Slack incoming-webhook payload (`{ text, blocks }`) of a notification: `text` is what
 * notifications and clients without blocks show; the blocks add the details and the link to the
 * endpoint's page when the public URL is set. Pure; executes nothing.
 */
export function slackPayload(payload: WebhookPayload): { text: string; blocks: unknown[] } {
  const details: string[] = [];
  if (payload.streak?.first_failure_at) details.push(`first failure ${payload.streak.first_failure_at}`);
  if (payload.streak?.last_failure_at && payload.kind === 'failing') details.push(`last failure ${payload.streak.last_failure_at}`);
  if (payload.pause?.until) details.push(`until ${payload.pause.until}`);
  details.push(`tenant ${payload.tenant.name || payload.tenant.id}`);
  const link = payload.link ? ` <${payload.link}|open in Tickwise>` : '';
  const text = `${ICON[payload.kind]} ${escapeSlack(payload.summary)}${link}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(details.join(' · ')) }] },
    ],
  };
}
