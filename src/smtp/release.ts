/**
 * Re-delivery of a released quarantined mail: a fresh session to the SMTP
 * next hop, the stored envelope, the stored bytes behind one
 * `X-Portcullis-Released` header. Used by the running proxy (the quarantine's
 * release hook) and by `portcullis quarantine release` from the command line,
 * so both deliver the same way. Reads the quarantined bytes (untrusted) only
 * to pass them on, dot-stuffed by the client.
 */
import type { Readable } from 'node:stream';
import type { SmtpConfig } from '../config/table.js';
import { PortcullisError } from '../errors.js';
import type { QuarantineEntry, ReleaseMailHook } from '../quarantine/store.js';
import { NextHopClient } from './client.js';
import { mailCommand, rcptCommand, safeAddress } from './params.js';
import { isPositive, replyText } from './reply.js';
import { concatSources } from './rewrite.js';
import { splitNextHop } from './session.js';

export type RedeliveryConfig = Pick<SmtpConfig, 'nextHop' | 'nextHopConnectTimeout' | 'nextHopTimeout' | 'nextHopTls'>;

/**
 * The release hook for one next hop: it resolves once the next hop took the
 * message for at least one recipient, and rejects (PC_ERR_QUARANTINE) otherwise,
 * so the entry stays held.
 */
export function redeliver(config: RedeliveryConfig, heloName: string): ReleaseMailHook {
  return async (entry: QuarantineEntry, stream: Readable): Promise<void> => {
    const env = entry.envelope;
    if (env === undefined || env.rcpts.length === 0) throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${entry.id} by mail: it has no envelope`);
    const [host, port] = splitNextHop(config.nextHop);
    const hop = await NextHopClient.connect({
      host, port, heloName, connectTimeout: config.nextHopConnectTimeout, replyTimeout: config.nextHopTimeout, tls: config.nextHopTls,
    });
    try {
      const offers = { has: (k: string) => hop.offers(k) };
      const [mail, ...rcpts] = await hop.pipeline([mailCommand(safeAddress(env.from) ? env.from : '', false, offers), ...env.rcpts.filter(safeAddress).map((r) => rcptCommand(r, false, offers))]);
      if (mail === undefined || !isPositive(mail) || !rcpts.some(isPositive)) {
        throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${entry.id}: the next hop refused the envelope (${[mail, ...rcpts].map((r) => r?.code).join(' ')})`);
      }
      const header = Buffer.from(`X-Portcullis-Released: ${entry.id} on ${new Date().toUTCString()}\r\n`, 'latin1');
      const r = await hop.data(concatSources(header, stream as AsyncIterable<Buffer>));
      if (!isPositive(r)) throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${entry.id}: the next hop answered ${r.code} ${replyText(r).join(' ')}`);
    } finally {
      await hop.quit();
    }
  };
}
