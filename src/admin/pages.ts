/**
 * The admin UI's pages: plain server-rendered HTML built only with the
 * escaping `html` template, so every value from an event, a quarantine entry
 * or the config is shown as text. Each function returns a whole page.
 */
import type { EventPage, EventQuery } from '../events/store.js';
import type { EventRecord } from '../events/types.js';
import { ACTIONS, DIRECTIONS, PROTOCOLS, VERDICTS } from '../events/types.js';
import type { MetricsSnapshot } from '../events/metrics.js';
import type { QuarantineEntry, QuarantinePage, QuarantineQuery, QuarantineStats } from '../quarantine/store.js';
import { QUARANTINE_STATES } from '../quarantine/store.js';
import type { Finding } from '../scanners/types.js';
import { html, type HtmlValue, type SafeHtml } from './html.js';
import type { InspectionSummary, SignatureStatus } from './types.js';

export interface PageContext {
  readonly csrfToken: string;
  readonly active: string;
  /** A notice to show at the top (already chosen from a fixed table or an error message). */
  readonly notice?: { readonly text: string; readonly error?: boolean };
}

const NAV: readonly (readonly [string, string])[] = [
  ['/', 'Dashboard'], ['/events', 'Events'], ['/quarantine', 'Quarantine'],
  ['/signatures', 'Signatures'], ['/config', 'Config'], ['/scan', 'Scan a file'],
];

function head(title: string): SafeHtml {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · portcullis</title><link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script></head>`;
}

export function layout(ctx: PageContext, title: string, body: HtmlValue): string {
  const nav = NAV.map(([href, label]) => html`<a href="${href}" class="${ctx.active === href ? 'active' : ''}">${label}</a>`);
  return html`${head(title)}<body>
<header><span class="brand">portcullis</span><nav>${nav}</nav>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrfToken}"><button class="plain" type="submit" id="logout">Log out</button></form></header>
<main>${ctx.notice !== undefined ? html`<div class="notice${ctx.notice.error === true ? ' error' : ''}" role="status">${ctx.notice.text}</div>` : ''}
<h1>${title}</h1>${body}</main></body></html>`.toString();
}

export function loginPage(options: { next: string; error?: string }): string {
  return html`${head('Log in')}<body><main>
<form class="login" method="post" action="/login">
<h1>portcullis admin</h1>
${options.error !== undefined ? html`<div class="notice error" role="alert">${options.error}</div>` : ''}
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="${options.next}">
<button type="submit">Log in</button>
</form></main></body></html>`.toString();
}

export function errorPage(ctx: PageContext | undefined, status: number, message: string): string {
  if (ctx === undefined) {
    return html`${head('Error')}<body><main><h1>Error ${status}</h1><p>${message}</p><p><a href="/">Back</a></p></main></body></html>`.toString();
  }
  return layout(ctx, `Error ${status}`, html`<p>${message}</p>`);
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function verdict(v: string): SafeHtml {
  return html`<span class="verdict-${v}">${v}</span>`;
}

function findingList(findings: readonly Finding[]): SafeHtml {
  if (findings.length === 0) return html`<span class="muted">none</span>`;
  return html`${findings.map((f, i) => html`${i > 0 ? html`<br>` : ''}${f.name}${f.path.length > 1 ? html` <span class="muted">in ${f.path.join(' › ')}</span>` : ''}`)}`;
}

function quarantineLink(id: string | undefined): SafeHtml | string {
  return id === undefined ? '' : html`<a href="/quarantine/${encodeURIComponent(id)}">${id}</a>`;
}

function select(name: string, values: readonly string[], current: string | undefined, label: string): SafeHtml {
  return html`<label>${label}<select name="${name}"><option value="">any</option>${values.map((v) => html`<option value="${v}"${current === v ? html` selected` : ''}>${v}</option>`)}</select></label>`;
}

function pager(base: string, params: Record<string, string | number | undefined>, page: { total: number; limit: number; offset: number }): SafeHtml {
  const link = (offset: number): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
    q.set('offset', String(offset));
    return `${base}?${q.toString()}`;
  };
  const end = Math.min(page.total, page.offset + page.limit);
  return html`<div class="pager"><span class="muted">${page.total === 0 ? 'nothing found' : `${page.offset + 1}–${end} of ${page.total}`}</span>
