/**
 * Map a path in the parsed value (`['deployments', 'x', 'replicas']`) back to a line and
 * column in the YAML source, and find duplicate keys (which the YAML library would
 * otherwise report without a path).
 */
import { type Document, type LineCounter, type Node, type Pair, isAlias, isMap, isNode, isScalar, isSeq } from 'yaml';

export type PathSegment = string | number;

export interface Position {
  line: number;
  col: number;
}

/** `deployments.credit-risk.replicas`; other segments are quoted (`models["fraud.v2"]`) and indexes bracketed (`[0]`). */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function deref(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function findPair(doc: Document, node: unknown, seg: PathSegment): { pair?: Pair; child: unknown } | undefined {
  const n = deref(doc, node);
  if (isMap(n)) {
    // The last pair wins, as it does when the YAML is converted to a value.
    for (let i = n.items.length - 1; i >= 0; i--) {
      const pair = n.items[i] as Pair;
      if (keyText(pair.key) === String(seg)) return { pair, child: pair.value };
    }
    return undefined;
  }
  if (isSeq(n) && typeof seg === 'number') {
    return seg < n.items.length ? { child: n.items[seg] } : undefined;
  }
  return undefined;
}

function startOf(node: unknown, lc: LineCounter): Position | undefined {
  if (!isNode(node) || node.range == null) return undefined;
  const p = lc.linePos(node.range[0]);
  return { line: p.line, col: p.col };
}

function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && (node.source === '' || node.source === undefined);
}

/**
 * Where `path` is written. With `at: 'key'`, the position of the last key itself (for
 * unknown or badly named keys); otherwise the position of its value. When the path does
 * not exist (a missing required field), the position of the deepest key that does.
 */
export function locate(doc: Document, lc: LineCounter, path: readonly PathSegment[], at: 'key' | 'value' = 'value'): Position {
  let node: unknown = doc.contents;
  let lastKey: unknown;
  for (let i = 0; i < path.length; i++) {
    const found = findPair(doc, node, path[i] as PathSegment);
    if (found === undefined) break;
    if (i === path.length - 1) {
      const keyPos = startOf(found.pair?.key, lc);
      if (at === 'key' && keyPos) return keyPos;
      const valuePos = isEmptyScalar(found.child) || found.child == null ? undefined : startOf(found.child, lc);
      return valuePos ?? keyPos ?? startOf(found.child, lc) ?? { line: 1, col: 1 };
    }
    lastKey = found.pair?.key ?? found.child;
    node = found.child;
  }
  return startOf(lastKey, lc) ?? startOf(doc.contents, lc) ?? { line: 1, col: 1 };
}

export interface DuplicateKey {
  path: PathSegment[];
  at: Position;
  first: Position;
}

/** Every key that appears twice in the same map, with both positions. */
export function findDuplicateKeys(doc: Document, lc: LineCounter): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown, path: PathSegment[]): void => {
    if (!isNode(node) || seen.has(node)) return;
    seen.add(node);
    if (isMap(node)) {
      const first = new Map<string, Node | unknown>();
      for (const pair of node.items) {
        const k = keyText(pair.key);
        const prior = first.get(k);
        if (prior === undefined) first.set(k, pair.key);
        else {
          out.push({
            path: [...path, k],
            at: startOf(pair.key, lc) ?? { line: 1, col: 1 },
            first: startOf(prior, lc) ?? { line: 1, col: 1 },
          });
        }
        walk(pair.value, [...path, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);
  return out;
}
