// Debian's vsftpd for the FTP interop tests and the benchmark: its own config
// in a temporary folder, 127.0.0.1 on a free port, anonymous login with
// downloads from /pub and uploads (and DELE) in /upload. Modelled on
// ../shared/rig/ftp/start-vsftpd.sh. Needs root (vsftpd drops to the "ftp"
// user for anonymous sessions and insists on root-owned folders).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway/runtime.js';
import { captureLog, testConfig, type CapturedLog } from '../../src/gateway/testing.js';

export interface RunningVsftpd {
  readonly port: number;
  readonly address: string;
  /** The anonymous root: pub/ and upload/ below it. */
  readonly root: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function waitTcp(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function ftpUid(): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', 'ftp'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'ftp'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) throw new Error('the "ftp" user is missing (install Debian\'s vsftpd)');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startVsftpd(dir: string, options: { pasvMin?: number; pasvMax?: number } = {}): Promise<RunningVsftpd> {
  const port = await freePort();
  const root = join(dir, 'ftproot');
  const empty = join(dir, 'empty');
  for (const d of [root, join(root, 'pub'), join(root, 'upload'), empty]) mkdirSync(d, { recursive: true });
  for (const d of [dir, root, join(root, 'pub'), empty]) { chownSync(d, 0, 0); chmodSync(d, 0o755); }
  const ftp = ftpUid();
  chownSync(join(root, 'upload'), ftp.uid, ftp.gid);
  const conf = join(dir, 'vsftpd.conf');
  writeFileSync(conf, [
    'listen=YES', 'listen_ipv6=NO', 'listen_address=127.0.0.1', `listen_port=${port}`, 'background=NO',
    'anonymous_enable=YES', 'no_anon_password=YES', `anon_root=${root}`, 'ftp_username=ftp', 'local_enable=NO',
    'write_enable=YES', 'anon_upload_enable=YES', 'anon_other_write_enable=YES', 'anon_mkdir_write_enable=NO', 'anon_umask=022',
    'anon_world_readable_only=YES', 'pasv_enable=YES', `pasv_min_port=${options.pasvMin ?? 41000}`, `pasv_max_port=${options.pasvMax ?? 41200}`,
    'pasv_address=127.0.0.1', 'port_enable=YES', 'connect_from_port_20=NO', `secure_chroot_dir=${empty}`, 'seccomp_sandbox=NO',
    'isolate=NO', 'isolate_network=NO', 'use_sendfile=YES', 'max_clients=200', 'max_per_ip=0', 'dirmessage_enable=NO', 'hide_ids=YES',
    'xferlog_enable=YES', 'xferlog_std_format=NO', `vsftpd_log_file=${join(dir, 'vsftpd.log')}`,
    'idle_session_timeout=300', 'data_connection_timeout=300', '',
  ].join('\n'), { mode: 0o600 });
  const child: ChildProcess = spawn('vsftpd', [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await waitTcp(port, 10_000);
  } catch (err) {
    child.kill();
    throw new Error(`vsftpd did not start: ${stderr}`, { cause: err });
  }
  return {
    port, address: `127.0.0.1:${port}`, root,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

export interface RunningProxy {
  readonly gw: Gateway;
  readonly logs: CapturedLog;
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** A gateway with only the FTP proxy, in front of `upstream` (none: gateway mode). */
export async function startProxy(dataDir: string, ftp: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<RunningProxy> {
  const logs = captureLog('info');
  const gw = await Gateway.start({
    readConfig: async () => testConfig(dataDir, { smtp: false, log: { level: 'info' }, ftp: { listen: '127.0.0.1:0', maxSessionsPerClient: 1000, ...ftp }, ...config }),
    log: logs.log,
    noPrivilegeDrop: true,
  });
  const address = gw.addresses().ftp ?? '';
  return { gw, logs, address, dataDir, port: Number(address.slice(address.lastIndexOf(':') + 1)), stop: () => gw.stop('test').then(() => undefined) };
}

/** Runs a program to its end; its exit code, stdout and stderr. */
export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
