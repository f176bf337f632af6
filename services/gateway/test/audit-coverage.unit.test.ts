import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { RotateSigningSecretRequestSchema, SetSecretRequestSchema } from '@tickwise/api';
import { AUDIT_DESCRIBERS, fallbackDescription, isReadProcedure, PROCEDURE_ROLES, redactUrl } from '@tickwise/gateway';

// A procedure that changes something cannot be left out of the audit trail: the interceptor records
// every procedure whose name does not say it reads, and each of those has a describer written for it
// (what its target is, what of it the trail keeps and what it must never keep).

describe('audit coverage', () => {
  const procedures = [...PROCEDURE_ROLES.keys()];

  it('has a describer for every procedure of PROCEDURE_ROLES that is not a read', () => {
    const changes = procedures.filter((procedure) => !isReadProcedure(procedure));
    expect(changes.filter((procedure) => !AUDIT_DESCRIBERS.has(procedure)), 'add a describer to services/gateway/src/audit-describers.ts').toEqual([]);
    expect(changes.length).toBeGreaterThanOrEqual(21);
  });

  it('has no describer for a procedure that does not exist or that reads', () => {
    expect([...AUDIT_DESCRIBERS.keys()].filter((procedure) => !PROCEDURE_ROLES.has(procedure) || isReadProcedure(procedure))).toEqual([]);
  });

  it('tells reads by their verb', () => {
    const reads = procedures.filter(isReadProcedure).map((procedure) => procedure.replace(/^tickwise\.v1\./, ''));
    expect(reads).toEqual(expect.arrayContaining(['JobService/GetJob', 'JobService/ListJobs', 'EndpointService/GetMachine', 'EndpointService/PreviewSchedule', 'WatchService/Watch', 'OverviewService/WhoAmI', 'AuditService/ListAuditEvents', 'SecretService/ListSecrets']));
    for (const change of ['JobService/ApplyJobs', 'EndpointService/TriggerEndpoint', 'SecretService/SetSecret', 'ApiKeyService/RevokeApiKey']) expect(isReadProcedure(`tickwise.v1.${change}`), change).toBe(false);
  });

  it('keeps a URL\'s origin and path, never its query, fragment or user info', () => {
    expect(redactUrl('https://user:pass@api.example.com/v1/orders?token=abc#x')).toBe('https://api.example.com/v1/orders?…');
    expect(redactUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/');
    expect(redactUrl('not a url')).toBe('…');
  });

  it('records only ids, names and which fields were set for a change without a describer, never a value', () => {
    const secret = create(SetSecretRequestSchema, { name: 'DB_PASSWORD', value: 's3cret' });
    expect(fallbackDescription(SetSecretRequestSchema, secret as unknown as Record<string, unknown>)).toEqual({ target: 'DB_PASSWORD', summary: { name: 'DB_PASSWORD', fieldsSet: ['value'] } });
    const rotate = create(RotateSigningSecretRequestSchema, { endpointId: '01900000-0000-7000-8000-000000000000', grace: '1h' });
    expect(fallbackDescription(RotateSigningSecretRequestSchema, rotate as unknown as Record<string, unknown>)).toEqual({ target: '', summary: { endpointId: '01900000-0000-7000-8000-000000000000', fieldsSet: ['grace'] } });
  });
});
