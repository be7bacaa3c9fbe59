// Flame graph SVGs read without script (issue 19): every frame's <rect> and
// <text> carry their real position, as flamegraph.pl's do. Ground truth is
// computed here from the stacks themselves: a frame's width is its share of
// all samples times the drawing width, its x the parent's x plus the widths
// of the siblings before it (sorted by name), its y the row of its depth
// (root at the bottom). Then the SVG is rendered by a renderer that runs no
// script (rsvg-convert, Debian's librsvg2-bin) and every frame's pixels must
// be its own fill colour at its own row — with frames left at y=0 for a
// script to place, they would all be at the top instead.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FLAME_BOTTOM_PX, FLAME_ROW_PX, fitLabel, toSvg } from '../../profile/flame.js';
import type { Stack } from '../../profile/sampler.js';
import { ensureDebianPackages } from '../helpers/debian.js';

const WIDTH = 1200;
const st = (frames: string, value: number): Stack => ({ pid: 1, comm: 'x', frames: frames.split(';'), value });
const STACKS = [st('main;work;hash', 500), st('main;work;copy_[k]', 300), st('main;idle', 150), st('runtime.mcall;runtime.park_m;runtime.schedule', 50)];
const BASELINE = [st('main;work;hash', 100), st('main;idle', 100)];

interface Frame { name: string; d: number; x: number; y: number; w: number; h: number; fill: string; label: string; tx: number; ty: number }

function parseFrames(svg: string): { frames: Frame[]; height: number } {
  const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
  const re = /<g class="f" data-d="(\d+)"[^>]*><title>([^<]*?) \([^<]*<\/title><rect x="([\d.]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)" fill="([^"]+)"[^>]*\/><text x="([\d.]+)" y="([\d.-]+)">([^<]*)<\/text><\/g>/g;
  const frames = [...svg.matchAll(re)].map((m) => ({ d: +m[1], name: m[2], x: +m[3], y: +m[4], w: +m[5], h: +m[6], fill: m[7], tx: +m[8], ty: +m[9], label: m[10] }));
  return { frames, height };
}

/** Expected frames from the stacks: path → { value, x, width, depth }. */
function expected(stacks: Stack[]) {
  const total = stacks.reduce((a, s) => a + s.value, 0);
  const draw = WIDTH - 20;
  const value = new Map<string, number>([['all', total]]);
  for (const s of stacks) for (let i = 1; i <= s.frames.length; i++) {
    const k = ['all', ...s.frames.slice(0, i)].join(';');
    value.set(k, (value.get(k) ?? 0) + s.value);
  }
  const out = new Map<string, { d: number; x: number; w: number }>();
  const place = (path: string, x: number, d: number) => {
    out.set(path.split(';').pop()!, { d, x, w: (value.get(path)! / total) * draw });
    let cx = x;
    const kids = [...value.keys()].filter((k) => k.startsWith(`${path};`) && k.split(';').length === path.split(';').length + 1).sort();
    for (const k of kids) {
      place(k, cx, d + 1);
      cx += (value.get(k)! / total) * draw;
    }
  };
  place('all', 10, 0);
  return { frames: out, depth: Math.max(...[...out.values()].map((f) => f.d)) };
}

function checkLayout(svg: string, stacks: Stack[]) {
  const { frames, height } = parseFrames(svg);
  const exp = expected(stacks);
  expect(frames.map((f) => f.name).sort()).toEqual([...exp.frames.keys()].sort());
  expect(height).toBe((exp.depth + 1) * FLAME_ROW_PX + 60);
  for (const f of frames) {
    const e = exp.frames.get(f.name)!;
    expect(f.d, f.name).toBe(e.d);
    expect(f.y, f.name).toBe(height - FLAME_BOTTOM_PX - (e.d + 1) * FLAME_ROW_PX);
    expect(f.x, f.name).toBeCloseTo(e.x, 2);
    expect(f.w, f.name).toBeCloseTo(e.w, 2);
    expect(f.ty, f.name).toBe(f.y + FLAME_ROW_PX - 4);
    expect(f.tx, f.name).toBeCloseTo(f.x + 3, 2);
    expect(f.label, f.name).toBe(fitLabel(f.name, f.w).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
  }
  // one row per depth, distinct rows, and no two frames of a row overlap
  const rows = new Map<number, Set<number>>();
  for (const f of frames) rows.set(f.d, (rows.get(f.d) ?? new Set()).add(f.y));
  for (const ys of rows.values()) expect(ys.size).toBe(1);
  expect(new Set(frames.map((f) => f.y)).size).toBe(rows.size);
  for (const d of rows.keys()) {
    const row = frames.filter((f) => f.d === d).sort((a, b) => a.x - b.x);
    for (let i = 1; i < row.length; i++) expect(row[i - 1].x + row[i - 1].w).toBeLessThanOrEqual(row[i].x + 1e-3);
  }
  return { frames, height };
}

/** A minimal PNG reader (8-bit RGB/RGBA, non-interlaced — what rsvg-convert writes). */
function readPng(buf: Buffer): { width: number; height: number; px: (x: number, y: number) => number[] } {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let off = 8;
  let width = 0, height = 0, ctype = 0, depth = 0, interlace = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') [width, height, depth, ctype, interlace] = [data.readUInt32BE(0), data.readUInt32BE(4), data[8], data[9], data[12]];
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  expect({ depth, interlace, rgb: ctype === 2 || ctype === 6 }).toEqual({ depth: 8, interlace: 0, rgb: true });
  const bpp = ctype === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const img = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const r = raw[y * (stride + 1) + 1 + i];
      const a = i >= bpp ? img[y * stride + i - bpp] : 0;
      const b = y > 0 ? img[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= bpp ? img[(y - 1) * stride + i - bpp] : 0;
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      img[y * stride + i] = (r + pred) & 0xff;
    }
  }
  return { width, height, px: (x, y) => [...img.subarray(y * stride + x * bpp, y * stride + x * bpp + 3)] };
}

