/**
 * The SMTP proxy part: a before-queue scanning proxy in front of a real MTA
 * (see listener.ts for the client side, session.ts for one proxied session,
 * client.ts for the next hop). Entry file; the gateway runtime loads
 * `createListener` from here.
 */
export { createListener, SmtpListener } from './listener.js';
export { ProxySession, type HopState, type TxState } from './session.js';
export { NextHopClient, type NextHopOptions } from './client.js';
export { DataGuard, type GuardOptions, type GuardViolation } from './guard.js';
export { DotStuffer, dotStuff } from './dotstuff.js';
export { Spool, type SpoolOptions } from './spool.js';
export { formatReply, ReplyParser, type Reply } from './reply.js';
export { SMTP_REPLIES, smtpReply, type SmtpOutcome } from './replies.js';
