// Reads a V8 .cpuprofile and says where the samples went: self time per function, per source
// (Carapace's own modules, node_modules, node internals, V8's own buckets such as GC), and the
// inclusive time of Carapace's functions. Samples are wall-clock ticks of the JS thread, so a
// blocking call (an fsync inside SQLite) shows as time in the native function that made it.
import { readFile } from 'node:fs/promises';

function sourceOf(url) {
  if (url === '') return '(native/V8)';
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return `carapace ${url.slice(dist + 6).split('/').slice(0, 1).join('/')}/`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + 14).split('/')[0];
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

const frameName = ({ functionName, url, lineNumber }) => {
  const file = url.slice(url.lastIndexOf('/') + 1);
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
};

/**
 * Self time by function and by source, and inclusive time (the function and everything it called)
 * for Carapace's own functions: that is what says "half the thread is the audit flush".
 */
export async function summarizeProfile(path, top = 12) {
  const profile = JSON.parse(await readFile(path, 'utf8'));
  const totalUs = profile.endTime - profile.startTime;
  const samples = profile.samples.length;
  const usPerSample = totalUs / samples;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const byFunction = new Map();
  const bySource = new Map();
  const inclusive = new Map();
  for (const node of profile.nodes) {
    if (node.hitCount === 0) continue;
    const name = frameName(node.callFrame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + node.hitCount);
    const { functionName, url } = node.callFrame;
    const source = functionName.startsWith('(') ? functionName : sourceOf(url);
    bySource.set(source, (bySource.get(source) ?? 0) + node.hitCount);
    // Each sample counts once for every distinct Carapace function on its stack.
    const onStack = new Set();
    for (let id = node.id; id !== undefined; id = parents.get(id)) {
      const frame = nodes.get(id).callFrame;
      if (frame.url.includes('/dist/')) onStack.add(frameName(frame));
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + node.hitCount);
  }
  const rank = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, ms: (hits * usPerSample) / 1000, share: hits / samples }));
  return { totalMs: totalUs / 1000, functions: rank(byFunction), sources: rank(bySource), inclusive: rank(inclusive) };
}
