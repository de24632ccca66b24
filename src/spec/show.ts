/** How a YAML value is quoted in an error message: `'8080'` (string), `8080`, `true`, `a map`, `nothing`. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'nothing (null)';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return typeof value;
}

/** The kind of a YAML value, for "expected X, got Y": `string '8080'`, `number 3`, `a list`. */
export function showKind(value: unknown): string {
  if (typeof value === 'string') return `string ${showValue(value)}`;
  if (typeof value === 'number') return `number ${value}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  return showValue(value);
}
