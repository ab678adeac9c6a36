// Inline SVG icons (24×24, stroke-drawn), so nothing is fetched for them.
import { s } from './dom.js';

const PATHS = {
  clock: ['M12 7v5l3 2', { circle: [12, 12, 9] }],
  branch: ['M6 3v12', 'M18 9a9 9 0 0 1-9 9', { circle: [18, 6, 3] }, { circle: [6, 18, 3] }],
  zap: ['M13 2 3 14h9l-1 8 10-12h-9l1-8z'],
  hand: ['M8 13V5.5a1.5 1.5 0 0 1 3 0V12', 'M11 11.5v-2a1.5 1.5 0 0 1 3 0V12', 'M14 10.5a1.5 1.5 0 0 1 3 0V12', 'M17 11.5a1.5 1.5 0 0 1 3 0V16a6 6 0 0 1-6 6h-2a6 6 0 0 1-4.5-2L4 16.5a1.6 1.6 0 0 1 2.3-2.2L8 16'],
  play: ['M7 4l13 8-13 8z'],
  pause: ['M8 5v14', 'M16 5v14'],
  plus: ['M12 5v14', 'M5 12h14'],
  trash: ['M3 6h18', 'M8 6V4h8v2', 'M6 6l1 14h10l1-14'],
  x: ['M6 6l12 12', 'M18 6 6 18'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  graph: [{ circle: [5, 6, 2.5] }, { circle: [19, 6, 2.5] }, { circle: [12, 18, 2.5] }, 'M7.5 6h9', 'M6.3 8.2l4.4 7.6', 'M17.7 8.2l-4.4 7.6'],
  list: ['M8 6h13', 'M8 12h13', 'M8 18h13', 'M3 6h.01', 'M3 12h.01', 'M3 18h.01'],
  globe: [{ circle: [12, 12, 9] }, 'M3 12h18', 'M12 3a14 14 0 0 1 0 18', 'M12 3a14 14 0 0 0 0 18'],
  file: ['M14 3H6v18h12V7z', 'M14 3v4h4'],
  edit: ['M12 20h9', 'M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z'],
  up: ['M12 19V5', 'M5 12l7-7 7 7'],
  down: ['M12 5v14', 'M19 12l-7 7-7-7'],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
  rotate: ['M21 12a9 9 0 1 1-2.6-6.4L21 8', 'M21 3v5h-5'],
  rewind: ['M11 19 2 12l9-7z', 'M22 19l-9-7 9-7z'],
};

/** An icon by name; decorative unless `label` is given. */
export function icon(name, label) {
  const parts = PATHS[name] || PATHS.zap;
  const attrs = { class: `icon icon-${name}`, viewBox: '0 0 24 24', width: 18, height: 18, fill: 'none', stroke: 'currentColor',
    'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', focusable: 'false' };
  if (label) { attrs.role = 'img'; attrs['aria-label'] = label; } else { attrs['aria-hidden'] = 'true'; }
  const svg = s('svg', attrs);
  if (label) svg.append(s('title', null, label));
  for (const part of parts) {
    if (typeof part === 'string') svg.append(s('path', { d: part }));
    else svg.append(s('circle', { cx: part.circle[0], cy: part.circle[1], r: part.circle[2] }));
  }
  return svg;
}

/** What started a run or what a trigger is, as the seed draws them. */
export const TRIGGER_ICONS = { manual: 'hand', scheduled: 'clock', dependency: 'branch', event: 'zap' };
export const TRIGGER_LABELS = { manual: 'Manual', scheduled: 'Scheduled', dependency: 'Dependency', event: 'Event' };

export function triggerIcon(type) {
  return icon(TRIGGER_ICONS[type] || 'zap', TRIGGER_LABELS[type] || type);
}