${page.offset > 0 ? html`<a href="${link(Math.max(0, page.offset - page.limit))}">« newer</a>` : ''}
${end < page.total ? html`<a href="${link(page.offset + page.limit)}">older »</a>` : ''}</div>`;
}

function eventRows(items: readonly EventRecord[], id?: string): SafeHtml {
  return html`<table class="events"${id !== undefined ? html` id="${id}"` : ''}><thead><tr><th>time</th><th>protocol</th><th>direction</th><th>object</th><th class="num">size</th>
<th>verdict</th><th>findings</th><th>action</th><th>peers</th><th class="num">ms</th><th>quarantine</th></tr></thead><tbody>
${items.map((e) => html`<tr data-event="${e.id}"><td>${formatTime(e.time)}</td><td>${e.protocol}</td><td>${e.direction}</td><td class="object">${e.objectName}</td>
<td class="num">${formatBytes(e.size)}</td><td>${verdict(e.verdict)}</td><td>${findingList(e.findings)}</td><td>${e.action}</td>
<td>${e.client ?? ''}${e.server !== undefined ? html` → ${e.server}` : ''}</td><td class="num">${e.durationMs.toFixed(1)}</td><td>${quarantineLink(e.quarantineId)}</td></tr>`)}
</tbody></table>`;
}

export function dashboardPage(ctx: PageContext, data: {
  metrics: MetricsSnapshot; quarantine: QuarantineStats; recent: readonly EventRecord[];
  perMinute: readonly { minute: number; events: number; bytes: number }[]; signatures: SignatureStatus;
}): string {
  const m = data.metrics;
  const open = Object.values(m.sessionsOpen).reduce((a, b) => a + b, 0);
  const card = (key: string, value: string, label: string): SafeHtml =>
    html`<div class="card"><div class="value" data-k="${key}">${value}</div><div class="label">${label}</div></div>`;
  const maxBytes = Math.max(1, ...data.perMinute.map((p) => p.bytes));
  return layout(ctx, 'Dashboard', html`
<section id="live"><div class="cards">
${card('inspections', String(m.inspections), 'objects inspected')}
${card('infected', String(m.byVerdict.infected), 'infected')}
${card('errors', String(m.byVerdict.error), 'scan errors')}
${card('bytes', formatBytes(m.bytes), 'bytes inspected')}
${card('rate', '–', 'throughput now')}
${card('sessions', String(open), 'sessions open')}
${card('held', String(data.quarantine.held), 'in quarantine')}
</div><p class="muted">Since ${formatTime(m.startedAt)} · ${data.signatures.total} signatures loaded · updated <span data-k="updated">now</span></p></section>
<h2>Throughput, last hour (bytes per minute)</h2>
<!-- Heights are classes, not style attributes: the CSP allows no inline style. -->
<div class="bars" title="bytes per minute">${data.perMinute.map((p) =>
    html`<div class="h${Math.round((p.bytes / maxBytes) * 20) * 5}" title="${formatTime(p.minute)}: ${p.events} objects, ${formatBytes(p.bytes)}"></div>`)}</div>
<h2>Recent detections</h2>
<p class="muted" id="no-detections"${data.recent.length > 0 ? html` hidden` : ''}>No detections yet.</p>
${eventRows(data.recent, 'recent')}`);
}

export function eventsPage(ctx: PageContext, q: EventQuery, page: EventPage, raw: Record<string, string | undefined>): string {
  return layout(ctx, 'Events', html`
