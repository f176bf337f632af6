// The API contract, generated from api/proto by buf (npm run proto:generate): import it by name, @tickwise/api.
export * from './gen/tickwise/v1/analysis_service_pb.ts';
export * from './gen/tickwise/v1/api_key_service_pb.ts';
export * from './gen/tickwise/v1/audit_service_pb.ts';
export * from './gen/tickwise/v1/endpoint_service_pb.ts';
export * from './gen/tickwise/v1/hint_service_pb.ts';
export * from './gen/tickwise/v1/job_service_pb.ts';
export * from './gen/tickwise/v1/node_service_pb.ts';
export * from './gen/tickwise/v1/notification_service_pb.ts';
export * from './gen/tickwise/v1/overview_service_pb.ts';
export * from './gen/tickwise/v1/resources_pb.ts';
export * from './gen/tickwise/v1/run_service_pb.ts';
export * from './gen/tickwise/v1/watch_service_pb.ts';
export { specMessage } from './spec-message.ts';
export { notifyMessages } from './notify-message.ts';
export * from './gen/tickwise/v1/secret_service_pb.ts';
export * from './gen/tickwise/v1/signing_service_pb.ts';
