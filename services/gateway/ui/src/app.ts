import type { Api } from './api.ts';
import { LiveStream, type StreamHandlers } from './stream.ts';

/** What every view is given: the API with the signed-in key, who that is, and the page's shared parts. */
export interface App {
  api: Api;
  tenantName: string;
  role: 'read' | 'write' | 'admin';
  /** A live stream whose status shows in the page's banner; close it when the view goes. */
  stream(handlers: Pick<StreamHandlers, 'machine' | 'run'>): LiveStream;
  /** The gateway's clock (from the stream's heartbeats), for countdowns. */
  now(): number;
}

export interface View {
  element: HTMLElement;
  dispose(): void;
}

export const canWrite = (app: App): boolean => app.role === 'write' || app.role === 'admin';
