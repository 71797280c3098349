#!/usr/bin/env node
import { builtinConnectors, ConnectorRegistry } from './api.js';
import { Redactor } from '../config/secrets.js';
import { errorText } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { runCli } from './program.js';
import { redactWrites } from './terminal.js';

const redactor = new Redactor();
redactWrites(process.stdout, redactor);
redactWrites(process.stderr, redactor);

let code: number;
try {
  code = await runCli(process.argv.slice(2), {
    io: { stdout: process.stdout, stderr: process.stderr, env: process.env, redactor },
    registry: new ConnectorRegistry(builtinConnectors),
    cwd: process.cwd(),
  });
} catch (error) {
  process.stderr.write(errorText(error, process.argv.includes('--verbose') || process.argv.includes('-v')));
  code = ExitCode.failed;
}
// Exit explicitly: a connector or emulator that left a handle open must not keep the CLI alive after its report.
process.stdout.write('', () => process.exit(code));
