// Forwards TCP connections between a network namespace and the host through a
// Unix socket, which both sides see in the filesystem. The demo runs one side
// inside its namespace and one outside, so the Temporal UI and the CLI on the
// host reach the dev server that runs in the namespace.
//   node scripts/forward.mjs LISTEN TARGET    (each HOST:PORT or a socket path)
import { rmSync } from 'node:fs';
import net from 'node:net';

const [listen, target] = process.argv.slice(2);
if (!listen || !target) {
  console.error('usage: node scripts/forward.mjs LISTEN TARGET (each HOST:PORT or a Unix socket path)');
  process.exit(2);
}
const address = (spec) => {
  const m = /^(.+):(\d+)$/.exec(spec);
  return m ? { host: m[1], port: Number(m[2]) } : { path: spec };
};
const to = address(target);
const from = address(listen);
if (from.path) rmSync(from.path, { force: true });

const server = net.createServer((client) => {
  const upstream = net.connect(to);
  client.pipe(upstream).pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close);
  upstream.on('error', close);
});
server.on('error', (err) => {
  console.error(`forward ${listen} -> ${target}: ${err.message}`);
  process.exit(1);
});
server.listen(from.path ? { path: from.path } : { host: from.host, port: from.port });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
