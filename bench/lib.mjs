// Helpers shared by the bench sections (bench/<section>.mjs): the rig's
// paths, logging, medians, running a program to completion, and free/ready
// TCP ports on 127.0.0.1. Not a section itself: bench/run.mjs skips it.
// Reads no untrusted bytes (only the output of programs the bench starts).
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = join(ROOT, 'bench', 'out');
export const RIG_SRC = process.env.RIG_SRC ?? resolve(ROOT, '..', 'shared', 'rig');
export const RIG = join(OUT, 'rig');
export const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export const log = (msg) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Runs a program to completion; stdout and stderr are kept (the outputs here
 * are small). `code` is null when a signal ended it (`signal` says which);
 * `timedOut` when options.timeoutMs ran out and it was killed.
 */
export function exec(program, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env }, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    // A run that hangs must not hang the whole bench: it is killed and reported.
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, timedOut, stdout, stderr });
    });
  });
}

/** How an exec() run ended, for messages: its exit code, or why it has none. */
export const exitText = (r) => r.code ?? (r.timedOut ? 'killed (timeout)' : r.signal);

export async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once something accepts on 127.0.0.1:port; rejects after timeoutMs. */
export async function waitPort(port, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); r(true); });
      s.on('error', () => { s.destroy(); r(false); });
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
