/**
 * From findings to one action: each finding has a class (virus, banned,
 * limits, encrypted, unscannable; scanner errors are "scannerFailure"), the
 * config names an action per protocol × direction × class, and when several
 * classes are present the strongest action wins:
 *   quarantine > block > tempfail > replace > strip > pass.
 * A definitive "no" (quarantine, block) beats "try again", and "try again"
 * beats delivering a modified message, because a failed scanner may have
 * missed something in the parts that would be delivered.
 * Defaults fail closed (see table.ts): a scanner failure is a tempfail.
 *
 * Pure function of the actions config and the scan report.
 */
import type { ActionClass, ActionsConfig } from '../config/table.js';
import { classifyFinding, type Finding, type ScanReport } from '../scanners/types.js';
import type { Action, DecisionClass, Direction, Protocol } from './types.js';

export const ACTION_STRENGTH: Readonly<Record<Action, number>> = {
  pass: 0, strip: 1, replace: 2, tempfail: 3, block: 4, quarantine: 5,
};

/** Tie-break between classes with the same action: the one a user most needs to hear about. */
const CLASS_ORDER: readonly ActionClass[] = ['virus', 'banned', 'scannerFailure', 'limits', 'encrypted', 'unscannable'];

export function actionFor(actions: ActionsConfig, protocol: Protocol, direction: Direction, cls: ActionClass): Action {
  if (protocol === 'upload') return actions.upload[cls];
  return actions[protocol][direction][cls];
}

export interface PolicyDecision {
  readonly action: Action;
  readonly class: DecisionClass;
  /** Every class present, with the action each alone would lead to. */
  readonly classes: readonly { readonly class: ActionClass; readonly action: Action }[];
  /** The findings of the deciding class. */
  readonly findings: readonly Finding[];
}

export interface DecideFacts {
  readonly protocol: Protocol;
  readonly direction: Direction;
  readonly report: Pick<ScanReport, 'verdict' | 'findings' | 'errors'>;
}

export function decide(actions: ActionsConfig, facts: DecideFacts): PolicyDecision {
  const present = new Map<ActionClass, Finding[]>();
  for (const f of facts.report.findings) {
    const c = classifyFinding(f.name);
    present.set(c, [...(present.get(c) ?? []), f]);
  }
  if (facts.report.verdict === 'error' || facts.report.errors.length > 0) present.set('scannerFailure', []);
  if (present.size === 0) return { action: 'pass', class: 'clean', classes: [], findings: [] };

  const classes = CLASS_ORDER.filter((c) => present.has(c)).map((c) => ({ class: c, action: actionFor(actions, facts.protocol, facts.direction, c) }));
  let best = classes[0] as (typeof classes)[number];
  for (const c of classes) if (ACTION_STRENGTH[c.action] > ACTION_STRENGTH[best.action]) best = c;
  return { action: best.action, class: best.class, classes, findings: present.get(best.class) ?? [] };
}
