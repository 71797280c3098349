import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { packageInfo } from '../cli/package-root.js';
import type { JobManager } from './jobs.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The dashboard loads only its own files and talks only to this server: no CDN, no inline script, and no
 * framing (a framed dashboard could be clicked into stopping jobs).
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** Vite puts a content hash in every file name under assets/: those never change, so they are cached for good. */
  immutable: boolean;
}

export interface StaticOptions {
  /** The built dashboard (default: dist/web in the package). */
  root?: string;
}

/** Where `npm run build` puts the dashboard. */
export function dashboardRoot(): string {
  return join(packageInfo().root, 'dist', 'web');
}

/**
 * Serves the built dashboard at `/` (index.html) and `/assets/...`, from memory: the files are read once when
 * the server starts (the whole dashboard is some tens of kB). The dashboard routes with `#/...`, so no other
 * path is needed. Without a build, `/` says how to make one and the API works as before.
 */
export const staticPlugin: FastifyPluginAsync<{ jobs?: JobManager } & StaticOptions> = async (app, options) => {
  const root = options.root ?? dashboardRoot();
  const assets = await loadAssets(root);
  const index = assets.get('index.html');

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply
      .header('content-type', asset.type)
      .header('etag', asset.etag)
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('referrer-policy', 'no-referrer');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  };

  const serveIndex = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!index) {
      return reply
        .code(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${join(root, 'index.html')}). Run "npm run build" in the tideway package; the API under /api works without it.\n`);
    }
    return send(request, reply, index);
  };
  app.get('/', serveIndex);
  app.get('/index.html', serveIndex);
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const asset = assets.get(`assets/${request.params['*']}`);
    if (!asset) return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('no such dashboard file\n');
    return send(request, reply, asset);
  });
};

/** Every file under `root`, by its path relative to root with `/` separators; an empty map when root is missing. */
async function loadAssets(root: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return assets;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const name = relative(root, path).split(sep).join('/');
    const body = await readFile(path);
    const type = CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type, etag, immutable: name.startsWith('assets/') });
  }
  return assets;
}
