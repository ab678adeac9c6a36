// The dependency graph as an SVG: upstream workflows on the left, each layer one step further
// downstream; edges carry their condition and delay; disabled triggers are dashed; nodes are
// coloured by their last run and link to the workflow.
import { get } from './api.js';
import { emptyState, errorState, loading, pageHeader, poll } from './components.js';
import { h, replace, s } from './dom.js';

const NODE_W = 180;
const NODE_H = 52;
const GAP_X = 120;
const GAP_Y = 36;
const PAD = 24;
const CONDITION_TEXT = { on_success: 'on success', on_failure: 'on failure', on_completion: 'on completion' };

export async function renderGraph(main) {
  const body = h('div', { class: 'card graph-card' }, loading('Loading the graph…'));
  replace(main, pageHeader('Dependency graph', 'Arrows point from a workflow to the workflows that run after it. Select a workflow to open it.'), legend(), body);
  let shown = '';
  return poll(async () => {
    let graph;
    try {
      graph = await get('/graph');
    } catch (error) {
      replace(body, errorState(error));
      shown = '';
      throw error;
    }
    const signature = JSON.stringify(graph);
    if (signature === shown) return;
    shown = signature;
    if (!graph.nodes.length) {
      replace(body, emptyState('Nothing to draw yet', 'Create workflows, and add a dependency trigger to one of them to connect it to another.'));
      return;
    }
    replace(body, h('div', { class: 'graph-scroll' }, draw(graph)));
  }, 5000);
}

function legend() {
  const statuses = ['completed', 'failed', 'running', 'queued', 'cancelled', null];
  return h('ul', { class: 'legend', 'aria-label': 'Legend' },
    statuses.map((status) => h('li', null, h('span', { class: `swatch node-${status || 'none'}`, 'aria-hidden': 'true' }), status || 'never ran')),
    h('li', null, h('span', { class: 'swatch-line dashed', 'aria-hidden': 'true' }), 'disabled trigger'));
}

/** Layer = longest path from a workflow nobody depends on; order within a layer by barycentre. */
export function layout(graph) {
  const incoming = new Map(graph.nodes.map((n) => [n.id, []]));
  const outgoing = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) {
    if (!incoming.has(e.to) || !outgoing.has(e.from)) continue;
    incoming.get(e.to).push(e.from);
    outgoing.get(e.from).push(e.to);
  }
  const layerOf = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layerOf.has(id)) return layerOf.get(id);
    if (visiting.has(id)) return 0;  // the API refuses cycles; never loop if one slipped in
    visiting.add(id);
    const value = Math.max(-1, ...incoming.get(id).map(depth)) + 1;
    visiting.delete(id);
    layerOf.set(id, value);
    return value;
  };
  const connected = graph.nodes.filter((n) => incoming.get(n.id).length || outgoing.get(n.id).length);
  const alone = graph.nodes.filter((n) => !incoming.get(n.id).length && !outgoing.get(n.id).length);
  const layers = [];
  for (const n of [...connected].sort((a, b) => a.name.localeCompare(b.name))) {
    const l = depth(n.id);
    (layers[l] = layers[l] || []).push(n);
  }
  const position = new Map();
  const place = () => layers.forEach((layer) => layer.forEach((n, i) => position.set(n.id, i)));
  place();
  for (let pass = 0; pass < 4; pass++) {
    const forward = pass % 2 === 0;
    const order = forward ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const layer of order) {
      const neighbours = (n) => (forward ? incoming : outgoing).get(n.id);
      const score = (n) => {
        const ns = neighbours(n);
        return ns.length ? ns.reduce((sum, id) => sum + position.get(id), 0) / ns.length : position.get(n.id);
      };
      layer.sort((a, b) => score(a) - score(b));
      layer.forEach((n, i) => position.set(n.id, i));
    }
  }
  const boxes = new Map();
  const tallest = Math.max(0, ...layers.map((l) => l.length));
  layers.forEach((layer, l) => layer.forEach((n, i) => {
    const offset = (tallest - layer.length) * (NODE_H + GAP_Y) / 2;  // centre short layers
    boxes.set(n.id, { x: PAD + l * (NODE_W + GAP_X), y: PAD + offset + i * (NODE_H + GAP_Y), node: n });
  }));
  // Workflows without dependencies go in rows underneath.
  const perRow = Math.max(layers.length, 4);
  const top = PAD + tallest * (NODE_H + GAP_Y) + (tallest ? GAP_Y : 0);
  alone.sort((a, b) => a.name.localeCompare(b.name)).forEach((n, i) => {
    boxes.set(n.id, { x: PAD + (i % perRow) * (NODE_W + GAP_X / 2), y: top + Math.floor(i / perRow) * (NODE_H + GAP_Y), node: n });
  });
  let width = 0;
  let height = 0;
  for (const b of boxes.values()) { width = Math.max(width, b.x + NODE_W + PAD); height = Math.max(height, b.y + NODE_H + PAD); }
  return { boxes, width, height, aloneTop: alone.length && connected.length ? top : null };
}

