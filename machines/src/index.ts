export * from './endpoint-spec.ts';
export * from './governor.ts';
export * from './endpoint-machine.ts';
export * from './snapshot.ts';
export * from './planning.ts';
export * from './cron.ts';
export * from './zone-time.ts';
export * from './schedule-preview.ts';
