import { mkdir, open, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { type ErrorContext, TidewayError } from './errors.js';

/**
 * Fsyncs a directory, so that a rename or a new file inside it survives a power cut. Connectors that
 * stage local files and the checkpoint store use it after every rename.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Kernel pseudo-filesystems: nothing a job writes belongs there, and Node's recursive mkdir spins forever under /proc. */
const SYSTEM_ROOTS = ['/proc', '/sys'] as const;

/** `/proc` or `/sys` when `path` (absolute) lies under one of them. */
export function systemRootOf(path: string): string | undefined {
  return SYSTEM_ROOTS.find((root) => path === root || path.startsWith(`${root}${sep}`));
}

export interface EnsureDirectoryOptions {
  /** The option the path came from, named in every error (`checkpoint.dir`, `sink[0].path`, `--data-dir`). */
  option: string;
  /** Extra context for the error (for example `connector`). */
  context?: ErrorContext;
}

/**
 * Creates `path` and its missing parents, one level at a time, after `checkDirectory`'s checks (a kernel
 * filesystem, a file in the way). Errors are coded TidewayErrors that name the option and the path:
 * `PATH_SYSTEM_DIRECTORY`, `PATH_NOT_DIRECTORY`, `PATH_NOT_WRITABLE`.
 */
export async function ensureDirectory(path: string, options: EnsureDirectoryOptions): Promise<void> {
  const target = resolve(path);
  const { missing } = await inspect(target, options);
  for (const dir of missing) {
    try {
      await mkdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await stat(dir).then((s) => s.isDirectory(), () => false))) continue;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw pathError('PATH_NOT_DIRECTORY', target, `${dir} is a file, so nothing can be created under it`, `point ${options.option} at a directory`, dir, options, error);
      throw unwritable(target, dir, options, error);
    }
  }
}

/**
 * Checks, creating nothing that stays, that `path` is a directory or can become one and that the process can
 * really create files in it (or in its nearest existing parent): a probe file is created there and removed.
 * For `tideway check --connect`. Same errors as ensureDirectory.
 */
export async function checkDirectory(path: string, options: EnsureDirectoryOptions): Promise<void> {
  const target = resolve(path);
  const { existing } = await inspect(target, options);
  const refused = await probeWritable(existing);
  if (refused) throw unwritable(target, existing, options, refused);
}

/** The nearest existing part of `target` (a directory outside /proc and /sys) and the levels still missing below it. */
async function inspect(target: string, options: EnsureDirectoryOptions): Promise<{ existing: string; missing: string[] }> {
  refuseSystem(target, target, options);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(existing)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTDIR' && code !== 'ENOENT') || dirname(existing) === existing) throw unwritable(target, existing, options, error);
      missing.unshift(existing);
      existing = dirname(existing);
      continue;
    }
    if (!isDirectory) {
      const what = existing === target ? 'is a file, not a directory' : `${existing} is a file, so nothing can be created under it`;
      throw pathError('PATH_NOT_DIRECTORY', target, what, `point ${options.option} at a directory (or move the file ${existing} away)`, existing, options);
    }
    refuseSystem(target, await realpath(existing), options);
    return { existing, missing };
  }
}

function refuseSystem(target: string, resolved: string, options: EnsureDirectoryOptions): void {
  const root = systemRootOf(resolved);
  if (!root) return;
  throw pathError('PATH_SYSTEM_DIRECTORY', target, `${resolved} is under ${root}, a kernel filesystem where no job output belongs`, `point ${options.option} at an ordinary directory`, target, options);
}

function unwritable(target: string, at: string, options: EnsureDirectoryOptions, cause: unknown): TidewayError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
  return pathError('PATH_NOT_WRITABLE', target, `cannot create files in ${at} (${code})`, `point ${options.option} at a directory this process may write, or fix its permissions`, at, options, cause);
}

function pathError(code: string, target: string, what: string, fix: string, at: string, options: EnsureDirectoryOptions, cause?: unknown): TidewayError {
  return new TidewayError(code, `${options.option} ${target}: ${what}; ${fix}`, {
    ...(cause === undefined ? {} : { cause }),
    context: { ...options.context, option: options.option, path: at },
  });
}

/**
 * Whether the process can really create a file in `dir` (an existing directory): creates and removes an
 * empty probe file. `access(W_OK)` is not enough: it says yes to root on a read-only mount or under /sys.
 */
export async function probeWritable(dir: string): Promise<NodeJS.ErrnoException | undefined> {
  const probe = resolve(dir, `.tideway-probe-${process.pid}-${Date.now().toString(36)}`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}