function draw(graph) {
  const { boxes, width, height, aloneTop } = layout(graph);
  const svg = s('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': `Dependency graph of ${graph.nodes.length} workflows and ${graph.edges.length} dependencies` },
    s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' },
      s('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrow-head' }))));
  if (aloneTop !== null) svg.append(s('text', { x: PAD, y: aloneTop - 12, class: 'graph-caption' }, 'Not connected to other workflows'));

  for (const e of graph.edges) {
    const from = boxes.get(e.from);
    const to = boxes.get(e.to);
    if (!from || !to) continue;
    const x1 = from.x + NODE_W; const y1 = from.y + NODE_H / 2;
    const x2 = to.x; const y2 = to.y + NODE_H / 2;
    const bend = Math.max(40, (x2 - x1) / 2);
    const label = `${CONDITION_TEXT[e.condition] || e.condition}${e.delay_minutes ? ` · ${e.delay_minutes} min` : ''}`;
    const mx = (x1 + x2) / 2; const my = (y1 + y2) / 2;
    svg.append(s('g', { class: `edge ${e.enabled ? '' : 'disabled'} edge-${e.condition}`, 'data-edge': `${e.from}-${e.to}` },
      s('title', null, `${from.node.name} → ${to.node.name}: ${label}${e.enabled ? '' : ' (disabled)'}`),
      s('path', { d: `M${x1} ${y1} C${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2 - 2} ${y2}`, 'marker-end': 'url(#arrow)' }),
      s('rect', { class: 'edge-label-bg', x: mx - label.length * 3.4 - 6, y: my - 10, width: label.length * 6.8 + 12, height: 18, rx: 9 }),
      s('text', { class: 'edge-label', x: mx, y: my + 3, 'text-anchor': 'middle' }, label)));
  }
  for (const { x, y, node } of boxes.values()) {
    const status = node.last_status || 'none';
    const name = node.name.length > 22 ? `${node.name.slice(0, 21)}…` : node.name;
    const sub = node.next_run_at ? 'scheduled' : `${node.trigger_count} trigger${node.trigger_count === 1 ? '' : 's'}`;
    svg.append(s('a', { href: `#/workflows/${node.id}`, class: `node node-${status}`, 'data-node': node.id, 'aria-label': `${node.name}, last run ${node.last_status || 'never'}` },
      s('title', null, `${node.name} — last run: ${node.last_status || 'never'}`),
      s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 8 }),
      s('circle', { cx: x + 16, cy: y + NODE_H / 2, r: 6, class: 'node-dot' }),
      s('text', { x: x + 30, y: y + 22, class: 'node-name' }, name),
      s('text', { x: x + 30, y: y + 39, class: 'node-sub' }, `${node.last_status || 'never ran'} · ${sub}`)));
  }
  return svg;
}
