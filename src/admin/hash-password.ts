#!/usr/bin/env node
/**
 * Prints an admin password hash for the config (`admin.passwordHash`).
 * Reads the password from the first line of stdin so it never shows up in
 * the process list or shell history:
 *
 *     printf '%s\n' 'my password' | node dist/src/admin/hash-password.js
 */
import { hashPassword } from './password.js';

async function main(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password.length < 8) {
    process.stderr.write('hash-password: give a password of at least 8 characters on stdin\n');
    return 2;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`hash-password: ${String(err)}\n`);
  process.exitCode = 2;
});
