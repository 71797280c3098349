import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { createServer, type TidewayServer } from '../../src/server/app.js';
import { staticPlugin } from '../../src/server/static.js';
import { useTempDirs } from '../helpers/jobs.js';

const dir = useTempDirs();
const apps: FastifyInstance[] = [];
const servers: TidewayServer[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A built dashboard as Vite lays it out: index.html and hashed files under assets/. */
function fakeBuild(): string {
  const root = dir();
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Tideway</title><script type="module" src="/assets/index-abc123.js"></script>');
  writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log("dashboard")');
  writeFileSync(join(root, 'assets', 'index-def456.css'), 'body{margin:0}');
  return root;
}

async function serve(root: string): Promise<FastifyInstance> {
  const app = Fastify();
  apps.push(app);
  await app.register(staticPlugin, { root });
  await app.ready();
  return app;
}

describe('static dashboard plugin', () => {
  it('serves index.html uncached-but-validated and hashed assets for good, with their content types', async () => {
    const app = await serve(fakeBuild());
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.body).toContain('<title>Tideway</title>');
    expect((await app.inject({ url: '/index.html' })).body).toBe(index.body);

    const again = await app.inject({ url: '/', headers: { 'if-none-match': String(index.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');

    const js = await app.inject({ url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.body).toBe('console.log("dashboard")');
    expect((await app.inject({ url: '/assets/index-def456.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers 404 for files it does not have, including paths that climb out of its root', async () => {
    const app = await serve(fakeBuild());
    expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/%2e%2e/%2e%2e/package.json' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/..%2f..%2fpackage.json' })).statusCode).toBe(404);
  });

  it('says how to build the dashboard when it is not built', async () => {
    const app = await serve(join(dir(), 'missing'));
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(503);
    expect(index.body).toContain('npm run build');
  });

  it('is served without the token on a server that has one, while the API still needs it', async () => {
    const token = 'static-token-0123456789abcdef';
    const server = createServer({ stateDir: dir(), logger: silentLogger, token, plugins: [async (app) => app.register(staticPlugin, { root: fakeBuild() })] });
    servers.push(server);
    const base = await server.listen({ port: 0 });
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/assets/index-abc123.js`)).status).toBe(200);
    expect((await fetch(`${base}/api/jobs`)).status).toBe(401);
  });
});
