// How every command prints: a table for people by default, or its whole result as JSON or YAML for scripts.
import { stringify } from 'yaml';
import { PluginError } from './errors.ts';

export const FORMATS = ['table', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

export interface Table {
  headers: string[];
  rows: string[][];
}

/** What a command found: tables and lines for people, `data` for -o json|yaml, `ok` false for a non-zero exit. */
export interface Report {
  tables: Table[];
  notes: string[];
  data: unknown;
  ok: boolean;
}

export function parseFormat(value: string | undefined): Format {
  if (value === undefined) return 'table';
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  throw new PluginError(`-o ${JSON.stringify(value)}: unknown output format (expected json or yaml)`);
}

/** Counts are BigInt (an IPv6 pool may hold more than 2^53 addresses): numbers when exact, strings otherwise. */
const plain = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    ),
  );

export function render(report: Report, format: Format): string {
  if (format === 'json') return `${JSON.stringify(plain(report.data), null, 2)}\n`;
  if (format === 'yaml') return stringify(plain(report.data));
  const blocks = report.tables.filter((t) => t.rows.length > 0).map(formatTable);
  if (report.notes.length > 0) blocks.push(report.notes.join('\n'));
  return blocks.length > 0 ? `${blocks.join('\n\n')}\n` : '';
}

/** kubectl's layout: upper-case headers, columns three spaces apart, no borders. */
function formatTable({ headers, rows }: Table): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
