/**
 * Splits `kubectl get` table output into its header and rows. Cells are cut at the header's column
 * offsets because an empty cell prints as blanks.
 */
export function table(output: string): { header: string[]; rows: string[][] } {
  const [head = '', ...lines] = output.replace(/\n+$/, '').split('\n');
  const starts = [...head.matchAll(/\S+/g)].map((m) => m.index);
  const cut = (line: string) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim());
  return { header: cut(head), rows: lines.map(cut) };
}
