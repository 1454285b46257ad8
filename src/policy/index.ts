/**
 * The policy part: pure decisions from the config and the facts of a
 * transfer — direction, whether to scan, banned names and types, which action
 * follows from the findings, and the reply table. `compilePolicy` parses the
 * config's networks once so that per-transfer calls do no parsing. Entry
 * file; import from here.
 */
import type { FileType } from '../content/types.js';
import type { Config } from '../config/table.js';
import type { Finding } from '../scanners/types.js';
import { decide, type DecideFacts, type PolicyDecision } from './actions.js';
import { bannedFindings, type ObjectFact } from './banned.js';
import { CidrSet } from './cidr.js';
import { ftpDirection, mailDirection, type FtpDirectionFacts, type MailDirectionFacts } from './direction.js';
import { outcomeFor, renderReply, type Reply, type ReplyVars } from './replies.js';
import { chooseScan, type ScanChoice } from './scan-decision.js';
import type { Direction } from './types.js';

export interface Policy {
  readonly protectedNetworks: CidrSet;
  readonly hasBannedRules: boolean;
  ftpDirection(facts: FtpDirectionFacts): Direction;
  mailDirection(facts: MailDirectionFacts): Direction;
  chooseScan(name: string, type: FileType): ScanChoice;
  banned(objects: readonly ObjectFact[]): Finding[];
  decide(facts: DecideFacts): PolicyDecision;
  /** The reply for a decision; `id` is the quarantine id when there is one. */
  reply(decision: Pick<PolicyDecision, 'action' | 'class' | 'findings'>, vars?: Omit<ReplyVars, 'contact' | 'findings'>): Reply;
}

export function compilePolicy(config: Pick<Config, 'policy' | 'quarantine'>): Policy {
  const p = config.policy;
  const networks = CidrSet.parse(p.protectedNetworks);
  return {
    protectedNetworks: networks,
    hasBannedRules: p.bannedNames.length > 0 || p.bannedTypes.length > 0,
    ftpDirection: (facts) => ftpDirection(facts, networks),
    mailDirection: (facts) => mailDirection(facts, networks, p.localDomains),
    chooseScan: (name, type) => chooseScan(name, type, p),
    banned: (objects) => bannedFindings(objects, p),
    decide: (facts) => decide(p.actions, facts),
    reply: (decision, vars = {}) => renderReply(outcomeFor(decision.action, decision.class), {
      ...vars,
      findings: decision.findings.map((f) => f.name),
      contact: config.quarantine.contact,
    }),
  };
}

export { ACTION_STRENGTH, actionFor, decide, type DecideFacts, type PolicyDecision } from './actions.js';
export { bannedFindings, baseName, globMatch, BANNED_SCANNER, type BannedRules, type ObjectFact } from './banned.js';
export { CidrSet, parseAddress, parseCidr, inBlock, type CidrBlock } from './cidr.js';
export { addressOnly, ftpDirection, isLocalDomain, mailDirection, mailDomain, type FtpDirectionFacts, type MailDirectionFacts } from './direction.js';
export { ftpLine, outcomeFor, renderReply, REPLIES, smtpLine, type FtpReply, type Outcome, type Reply, type ReplyVars, type SmtpReply } from './replies.js';
export { chooseScan, extensionOf, isHarmlessType, type ScanChoice, type ScanChoiceRules } from './scan-decision.js';
export type { Action, DecisionClass, Direction, FtpTransferCommand, Protocol } from './types.js';
