export * from './run-event.ts';
export * from './decode.ts';
