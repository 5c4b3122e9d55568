// Everything bench:peers knows about one kernel case before timing it: builds every system
// (ours, the hand-written AS adjoint, finite differences, each peer), checks each gradient
// against ours, and returns the calls to time. Nothing is timed whose gradient was not checked;
// a system that fails, cannot express the kernel, gives a wrong gradient or is too slow gets a
// row with the reason instead. Peers with a step count are first tried on smaller versions of
// the case, so a trace that would take minutes is predicted rather than sat through.
import { type KernelCase, type PeerRun, NotExpressible, relErr } from "./common.js";
import { finiteDifferences } from "./fd.js";
import { HandModule } from "./hand.js";
import { buildOurs, firstCall } from "./ours.js";
import type { CaseResult, Row } from "./results.js";

/** The hand-written adjoint computes the same gradient by other arithmetic: it must agree to this. */
export const HAND_TOLERANCE = 1e-9;
/** f64 peers must agree with ours to this; f32 peers (tfjs) to F32_TOLERANCE. */
export const F64_TOLERANCE = 1e-6, F32_TOLERANCE = 1e-3;
/** A peer whose single gradient call takes longer is reported (with that time), not timed. */
const CALL_LIMIT_MS = 10_000;
/** Finite differences over all coordinates when n + 1 primal calls take less than this. */
const FD_BUDGET_MS = 200;

/** One thing to time: a call filling one of a row's series. */
export interface Job {
  row: Row;
  which: "grad" | "primal" | "forward";
  name: string;
  run: () => unknown;
  async: boolean;
  setup?: () => void | Promise<void>;
  /** Multiplies the measured time (finite differences on a subset). */
  scale?: number;
}

export interface CheckOptions { traceLimitMs: number; firstCallRepeats: number; log: (s: string) => void }

