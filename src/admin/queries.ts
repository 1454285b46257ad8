/**
 * Reads the admin UI's query strings into store queries. Every value is
 * untrusted: enums must be one of their closed set, numbers plain digits,
 * times a number or an ISO / datetime-local value (taken as UTC, the UI's
 * zone), text capped at 200 characters. A bad value is PC_ERR_USAGE (400),
 * never a silent "no filter".
 */
import { PortcullisError } from '../errors.js';
import type { EventQuery } from '../events/store.js';
import { ACTIONS, DIRECTIONS, PROTOCOLS, VERDICTS } from '../events/types.js';
import { QUARANTINE_STATES, type QuarantineQuery } from '../quarantine/store.js';

export type Query = Record<string, string | undefined>;

export function usage(message: string): PortcullisError {
  return new PortcullisError('PC_ERR_USAGE', message);
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw usage(`Cannot filter by ${name}: "${value.slice(0, 40)}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

export function intParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw usage(`Cannot read ${name}: "${value.slice(0, 40)}" is not a whole number`);
  return Number(value);
}

/** A time as ms since epoch, an ISO date, or a datetime-local value (taken as UTC, the UI's zone). */
function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw usage(`Cannot read ${name}: "${value.slice(0, 40)}" is not a time`);
  return t;
}

function textParam(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value.slice(0, 200);
}

export function eventQuery(q: Query): EventQuery {
  const from = timeParam('from', q['from']);
  const to = timeParam('to', q['to']);
  const protocol = oneOf('protocol', q['protocol'], PROTOCOLS);
  const direction = oneOf('direction', q['direction'], DIRECTIONS);
  const verdict = oneOf('verdict', q['verdict'], VERDICTS);
  const action = oneOf('action', q['action'], ACTIONS);
  const text = textParam(q['q']);
  const limit = intParam('limit', q['limit']);
  const offset = intParam('offset', q['offset']);
  return {
    ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
    ...(protocol !== undefined ? { protocol } : {}), ...(direction !== undefined ? { direction } : {}),
    ...(verdict !== undefined ? { verdict } : {}), ...(action !== undefined ? { action } : {}),
    ...(text !== undefined ? { text } : {}), ...(limit !== undefined ? { limit } : {}), ...(offset !== undefined ? { offset } : {}),
  };
}

export function quarantineQuery(q: Query): QuarantineQuery {
  const state = oneOf('state', q['state'], QUARANTINE_STATES);
  const protocol = oneOf('protocol', q['protocol'], PROTOCOLS);
  const text = textParam(q['q']);
  const limit = intParam('limit', q['limit']);
  const offset = intParam('offset', q['offset']);
  return {
    ...(state !== undefined ? { state } : {}), ...(protocol !== undefined ? { protocol } : {}),
    ...(text !== undefined ? { text } : {}), ...(limit !== undefined ? { limit } : {}), ...(offset !== undefined ? { offset } : {}),
  };
}

/** The only query keys a page passes on to its pager links. */
export function pick(q: Query, keys: readonly string[]): Query {
  const out: Query = {};
  for (const k of keys) if (typeof q[k] === 'string' && q[k] !== '') out[k] = q[k];
  return out;
}
