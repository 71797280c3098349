import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions, FieldPacket } from 'mysql2/promise';
import { hasCode, mysqlError, serverMessage } from './errors.js';

/** The connection options of the source and sink (after validation). */
export interface ConnectionSettings {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  ssl_mode: 'disabled' | 'required' | 'verify_ca' | 'verify_identity';
  ssl_ca?: string | undefined;
  ssl_cert?: string | undefined;
  ssl_key?: string | undefined;
  connect_timeout: number;
}

/** Where a connection goes, resolved from url and separate options. Holds the password: never log it. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string | undefined;
}

export function resolveEndpoint(s: ConnectionSettings): Endpoint {
  let fromUrl: Partial<Endpoint> = {};
  if (s.url !== undefined) {
    let url: URL;
    try {
      url = new URL(s.url);
    } catch {
      // The URL may hold a password: the message does not repeat it.
      throw mysqlError('MYSQL_BAD_URL', 'url is not a valid URL; expected mysql://user:password@host:3306/db (percent-encode special characters in the password)');
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    fromUrl = {
      host: url.hostname || undefined,
      port: url.port ? Number(url.port) : undefined,
      user: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      database: database || undefined,
    };
  }
  return {
    host: s.host ?? fromUrl.host ?? '127.0.0.1',
    port: s.port ?? fromUrl.port ?? 3306,
    user: s.user ?? fromUrl.user ?? 'root',
    password: s.password ?? fromUrl.password,
    database: s.database ?? fromUrl.database,
  };
}

/** `host:port`, the only part of a connection that messages show. */
export function where(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/**
 * The session every connection runs in: strict SQL mode (a value that does not fit is an error, never a
 * silent truncation), UTC for TIMESTAMP values, utf8mb4, and explicit zero values in AUTO_INCREMENT columns.
 */
const SESSION_SQL = [
  "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'",
  "SET SESSION time_zone = '+00:00'",
];

/**
 * Every value arrives as text (or bytes for binary columns), so that the connector converts it exactly:
 * no Date with millisecond precision, no float for a BIGINT, no parsed JSON. The driver does not tell a
 * typeCast whether a string column is binary, so readers pass the names of their binary columns.
 */
export function textTypeCast(binaryColumns: ReadonlySet<string> = new Set()): NonNullable<ConnectionOptions['typeCast']> {
  return (field) => {
    if (field.type === 'BIT' || field.type === 'GEOMETRY' || binaryColumns.has(field.name)) return field.buffer();
    // In the character set the server sent (utf8mb4 as asked, unless the server ignores the connection's
    // setting); JSON arrives with the binary set but is UTF-8 text.
    return field.type === 'JSON' ? field.string('utf8') : field.string();
  };
}

export async function connect(settings: ConnectionSettings, options: { baseDir?: string; signal?: AbortSignal } = {}): Promise<Connection> {
  const endpoint = resolveEndpoint(settings);
  const config: ConnectionOptions = {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password ?? '',
    database: endpoint.database,
    connectTimeout: settings.connect_timeout,
    charset: 'utf8mb4_general_ci',
    typeCast: textTypeCast(),
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    ssl: sslOptions(settings, options.baseDir ?? process.cwd()),
  };
  let connection: Connection;
  try {
    connection = await mysql.createConnection(config);
  } catch (error) {
    throw connectError(endpoint, error);
  }
  // A connection error after the handshake must not crash the process: the next query reports it.
  connection.on('error', () => undefined);
  try {
    for (const sql of SESSION_SQL) await connection.query(sql);
  } catch (error) {
    connection.destroy();
    throw mysqlError('MYSQL_SESSION_FAILED', `could not set up the session on ${where(endpoint)}: ${serverMessage(error)}`, { cause: error });
  }
  return connection;
}

function connectError(endpoint: Endpoint, error: unknown) {
  const reason = serverMessage(error);
  let hint = 'check host, port and that the server is running';
  if (hasCode(error, 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR')) hint = 'check user and password (and the grants for this host)';
  else if (hasCode(error, 'ER_BAD_DB_ERROR')) hint = `create database "${endpoint.database}" or point database (or the url path) at an existing one`;
  else if (hasCode(error, 'ENOTFOUND', 'EAI_AGAIN')) hint = 'the host name does not resolve';
  else if (hasCode(error, 'HANDSHAKE_SSL_ERROR', 'HANDSHAKE_NO_SSL_SUPPORT') || /ssl|tls|certificate/i.test(reason)) hint = 'check ssl_mode and ssl_ca';
  const sanitized = endpoint.password ? reason.split(endpoint.password).join('***') : reason;
  return mysqlError('MYSQL_CONNECT_FAILED', `cannot connect to MySQL/MariaDB at ${where(endpoint)} as "${endpoint.user}": ${sanitized}; ${hint}`, {
    context: { host: endpoint.host, port: endpoint.port },
    retryable: !hasCode(error, 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_DBACCESS_DENIED_ERROR'),
  });
}

function sslOptions(s: ConnectionSettings, baseDir: string): ConnectionOptions['ssl'] {
  if (s.ssl_mode === 'disabled') return undefined;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(resolve(baseDir, path), 'utf8'));
  const ssl: NonNullable<Exclude<ConnectionOptions['ssl'], string>> = { rejectUnauthorized: s.ssl_mode !== 'required' };
  const ca = read(s.ssl_ca);
  if (ca !== undefined) ssl.ca = ca;
  const cert = read(s.ssl_cert);
  if (cert !== undefined) ssl.cert = cert;
  const key = read(s.ssl_key);
  if (key !== undefined) ssl.key = key;
  if (s.ssl_mode === 'verify_ca') (ssl as { checkServerIdentity?: () => undefined }).checkServerIdentity = () => undefined;
  return ssl;
}

/** Quotes an identifier with backquotes. */
export function quoteId(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** A table reference: its database (from `db.table` or the connection) and its name. */
export interface TableRef {
  database: string;
  table: string;
}

/** Parses `table`, `db.table` or backquoted forms. */
export function parseTableName(text: string, defaultDatabase: string | undefined): TableRef {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '`') {
      let name = '';
      i++;
      for (;;) {
        if (i >= text.length) throw mysqlError('MYSQL_BAD_TABLE', `table "${text}" has an unclosed backquote`);
        if (text[i] === '`') {
          if (text[i + 1] === '`') {
            name += '`';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += text[i++];
      }
      parts.push(name);
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(i, end).trim());
      i = end;
    }
    if (text[i] === '.') i++;
    else if (i < text.length) throw mysqlError('MYSQL_BAD_TABLE', `table "${text}" is not of the form table or db.table`);
  }
  if (parts.length === 1 && parts[0]) {
    if (!defaultDatabase) throw mysqlError('MYSQL_NO_DATABASE', `table "${text}" names no database; write it as db.table or set database (or the url path)`);
    return { database: defaultDatabase, table: parts[0] };
  }
  if (parts.length === 2 && parts[0] && parts[1]) return { database: parts[0], table: parts[1] };
  throw mysqlError('MYSQL_BAD_TABLE', `table "${text}" is not of the form table or db.table`);
}

export function qualified(ref: TableRef): string {
  return `${quoteId(ref.database)}.${quoteId(ref.table)}`;
}

export function display(ref: TableRef): string {
  return `${ref.database}.${ref.table}`;
}

/** Runs a query and returns its rows as arrays (values as text or bytes; see typeCast). */
export async function queryRows(
  connection: Connection,
  sql: string,
  values: unknown[] = [],
  binaryColumns?: ReadonlySet<string>,
): Promise<{ rows: unknown[][]; fields: FieldPacket[] }> {
  const [rows, fields] = await connection.query({ sql, values, rowsAsArray: true, ...(binaryColumns ? { typeCast: textTypeCast(binaryColumns) } : {}) });
  return { rows: rows as unknown[][], fields: fields };
}
