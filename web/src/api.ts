import type { ClusterStatus, JobCheckpointEvent, JobProgressEvent, JobStatusEvent, JobView } from './api-types.js';

export type { ClusterStatus, JobView };
export type ServerEvent =
  | { type: 'progress'; data: JobProgressEvent }
  | { type: 'checkpoint'; data: JobCheckpointEvent }
  | { type: 'status'; data: JobStatusEvent };

const TOKEN_KEY = 'tideway.token';

/** A failed API call: the HTTP status and the server's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { path: string; message: string; location?: { line: number; col: number } }[] = [],
  ) {
    super(message);
  }
}

export function token(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

async function failure(response: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; issues?: ApiError['issues'] } } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // not JSON: keep the status alone
  }
  return new ApiError(response.status, body.error?.code ?? `HTTP_${response.status}`, body.error?.message ?? response.statusText, body.error?.issues ?? []);
}

/** Calls the API; resolves with the JSON body or rejects with an ApiError. */
export async function api<T>(path: string, init: { method?: string; body?: string; contentType?: string; signal?: AbortSignal } = {}): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(init.contentType ? { 'content-type': init.contentType } : {}),
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

export const listJobs = (signal: AbortSignal) => api<{ jobs: JobView[] }>('/api/jobs', { signal }).then((r) => r.jobs);
export const getJob = (id: string, signal: AbortSignal) => api<JobView>(`/api/jobs/${encodeURIComponent(id)}`, { signal });
export const jobAction = (id: string, action: 'stop' | 'cancel' | 'resume') => api<JobView>(`/api/jobs/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
export const getHealth = (signal: AbortSignal) => api<{ status: string; cluster?: boolean }>('/api/health', { signal });
export const getCluster = (signal: AbortSignal) => api<ClusterStatus>('/api/cluster', { signal });
export const submitJob = (yaml: string) => api<{ id: string }>('/api/jobs', { method: 'POST', body: yaml, contentType: 'application/yaml' });

export type ConnectionState = 'live' | 'reconnecting';

/**
 * Follows a server-sent event stream until `signal` aborts, reconnecting after a lost connection. Read with
 * fetch rather than EventSource so that the token goes in the Authorization header, never in a URL.
 * `onOpen` runs after each (re)connection: the caller reloads what it may have missed.
 */
export async function followEvents(
  path: string,
  handlers: { onEvent: (event: ServerEvent) => void; onOpen?: () => void; onState?: (state: ConnectionState) => void; onUnauthorized?: () => void },
  signal: AbortSignal,
): Promise<void> {
  let delay = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
      if (response.status === 401) {
        handlers.onUnauthorized?.();
        return;
      }
      if (!response.ok || !response.body) throw await failure(response);
      delay = 500;
      handlers.onState?.('live');
      handlers.onOpen?.();
      await readStream(response.body, handlers.onEvent);
    } catch (error) {
      if (signal.aborted) return;
      void error;
    }
    handlers.onState?.('reconnecting');
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 10_000);
  }
}

async function readStream(body: ReadableStream<Uint8Array>, onEvent: (event: ServerEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) onEvent(event);
    }
  }
}

/** One event of the text/event-stream format: `event:` and `data:` lines; comments (`:`) are skipped. */
function parseBlock(block: string): ServerEvent | undefined {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 || !['progress', 'checkpoint', 'status'].includes(type)) return undefined;
  return { type, data: JSON.parse(data.join('\n')) } as ServerEvent;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
