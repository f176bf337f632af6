-- What the machine visualizer reads besides the core: recent takeovers across a tenant's machines.
-- A takeover is a history row whose first step is TAKE_OVER (the scheduler records the takeover
-- as the first step of the write it commits after the run it took over). Takeovers are rare, so a
-- partial index on their time stays small and the nodes view never walks the whole history.

--- step endpoint_transitions_takeover_idx only=postgres
CREATE INDEX IF NOT EXISTS endpoint_transitions_takeover_idx ON endpoint_transitions (at)
  WHERE (steps -> 0 ->> 'event') = 'TAKE_OVER';

--- step endpoint_transitions_takeover_idx only=yugabyte
CREATE INDEX IF NOT EXISTS endpoint_transitions_takeover_idx ON endpoint_transitions (at ASC)
  WHERE (steps -> 0 ->> 'event') = 'TAKE_OVER';