<form class="filters" method="get" action="/events">
${select('protocol', PROTOCOLS, q.protocol, 'protocol')}
${select('direction', DIRECTIONS, q.direction, 'direction')}
${select('verdict', VERDICTS, q.verdict, 'verdict')}
${select('action', ACTIONS, q.action, 'action')}
<label>from (UTC)<input type="datetime-local" name="from" value="${raw['from'] ?? ''}"></label>
<label>to (UTC)<input type="datetime-local" name="to" value="${raw['to'] ?? ''}"></label>
<label>search<input type="search" name="q" value="${q.text ?? ''}" placeholder="name, finding, address"></label>
<button type="submit">Filter</button></form>
${eventRows(page.items)}
${pager('/events', { ...raw }, page)}`);
}

export function quarantineListPage(ctx: PageContext, q: QuarantineQuery, page: QuarantinePage, raw: Record<string, string | undefined>): string {
  return layout(ctx, 'Quarantine', html`
<form class="filters" method="get" action="/quarantine">
${select('state', QUARANTINE_STATES, q.state, 'state')}
${select('protocol', PROTOCOLS, q.protocol, 'protocol')}
<label>search<input type="search" name="q" value="${q.text ?? ''}" placeholder="id, name, finding, address"></label>
<button type="submit">Filter</button></form>
<table class="quarantine"><thead><tr><th>id</th><th>time</th><th>protocol</th><th>original name</th><th class="num">size</th><th>findings</th><th>state</th></tr></thead><tbody>
${page.items.map((e) => html`<tr data-id="${e.id}"><td>${quarantineLink(e.id)}</td><td>${formatTime(e.time)}</td><td>${e.protocol}</td>
<td class="object">${e.originalName}</td><td class="num">${formatBytes(e.size)}</td><td>${findingList(e.findings)}</td><td class="state">${e.state}</td></tr>`)}
</tbody></table>
${pager('/quarantine', { ...raw }, page)}`);
}

export function quarantineDetailPage(ctx: PageContext, e: QuarantineEntry): string {
  const id = encodeURIComponent(e.id);
  const actions = e.state === 'deleted' ? html`<p class="muted">The object was deleted; only this record remains.</p>` : html`
<p><a href="/quarantine/${id}/download" id="download">Download</a></p>
<form method="post" action="/quarantine/${id}/release" class="inline" data-confirm="Release this object? It is infected.">
<input type="hidden" name="_csrf" value="${ctx.csrfToken}"><button type="submit" id="release">${e.protocol === 'smtp' ? 'Release (re-deliver mail)' : 'Release (export file)'}</button></form>
<form method="post" action="/quarantine/${id}/delete" class="inline" data-confirm="Delete this object for good?">
<input type="hidden" name="_csrf" value="${ctx.csrfToken}"><button type="submit" class="danger" id="delete">Delete</button></form>`;
  return layout(ctx, `Quarantine ${e.id}`, html`
<dl class="meta">
<dt>id</dt><dd>${e.id}</dd>
<dt>state</dt><dd id="state">${e.state}</dd>
<dt>original name</dt><dd class="object">${e.originalName}</dd>
<dt>time</dt><dd>${formatTime(e.time)}</dd>
<dt>protocol</dt><dd>${e.protocol} (${e.direction})</dd>
<dt>client</dt><dd>${e.client ?? ''}</dd>
<dt>server</dt><dd>${e.server ?? ''}</dd>
${e.envelope !== undefined ? html`<dt>mail from</dt><dd>${e.envelope.from}</dd><dt>recipients</dt><dd>${e.envelope.rcpts.join(', ')}</dd>` : ''}
<dt>findings</dt><dd>${findingList(e.findings)}</dd>
<dt>size</dt><dd>${formatBytes(e.size)} (${e.size} bytes)</dd>
<dt>sha256</dt><dd>${e.sha256}</dd>
${e.releasedAt !== undefined ? html`<dt>released</dt><dd>${formatTime(e.releasedAt)} to ${e.releasedTo ?? ''}</dd>` : ''}
${e.deletedAt !== undefined ? html`<dt>deleted</dt><dd>${formatTime(e.deletedAt)}</dd>` : ''}
</dl>${actions}<p><a href="/quarantine">« all quarantined objects</a></p>`);
}

function countTable(title: string, counts: Readonly<Record<string, number>>, id: string): SafeHtml {
  const rows = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return html`<h2>${title}</h2>${rows.length === 0 ? html`<p class="muted">none</p>` : html`<table id="${id}"><thead><tr><th>kind</th><th class="num">count</th></tr></thead><tbody>
${rows.map(([k, n]) => html`<tr><td>${k}</td><td class="num">${n}</td></tr>`)}</tbody></table>`}`;
}

export function signaturesPage(ctx: PageContext, s: SignatureStatus): string {
  return layout(ctx, 'Signatures', html`
