/**
 * uprobes/go-binary.ts — what v2probe needs to know about a Go executable:
 * its Go version (build info, the `\xff Go buildinf:` blob that
 * debug/buildinfo reads), its functions (ELF .symtab, or .gopclntab when the
 * binary is stripped), uprobe file offsets of runtime symbols, and the
 * return sites of calls to a function (entry-style uprobes where a function
 * returns, because uretprobes crash Go programs).
 */
import { readlinkSync, realpathSync } from 'node:fs';
import { ElfError, ElfFile, findSymbol, type ElfSymbol, ET_DYN } from './elf.js';

export class GoBinaryError extends Error {
  constructor(
    readonly code: 'NOT_GO' | 'NO_SYMBOLS' | 'NO_SYMBOL' | 'OLD_GO' | 'NO_PROCESS' | 'NOT_ELF',
    message: string,
  ) {
    super(message);
    this.name = 'GoBinaryError';
  }
}

export interface GoBuildInfo {
  /** "go1.26.8" */
  goVersion: string;
  /** [major, minor] of the Go version, e.g. [1, 26] */
  version: [number, number];
  /** main module path (from modinfo), if present */
  path?: string;
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

function uvarint(b: Buffer, off: number): [number, number] {
  let x = 0;
  let s = 0;
  for (let i = 0; i < 10; i++) {
    const c = b[off + i];
    if (c === undefined) return [-1, 0];
    if (c < 0x80) return [x + c * 2 ** s, i + 1];
    x += (c & 0x7f) * 2 ** s;
    s += 7;
  }
  return [-1, 0];
}

/** Go build info of an ELF file, or undefined when it has none (not a Go binary). */
export function readBuildInfo(elf: ElfFile): GoBuildInfo | undefined {
  const sec = elf.section('.go.buildinfo');
  let blob: Buffer | undefined;
  if (sec) blob = elf.sectionData(sec);
  else {
    // stripped of section headers: search the data, 16-byte aligned
    let i = elf.data.indexOf(MAGIC);
    while (i >= 0 && i % 16 !== 0) i = elf.data.indexOf(MAGIC, i + 1);
    if (i >= 0) blob = elf.data.subarray(i, i + 64 * 1024);
  }
  if (!blob || blob.length < 32 || !blob.subarray(0, 14).equals(MAGIC)) return undefined;
  const ptrSize = blob[14];
  const flags = blob[15];
  let vers: string | undefined;
  let mod: string | undefined;
  if (flags & 2) {
    // Go >= 1.18: inline varint-prefixed strings after the 32-byte header
    const [n, w] = uvarint(blob, 32);
    if (n < 0) return undefined;
    vers = blob.toString('utf8', 32 + w, 32 + w + n);
    const [m, w2] = uvarint(blob, 32 + w + n);
    if (m > 0) mod = blob.toString('utf8', 32 + w + n + w2, 32 + w + n + w2 + m);
  } else {
    // Go < 1.18: pointers to Go string headers
    const readPtr = (b: Buffer, o: number) => (ptrSize === 8 ? Number(b.readBigUInt64LE(o)) : b.readUInt32LE(o));
    const str = (addr: number) => {
      const hdr = elf.bytesAt(addr, ptrSize * 2);
      if (!hdr) return undefined;
      const p = readPtr(hdr, 0);
      const n = readPtr(hdr, ptrSize);
      return elf.bytesAt(p, n)?.toString('utf8');
    };
    vers = str(readPtr(blob, 16));
    mod = str(readPtr(blob, 16 + ptrSize));
  }
  if (!vers) return undefined;
  const m = /^go(\d+)\.(\d+)/.exec(vers);
  // modinfo: 16 bytes of sentinel, then lines "path\t<module>", "mod\t..."
  const path = mod ? /(?:^|\n)path\t([^\n]+)/.exec(mod)?.[1] : undefined;
  return { goVersion: vers, version: m ? [Number(m[1]), Number(m[2])] : [0, 0], path };
}

/**
 * Functions from .gopclntab (Go >= 1.16 layouts), for stripped binaries.
 * Sizes are the distance to the next function.
 */
export function pclntabSymbols(elf: ElfFile): ElfSymbol[] | undefined {
  const sec = elf.section('.gopclntab');
  let tab: Buffer | undefined = sec ? elf.sectionData(sec) : undefined;
  if (!tab) {
    for (const magic of [0xfffffff1, 0xfffffff0, 0xfffffffa]) {
      const pat = Buffer.alloc(8);
      pat.writeUInt32LE(magic, 0);
      pat[6] = 1; // minLC on amd64
      pat[7] = 8;
      const i = elf.data.indexOf(pat);
      if (i >= 0) {
        tab = elf.data.subarray(i);
        break;
      }
    }
  }
  if (!tab || tab.length < 64) return undefined;
  const magic = tab.readUInt32LE(0);
  const ptr = tab[7];
  if (ptr !== 8) return undefined;
  const word = (i: number) => Number(tab!.readBigUInt64LE(8 + i * 8));
  const nfunc = word(0);
  const text = elf.section('.text')?.addr ?? 0;
  const out: ElfSymbol[] = [];
  if (magic === 0xfffffff1 || magic === 0xfffffff0) {
    // nfunc, nfiles, textStart(unused since 1.26), funcname, cu, filetab, pctab, pcln offsets
    const textStart = word(2) || text;
    const funcnameOff = word(3);
    const pclnOff = word(7);
    const ft = pclnOff;
    for (let i = 0; i < nfunc; i++) {
      const entry = tab.readUInt32LE(ft + i * 8);
      const funcOff = tab.readUInt32LE(ft + i * 8 + 4);
      const nameOff = tab.readInt32LE(pclnOff + funcOff + 4);
      const next = tab.readUInt32LE(ft + (i + 1) * 8);
      out.push({ name: cstrAt(tab, funcnameOff + nameOff), addr: textStart + entry, size: next - entry });
    }
  } else if (magic === 0xfffffffa) {
    // Go 1.16/1.17: nfunc, nfiles, funcname, cu, filetab, pctab, pcln offsets; functab of uintptr pairs
    const funcnameOff = word(2);
    const pclnOff = word(6);
    for (let i = 0; i < nfunc; i++) {
      const o = pclnOff + i * 16;
      const entry = Number(tab.readBigUInt64LE(o));
      const funcOff = Number(tab.readBigUInt64LE(o + 8));
      const nameOff = tab.readInt32LE(pclnOff + funcOff + 8);
      const next = Number(tab.readBigUInt64LE(o + 16));
      out.push({ name: cstrAt(tab, funcnameOff + nameOff), addr: entry, size: next - entry });
    }
  } else {
    return undefined;
  }
  out.sort((a, b) => a.addr - b.addr);
  return out;
}

function cstrAt(b: Buffer, off: number): string {
  let end = off;
  while (end < b.length && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

export interface GoBinary {
  path: string;
  elf: ElfFile;
  build: GoBuildInfo;
  /** where the function table came from */
  symbolSource: 'symtab' | 'pclntab';
  funcs: ElfSymbol[];
  /** position-independent (ET_DYN): offsets are still file offsets, addresses need the load bias */
  pie: boolean;
}

/** Open and inspect a Go executable. Throws GoBinaryError with a clear message. */
export function openGoBinary(path: string): GoBinary {
  let elf: ElfFile;
  try {
    elf = ElfFile.read(path);
  } catch (e) {
    if (e instanceof ElfError) throw new GoBinaryError(e.code === 'READ' ? 'NO_PROCESS' : 'NOT_ELF', e.message);
    throw e;
  }
  const build = readBuildInfo(elf);
  if (!build) throw new GoBinaryError('NOT_GO', `${path} is not a Go program (no Go build info): the go_* probes need a Go binary`);
  let funcs = elf.hasSymtab() ? elf.functionSymbols() : [];
  let symbolSource: GoBinary['symbolSource'] = 'symtab';
  if (!funcs.some((f) => f.name.startsWith('runtime.'))) {
    const p = pclntabSymbols(elf);
    if (!p || p.length === 0) {
      throw new GoBinaryError('NO_SYMBOLS', `${path} (${build.goVersion}) is stripped and has no readable .gopclntab: cannot find runtime functions`);
    }
    funcs = p;
    symbolSource = 'pclntab';
  }
  return { path, elf, build, symbolSource, funcs, pie: elf.type === ET_DYN };
}

/** The executable of a process (/proc/PID/exe, read through the process's root). */
export function processBinary(pid: number): string {
  try {
    readlinkSync(`/proc/${pid}/exe`);
  } catch (e) {
    throw new GoBinaryError('NO_PROCESS', `no process ${pid} (or no access to /proc/${pid}/exe): ${(e as NodeJS.ErrnoException).code}`);
  }
  return `/proc/${pid}/exe`;
}

/** Up to `n` function names close to `want` (same last segment, or a small edit distance), for error messages. */
export function nearMatches(names: readonly string[], want: string, n = 5): string[] {
  const tail = (want.split('.').pop() ?? want).toLowerCase();
  const dist = (a: string, b: string): number => {
    if (Math.abs(a.length - b.length) > 8) return 99;
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length];
  };
  return names
    .map((name) => ({ name, d: name.toLowerCase().includes(tail) ? 0 : dist(name.toLowerCase(), want.toLowerCase()) }))
    .filter((x) => x.d <= 3)
    .sort((a, b) => a.d - b.d || a.name.length - b.name.length)
    .slice(0, n)
    .map((x) => x.name);
}

export function findFunc(bin: GoBinary, name: string): ElfSymbol | undefined {
  return bin.funcs.find((f) => f.name === name);
}

/**
 * The address just after a Go function's stack-bound check (amd64), or addr
 * itself when the function has none (NOSPLIT) or an unknown prologue.
 *
 * Why: when the check fails (stack growth, or a preemption request, which
 * the runtime makes by poisoning the stack bound) the function calls
 * morestack and then starts again from its entry. An entry uprobe then fires
 * twice for one call: measured here, ~1 extra hit per 1000 calls of a hot
 * function. Past the check, the probe fires once per call.
 *
 *   49 3b 66 10           CMP RSP, [R14+0x10]
 *   4c 8d 64 24 d8        LEA R12, [RSP-disp8]   (or 4c 8d a4 24 + disp32)
 *   4d 3b 66 10           CMP R12, [R14+0x10]
 *   then 76 rel8 | 0f 86 rel32   JBE morestack block
 */
export function afterStackCheck(elf: ElfFile, addr: number): number {
  const b = elf.bytesAt(addr, 24);
  if (!b || b.length < 24) return addr;
  let i = 0;
  if (b[0] === 0x49 && b[1] === 0x3b && b[2] === 0x66 && b[3] === 0x10) {
    i = 4;
  } else if (b[0] === 0x4c && b[1] === 0x8d && (b[2] === 0x64 || b[2] === 0xa4) && b[3] === 0x24) {
    i = b[2] === 0x64 ? 5 : 8;
    if (!(b[i] === 0x4d && b[i + 1] === 0x3b && b[i + 2] === 0x66 && b[i + 3] === 0x10)) return addr;
    i += 4;
  } else {
    return addr;
  }
  if (b[i] === 0x76) return addr + i + 2;
  if (b[i] === 0x0f && b[i + 1] === 0x86) return addr + i + 6;
  return addr;
}

/** File offset of a function's entry (past its stack check, see afterStackCheck), for a uprobe. */
export function symbolOffset(bin: GoBinary, name: string): number {
  const f = findFunc(bin, name);
  if (!f) {
    const near = nearMatches(bin.funcs.map((x) => x.name), name);
    throw new GoBinaryError('NO_SYMBOL', `${bin.path} (${bin.build.goVersion}) has no function ${name}${near.length ? `; near matches: ${near.join(', ')}` : ''}`);
  }
  const off = bin.elf.fileOffset(afterStackCheck(bin.elf, f.addr));
  if (off === undefined) throw new GoBinaryError('NO_SYMBOL', `${bin.path}: ${name} at 0x${f.addr.toString(16)} is outside every loadable segment`);
  return off;
}

/**
 * The instructions right after each `CALL rel32` (E8) to `callee` inside the
 * functions whose names match `callers`: where the callee returns. A false
 * match needs a 4-byte displacement that lands exactly on the callee from a
 * non-instruction boundary, within the few caller functions scanned.
 * amd64 only. Returns file offsets.
 */
export function callReturnSites(bin: GoBinary, callee: string, callers: RegExp): Array<{ caller: string; offset: number; addr: number }> {
  const target = findFunc(bin, callee);
  if (!target) throw new GoBinaryError('NO_SYMBOL', `${bin.path} (${bin.build.goVersion}) has no function ${callee}`);
  const out: Array<{ caller: string; offset: number; addr: number }> = [];
  for (let i = 0; i < bin.funcs.length; i++) {
    const f = bin.funcs[i];
    if (!callers.test(f.name)) continue;
    const size = f.size || (bin.funcs[i + 1] ? bin.funcs[i + 1].addr - f.addr : 0);
    const code = bin.elf.bytesAt(f.addr, size);
    if (!code) continue;
    for (let j = 0; j + 5 <= code.length; j++) {
      if (code[j] !== 0xe8) continue;
      const next = f.addr + j + 5;
      if (next + code.readInt32LE(j + 1) === target.addr) {
        const off = bin.elf.fileOffset(next);
        if (off !== undefined) out.push({ caller: f.name, offset: off, addr: next });
      }
    }
  }
  return out;
}

/** The function containing addr (symbolization of Go frames). */
export function funcAt(bin: GoBinary, addr: number): ElfSymbol | undefined {
  const i = findSymbol(bin.funcs, addr);
  if (i < 0) return undefined;
  const f = bin.funcs[i];
  const end = f.size ? f.addr + f.size : bin.funcs[i + 1]?.addr ?? Infinity;
  return addr < end ? f : undefined;
}

/**
 * The functions of an executable (Go or C): ELF symbols, .gopclntab when
 * stripped. offsetOf(sym) is the file offset of its entry for a uprobe (Go:
 * past the stack check, or a call that grows the stack counts twice); a
 * missing name throws with its near matches. `what` prefixes the errors.
 */
export function functionOffsets(binary: string, what: string): { path: string; go: boolean; offsetOf(sym: string): number } {
  let path: string;
  try {
    path = realpathSync(binary);
  } catch {
    throw new GoBinaryError('NO_PROCESS', `${what}: ${binary}: no such file`);
  }
  const elf = ElfFile.read(path);
  let funcs = elf.functionSymbols();
  if (funcs.length === 0) funcs = pclntabSymbols(elf) ?? [];
  const go = !!readBuildInfo(elf);
  return {
    path,
    go,
    offsetOf(sym: string): number {
      const f = funcs.find((x) => x.name === sym);
      if (!f) {
        const near = nearMatches(funcs.map((x) => x.name), sym);
        throw new GoBinaryError('NO_SYMBOL', `${what}: ${binary} has no function ${sym}${near.length ? `; near matches: ${near.join(', ')}` : ''}`);
      }
      const off = elf.fileOffset(go ? afterStackCheck(elf, f.addr) : f.addr);
      if (off === undefined) throw new GoBinaryError('NO_SYMBOL', `${what}: ${sym} is outside the loadable segments of ${binary}`);
      return off;
    },
  };
}
