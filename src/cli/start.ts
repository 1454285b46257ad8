/**
 * `portcullis start [--config FILE] [--check]` — runs the gateway until
 * SIGTERM or SIGINT (drain, then exit 0); SIGHUP reloads config and
 * signatures. `--check` validates the config and the signature databases,
 * prints what is wrong (each problem names its key), and exits.
 * A second SIGTERM/SIGINT during the drain exits at once with code 1.
 */
import { loadConfig } from '../config/load.js';
import { PortcullisError } from '../errors.js';
import type { Gateway as GatewayInstance } from '../gateway/runtime.js';

const USAGE = `usage: portcullis start [--config FILE] [--check]

  -c, --config FILE   YAML config (docs/CONFIG.md); default: built-in defaults
      --check         check the config and signature databases, then exit
  -h, --help          this text

Signals: HUP reloads config and signatures; TERM and INT drain and exit.
`;

interface StartArgs {
  readonly config?: string;
  readonly check: boolean;
}

function parseArgs(args: readonly string[]): StartArgs | 'help' {
  let config: string | undefined;
  let check = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--check') check = true;
    else if (a === '-c' || a === '--config') {
      const v = args[++i];
      if (v === undefined) throw new PortcullisError('PC_ERR_USAGE', `Cannot start: ${a} needs a file name\n\n${USAGE}`);
      config = v;
    } else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else throw new PortcullisError('PC_ERR_USAGE', `Cannot start: unknown option ${JSON.stringify(a)}\n\n${USAGE}`);
  }
  return { ...(config !== undefined ? { config } : {}), check };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.check) {
    const { config, file } = await loadConfig(args.config);
    const { buildSnapshot } = await import('../gateway/snapshot.js');
    const snapshot = await buildSnapshot(config, 1);
    await snapshot.scanner.close();
    process.stdout.write(`${file ?? 'built-in defaults'}: config OK, ${snapshot.signatures.total} signatures, scanners: ${snapshot.signatures.scanners.join(', ')}\n`);
    return 0;
  }

  const { Gateway } = await import('../gateway/runtime.js');
  // Signals are caught before the gateway starts: a TERM that arrives while it
  // starts (or just as its start line is written) stops it right after, and a
  // HUP then reloads it, instead of killing it half-started.
  let gateway: GatewayInstance | undefined;
  let pendingStop: NodeJS.Signals | undefined;
  let pendingReload = false;
  let stopping = false;
  let resolveExit: (code: number) => void = () => undefined;
  const exit = new Promise<number>((resolve) => { resolveExit = resolve; });

  const finish = (code: number): void => {
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    // A handle left open by a library (a pooled socket) must not keep a stopped gateway alive.
    setTimeout(() => process.exit(code), 2000).unref();
    resolveExit(code);
  };
  const stop = (g: GatewayInstance, signal: NodeJS.Signals): void => {
    stopping = true;
    g.stop(signal).then(() => finish(0), (err: unknown) => { g.log.error({ err }, 'stop failed'); finish(1); });
  };
  function onHup(): void {
    if (gateway === undefined) pendingReload = true;
    else gateway.reload().catch(() => undefined);
  }
  function onStop(signal: NodeJS.Signals): void {
    if (stopping || pendingStop !== undefined) {
      process.stderr.write(`portcullis: second ${signal}: exiting without waiting for sessions\n`);
      process.exit(1);
    }
    if (gateway === undefined) pendingStop = signal;
    else stop(gateway, signal);
  }
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);

  try {
    gateway = await Gateway.start(args.config !== undefined ? { configFile: args.config } : {});
  } catch (err) {
    finish(2);
    throw err;
  }
  const g = gateway;
  // A bug that escapes a session must not die silently: one fatal JSON line, then exit (clients retry; nothing was acknowledged unsafely).
  process.on('uncaughtException', (err) => {
    g.log.fatal({ event: 'crash', err }, 'uncaught exception; exiting');
    process.exit(70);
  });
  if (pendingStop !== undefined) stop(gateway, pendingStop);
  else if (pendingReload) gateway.reload().catch(() => undefined);
  return exit;
}
