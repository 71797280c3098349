import type { ConnectionState, JobView } from './api.js';
import { h } from './dom.js';

/** What a view gets: where to draw, a signal that aborts when the user leaves it, and how to report failure. */
export interface Page {
  root: HTMLElement;
  signal: AbortSignal;
  /** Shows the error in place of the view (a 401 asks for the token). */
  fail(error: unknown): void;
  connection(state: ConnectionState): void;
}

export function statusBadge(status: JobView['status']): HTMLElement {
  return h('span', { class: `badge status-${status}`, attrs: { 'data-status': status } }, status);
}