<dl class="meta"><dt>signatures</dt><dd id="sig-total">${s.total}</dd>
<dt>loaded at</dt><dd>${formatTime(s.loadedAt)}</dd>
${s.loadDurationMs !== undefined ? html`<dt>load time</dt><dd>${s.loadDurationMs.toFixed(0)} ms</dd>` : ''}
${s.newestBuildTime !== undefined ? html`<dt>newest database build</dt><dd>${formatTime(s.newestBuildTime)}</dd>` : ''}
${s.scanners !== undefined ? html`<dt>scanners</dt><dd>${s.scanners.join(', ')}</dd>` : ''}</dl>
<form method="post" action="/signatures/reload"><input type="hidden" name="_csrf" value="${ctx.csrfToken}">
<p><button type="submit" id="reload">Reload config and signatures</button></p></form>
${countTable('Loaded, by kind', s.loaded, 'sig-loaded')}
${countTable('Skipped, by reason', s.skipped, 'sig-skipped')}
${s.files !== undefined && s.files.length > 0 ? html`<h2>Files</h2><table><thead><tr><th>file</th><th class="num">signatures</th></tr></thead><tbody>
${s.files.map((f) => html`<tr><td>${f.name}</td><td class="num">${f.signatures}</td></tr>`)}</tbody></table>` : ''}`);
}

export function configPage(ctx: PageContext, config: unknown): string {
  return layout(ctx, 'Config', html`<p class="muted">The running configuration. Secrets are shown as [redacted].</p>
<pre id="config">${JSON.stringify(config, null, 2)}</pre>`);
}

export function scanPage(ctx: PageContext, result?: { name: string; size: number; summary: InspectionSummary }): string {
  const form = html`<form method="post" action="/scan" enctype="multipart/form-data">
<input type="hidden" name="_csrf" value="${ctx.csrfToken}">
<p><input type="file" name="file" id="file" required></p><p><button type="submit" id="scan">Scan</button></p></form>`;
  if (result === undefined) return layout(ctx, 'Scan a file', form);
  const s = result.summary;
  return layout(ctx, 'Scan a file', html`
<section id="result"><dl class="meta">
<dt>file</dt><dd class="object">${result.name}</dd>
<dt>size</dt><dd>${formatBytes(result.size)}</dd>
<dt>verdict</dt><dd id="verdict">${verdict(s.verdict)}</dd>
<dt>findings</dt><dd id="findings">${findingList(s.findings)}</dd>
<dt>action</dt><dd id="action">${s.action}</dd>
${s.quarantineId !== undefined ? html`<dt>quarantine id</dt><dd id="quarantine-id">${quarantineLink(s.quarantineId)}</dd>` : ''}
${s.errors !== undefined && s.errors.length > 0 ? html`<dt>errors</dt><dd>${s.errors.map((e) => html`${e.scanner}: ${e.code} ${e.message}<br>`)}</dd>` : ''}
<dt>time</dt><dd>${s.durationMs.toFixed(1)} ms</dd></dl></section>
<h2>Scan another</h2>${form}`);
}