export const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0].slice(0, 200)}` : String(e));

interface PeerSpec { system: string; kind: Row["kind"]; make: (c: KernelCase) => Promise<PeerRun> | null; tolerance: number }
const notImplemented = () => null;
const peerSpecs: PeerSpec[] = [
  { system: "Rose (f64)", kind: "peer", make: (c) => c.peers.rose?.(c) ?? notImplemented(), tolerance: F64_TOLERANCE },
  { system: "jax-js jit (f64, wasm)", kind: "peer", make: (c) => c.peers.jax?.(c) ?? notImplemented(), tolerance: F64_TOLERANCE },
  { system: "tfjs cpu (f32)", kind: "peer", make: (c) => c.peers.tfjs?.("cpu", c) ?? notImplemented(), tolerance: F32_TOLERANCE },
  { system: "tfjs wasm (f32)", kind: "peer", make: (c) => c.peers.tfjs?.("wasm", c) ?? notImplemented(), tolerance: F32_TOLERANCE },
];

export async function checkCase(c: KernelCase, o: CheckOptions): Promise<{ res: CaseResult; jobs: Job[]; disposers: (() => void)[] }> {
  const { log } = o;
  const toTime: Job[] = [], disposers: (() => void)[] = [];
  const label = `${c.id} ${c.size}`;
  const res: CaseResult = { id: c.id, size: c.size, params: c.params, objective: c.objective, target: c.target, rows: [] };
  log(`${label}: ours ...`);
  let ref: Float64Array;
  try {
    const ours = await buildOurs(c);
    ref = await ours.gradient();
    const zc = await ours.gradientZeroCopy();
    const cons = await ours.consistency();
    res.consistency = Math.abs(cons.tangent - cons.gradDot) / Math.max(Math.abs(cons.tangent), Math.abs(cons.gradDot), 1e-300);
    res.tapeBytes = (await ours.reverse()).stats.tapeBytes;
    res.firstCall = await firstCall(c, o.firstCallRepeats);
    const rO: Row = { system: "wasm-autodiff", kind: "ours", status: "ok", io: "JS Float64Array copied in/out", maxRelErr: 0 };
    const rZ: Row = { system: "wasm-autodiff zero-copy", kind: "ours-zc", status: "ok", io: "program.alloc buffers", maxRelErr: relErr(zc, ref) };
    if (rZ.maxRelErr !== 0) log(`  WARNING zero-copy gradient differs from the copy API's: ${rZ.maxRelErr}`);
    res.rows.push(rO, rZ);
    toTime.push({ row: rO, which: "primal", name: `${label} ours primal`, run: ours.primal, async: false });
    toTime.push({ row: rO, which: "grad", name: `${label} ours reverse`, run: ours.reverse, async: true });
    toTime.push({ row: rO, which: "forward", name: `${label} ours forward`, run: ours.forward, async: true });
    toTime.push({ row: rZ, which: "primal", name: `${label} ours zero-copy primal`, run: ours.primalZeroCopy, async: false });
    toTime.push({ row: rZ, which: "grad", name: `${label} ours zero-copy reverse`, run: ours.reverseZeroCopy, async: true });
  } catch (e) {
    res.error = describe(e);
    log(`  ours failed: ${res.error}`);
    return { res, jobs: [], disposers };
  }

  // the hand-written AS adjoint: must agree to 1e-9
  const rH: Row = { system: "hand-written AS adjoint", kind: "hand", status: "ok", tolerance: HAND_TOLERANCE };
  res.rows.push(rH);
  try {
    const hand = c.hand(await HandModule.load(c.file, c.math));
    rH.io = hand.io;
    rH.maxRelErr = relErr(hand.gradient(), ref);
    if (!(rH.maxRelErr <= HAND_TOLERANCE)) { rH.status = "wrong gradient"; rH.reason = `max rel. err. ${rH.maxRelErr.toExponential(2)} > ${HAND_TOLERANCE}`; }
    else {
      toTime.push({ row: rH, which: "primal", name: `${label} hand primal`, run: hand.primal, async: false });
      toTime.push({ row: rH, which: "grad", name: `${label} hand adjoint`, run: hand.grad, async: false });
    }
  } catch (e) { rH.status = "error"; rH.reason = describe(e); }
  if (rH.status !== "ok") log(`  hand-written adjoint: ${rH.status}: ${rH.reason}`);

  // finite differences
  const rF: Row = { system: "finite differences", kind: "fd", status: "ok" };
  res.rows.push(rF);
  try {
    const fd = await finiteDifferences(c, FD_BUDGET_MS);
    rF.io = fd.io; rF.tolerance = fd.tolerance;
    rF.maxRelErr = relErr(await fd.gradient(), ref, fd.subset?.indices);
    if (fd.subset) rF.estimated = { of: fd.subset.of, total: fd.subset.total };
    if (!(rF.maxRelErr <= fd.tolerance!)) { rF.status = "wrong gradient"; rF.reason = `max rel. err. ${rF.maxRelErr.toExponential(2)} > ${fd.tolerance}`; }
    else toTime.push({ row: rF, which: "grad", name: `${label} finite differences`, run: fd.grad, async: false, scale: fd.subset ? (fd.subset.total + 1) / (fd.subset.of + 1) : 1 });
  } catch (e) { rF.status = "error"; rF.reason = describe(e); }

  // the peers
  for (const p of peerSpecs) {
    const row: Row = { system: p.system, kind: p.kind, status: "ok", tolerance: p.tolerance };
    res.rows.push(row);
    log(`${label}: ${p.system} ...`);
    try {
      // Smaller versions of the case first (fewer steps): if a first call there, scaled up,
      // exceeds the trace limit, the full one is not attempted (it cannot be interrupted).
      let tooSlow = false;
      for (const small of c.smaller?.() ?? []) {
        let predicted = 0, probeMs = 0;
        try {
          const s = performance.now();
          const run = await p.make(small.case);
          if (run) { await run.setup?.(); await run.grad(); run.dispose?.(); }
          probeMs = performance.now() - s;
          predicted = probeMs * small.factor;
        } catch { break; /* the full case reports its own failure */ }
        if (predicted > o.traceLimitMs) {
          row.status = "too slow";
          row.predictedMs = predicted;
          row.reason = `first call predicted ≥ ${(predicted / 1000).toFixed(0)} s (${(probeMs / 1000).toFixed(2)} s for ${small.case.size}, × ${small.factor.toFixed(0)}) > ${o.traceLimitMs / 1000} s limit; not attempted`;
          tooSlow = true;
          break;
        }
      }
      if (tooSlow) { log(`  ${row.reason}`); continue; }
      const s = performance.now();
      const run = await p.make(c);
      if (!run) { row.status = "not implemented"; row.reason = "no version for this kernel in bench/peers/kernels/"; continue; }
      disposers.push(() => run.dispose?.());
      await run.setup?.();
      await run.grad();
      row.firstCallMs = performance.now() - s;
      row.io = run.io;
      if (row.firstCallMs > o.traceLimitMs) {
        row.status = "too slow"; row.reason = `first call (trace + compile + run) took ${(row.firstCallMs / 1000).toFixed(1)} s > ${o.traceLimitMs / 1000} s`;
        continue;
      }
      await run.setup?.();
      const cs = performance.now();
      const g = await run.gradient();
      const callMs = performance.now() - cs;
      row.tolerance = run.tolerance ?? p.tolerance;
      row.maxRelErr = relErr(g, ref);
      if (!(row.maxRelErr <= row.tolerance)) { row.status = "wrong gradient"; row.reason = `max rel. err. ${row.maxRelErr.toExponential(2)} > ${row.tolerance}`; continue; }
      if (callMs > CALL_LIMIT_MS) {
        row.status = "too slow"; row.gradMs = callMs;
        row.reason = `one gradient call takes ${(callMs / 1000).toFixed(1)} s > ${CALL_LIMIT_MS / 1000} s (not timed further)`;
        continue;
      }
      toTime.push({ row, which: "grad", name: `${label} ${p.system}`, run: run.grad, async: !!run.gradAsync, setup: run.setup });
    } catch (e) {
      row.status = e instanceof NotExpressible ? "not expressible" : "error";
      row.reason = e instanceof RangeError && /call stack/i.test(e.message)
        ? `${describe(e)} (tracing recurses deeper than V8's default stack; a browser cannot raise it)`
        : describe(e);
    }
    if (row.status !== "ok") log(`  ${row.status}: ${row.reason}`);
  }
  return { res, jobs: toTime, disposers };
}
