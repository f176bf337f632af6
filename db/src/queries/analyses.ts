import type { Queryable } from '../pool.ts';

export type AnalysisOutcome = 'hint' | 'clear' | 'no_change' | 'fallback';

/** One analysis of the planner: what it saw, what it did and why. */
export interface Analysis {
  id: string;
  endpointId: string;
  planner: 'heuristic' | 'llm';
  trigger: string;
  inputs: unknown;
  toolCalls: unknown[];
  reasoning: string | null;
  model: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  durationMs: number;
  outcome: AnalysisOutcome;
  outcomeDetail: string | null;
  hintIds: string[];
  createdAt?: Date;
}

/** jsonb and text refuse U+0000, which a model's reasoning or tool arguments may carry: dropped. */
function withoutNul(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
}

export async function insertAnalyses(db: Queryable, analyses: readonly Analysis[]): Promise<void> {
  if (analyses.length === 0) return;
  await db.query(
    `INSERT INTO analyses (id, endpoint_id, planner, trigger, inputs, tool_calls, reasoning, model, tokens_in, tokens_out, duration_ms, outcome, outcome_detail, hint_ids)
     SELECT a.id, a.endpoint_id, a.planner, a.trigger, a.inputs, a.tool_calls, a.reasoning, a.model, a.tokens_in, a.tokens_out, a.duration_ms, a.outcome, a.outcome_detail,
            ARRAY(SELECT jsonb_array_elements_text(a.hint_ids)::uuid)
       FROM jsonb_to_recordset($1::jsonb) AS a(id uuid, endpoint_id uuid, planner text, trigger text, inputs jsonb, tool_calls jsonb, reasoning text, model text,
            tokens_in integer, tokens_out integer, duration_ms double precision, outcome text, outcome_detail text, hint_ids jsonb)
     ON CONFLICT (id) DO NOTHING`,
    [
      JSON.stringify(
        analyses.map((a) => ({
          id: a.id,
          endpoint_id: a.endpointId,
          planner: a.planner,
          trigger: a.trigger,
          inputs: a.inputs,
          tool_calls: a.toolCalls,
          reasoning: a.reasoning,
          model: a.model,
          tokens_in: a.tokensIn,
          tokens_out: a.tokensOut,
          duration_ms: a.durationMs,
          outcome: a.outcome,
          outcome_detail: a.outcomeDetail,
          hint_ids: a.hintIds,
        })),
        withoutNul,
      ),
    ],
  );
}

interface RawAnalysis {
  id: string;
  endpoint_id: string;
  planner: 'heuristic' | 'llm';
  trigger: string;
  inputs: unknown;
  tool_calls: unknown[];
  reasoning: string | null;
  model: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  duration_ms: number;
  outcome: AnalysisOutcome;
  outcome_detail: string | null;
  hint_ids: string[];
  created_at: Date;
}

function toAnalysis(row: RawAnalysis): Analysis {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    planner: row.planner,
    trigger: row.trigger,
    inputs: row.inputs,
    toolCalls: row.tool_calls,
    reasoning: row.reasoning,
    model: row.model,
    tokensIn: row.tokens_in,
    tokensOut: row.tokens_out,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    outcomeDetail: row.outcome_detail,
    hintIds: row.hint_ids,
    createdAt: row.created_at,
  };
}

/** Analyses of an endpoint, newest first; `before` (an analysis id) pages back. */
export async function listAnalyses(db: Queryable, endpointId: string, options: { limit: number; before?: string | null }): Promise<Analysis[]> {
  const { rows } = await db.query<RawAnalysis>(
    `SELECT * FROM analyses WHERE endpoint_id = $1 AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $2`,
    [endpointId, options.limit, options.before ?? null],
  );
  return rows.map(toAnalysis);
}

export async function getAnalysis(db: Queryable, id: string): Promise<Analysis | null> {
  const { rows } = await db.query<RawAnalysis>('SELECT * FROM analyses WHERE id = $1', [id]);
  return rows[0] ? toAnalysis(rows[0]) : null;
}
