export * from './endpoint-spec.ts';
export * from './delivery.ts';
export * from './governor.ts';
export * from './endpoint-machine.ts';
export * from './snapshot.ts';
export * from './planning.ts';
export * from './notify.ts';
