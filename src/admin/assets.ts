/**
 * The admin UI's only static files, kept as strings so there is no build
 * step and nothing to fetch from a CDN. The script is progressive: every
 * page works without it; it adds live counters on the dashboard and
 * confirmation prompts on destructive buttons. It never builds HTML from
 * data (textContent only), so nothing it shows can inject markup.
 */
export const STYLE_CSS = `
:root { --fg:#1d232a; --muted:#5b6673; --bg:#f6f7f9; --card:#fff; --line:#d9dee4; --accent:#234e8c; --bad:#b3261e; --ok:#1e7b34; --warn:#9a6200; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { background:#16263d; color:#fff; display:flex; align-items:center; gap:1.5rem; padding:.6rem 1.2rem; }
header .brand { font-weight:700; letter-spacing:.03em; }
header nav a { color:#cfe0ff; margin-right:1rem; text-decoration:none; }
header nav a.active { color:#fff; font-weight:600; text-decoration:underline; }
header form { margin-left:auto; }
main { padding:1.2rem; max-width:1200px; }
h1 { font-size:1.35rem; margin:.2rem 0 1rem; }
h2 { font-size:1.1rem; margin:1.4rem 0 .6rem; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:.35rem .55rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f5; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.cards { display:flex; flex-wrap:wrap; gap:.8rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:.7rem 1rem; min-width:150px; }
.card .value { font-size:1.6rem; font-weight:700; font-variant-numeric:tabular-nums; }
.card .label { color:var(--muted); }
.verdict-clean { color:var(--ok); font-weight:600; }
.verdict-infected { color:var(--bad); font-weight:600; }
.verdict-error { color:var(--warn); font-weight:600; }
.notice { padding:.6rem .9rem; border-radius:6px; margin-bottom:1rem; background:#e8f0fe; border:1px solid #b6cdf7; }
.notice.error { background:#fdecea; border-color:#f4b8b3; }
form.inline { display:inline; }
form.filters { display:flex; flex-wrap:wrap; gap:.5rem; align-items:end; margin-bottom:1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); }
input, select, button { font:inherit; padding:.3rem .5rem; }
button { cursor:pointer; border:1px solid var(--accent); background:var(--accent); color:#fff; border-radius:4px; }
button.danger { background:var(--bad); border-color:var(--bad); }
button.plain { background:transparent; color:inherit; border-color:#7e93b3; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; background:var(--card); padding:.8rem; border:1px solid var(--line); }
dl.meta dt { color:var(--muted); }
dl.meta dd { margin:0; word-break:break-all; }
pre { background:var(--card); border:1px solid var(--line); padding:.8rem; overflow:auto; }
.bars { display:flex; align-items:flex-end; gap:2px; height:60px; background:var(--card); border:1px solid var(--line); padding:4px; }
.bars div { background:var(--accent); width:10px; min-height:1px; }
${Array.from({ length: 21 }, (_, i) => `.bars .h${i * 5} { height:${i * 5}%; }`).join('\n')}
.muted { color:var(--muted); }
.pager { margin-top:.8rem; display:flex; gap:1rem; }
.login { max-width:340px; margin:4rem auto; background:var(--card); border:1px solid var(--line); padding:1.4rem; border-radius:8px; }
.login input { width:100%; margin:.4rem 0 1rem; }
`;

export const APP_JS = `
'use strict';
(function () {
  // Destructive buttons ask first. The form still carries its CSRF token.
  document.addEventListener('submit', function (ev) {
    var msg = ev.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  var live = document.getElementById('live');
  if (!live) return;
  var last = null;
  function set(name, value) {
    var el = live.querySelector('[data-k="' + name + '"]');
    if (el) el.textContent = value;
  }
  function fmtBytes(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + u[i];
  }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function time(ms) {
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  // Same columns as the server-rendered table; every value goes in as text.
  function showRecent(items) {
    var table = document.getElementById('recent');
    if (!table) return;
    var body = table.tBodies[0];
    var top = body.rows.length > 0 ? body.rows[0].getAttribute('data-event') : null;
    if (items.length > 0 && String(items[0].id) === top) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    items.forEach(function (e) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-event', String(e.id));
      cell(tr, time(e.time));
      cell(tr, e.protocol);
      cell(tr, e.direction);
      cell(tr, e.objectName, 'object');
      cell(tr, fmtBytes(e.size), 'num');
      cell(tr, e.verdict, 'verdict-' + e.verdict);
      cell(tr, e.findings.map(function (f) { return f.name; }).join(', ') || 'none');
      cell(tr, e.action);
      cell(tr, (e.client || '') + (e.server ? ' \u2192 ' + e.server : ''));
      cell(tr, e.durationMs.toFixed(1), 'num');
      var q = cell(tr, '');
      if (e.quarantineId) {
        var a = document.createElement('a');
        a.href = '/quarantine/' + encodeURIComponent(e.quarantineId);
        a.textContent = e.quarantineId;
        q.appendChild(a);
      }
      body.appendChild(tr);
    });
    var none = document.getElementById('no-detections');
    if (none) none.hidden = items.length > 0;
  }
  function poll() {
    fetch('/api/summary', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) {
        if (r.status === 401) { window.location.href = '/login'; throw new Error('logged out'); }
        return r.json();
      })
      .then(function (s) {
        var m = s.metrics;
        set('inspections', String(m.inspections));
        set('infected', String(m.byVerdict.infected));
        set('errors', String(m.byVerdict.error));
        set('bytes', fmtBytes(m.bytes));
        var open = 0;
        for (var k in m.sessionsOpen) open += m.sessionsOpen[k];
        set('sessions', String(open));
        set('held', String(s.quarantine.held));
        var t = Date.now();
        if (last) {
          var dt = (t - last.t) / 1000;
          set('rate', fmtBytes(Math.max(0, (m.bytes - last.bytes) / dt)) + '/s');
        }
        last = { t: t, bytes: m.bytes };
        set('updated', new Date().toLocaleTimeString());
        showRecent(s.recentDetections);
      })
      .catch(function () { set('updated', 'not updating'); });
  }
  poll();
  setInterval(poll, 2000);
})();
`;
