/**
 * JSON that keeps integers beyond ±(2^53−1) exact, for the CLI's inference requests and
 * answers: INT64 and UINT64 tensors carry such values, and JSON.parse would round them
 * (9007199254740993 becomes 9007199254740992). They are read as bigint and written back as
 * the same digits.
 *
 * @example
 * parseExact('{"data":[9007199254740993, 1.5]}')   // { data: [9007199254740993n, 1.5] }
 * stringifyExact({ data: [2n ** 63n - 1n] })       // '{"data":[9223372036854775807]}'
 */
const MARK = '@@aloft-exact-int:';
const MARK_END = '@@';
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

export function parseExact(text: string): unknown {
  let marked = false;
  const prepared = text.replace(TOKENS, (tok) => {
    if (tok.startsWith('"') || /[.eE]/.test(tok) || Number.isSafeInteger(Number(tok))) return tok;
    marked = true;
    return `"${MARK}${tok}${MARK_END}"`;
  });
  if (!marked) return JSON.parse(text);
  return JSON.parse(prepared, (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith(MARK) && v.endsWith(MARK_END) ? BigInt(v.slice(MARK.length, -MARK_END.length)) : v);
}

export function stringifyExact(value: unknown, indent?: number): string {
  let marked = false;
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    marked = true;
    return `${MARK}${v}${MARK_END}`;
  }, indent);
  return marked ? text.replace(new RegExp(`"${MARK}(-?\\d+)${MARK_END}"`, 'g'), '$1') : text;
}
