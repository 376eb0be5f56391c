// HTML built from release text only through `esc` (and attributes through
// `attr`): a version, a reason or a comment is text on the page, never markup.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as it may stand in an element or a quoted attribute. */
export const esc = (value: unknown): string => String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** A tagged template whose every value is escaped; a value made by `html` itself is kept as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  const part = (v: unknown): string => {
    if (v instanceof Html) return v.text;
    if (Array.isArray(v)) return v.map(part).join('');
    return v === undefined || v === false || v === null ? '' : esc(v);
  };
  return new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''));
}

/** A query string of the page's own links. */
export const query = (params: Record<string, string | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
};

/** An age as a person reads it: 45s, 12m, 3h, 2d. */
export function age(fromMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** A small line chart of measurements as inline SVG: numbers only go into it. */
export function sparkline(series: readonly [number, number][], width = 240, height = 48): Html {
  if (series.length === 0) return html`<span class="muted">not measured yet</span>`;
  const values = series.map(([, v]) => v);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const [t0, t1] = [series[0]![0], series.at(-1)![0]];
  const x = (t: number) => (t1 === t0 ? width / 2 : ((t - t0) / (t1 - t0)) * (width - 8) + 4);
  const y = (v: number) => (hi === lo ? height / 2 : height - 4 - ((v - lo) / (hi - lo)) * (height - 8));
  const points = series.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const last = series.at(-1)!;
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${series.length} measurements from ${lo} to ${hi}">
<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}"/>
<circle cx="${x(last[0]).toFixed(1)}" cy="${y(last[1]).toFixed(1)}" r="2.5"/></svg>
<span class="range">${series.length} measured, ${lo} … ${hi}</span>`;
}
