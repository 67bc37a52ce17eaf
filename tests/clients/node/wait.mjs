// Waiting helpers shared by the client-library scenarios (also imported by web/tests through
// them). No timing assertions: only generous bounds.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `f` until it gives something other than undefined; a generous 20 s bound, no timing check. */
export async function waitFor(what, f) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
