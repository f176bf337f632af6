import type { JobInput } from '@tickwise/catalog';
import { endpointInputSchema } from '@tickwise/machines';

/** The demo job of `tickwise dev`: synthetic endpoints served by the same process. */
export function demoJob(baseUrl: string): JobInput {
  const endpoints = [
    { name: 'health', url: `${baseUrl}/synthetic/health`, schedule: { every: '5s' } },
    { name: 'echo', url: `${baseUrl}/synthetic/echo`, method: 'POST', body: { hello: 'tickwise' }, schedule: { every: '10s' } },
    { name: 'flaky', url: `${baseUrl}/synthetic/flaky`, schedule: { every: '3s' }, minInterval: '1s', maxInterval: '1m', jitter: '10%' },
    { name: 'slow', url: `${baseUrl}/synthetic/slow?ms=1500`, schedule: { every: '15s' }, timeout: '5s' },
    { name: 'every-minute-paris', url: `${baseUrl}/synthetic/echo`, schedule: { cron: '* * * * *', timezone: 'Europe/Paris' }, catchUp: 'once' },
  ];
  return { name: 'demo', synthetic: true, endpoints: endpoints.map((endpoint) => endpointInputSchema.parse(endpoint)) };
}
