// Imported first by bench/run.ts, so it runs before any other benchmark code.
//
// Why: once any ArrayBuffer has been detached in a V8 (Node 20) process — and
// `memory.grow()` detaches the old buffer — optimized JS typed-array loops run 1.1–2.1×
// slower for the rest of the process (shared/STACK.md, "V8 trap"). Derivative calls grow
// the program's memory for shadows and the tape, so without this the figures measured
// before the first grow would be taken in a different V8 state from those after it.
// Detaching one dummy buffer up front puts every measurement in the same state.
const dummy = new ArrayBuffer(8);
structuredClone(dummy, { transfer: [dummy] });
if (dummy.byteLength !== 0) throw new Error("bench: the dummy ArrayBuffer was not detached");

export const detachedAtStart = true;
