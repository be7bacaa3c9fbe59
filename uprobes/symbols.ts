/**
 * uprobes/symbols.ts — addresses to function names. User frames: the
 * process's executable mappings (/proc/PID/maps) and each file's ELF function
 * symbols (.symtab/.dynsym; .gopclntab for stripped Go binaries). Kernel
 * frames: /proc/kallsyms. Unknown frames are named honestly:
 * `[unknown] <file>+0x<offset>` or `[unknown] 0x<addr>`.
 *
 * The mappings are read when the symbolizer is made and again on demand
 * (refresh()), so a process that exits mid-profile keeps the last mappings
 * seen.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ElfFile, findSymbol, type ElfSymbol } from './elf.js';
import { pclntabSymbols } from './go-binary.js';

export interface Mapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

export function readMaps(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    // 00400000-0047d000 r-xp 00000000 08:01 123  /path
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m || m[3][2] !== 'x') continue;
    out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[4], 16), path: m[5] });
  }
  return out;
}

interface FileSyms {
  elf?: ElfFile;
  funcs: ElfSymbol[];
}

const fileCache = new Map<string, FileSyms>();

function fileSymbols(path: string, pid: number): FileSyms {
  let f = fileCache.get(path);
  if (f) return f;
  f = { funcs: [] };
  for (const candidate of [`/proc/${pid}/root${path}`, path]) {
    try {
      const elf = ElfFile.read(candidate);
      let funcs = elf.functionSymbols();
      if (!funcs.some((s) => s.name.startsWith('runtime.')) && elf.section('.gopclntab')) funcs = pclntabSymbols(elf) ?? funcs;
      f = { elf, funcs };
      break;
    } catch {
      // try the next candidate; unreadable files give [unknown] frames
    }
  }
  fileCache.set(path, f);
  return f;
}

export class ProcessSymbolizer {
  maps: Mapping[] = [];

  constructor(readonly pid: number) {
    this.refresh();
  }

  /** Re-read /proc/PID/maps; keeps the previous mappings when the process is gone. */
  refresh(): boolean {
    try {
      // a zombie (exited, not yet reaped) has an empty maps file
      const maps = readMaps(this.pid);
      if (maps.length === 0) return false;
      this.maps = maps;
      return true;
    } catch {
      return false;
    }
  }

  symbolize(addr: number): string {
    const m = this.maps.find((x) => addr >= x.start && addr < x.end);
    if (!m) return `[unknown] 0x${addr.toString(16)}`;
    if (!m.path || m.path.startsWith('[')) return `[unknown] ${m.path || 'anon'}+0x${(addr - m.start).toString(16)}`;
    const fileOff = addr - m.start + m.offset;
    const fs = fileSymbols(m.path, this.pid);
    const vaddr = fs.elf?.vaddrOf(fileOff);
    if (vaddr !== undefined) {
      const i = findSymbol(fs.funcs, vaddr);
      if (i >= 0) {
        const s = fs.funcs[i];
        const end = s.size ? s.addr + s.size : fs.funcs[i + 1]?.addr ?? Infinity;
        if (vaddr < end) return s.name;
      }
    }
    return `[unknown] ${basename(m.path)}+0x${fileOff.toString(16)}`;
  }
}

/*
 * Kernel addresses (0xffff...) do not fit a JS number exactly: they are kept
 * as offsets from KBASE, which do.
 */
const KBASE = 0xffff000000000000n;
let kallsyms: ElfSymbol[] | undefined;

export function kernelSymbols(): ElfSymbol[] {
  if (kallsyms) return kallsyms;
  const out: ElfSymbol[] = [];
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const t = line[sp1 + 1];
    if (t !== 't' && t !== 'T' && t !== 'w' && t !== 'W') continue;
    const rest = line.slice(sp1 + 3);
    const tab = rest.indexOf('\t');
    const name = tab >= 0 ? rest.slice(0, tab) : rest;
    const addr = BigInt('0x' + line.slice(0, sp1));
    if (addr >= KBASE) out.push({ name, addr: Number(addr - KBASE), size: 0 });
  }
  out.sort((a, b) => a.addr - b.addr);
  kallsyms = out;
  return out;
}

export function symbolizeKernel(addr: bigint): string {
  if (addr < KBASE) return `[unknown] [kernel] 0x${addr.toString(16)}`;
  const syms = kernelSymbols();
  const i = findSymbol(syms, Number(addr - KBASE));
  return i >= 0 ? syms[i].name : `[unknown] [kernel] 0x${addr.toString(16)}`;
}