describe('flame graph SVG: static layout', () => {
  it('every frame sits at its depth row, x and width from its sample share, label cut to fit', () => {
    checkLayout(toSvg(STACKS, { title: 't' }), STACKS);
  });

  it('--diff (baseline) SVGs are laid out the same way', () => {
    checkLayout(toSvg(STACKS, { title: 'diff', baseline: BASELINE }), STACKS);
  });

  it('labels: whole when they fit, elided with .. when not, none under 3 characters', () => {
    expect(fitLabel('main.burnCPU', 200)).toBe('main.burnCPU');
    expect(fitLabel('main.burnCPU', 6 + 7 * 6)).toBe('main..');
    expect(fitLabel('main.burnCPU', 6 + 7 * 2)).toBe('');
  });

  const why = ensureDebianPackages(['librsvg2-bin'], ['/usr/bin/rsvg-convert']);
  it.skipIf(!!why)(`renders without script (rsvg-convert): each frame's own colour at its own row${why ? ` — skipped: ${why}` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2flame-static-'));
    for (const [name, svg] of [['plain', toSvg(STACKS, { title: 't' })], ['diff', toSvg(STACKS, { title: 'd', baseline: BASELINE })]] as const) {
      const { frames, height } = checkLayout(svg, STACKS);
      writeFileSync(join(dir, `${name}.svg`), svg);
      const r = spawnSync('/usr/bin/rsvg-convert', ['-o', join(dir, `${name}.png`), join(dir, `${name}.svg`)], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const png = readPng(readFileSync(join(dir, `${name}.png`)));
      expect([png.width, png.height]).toEqual([WIDTH, height]);
      const rgb = (s: string) => /rgb\((\d+),(\d+),(\d+)\)/.exec(s)!.slice(1).map(Number);
      const background = rgb('rgb(250,250,245)');
      let checked = 0;
      for (const f of frames.filter((x) => x.w >= 6)) {
        const px = png.px(Math.round(f.x + f.w / 2), f.y + 1); // inside the rect, above the label
        const want = rgb(f.fill);
        expect(px.map((v, i) => Math.abs(v - want[i])).every((d) => d <= 3), `${name}: ${f.name} at y=${f.y}: pixel ${px}, fill ${want}`).toBe(true);
        expect(px).not.toEqual(background);
        checked++;
      }
      expect(checked).toBe(frames.length);
      // the title line above the top row has no frame colour in it: nothing was drawn at y=0
      const top = frames.reduce((a, f) => Math.min(a, f.y), Infinity);
      expect(top).toBeGreaterThan(0);
      for (let x = 0; x < WIDTH; x += 97) expect(png.px(x, 1)).toEqual(background);
    }
  });
});

// The README's example flame graph (docs/flame-example.svg) is this function's
// output for a checked-in fixture profile (test/fixtures/flame/busy.folded, the
// shape of the busy Go fixture's on-CPU profile): it must stay what toSvg makes
// today, and laid out statically. V2PROBE_UPDATE_DOCS=1 rewrites it.
describe('the README example flame graph', () => {
  it('docs/flame-example.svg is toSvg of test/fixtures/flame/busy.folded', async () => {
    const { parseFolded } = await import('../../profile/flame.js');
    const root = join(import.meta.dirname, '../..');
    const stacks = parseFolded(readFileSync(join(root, 'test/fixtures/flame/busy.folded'), 'utf8'));
    const svg = toSvg(stacks, { title: 'v2probe flame --pid PID (the busy Go fixture, on-CPU)', unit: 'samples' });
    const path = join(root, 'docs/flame-example.svg');
    if (process.env.V2PROBE_UPDATE_DOCS === '1') writeFileSync(path, svg);
    expect(readFileSync(path, 'utf8')).toBe(svg);
    const { frames } = parseFrames(svg);
    expect(frames.length).toBeGreaterThan(20);
    expect(frames.find((f) => f.name === 'main.burnCPU')!.d).toBe(4);
  });
});
