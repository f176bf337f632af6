export type AnalyticsErrorCode = 'invalid_settings' | 'already_started' | 'start_failed';

/** What the analytics consumer refuses or fails at. The code is one of a closed set. */
export class AnalyticsError extends Error {
  constructor(
    readonly code: AnalyticsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AnalyticsError';
  }
}
