/**
 * Privilege drop after binding ports: a process started as root switches to
 * the configured user and group (process.initgroups/setgid/setuid, in that
 * order, since a process that gave up root can no longer change its groups),
 * after handing the data folder to that user so the database and quarantine
 * stay writable. Names are resolved with `id(1)`, so NSS (LDAP, sssd …) users
 * work as they do for the system.
 *
 * Not running as root: dropping to a user other than the current one is an
 * error (PC_ERR_CONFIG); dropping to the current one is nothing to do.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PortcullisError } from '../errors.js';

export interface DropOptions {
  readonly user?: string;
  readonly group?: string;
  /** Folder handed to the user before the switch (recursively, symlinks not followed). */
  readonly dataDir?: string;
}

export interface DropResult {
  readonly dropped: boolean;
  readonly uid: number;
  readonly gid: number;
}

function lookup(flag: '-u' | '-g', user: string): number {
  try {
    return Number(execFileSync('id', [flag, '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot switch to user ${JSON.stringify(user)}: no such user`);
  }
}

function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    const line = execFileSync('getent', ['group', '--', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const gid = Number(line.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch { /* reported below */ }
  throw new PortcullisError('PC_ERR_CONFIG', `Cannot switch to group ${JSON.stringify(group)}: no such group`);
}

function chownTree(path: string, uid: number, gid: number): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (st.isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

export function dropPrivileges(options: DropOptions): DropResult {
  const uidNow = process.getuid?.() ?? -1;
  const gidNow = process.getgid?.() ?? -1;
  if (options.user === undefined && options.group === undefined) return { dropped: false, uid: uidNow, gid: gidNow };
  const uid = options.user === undefined ? uidNow : /^\d+$/.test(options.user) ? Number(options.user) : lookup('-u', options.user);
  const gid = options.group !== undefined ? groupId(options.group) : options.user !== undefined && !/^\d+$/.test(options.user) ? lookup('-g', options.user) : gidNow;
  if (uid === uidNow && gid === gidNow) return { dropped: false, uid, gid };
  if (uidNow !== 0) {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot switch to user ${options.user ?? uidNow} / group ${options.group ?? gid}: not running as root`);
  }
  try {
    if (options.dataDir !== undefined) chownTree(options.dataDir, uid, gid);
    if (options.user !== undefined && !/^\d+$/.test(options.user)) (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(options.user, gid);
    else process.setgroups?.([gid]);
    process.setgid?.(gid);
    process.setuid?.(uid);
  } catch (err) {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot switch to user ${options.user ?? uid}: ${(err as Error).message}`, { cause: err });
  }
  return { dropped: true, uid, gid };
}
