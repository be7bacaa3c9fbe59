/**
 * uprobes/elf.ts — a small ELF64 (little-endian) reader: sections, program
 * headers, function symbols (.symtab, .dynsym), and virtual address ↔ file
 * offset. Enough for uprobe offsets and symbolization; nothing else.
 */
import { readFileSync } from 'node:fs';

export class ElfError extends Error {
  constructor(readonly code: 'NOT_ELF' | 'UNSUPPORTED' | 'TRUNCATED' | 'READ', message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfSymbol {
  name: string;
  addr: number;
  size: number;
}

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
export const ET_EXEC = 2;
export const ET_DYN = 3;

const u64 = (b: Buffer, o: number) => Number(b.readBigUInt64LE(o));

export class ElfFile {
  readonly type: number;
  readonly sections: ElfSection[] = [];
  readonly segments: ElfSegment[] = [];
  private funcs?: ElfSymbol[];

  constructor(readonly path: string, readonly data: Buffer) {
    if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('NOT_ELF', `${path} is not an ELF file`);
    if (data[4] !== 2 || data[5] !== 1) throw new ElfError('UNSUPPORTED', `${path}: only 64-bit little-endian ELF is supported`);
    this.type = data.readUInt16LE(0x10);
    const phoff = u64(data, 0x20);
    const shoff = u64(data, 0x28);
    const phentsize = data.readUInt16LE(0x36);
    const phnum = data.readUInt16LE(0x38);
    const shentsize = data.readUInt16LE(0x3a);
    const shnum = data.readUInt16LE(0x3c);
    const shstrndx = data.readUInt16LE(0x3e);
    if (phoff + phnum * phentsize > data.length || shoff + shnum * shentsize > data.length) throw new ElfError('TRUNCATED', `${path}: truncated ELF headers`);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      this.segments.push({ type: data.readUInt32LE(o), flags: data.readUInt32LE(o + 4), offset: u64(data, o + 8), vaddr: u64(data, o + 16), filesz: u64(data, o + 32), memsz: u64(data, o + 40) });
    }
    const raw: Array<Omit<ElfSection, 'name'> & { nameOff: number }> = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      raw.push({ nameOff: data.readUInt32LE(o), type: data.readUInt32LE(o + 4), flags: u64(data, o + 8), addr: u64(data, o + 16), offset: u64(data, o + 24), size: u64(data, o + 32), link: data.readUInt32LE(o + 40), entsize: u64(data, o + 56) });
    }
    const strtab = raw[shstrndx];
    for (const s of raw) {
      const { nameOff, ...rest } = s;
      this.sections.push({ name: strtab ? cstr(data, strtab.offset + nameOff) : '', ...rest });
    }
  }

  static read(path: string): ElfFile {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (e) {
      throw new ElfError('READ', `cannot read ${path}: ${(e as Error).message}`);
    }
    return new ElfFile(path, data);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  sectionData(s: ElfSection): Buffer {
    return this.data.subarray(s.offset, s.offset + s.size);
  }

  /** File offset of a virtual address (through PT_LOAD), or undefined. */
  fileOffset(vaddr: number): number | undefined {
    for (const p of this.segments) {
      if (p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz) return vaddr - p.vaddr + p.offset;
    }
    return undefined;
  }

  /** Virtual address of a file offset (through PT_LOAD), or undefined. */
  vaddrOf(offset: number): number | undefined {
    for (const p of this.segments) {
      if (p.type === PT_LOAD && offset >= p.offset && offset < p.offset + p.filesz) return offset - p.offset + p.vaddr;
    }
    return undefined;
  }

  /** Bytes at a virtual address. */
  bytesAt(vaddr: number, size: number): Buffer | undefined {
    const off = this.fileOffset(vaddr);
    return off === undefined ? undefined : this.data.subarray(off, off + size);
  }

  /** Function symbols from .symtab and .dynsym, sorted by address, deduplicated. */
  functionSymbols(): ElfSymbol[] {
    if (this.funcs) return this.funcs;
    const out: ElfSymbol[] = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const strs = this.sections[s.link];
      if (!strs) continue;
      const n = Math.floor(s.size / 24);
      for (let i = 0; i < n; i++) {
        const o = s.offset + i * 24;
        const info = this.data[o + 4];
        if ((info & 0xf) !== STT_FUNC) continue;
        const addr = u64(this.data, o + 8);
        if (!addr) continue;
        out.push({ name: cstr(this.data, strs.offset + this.data.readUInt32LE(o)), addr, size: u64(this.data, o + 16) });
      }
    }
    out.sort((a, b) => a.addr - b.addr);
    this.funcs = out.filter((x, i) => i === 0 || x.addr !== out[i - 1].addr || x.name !== out[i - 1].name);
    return this.funcs;
  }

  hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB);
  }
}

export function cstr(b: Buffer, off: number): string {
  let end = off;
  while (end < b.length && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

/** Index of the last symbol whose address is <= addr (binary search), or -1. */
export function findSymbol<T extends { addr: number }>(syms: readonly T[], addr: number): number {
  let lo = 0;
  let hi = syms.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid].addr <= addr) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}
