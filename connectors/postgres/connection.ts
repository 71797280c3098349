import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { TidewayError } from '../../src/api/errors.js';
import type { ConnectionOptions } from './options.js';

export type PgClient = pg.Client;

/** Where a connection goes, without the password: what errors and logs may show. */
export interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** Resolves url and the separate options (separate ones win) into a pg client config. */
export function clientConfig(options: ConnectionOptions, baseDir = process.cwd()): { config: pg.ClientConfig; endpoint: Endpoint } {
  let fromUrl: Partial<Endpoint> & { password?: string } = {};
  if (options.url !== undefined) {
    const url = new URL(options.url);
    fromUrl = {
      host: url.hostname.replace(/^\[|\]$/g, '') || undefined,
      port: url.port ? Number(url.port) : undefined,
      database: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined,
      user: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
    } as Partial<Endpoint> & { password?: string };
    const sslmode = url.searchParams.get('sslmode');
    if (sslmode && options.ssl === 'disable' && ['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
      options = { ...options, ssl: sslmode as ConnectionOptions['ssl'] };
    }
  }
  const user = options.user ?? fromUrl.user ?? 'postgres';
  const endpoint: Endpoint = {
    host: options.host ?? fromUrl.host ?? '127.0.0.1',
    port: options.port ?? fromUrl.port ?? 5432,
    database: options.database ?? fromUrl.database ?? user,
    user,
  };
  const password = options.password ?? fromUrl.password;
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(resolve(baseDir, file), 'utf8'));
  let ssl: pg.ClientConfig['ssl'] = false;
  if (options.ssl !== 'disable') {
    ssl = {
      rejectUnauthorized: options.ssl !== 'require',
      ca: read(options.ssl_root_cert),
      cert: read(options.ssl_cert),
      key: read(options.ssl_key),
      ...(options.ssl === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  return {
    endpoint,
    config: {
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: endpoint.user,
      ...(password === undefined ? {} : { password }),
      ssl,
      connectionTimeoutMillis: options.connect_timeout,
      application_name: 'tideway',
    },
  };
}

export function describeEndpoint(endpoint: Endpoint): string {
  return `postgres://${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
}

/** Opens a client; a failure names the server and the reason (never the password) and says what to check. */
export async function connect(config: pg.ClientConfig, endpoint: Endpoint): Promise<PgClient> {
  const client = new pg.Client(config);
  // An idle client whose server goes away emits 'error'; without a listener Node would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(error, endpoint, config.password);
  }
  return client;
}

function connectionError(error: unknown, endpoint: Endpoint, password: unknown): TidewayError {
  const pgError = error as { code?: string; message?: string };
  let reason = scrub(pgError.message ?? String(error), password);
  let hint = 'check host, port and that the server is running';
  switch (pgError.code) {
    case '28P01':
    case '28000':
      hint = 'check user and password (and pg_hba.conf)';
      break;
    case '3D000':
      hint = 'create the database or fix the database option';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      hint = 'check the host name';
      break;
    default:
      if (/timeout/i.test(reason)) {
        reason = `${reason} (connect_timeout)`;
        hint = 'check that the host is reachable from here (firewall, VPN) or raise connect_timeout';
      }
  }
  return new TidewayError('POSTGRES_CONNECT_FAILED', `cannot connect to PostgreSQL at ${describeEndpoint(endpoint)}: ${reason}; ${hint}`, {
    context: { connector: 'postgres', host: endpoint.host, port: endpoint.port, database: endpoint.database },
    retryable: pgError.code !== '28P01' && pgError.code !== '3D000',
  });
}

/** Removes the password from a message, should a driver ever echo it. */
export function scrub(message: string, password: unknown): string {
  return typeof password === 'string' && password.length > 0 ? message.split(password).join('***') : message;
}

/** A quoted identifier: "name" with inner quotes doubled. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal safe under any standard_conforming_strings setting. */
export function literal(value: string): string {
  const escaped = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${escaped.replace(/\\/g, '\\\\')}'` : `'${escaped}'`;
}

export interface TableName {
  schema: string;
  table: string;
}

/**
 * Parses `schema.table`, `table` (schema public) and quoted parts (`"My Schema"."Orders"`). Unquoted parts
 * are folded to lower case, as PostgreSQL does.
 */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new TidewayError('CONFIG_INVALID', `table ${JSON.stringify(text)} has an unclosed quote`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
      parts.push(part);
    } else {
      const end = text.indexOf('.', i);
      const raw = end < 0 ? text.slice(i) : text.slice(i, end);
      parts.push(raw.trim().toLowerCase());
      i = end < 0 ? text.length : end;
    }
    if (text[i] === '.') i++;
  }
  if (parts.length === 1 && parts[0]) return { schema: 'public', table: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { schema: parts[0], table: parts[1] };
  throw new TidewayError('CONFIG_INVALID', `table ${JSON.stringify(text)} must be schema.table or table (quote a part containing a dot: "a.b")`);
}

export function qualified(name: TableName): string {
  return `${ident(name.schema)}.${ident(name.table)}`;
}

export function displayName(name: TableName): string {
  return `${name.schema}.${name.table}`;
}

/** Wraps a database error with what was being done and where; the database's own message is kept. */
export function queryError(error: unknown, what: string, endpoint: Endpoint, context: Record<string, string | number> = {}): TidewayError {
  if (error instanceof TidewayError) return error;
  const pgError = error as { message?: string; code?: string; detail?: string; where?: string };
  const detail = pgError.detail ? ` (${pgError.detail})` : '';
  return new TidewayError('POSTGRES_QUERY_FAILED', `${what} on ${describeEndpoint(endpoint)} failed: ${pgError.message ?? String(error)}${detail}`, {
    cause: error,
    context: { connector: 'postgres', host: endpoint.host, database: endpoint.database, ...(pgError.code ? { sqlstate: pgError.code } : {}), ...context },
    retryable: pgError.code === undefined || /^(08|40|53|57P)/.test(pgError.code),
  });
}
