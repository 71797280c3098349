/**
 * Hosts for cluster tests on one machine: each a network namespace (`ip netns`, as root) with its own host
 * name (a UTS namespace), its own working directory, and one address on a bridge in the root namespace. The
 * services the hosts share (a NATS server of the lab's own, the OSS emulator, PostgreSQL through a relay)
 * listen on the bridge's address, so a host reaches them only over its veth link: not through loopback, and
 * not through a path on disk.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../helpers/jobs.js';
import { probeService } from '../helpers/services.js';

export const NATS_SERVER = '/usr/sbin/nats-server';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (!existsSync(NATS_SERVER)) return `${NATS_SERVER} is missing`;
  const probe = `twprobe${randomBytes(2).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    execFileSync('unshare', ['--uts', 'true'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `ip netns or unshare --uts does not work here: ${(error as Error).message.split('\n')[0]}`;
  }
}

/**
 * Fails the file under CI=true when namespaces cannot be made (the test must run there); otherwise prints why
 * it is skipped. Returns the reason, or undefined when the test can run.
 */
export function requireNetns(what: string): string | undefined {
  const unavailable = netnsUnavailable();
  if (unavailable) {
    if (process.env.CI === 'true') throw new Error(`${unavailable}; CI=true requires network namespaces for ${what}`);
    console.warn(`skipping ${what}: ${unavailable}`);
  }
  return unavailable;
}

/** One lab host: how to run a command there. */
export interface LabHost {
  readonly name: string;
  readonly address: string;
  /** Its own working directory (nothing else on disk is shared on purpose). */
  readonly cwd: string;
  /** argv that runs `command` on the host: in its network namespace, under its own host name. */
  wrap(command: string[]): string[];
}

export interface NetnsLab {
  /** The bridge's address in the root namespace, where the shared services listen. */
  readonly serviceAddress: string;
  readonly hosts: readonly LabHost[];
  /** `nats://<bridge>:<port>` of the lab's NATS server (JetStream on, its own store directory). */
  readonly natsUrl: string;
  /** A TCP relay on the bridge's address to `target` (a service that listens on loopback only); its port. */
  relay(target: { host: string; port: number }): Promise<number>;
  /** Stops the NATS server and relays and removes the hosts, the bridge and the directories. */
  close(): Promise<void>;
}

/** Creates `count` hosts on a fresh bridge and starts the lab's NATS server on it. */
export async function createNetnsLab(count: number): Promise<NetnsLab> {
  const tag = randomBytes(2).toString('hex');
  const bridge = `twb${tag}`;
  const subnet = `10.214.${Number.parseInt(tag, 16) % 250}`;
  const serviceAddress = `${subnet}.1`;
  const dir = tempDir('tideway-netns-lab-');
  const namespaces: string[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let nats: ChildProcess | undefined;
  const close = async () => {
    nats?.kill('SIGTERM');
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    // A namespace going takes its end of the veth pair, and so the pair, with it.
    for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    execFileSync('sh', ['-c', `ip link del ${bridge} 2>/dev/null || true`]);
    if (nats && nats.exitCode === null) await new Promise((resolve) => nats!.once('exit', resolve));
    dir.remove();
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${serviceAddress}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const hosts: LabHost[] = [];
    for (let i = 0; i < count; i++) {
      const ns = `tw${tag}h${i}`;
      const outside = `twv${tag}${i}`;
      const inside = `twp${tag}${i}`;
      const address = `${subnet}.${10 + i}`;
      ip('netns', 'add', ns);
      namespaces.push(ns);
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      ip('link', 'set', inside, 'netns', ns);
      ip('link', 'set', outside, 'master', bridge);
      ip('link', 'set', outside, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', inside);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      const name = `tideway-host-${i}`;
      const cwd = join(dir.path, name);
      mkdirSync(cwd);
      // ip netns exec, unshare and sh each exec the next: the child's pid is the command's own.
      hosts.push({ name, address, cwd, wrap: (command) => ['ip', 'netns', 'exec', ns, 'unshare', '--uts', '--', 'sh', '-c', 'hostname "$0" && exec "$@"', name, ...command] });
    }
    const port = 17_000 + Math.floor(Math.random() * 2000);
    nats = spawn(NATS_SERVER, ['-a', serviceAddress, '-p', String(port), '-js', '-sd', join(dir.path, 'nats')], { stdio: 'ignore' });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = (await probeService(serviceAddress, port, 200)).ok;
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) throw new Error(`the lab's nats-server did not listen on ${serviceAddress}:${port}`);
    return {
      serviceAddress,
      hosts,
      natsUrl: `nats://${serviceAddress}:${port}`,
      async relay(target) {
        const server = createServer((client) => {
          const upstream = connect(target);
          sockets.add(client).add(upstream);
          const drop = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
          client.pipe(upstream);
          upstream.pipe(client);
        });
        servers.push(server);
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, serviceAddress, resolve));
        return (server.address() as { port: number }).port;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
