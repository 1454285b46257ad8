/**
 * HTML that is escaped by default. `html` is a tagged template: every value
 * put into it is escaped unless it is itself the result of `html` (or
 * `raw`, kept for the few fixed strings that are markup). So a hostile file
 * name, address or finding can only ever appear as text.
 *
 * Escapes for element text and double-quoted attribute values; never put a
 * value into an unquoted attribute, a <script> or a URL scheme position.
 */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) { this.#text = text; }
  toString(): string { return this.#text; }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Trusted markup (fixed strings in this folder only). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
