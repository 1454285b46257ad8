/**
 * `portcullis passwd`: prints an admin password hash for the config
 * (`admin.passwordHash`). Reads the password from the first line of stdin so
 * it never shows up in the process list or shell history:
 *
 *     printf '%s\n' 'a long pass phrase' | portcullis passwd
 *
 * Also runs on its own as `node dist/src/admin/hash-password.js`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hashPassword } from './password.js';

const MIN_LENGTH = 8;

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('usage: printf \'%s\\n\' PASSWORD | portcullis passwd\n\nPrints scrypt$N$r$p$salt$hash for admin.passwordHash.\n');
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write('portcullis passwd: give the password on stdin, not as an argument\n');
    return 2;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password.length < MIN_LENGTH) {
    process.stderr.write(`portcullis passwd: give a password of at least ${MIN_LENGTH} characters on stdin\n`);
    return 2;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`portcullis passwd: ${String(err)}\n`);
    process.exitCode = 2;
  });
}
