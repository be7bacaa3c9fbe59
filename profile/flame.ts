/**
 * profile/flame.ts — stacks to outputs: folded stacks (Brendan Gregg's
 * `a;b;c count` lines), a self-contained SVG flame graph laid out statically
 * (every frame at its real position, so it reads without script) plus script
 * for search and click to zoom, tooltips with counts and percent; a
 * differential mode that colours frames by growth, and a gzipped pprof profile (pprof-format) that
 * `go tool pprof` reads.
 */
import { gzipSync } from 'node:zlib';
import { Function as PFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import type { Stack, StackKind } from './sampler.js';

/** Folded lines, sorted; frames are `;`-joined (a `;` inside a name becomes `:`). */
export function toFolded(stacks: Stack[]): string {
  const agg = new Map<string, number>();
  for (const s of stacks) {
    const key = s.frames.map((f) => f.replaceAll(';', ':')).join(';');
    agg.set(key, (agg.get(key) ?? 0) + s.value);
  }
  return [...agg.entries()].filter(([, v]) => v > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k} ${v}`).join('\n') + '\n';
}

export function parseFolded(text: string): Stack[] {
  const out: Stack[] = [];
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(' ');
    if (i <= 0) continue;
    out.push({ pid: 0, comm: '', frames: line.slice(0, i).split(';'), value: Number(line.slice(i + 1)) });
  }
  return out;
}

interface Node {
  name: string;
  value: number;
  /** differential: value in the baseline */
  base: number;
  children: Map<string, Node>;
}

function tree(stacks: Stack[], baseline?: Stack[]): Node {
  const root: Node = { name: 'all', value: 0, base: 0, children: new Map() };
  const add = (s: Stack, field: 'value' | 'base') => {
    let n = root;
    n[field] += s.value;
    for (const f of s.frames) {
      let c = n.children.get(f);
      if (!c) {
        c = { name: f, value: 0, base: 0, children: new Map() };
        n.children.set(f, c);
      }
      c[field] += s.value;
      n = c;
    }
  };
  for (const s of stacks) add(s, 'value');
  for (const s of baseline ?? []) add(s, 'base');
  return root;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function color(name: string): string {
  if (name.endsWith('_[k]')) return 'rgb(230,140,60)';
  if (name.startsWith('[unknown]') || name.startsWith('[lost')) return 'rgb(180,180,180)';
  if (name.startsWith('runtime.')) return 'rgb(110,170,220)';
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `rgb(${205 + (h % 50)},${80 + ((h >> 8) % 120)},${40 + ((h >> 16) % 40)})`;
}

function diffColor(n: Node, totalV: number, totalB: number): string {
  const a = totalV ? n.value / totalV : 0;
  const b = totalB ? n.base / totalB : 0;
  const d = a - b;
  const k = Math.min(1, Math.abs(d) * 10);
  const c = Math.round(255 - 155 * k);
  return d > 0 ? `rgb(255,${c},${c})` : d < 0 ? `rgb(${c},${c},255)` : 'rgb(230,230,230)';
}

export interface SvgOptions {
  title?: string;
  /** unit of the values, for tooltips */
  unit?: string;
  width?: number;
  /** differential: stacks of the baseline window */
  baseline?: Stack[];
}

/** Height of one frame row, and the SVG's space below the bottom row (the `total` line). */
export const FLAME_ROW_PX = 16;
export const FLAME_BOTTOM_PX = 40;
/** Frames narrower than this are left out (as flamegraph.pl's --minwidth). */
const MIN_FRAME_PX = 0.1;

/** A frame's label cut to what fits its width (about 7 px per character at font-size 12), as flamegraph.pl does; '' when under 3 characters fit. */
export function fitLabel(name: string, widthPx: number): string {
  const n = Math.floor((widthPx - 6) / 7);
  if (n < 3) return '';
  return name.length > n ? `${name.slice(0, n - 2)}..` : name;
}

function maxDepth(n: Node, total: number, width: number, d = 0): number {
  let m = d;
  for (const c of n.children.values()) if ((c.value / total) * width >= MIN_FRAME_PX) m = Math.max(m, maxDepth(c, total, width, d + 1));
  return m;
}

/**
 * A self-contained SVG flame graph (valid XML; script in CDATA). Every frame's
 * `<rect>` and `<text>` carry their real position (x and width from the
 * frame's share of the samples, y from its depth: the root at the bottom) and
 * the label already cut to fit, so it reads in renderers that run no script
 * (image previews, rsvg-convert, code hosts); the script only adds zoom and
 * search.
 */
export function toSvg(stacks: Stack[], o: SvgOptions = {}): string {
  const width = o.width ?? 1200;
  const rowH = FLAME_ROW_PX;
  const root = tree(stacks, o.baseline);
  const total = root.value || 1;
  const totalB = root.base;
  const depth = maxDepth(root, total, width);
  const height = (depth + 1) * rowH + 60;
  const rowY = (d: number) => height - FLAME_BOTTOM_PX - (d + 1) * rowH;
  const rects: string[] = [];
  const minW = MIN_FRAME_PX;
  const walk = (n: Node, x: number, d: number) => {
    rects.push(frameSvg(n, x, d));
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if ((c.value / total) * width >= minW) walk(c, cx, d + 1);
      cx += (c.value / total) * (width - 20);
    }
  };
  const unit = o.unit ?? 'samples';
  const frameSvg = (n: Node, x: number, d: number) => {
    const w = (n.value / total) * (width - 20);
    const pct = ((n.value / total) * 100).toFixed(2);
    const diff = o.baseline ? `, baseline ${n.base} (${totalB ? ((n.base / totalB) * 100).toFixed(2) : '0'}%)` : '';
    const fill = o.baseline ? diffColor(n, total, totalB) : color(n.name);
    const y = rowY(d);
    return `<g class="f" data-d="${d}" data-x="${(x - 10).toFixed(3)}" data-w="${w.toFixed(3)}"><title>${esc(n.name)} (${n.value} ${esc(unit)}, ${pct}%${diff})</title><rect x="${x.toFixed(3)}" y="${y}" width="${w.toFixed(3)}" height="${rowH - 1}" fill="${fill}" rx="2"/><text x="${(x + 3).toFixed(3)}" y="${y + rowH - 4}">${esc(fitLabel(n.name, w))}</text></g>`;
  };
  walk(root, 10, 0);
  const script = `
var W=${width - 20},H=${height},R=${rowH},fs=document.querySelectorAll('g.f');
function lay(zx,zw,zd){for(var i=0;i<fs.length;i++){var g=fs[i],x=+g.dataset.x,w=+g.dataset.w,d=+g.dataset.d;
var nx=(x-zx)/zw*W,nw=w/zw*W,vis=(x+w>zx+1e-6&&x<zx+zw-1e-6)||d<zd;if(d<zd){nx=0;nw=W}
var r=g.querySelector('rect'),t=g.querySelector('text');g.style.display=vis&&nw>=0.1?'':'none';
var y=H-40-(d+1)*R;r.setAttribute('x',10+nx);r.setAttribute('width',Math.max(0,nw));r.setAttribute('y',y);
t.setAttribute('x',13+nx);t.setAttribute('y',y+R-4);var full=g.querySelector('title').textContent.replace(/ \\(.*$/,'');
var n=Math.floor((nw-6)/7);t.textContent=n<3?'':(full.length>n?full.slice(0,n-2)+'..':full);}}
for(var i=0;i<fs.length;i++)fs[i].addEventListener('click',function(e){var g=e.currentTarget;lay(+g.dataset.x,+g.dataset.w,+g.dataset.d);});
document.getElementById('reset').addEventListener('click',function(){lay(0,W,0)});
document.getElementById('search').addEventListener('click',function(){var q=prompt('search (regular expression)');if(!q)return;
var re=new RegExp(q),m=0,tot=+document.getElementById('total').textContent;
for(var i=0;i<fs.length;i++){var g=fs[i],nm=g.querySelector('title').textContent.replace(/ \\(.*$/,''),r=g.querySelector('rect');
if(re.test(nm)){r.setAttribute('data-fill',r.getAttribute('data-fill')||r.getAttribute('fill'));r.setAttribute('fill','rgb(230,0,230)');}
else if(r.getAttribute('data-fill'))r.setAttribute('fill',r.getAttribute('data-fill'));}
document.getElementById('matched').textContent='search: '+q;});
lay(0,W,0);`;
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">
<rect x="0" y="0" width="${width}" height="${height}" fill="rgb(250,250,245)"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="16">${esc(o.title ?? 'Flame graph')}</text>
<text id="reset" x="10" y="20" style="cursor:pointer">[reset zoom]</text>
<text id="search" x="${width - 110}" y="20" style="cursor:pointer">[search]</text>
<text id="matched" x="${width - 300}" y="${height - 10}"></text>
<text x="10" y="${height - 10}">total <tspan id="total">${root.value}</tspan> ${esc(unit)}${o.baseline ? ` (baseline ${totalB}; red: grew, blue: shrank)` : ''}</text>
<style>g.f{cursor:pointer} g.f:hover rect{stroke:black;stroke-width:0.5}</style>
${rects.join('\n')}
<script type="text/ecmascript"><![CDATA[${script}]]></script>
</svg>
`;
}

/** A gzipped pprof profile (sample types: samples/count + cpu/nanoseconds, or off-CPU nanoseconds). */
export function toPprof(stacks: Stack[], o: { kind: StackKind; frequency: number; startNs: bigint; durationMs: number }): Buffer {
  const st = new StringTable();
  const fnIds = new Map<string, number>();
  const functions: PFunction[] = [];
  const locations: Location[] = [];
  const fnId = (name: string) => {
    let id = fnIds.get(name);
    if (id === undefined) {
      id = functions.length + 1;
      fnIds.set(name, id);
      functions.push(new PFunction({ id, name: st.dedup(name), systemName: st.dedup(name), filename: st.dedup('') }));
      locations.push(new Location({ id, line: [new Line({ functionId: id })] }));
    }
    return id;
  };
  const period = Math.round(1e9 / o.frequency);
  const samples = stacks.filter((s) => s.value > 0).map((s) => {
    // pprof: leaf first. Drop the synthetic comm root frame into a label-free root.
    const ids = s.frames.slice().reverse().map(fnId);
    const value = o.kind === 'oncpu' ? [s.value, s.value * period] : [1, s.value];
    return new Sample({ locationId: ids, value });
  });
  const sampleType = o.kind === 'oncpu'
    ? [new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }), new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })]
    : [new ValueType({ type: st.dedup('stacks'), unit: st.dedup('count') }), new ValueType({ type: st.dedup('offcpu'), unit: st.dedup('nanoseconds') })];
  const profile = new Profile({
    sampleType,
    sample: samples,
    location: locations,
    function: functions,
    stringTable: st,
    timeNanos: o.startNs,
    durationNanos: BigInt(o.durationMs) * 1_000_000n,
    periodType: o.kind === 'oncpu' ? new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }) : undefined,
    period: o.kind === 'oncpu' ? period : 0,
  });
  return gzipSync(Buffer.from(profile.encode()));
}
