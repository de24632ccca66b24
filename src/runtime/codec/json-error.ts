/**
 * Where and why a JSON text is invalid. V8's JSON.parse messages differ between Node
 * versions and some carry no position (`Unexpected token '}', "…" is not valid JSON`), so
 * when JSON.parse fails we rescan the text with this small RFC 8259 scanner to report a
 * stable reason and a character position. It runs only on the error path, and it is
 * iterative: any nesting depth is safe.
 */

export interface JsonErrorLocation {
  /** Index (in UTF-16 code units of the decoded text) of the first invalid character. */
  position: number;
  reason: string;
}

const enum Mode { Value, FirstValue, After, Key, FirstKey }
const ARRAY = 0;
const OBJECT = 1;

function describeChar(text: string, i: number): string {
  if (i >= text.length) return 'end of input';
  const c = text.charCodeAt(i);
  if (c < 0x20 || c === 0x7f) return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`;
  return `character ${JSON.stringify(text[i])}`;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

class Scanner {
  error: JsonErrorLocation | undefined;
  constructor(private readonly text: string) {}

  private fail(position: number, reason: string): number {
    this.error = { position, reason };
    return -1;
  }

  ws(i: number): number {
    const t = this.text;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    return i;
  }

  /** `i` is at the opening quote; returns the index after the closing quote, or -1. */
  string(i: number): number {
    const t = this.text;
    let j = i + 1;
    for (;;) {
      if (j >= t.length) return this.fail(j, 'unterminated string');
      const c = t.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return this.fail(j, `unescaped ${describeChar(t, j)} in string`);
      if (c === 0x5c) {
        const e = t.charCodeAt(j + 1);
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            if (!isHex(t.charCodeAt(j + k))) return this.fail(j, 'invalid \\u escape in string (expected 4 hex digits)');
          }
          j += 6;
          continue;
        }
        // " \ / b f n r t
        if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          j += 2;
          continue;
        }
        return this.fail(j, j + 1 >= t.length ? 'unterminated string' : `invalid escape \\${t[j + 1]} in string`);
      }
      j++;
    }
  }

  number(i: number): number {
    const t = this.text;
    let j = i;
    if (t.charCodeAt(j) === 0x2d) j++;
    if (t.charCodeAt(j) === 0x30) j++;
    else if (isDigit(t.charCodeAt(j))) while (isDigit(t.charCodeAt(j))) j++;
    else return this.fail(j, `invalid number: unexpected ${describeChar(t, j)} (expected a digit)`);
    if (t.charCodeAt(j) === 0x2e) {
      j++;
      if (!isDigit(t.charCodeAt(j))) return this.fail(j, `invalid number: unexpected ${describeChar(t, j)} after the decimal point`);
      while (isDigit(t.charCodeAt(j))) j++;
    }
    const e = t.charCodeAt(j);
    if (e === 0x65 || e === 0x45) {
      j++;
      const s = t.charCodeAt(j);
      if (s === 0x2b || s === 0x2d) j++;
      if (!isDigit(t.charCodeAt(j))) return this.fail(j, `invalid number: unexpected ${describeChar(t, j)} in the exponent`);
      while (isDigit(t.charCodeAt(j))) j++;
    }
    return j;
  }

  literal(i: number): number {
    const t = this.text;
    for (const word of ['true', 'false', 'null']) {
      if (t.startsWith(word, i)) return i + word.length;
    }
    return this.fail(i, `unexpected ${describeChar(t, i)}; expected a value`);
  }

  scan(): JsonErrorLocation | undefined {
    const t = this.text;
    const n = t.length;
    const stack: number[] = [];
    let mode = Mode.Value;
    let i = 0;
    for (;;) {
      i = this.ws(i);
      const c = t.charCodeAt(i);
      const top = stack.length === 0 ? -1 : stack[stack.length - 1];
      switch (mode) {
        case Mode.Value:
        case Mode.FirstValue:
          if (i >= n) return { position: i, reason: 'unexpected end of input; expected a value' };
          if (mode === Mode.FirstValue && c === 0x5d) { stack.pop(); i++; mode = Mode.After; continue; }
          if (c === 0x7b) { stack.push(OBJECT); i++; mode = Mode.FirstKey; continue; }
          if (c === 0x5b) { stack.push(ARRAY); i++; mode = Mode.FirstValue; continue; }
          if (c === 0x22) i = this.string(i);
          else if (c === 0x2d || isDigit(c)) i = this.number(i);
          else i = this.literal(i);
          if (i < 0) return this.error;
          mode = Mode.After;
          continue;
        case Mode.After: {
          if (top === -1) {
            if (i < n) return { position: i, reason: `unexpected ${describeChar(t, i)} after the end of the JSON value` };
            return undefined;
          }
          const close = top === ARRAY ? 0x5d : 0x7d;
          const expected = top === ARRAY ? "',' or ']'" : "',' or '}'";
          if (i >= n) return { position: i, reason: `unexpected end of input; expected ${expected}` };
          if (c === 0x2c) { i++; mode = top === ARRAY ? Mode.Value : Mode.Key; continue; }
          if (c === close) { stack.pop(); i++; continue; }
          return { position: i, reason: `unexpected ${describeChar(t, i)}; expected ${expected}` };
        }
        case Mode.Key:
        case Mode.FirstKey:
          if (i >= n) return { position: i, reason: 'unexpected end of input; expected a property name' };
          if (mode === Mode.FirstKey && c === 0x7d) { stack.pop(); i++; mode = Mode.After; continue; }
          if (c !== 0x22) return { position: i, reason: `unexpected ${describeChar(t, i)}; expected a double-quoted property name` };
          i = this.string(i);
          if (i < 0) return this.error;
          i = this.ws(i);
          if (t.charCodeAt(i) !== 0x3a) return { position: i, reason: `unexpected ${describeChar(t, i)}; expected ':' after the property name` };
          i++;
          mode = Mode.Value;
          continue;
      }
    }
  }
}

/**
 * Locate the first syntax error in `text`, or undefined if the text is valid JSON.
 *
 * @example locateJsonError('{"a":}') // { position: 5, reason: "unexpected character \"}\"; expected a value" }
 */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  return new Scanner(text).scan();
}
