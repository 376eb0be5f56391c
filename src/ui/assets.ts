// The page's script and style, served as files (/ui.js, /ui.css) so the page's
// Content-Security-Policy allows no inline script at all.

export const SCRIPT = String.raw`(() => {
  const root = document.getElementById('release');
  if (root === null) {
    // The list: refreshed every 5s unless a filter is being edited.
    if (document.querySelector('table.releases, p.empty')) {
      setInterval(() => { if (document.activeElement === document.body) location.reload(); }, 5000);
    }
    return;
  }
  const id = root.dataset.id;
  const view = document.getElementById('view');
  const answer = document.getElementById('answer');
  const button = (action) => document.querySelector('[data-action="' + action + '"]');
  const events = new EventSource('/api/release/events?id=' + encodeURIComponent(id));
  events.addEventListener('view', (e) => {
    const data = JSON.parse(e.data);
    // The fragment is escaped by the server (src/ui/pages.ts); nothing here adds markup from release text.
    view.innerHTML = data.html;
    button('approve').disabled = !data.steering.canApprove;
    button('abort').disabled = !data.steering.canAbort;
    root.dataset.phase = data.steering.phase;
  });
  events.addEventListener('note', (e) => { answer.textContent = JSON.parse(e.data); answer.className = 'note'; });
  events.addEventListener('end', () => events.close());
  const send = async (kind, form) => {
    const fields = Object.fromEntries(new FormData(form));
    button(kind).disabled = true;
    answer.className = '';
    answer.textContent = kind + ': sent, waiting for the release to answer...';
    try {
      const res = await fetch('/api/release/' + kind, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-bluegreen-ui': '1' },
        body: JSON.stringify({ id, version: root.dataset.version, ...fields }),
      });
      const out = await res.json();
      answer.textContent = out.message;
      answer.className = out.accepted ? 'ok' : 'fail';
      if (out.accepted) form.reset();
    } catch (err) {
      answer.textContent = kind + ' not sent: ' + err.message;
      answer.className = 'fail';
    }
  };
  for (const kind of ['approve', 'abort']) {
    document.getElementById(kind).addEventListener('submit', (e) => { e.preventDefault(); send(kind, e.target); });
  }
})();
`;

export const STYLE = `
:root { --fg: #1b1f24; --muted: #6a737d; --line: #d8dee4; --ok: #1a7f37; --fail: #cf222e; --wait: #9a6700; --live: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f8fa; }
header { display: flex; justify-content: space-between; padding: 10px 20px; background: #24292f; color: #fff; }
header a { color: #fff; font-weight: 600; text-decoration: none; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 20px 40px; }
h1 { font-size: 22px; margin: 12px 0; } h2 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.detail { color: var(--muted); font-size: 12px; }
.facts th { width: 90px; color: var(--muted); font-weight: normal; }
.phase { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #eaeef2; font-weight: 600; }
.phase.Succeeded { background: #dafbe1; color: var(--ok); }
.phase.RolledBack, .phase.Failed, .phase.RollingBack { background: #ffebe9; color: var(--fail); }
.phase.AwaitingApproval, .phase.Monitoring { background: #fff8c5; color: var(--wait); }
.waits { color: var(--wait); font-weight: 600; } .muted, time { color: var(--muted); }
.version { color: var(--live); } .reason { color: var(--fail); }
tr.fail td { color: var(--fail); } tr.ended { color: var(--muted); } li.ignored { color: var(--muted); }
.filters { display: flex; gap: 12px; align-items: end; margin-bottom: 12px; flex-wrap: wrap; }
.decide { background: #fff; border: 1px solid var(--line); padding: 8px 14px 12px; margin-top: 18px; }
.decide form { display: flex; gap: 8px; align-items: center; margin: 6px 0; } .decide input[name] { width: 420px; }
button { padding: 4px 14px; border: 1px solid var(--line); border-radius: 6px; background: #f3f4f6; cursor: pointer; font-weight: 600; }
button[data-action="approve"] { background: var(--ok); color: #fff; } button.danger { background: var(--fail); color: #fff; }
button:disabled { background: #eaeef2; color: var(--muted); cursor: not-allowed; }
#answer.ok { color: var(--ok); } #answer.fail { color: var(--fail); } #answer.note { color: var(--wait); }
.timeline { font: 12px/1.5 ui-monospace, monospace; padding-left: 22px; background: #fff; border: 1px solid var(--line); }
pre.commands { background: #fff; border: 1px solid var(--line); padding: 8px; }
.charts { display: flex; gap: 18px; flex-wrap: wrap; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); padding: 6px 10px; }
figcaption { font-size: 12px; } .chart { color: var(--live); display: block; } .range { font-size: 11px; color: var(--muted); }
progress { width: 160px; vertical-align: middle; }
`;
