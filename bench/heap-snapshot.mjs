// Heap snapshots of a server started with --inspect, taken through its
// inspector, and what grew between two of them: objects counted and sized by
// constructor (or, for strings, arrays, closures and code, by kind), which is
// where a leak that no internal count sees shows itself.
import { createWriteStream, readFileSync } from 'node:fs';
import { WebSocket } from 'ws';

/** Writes a heap snapshot of the process whose inspector is at `inspectorUrl` to `file`. */
export async function takeHeapSnapshot(inspectorUrl, file) {
  const ws = new WebSocket(inspectorUrl, { maxPayload: 0 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const out = createWriteStream(file);
  await new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.method === 'HeapProfiler.addHeapSnapshotChunk') out.write(message.params.chunk);
      else if (message.id === 1) resolve();
      else if (message.error) reject(new Error(JSON.stringify(message.error)));
    });
    // takeHeapSnapshot collects garbage first: the snapshot holds live objects only.
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.takeHeapSnapshot' }));
  });
  await new Promise((resolve) => out.end(resolve));
  ws.close();
}

/** Live objects in a snapshot file by name: `{ count, bytes }` (self sizes). */
export function summarize(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const { nodes, strings } = snapshot;
  const byName = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    // Objects by constructor; everything else (strings, arrays, closures, code) by kind.
    const name = type === 'object' ? strings[nodes[i + nameAt]] : `(${type})`;
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + sizeAt];
    byName.set(name, entry);
  }
  return byName;
}

/** The names whose live bytes grew most from `before` to `after`, as printable lines. */
export function grewBetween(before, after, top = 15) {
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: a.count - b.count, bytes: a.bytes - b.bytes, total: a.bytes };
  });
  const total = (m) => [...m.values()].reduce((sum, e) => sum + e.bytes, 0);
  const lines = [
    `live objects: ${(total(before) / 2 ** 20).toFixed(1)} MiB -> ${(total(after) / 2 ** 20).toFixed(1)} MiB`,
    `${'grew by MiB'.padStart(12)} ${'objects'.padStart(9)} ${'now MiB'.padStart(8)}  name`,
  ];
  for (const r of rows.sort((x, y) => y.bytes - x.bytes).slice(0, top)) {
    lines.push(
      `${(r.bytes / 2 ** 20).toFixed(2).padStart(12)} ${String(r.count).padStart(9)} ${(r.total / 2 ** 20).toFixed(2).padStart(8)}  ${r.name}`,
    );
  }
  return lines;
}
