/**
 * Waiting for a state that no event announces (a revision's outcome, a process's exit):
 * probe every `every` ms until the probe gives a value, or fail after `ms` naming what was awaited.
 */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined, every = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
