import type { IncomingHttpHeaders } from 'node:http';
import type { TidewayError } from '../../../src/api/errors.js';
import { maxComputeError } from '../errors.js';
import { parseRetryAfter } from './retry.js';

/** Where a failed request was aimed, for messages that say what was looked for. */
export interface RequestTarget {
  endpoint: string;
  project: string;
  table?: string;
  partition?: string;
  sessionId?: string;
  accessId?: string;
  action: string;
}

/** Reads `{"Code","Message"}` (or the XML `<Error><Code>` form) from an error body. */
export function parseErrorBody(body: Buffer): { code: string; message: string } {
  const text = body.toString('utf8').trim();
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { Code?: unknown; Message?: unknown };
      return { code: String(json.Code ?? ''), message: String(json.Message ?? '') };
    } catch {
      // fall through to the plain-text form
    }
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (code !== undefined) return { code, message: message ?? '' };
  return { code: '', message: text.slice(0, 300) };
}

function tableName(t: RequestTarget): string {
  return t.table ? `${t.project}.${t.table}` : t.project;
}

/** Maps an HTTP error answer to a TidewayError with a stable code, the target named, and what to do. */
export function errorFromResponse(status: number, headers: IncomingHttpHeaders, body: Buffer, target: RequestTarget): TidewayError {
  const { code, message } = parseErrorBody(body);
  const requestId = String(headers['x-odps-request-id'] ?? '');
  const context = {
    project: target.project,
    table: target.table,
    partition: target.partition || undefined,
    sessionId: target.sessionId,
    status,
    serverCode: code || undefined,
    requestId: requestId || undefined,
  };
  const said = `${code || `HTTP ${status}`}${message ? `: ${message}` : ''}`;
  const suffix = requestId ? ` (request id ${requestId})` : '';
  switch (code) {
    case 'NoSuchProject':
      return maxComputeError(
        'MAXCOMPUTE_NO_SUCH_PROJECT',
        `MaxCompute project "${target.project}" does not exist at ${target.endpoint}${suffix}. Check the project option and that the endpoint is in the project's region.`,
        { context },
      );
    case 'NoSuchTable':
      return maxComputeError(
        'MAXCOMPUTE_NO_SUCH_TABLE',
        `MaxCompute table "${tableName(target)}" does not exist${suffix}. Check table_name (and schema_name if the project uses schemas).`,
        { context },
      );
    case 'NoSuchPartition':
      return maxComputeError(
        'MAXCOMPUTE_NO_SUCH_PARTITION',
        `partition "${target.partition || '(none given)'}" of MaxCompute table "${tableName(target)}" was not found (${said})${suffix}. ` +
          'Check partition_spec: it must name an existing partition as key=value[,key=value], and a partitioned table needs one.',
        { context },
      );
    case 'NoSuchDownload':
      return maxComputeError(
        'MAXCOMPUTE_SESSION_EXPIRED',
        `download session ${target.sessionId ?? ''} of "${tableName(target)}"${target.partition ? ` partition ${target.partition}` : ''} no longer exists (it expired or was closed)${suffix}. ` +
          'Tideway re-plans with a new session when none of its rows were read yet; otherwise restart the job so it reads a fresh snapshot.',
        { context, retryable: true },
      );
    case 'InvalidColumn':
      return maxComputeError('MAXCOMPUTE_INVALID_COLUMN', `MaxCompute rejected the column list for "${tableName(target)}": ${message}${suffix}. Check read_columns.`, { context });
    case 'InvalidRowRange':
      return maxComputeError('MAXCOMPUTE_INVALID_ROW_RANGE', `MaxCompute rejected a row range of "${tableName(target)}": ${message}${suffix}.`, { context });
  }
  if (code === 'ODPS-0410031' || code === 'RequestTimeTooSkewed' || /^ODPS-0410031\b/.test(message)) {
    return maxComputeError(
      'MAXCOMPUTE_CLOCK_SKEW',
      `MaxCompute refused the request to ${target.action} "${tableName(target)}" because its Date is too far from the service's clock (${said})${suffix}. ` +
        "Set this machine's clock right (enable NTP) and run the job again.",
      { context },
    );
  }
  if (status === 401 || status === 403 || /^(Unauthorized|InvalidAccessKeyId|SignatureNotMatch|AccessDenied|NoPermission)/.test(code)) {
    return maxComputeError(
      'MAXCOMPUTE_AUTH_FAILED',
      `MaxCompute refused the request to ${target.action} "${tableName(target)}" for access_id "${target.accessId ?? ''}" (${said})${suffix}. ` +
        'Check access_id and access_key, and that this account may read the project.',
      { context },
    );
  }
  if (status === 429 || code === 'FlowExceeded' || code === 'SlotExceeded') {
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    return maxComputeError('MAXCOMPUTE_THROTTLED', `MaxCompute throttled the request to ${target.action} "${tableName(target)}" (${said})${suffix}.`, {
      context: { ...context, retryAfterMs },
      retryable: true,
    });
  }
  if (status >= 500) {
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    return maxComputeError('MAXCOMPUTE_SERVER_ERROR', `MaxCompute failed to ${target.action} "${tableName(target)}" (${said})${suffix}.`, {
      context: { ...context, retryAfterMs },
      retryable: true,
    });
  }
  return maxComputeError('MAXCOMPUTE_REQUEST_FAILED', `MaxCompute refused to ${target.action} "${tableName(target)}" (${said})${suffix}.`, { context });
}
