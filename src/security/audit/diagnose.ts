/** What is wrong with an audit chain that does not verify, and which entry. */
import type { AuditHead, AuditRow } from '../../store/audit.js';
import { GENESIS_HASH, hashesAs, type AuditProblem } from './chain.js';


export type Finding = { problem: AuditProblem; seq: number; message: string };

/**
 * Say what is wrong with a chain (rows by seq) and its recorded head, or undefined when
 * nothing is. Each row carries its own hash, so a row still hashing correctly as some
 * other seq reveals where it came from: swapped (reordered), shifted down (an entry
 * before it was deleted) or shifted up (an entry was inserted).
 */
export function diagnose(rows: readonly AuditRow[], head: AuditHead | undefined): Finding | undefined {
  const maxSeq = rows.reduce((m, r) => Math.max(m, r.seq), head?.seq ?? 0) + rows.length;
  const byHash = new Map(rows.map((r) => [r.hash, r] as const));
  const selfOk = new Map<AuditRow, boolean>();
  const ok = (r: AuditRow): boolean => {
    let v = selfOk.get(r);
    if (v === undefined) selfOk.set(r, (v = hashesAs(r, r.seq)));
    return v;
  };
  /** The seq this row was written as, when it still hashes correctly as some seq. */
  const originalSeq = (r: AuditRow): number | undefined => {
    if (ok(r)) return r.seq;
    const pred = r.prev_hash === GENESIS_HASH ? undefined : byHash.get(r.prev_hash);
    const guess = r.prev_hash === GENESIS_HASH ? 1 : pred && ok(pred) ? pred.seq + 1 : undefined;
    if (guess !== undefined && hashesAs(r, guess)) return guess;
    for (let s = 1; s <= maxSeq; s++) if (s !== r.seq && hashesAs(r, s)) return s;
    return undefined;
  };
  /** Where the entry originally numbered `seq` is stored now. */
  const storedAt = (seq: number): AuditRow | undefined => rows.find((r) => (r.seq === seq ? ok(r) : hashesAs(r, seq)));

  let prev = { seq: 0, hash: GENESIS_HASH };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const expected = prev.seq + 1;
    if (row.seq > expected) {
      const moved = storedAt(expected);
      if (moved) return { problem: 'reordered', seq: expected, message: `entry ${expected} is out of order: it is stored as entry ${moved.seq}` };
      const missing = row.seq - expected === 1 ? `entry ${expected} is missing` : `entries ${expected}-${row.seq - 1} are missing`;
      const context = prev.seq === 0 ? `the trail starts at entry ${row.seq}` : `entry ${prev.seq} is followed by entry ${row.seq}`;
      return { problem: 'deleted', seq: expected, message: `${missing} (deleted): ${context}` };
    }
    if (!ok(row)) {
      const orig = originalSeq(row);
      if (orig !== undefined) {
        const displaced = storedAt(row.seq);
        if (displaced?.seq === orig) {
          return { problem: 'reordered', seq: row.seq, message: `entries ${row.seq} and ${orig} were swapped: entry ${orig} is stored as ${row.seq} and entry ${row.seq} as ${orig}` };
        }
        if (orig > row.seq && displaced === undefined) {
          const gone = orig - row.seq === 1 ? `entry ${row.seq} was deleted` : `entries ${row.seq}-${orig - 1} were deleted`;
          return { problem: 'deleted', seq: row.seq, message: `${gone} and the later entries renumbered: entry ${orig} is stored as ${row.seq}` };
        }
        if (orig < row.seq) {
          const added = row.seq - orig === 1 ? `entry ${orig} was inserted` : `entries ${orig}-${row.seq - 1} were inserted`;
          return { problem: 'inserted', seq: orig, message: `${added} and the later entries renumbered: the original entry ${orig} is stored as ${row.seq}` };
        }
        return { problem: 'reordered', seq: row.seq, message: `entry ${orig} is out of order: it is stored as entry ${row.seq}` };
      }
      const next = rows[i + 1];
      if (next && !ok(next) && originalSeq(next) === row.seq) {
        return { problem: 'inserted', seq: row.seq, message: `entry ${row.seq} was inserted and the later entries renumbered: the original entry ${row.seq} is stored as ${next.seq}` };
      }
      return { problem: 'edited', seq: row.seq, message: `entry ${row.seq} was edited: its content no longer matches its hash` };
    }
    if (row.prev_hash !== prev.hash) {
      const pred = byHash.get(row.prev_hash);
      if (pred && pred !== rows[i - 1]) {
        return { problem: 'reordered', seq: row.seq, message: `entry ${row.seq} is out of order: it was written after entry ${pred.seq}, not after entry ${prev.seq}` };
      }
      if (prev.seq === 0) return { problem: 'edited', seq: row.seq, message: `entry ${row.seq} was rewritten: it does not start from the genesis hash` };
      return { problem: 'edited', seq: prev.seq, message: `entry ${prev.seq} was edited and its hash recomputed: entry ${row.seq} still links to its original hash` };
    }
    prev = { seq: row.seq, hash: row.hash };
  }
  if (!head) return { problem: 'deleted', seq: prev.seq, message: 'the recorded head of the trail (table audit_head) was deleted, so the end of the trail cannot be checked' };
  if (head.seq > prev.seq) {
    const missing = head.seq - prev.seq === 1 ? `entry ${head.seq} is missing` : `entries ${prev.seq + 1}-${head.seq} are missing`;
    return { problem: 'deleted', seq: prev.seq + 1, message: `${missing} (deleted from the end): the recorded head is entry ${head.seq}, the last stored entry is ${prev.seq}` };
  }
  if (head.seq < prev.seq) {
    return { problem: 'inserted', seq: head.seq + 1, message: `entry ${head.seq + 1} was inserted after the recorded head (entry ${head.seq}) without going through the audit log` };
  }
  if (head.hash !== prev.hash) {
    return { problem: 'edited', seq: prev.seq, message: `entry ${prev.seq} was edited and its hash recomputed: it no longer matches the recorded head` };
  }
  return undefined;
}

