#!/usr/bin/env node
/**
 * The `portcullis` command. Each subcommand lives in its own module, loaded
 * only when asked for, so `portcullis scan` starts fast.
 * Every subcommand module exports `run(args: string[]): Promise<number>` (the exit code).
 */
import { isPortcullisError } from '../errors.js';

const commands: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  start: { summary: 'start the gateway (proxies, admin UI)', load: () => import('./start.js') },
  scan: { summary: 'scan files and folders (clamscan-compatible output)', load: () => import('./scan.js') },
  sigs: { summary: 'signature database information', load: () => import('./sigs.js') },
  quarantine: { summary: 'list, show, release, download, delete quarantined objects', load: () => import('./quarantine.js') },
  passwd: { summary: 'print an admin.passwordHash for a password read from stdin', load: () => import('../admin/hash-password.js') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return `usage: portcullis <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "portcullis <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write('portcullis 0.1.0\n');
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`portcullis: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

// A reader that goes away (`portcullis scan … | head`) ends the command quietly, as SIGPIPE ends C
// tools (exit 128 + 13), instead of an unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const msg = isPortcullisError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`portcullis: ${msg}\n`);
    process.exitCode = 2;
  },
);
