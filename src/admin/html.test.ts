import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, raw } from './html.js';

describe('html template', () => {
  const cases: [string, string, string][] = [
    ['tags', '<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['attribute breakout', '" onmouseover="x', '&quot; onmouseover=&quot;x'],
    ['single quotes and backticks', "'`", '&#39;&#96;'],
    ['ampersand entities stay text', '&lt;', '&amp;lt;'],
    ['plain', 'eicar.com', 'eicar.com'],
  ];
  for (const [name, input, want] of cases) {
    it(`escapes ${name}`, () => {
      assert.equal(escapeHtml(input), want);
      assert.equal(html`<td title="${input}">${input}</td>`.toString(), `<td title="${want}">${want}</td>`);
    });
  }

  it('does not escape nested html twice, and escapes inside arrays', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${['<', html`<br>`]}</p>`.toString(), '<p><b>&lt;i&gt;</b>&lt;<br></p>');
  });

  it('drops null, undefined and false, prints numbers', () => {
    assert.equal(html`${null}${undefined}${false}${0}${true}`.toString(), '0true');
  });

  it('passes raw markup through only when asked', () => {
    assert.equal(html`${raw('<hr>')}`.toString(), '<hr>');
  });
});
