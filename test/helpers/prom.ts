// A strict reader of the Prometheus text exposition format (0.0.4), for tests:
// every line must be a HELP, TYPE, comment or sample; names and labels must be
// valid; each family has HELP and TYPE before its samples; histogram series
// have non-decreasing buckets ending in +Inf equal to _count. Throws with the
// line number on the first violation.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`line ${line}: bad labels {${text}}`);
    if (m[1] in out) throw new Error(`line ${line}: duplicate label ${m[1]}`);
    out[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return out;
}

function parseValue(v: string, line: number): number {
  // Prometheus parses values with Go's strconv.ParseFloat: NaN/Inf in any case
  if (/^\+?inf$/i.test(v)) return Infinity;
  if (/^-inf$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`line ${line}: bad value ${v}`);
  return n;
}

export function parseExposition(text: string): Family[] {
  const fams = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['', '_bucket', '_sum', '_count', '_total', '_created']) {
      if (suffix && !sample.endsWith(suffix)) continue;
      const f = fams.get(suffix ? sample.slice(0, -suffix.length) : sample);
      if (f) return f;
    }
    return undefined;
  };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (meta) {
      if (!NAME.test(meta[2])) throw new Error(`line ${line}: bad metric name ${meta[2]}`);
      const f = fams.get(meta[2]) ?? { name: meta[2], help: '', type: '', samples: [] };
      if (meta[1] === 'HELP') f.help = meta[3];
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3])) throw new Error(`line ${line}: bad type ${meta[3]}`);
        if (f.samples.length) throw new Error(`line ${line}: TYPE after samples of ${meta[2]}`);
        f.type = meta[3];
      }
      fams.set(meta[2], f);
      return;
    }
    if (raw.startsWith('#')) return;
    const m = SAMPLE.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const f = familyOf(m[1]);
    if (!f || !f.type) throw new Error(`line ${line}: sample ${m[1]} has no TYPE before it`);
    f.samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3], line) : {}, value: parseValue(m[4], line) });
  });
  for (const f of fams.values()) if (f.type === 'histogram') checkHistogram(f);
  return [...fams.values()];
}

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of f.samples) {
    const k = seriesKey(s.labels);
    const e = series.get(k) ?? { buckets: [] };
    if (s.name.endsWith('_bucket')) e.buckets.push([parseValue(s.labels.le, 0), s.value]);
    if (s.name.endsWith('_count')) e.count = s.value;
    series.set(k, e);
  }
  for (const [k, e] of series) {
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0]) || e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${f.name}${k}: buckets not increasing at le=${e.buckets[i][0]}`);
    }
    const last = e.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    if (e.count !== last[1]) throw new Error(`${f.name}${k}: _count ${e.count} != +Inf bucket ${last[1]}`);
  }
}

/** The value of the sample `name` whose labels include `labels`. */
export function sampleValue(fams: Family[], name: string, labels: Record<string, string>): number {
  for (const f of fams) for (const s of f.samples) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return NaN;
}
