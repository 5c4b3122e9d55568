// bench:peers' tables on stdout: every system's gradient per kernel case, then our figures
// per kernel against issue 6's targets, the median over kernels of best peer / ours, and
// every system that could not be timed with its reason.
import type { CaseResult, Meta, Row } from "./results.js";
import { median } from "./timing.js";

export const time = (x?: number): string =>
  x === undefined || !Number.isFinite(x) ? "–"
    : x >= 1000 ? `${(x / 1000).toPrecision(3)} s` : x >= 1 ? `${x.toPrecision(3)} ms` : `${(x * 1000).toPrecision(3)} µs`;
const num = (x?: number) => (x === undefined || !Number.isFinite(x) ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const err = (r: Row) => (r.maxRelErr === undefined ? "–" : r.kind === "ours" ? "(reference)" : `${r.maxRelErr.toExponential(1)}${r.tolerance ? ` (≤ ${r.tolerance})` : ""}`);
const bytes = (b?: number) => (b === undefined ? "–" : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b} B`);
const label = (c: CaseResult) => `${c.id} ${c.size}`;

function table(header: string[], rows: string[][], left = 2): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((x, i) => (i < left ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

const met = (ok: boolean | undefined) => (ok === undefined ? "" : ok ? "met" : "MISSED");

/** Issue 6's targets, judged on the measured figures (printed below and written to JSON). */
export function verdicts(results: CaseResult[]) {
  const withPeers = results.filter((c) => c.summary?.bestPeerOverOurs !== undefined);
  const med = median(withPeers.map((c) => c.summary!.bestPeerOverOurs!));
  const cases = results.filter((c) => !c.error).map((c) => {
    const s = c.summary ?? {}, fc = c.firstCall;
    const firstCallMs = fc ? fc.createMs + fc.firstCallMs : undefined;
    return {
      case: label(c),
      gradOverPrimal: { value: s.gradOverPrimal, target: c.target, met: c.target === undefined || s.gradOverPrimal === undefined ? undefined : s.gradOverPrimal <= c.target },
      oursOverHand: { copy: s.oursOverHand, zeroCopy: s.oursZcOverHand, target: 1.3, met: s.oursZcOverHand === undefined ? undefined : s.oursZcOverHand <= 1.3 },
      fasterThanEveryPeer: s.fasterThanEveryPeer,
      bestPeer: s.bestPeer, bestPeerOverOurs: s.bestPeerOverOurs,
      firstCall: { ms: firstCallMs, compileMs: fc?.compileMs, target: 30, met: firstCallMs === undefined ? undefined : firstCallMs <= 30 },
    };
  });
  return {
    medianBestPeerOverOurs: { value: med, over: withPeers.map(label), target: 3, met: Number.isFinite(med) ? med >= 3 : undefined },
    slowerThanSomePeer: withPeers.filter((c) => !c.summary!.fasterThanEveryPeer).map(label),
    failedOnOurSide: results.filter((c) => c.error).map((c) => ({ case: label(c), error: c.error })),
    cases,
  };
}

export function printReport(results: CaseResult[], meta: Meta): void {
  const out: string[] = [];
  // 1. every system per case
  const rows: string[][] = [];
  for (const c of results) {
    if (rows.length) rows.push(["", "", "", "", "", "", ""]);
    if (c.error) { rows.push([label(c), "wasm-autodiff", "error", "", "", "", ""]); continue; }
    for (const r of c.rows) {
      const g = r.status === "ok" ? `${time(r.gradMs)}${r.estimated ? " (est.)" : ""}`
        : r.status === "too slow" && r.gradMs ? `${r.status} (${time(r.gradMs)})`
          : r.status === "too slow" && r.predictedMs ? `${r.status} (1st ≥ ${time(r.predictedMs)})` : r.status;
      rows.push([label(c), r.system, g, r.status === "ok" && r.kind !== "ours" ? num(r.vsOurs) : "", r.status === "ok" ? num(r.gradOverPrimal) : "",
        r.firstCallMs === undefined ? "" : time(r.firstCallMs), err(r)]);
    }
  }
  out.push(...table(["kernel", "system", "gradient", "× ours", "grad/primal", "first call", "max rel. err (tol.)"], rows));
  out.push("", `gradient: one call returning value and gradient, median of ${meta.timing.rounds} interleaved rounds (samples ≥ ${meta.timing.minSampleMs} ms, warm-up ≥ ${meta.timing.warmupMs} ms and ${meta.timing.warmupCalls} calls).`,
    "× ours: median of per-round (that system's gradient / ours, copy API); > 1 means ours is faster. grad/primal: against that system's own primal (ours: kernel.call).",
    "first call (peers): build/trace/compile + first gradient call, library already loaded. Ours: see the next table.",
    `max rel. err: max_i |g_i − ours_i| / max_i |ours_i| over the whole gradient vector; tolerances: hand-written AS ${meta.tolerances.hand}, f64 peers ${meta.tolerances.f64Peers}, f32 peers (tfjs) ${meta.tolerances.f32Peers}, finite differences ${meta.tolerances.finiteDifferences} (forward differences, h = 1e-7·max(1,|x|)).`,
    "finite differences (est.): the timed call evaluates a spread subset of the coordinates; its time is scaled to n + 1 primal calls (JSON: estimated.of/total).");

  // 2. ours per kernel, against the targets
  const rows2: string[][] = [];
  for (const c of results) {
    if (c.error) continue;
    const o = c.rows.find((r) => r.kind === "ours")!, z = c.rows.find((r) => r.kind === "ours-zc")!, s = c.summary ?? {};
    const fc = c.firstCall;
    rows2.push([label(c), time(o.primalMs), time(o.gradMs), `${num(s.gradOverPrimal)}${c.target ? ` (≤ ${c.target} ${met(s.gradOverPrimal! <= c.target)})` : ""}`,
      time(o.forwardMs), num(s.forwardOverPrimal), time(z.gradMs),
      s.oursOverHand === undefined ? "–" : `${num(s.oursOverHand)} / ${num(s.oursZcOverHand)} ${met(s.oursZcOverHand! <= 1.3)}`,
      s.bestPeer ? `${s.bestPeer} ${num(s.bestPeerOverOurs)}×` : "none ran",
      fc ? `${num(fc.createMs + fc.firstCallMs)} (${num(fc.createMs)} + ${num(fc.firstCallMs)}; compile ${num(fc.compileMs)}) ${met(fc.createMs + fc.firstCallMs <= 30)}` : "–",
      bytes(c.tapeBytes)]);
  }
  out.push("", ...table(["kernel", "primal", "reverse", "reverse/primal (target)", "forward", "fwd/primal", "zero-copy rev.", "ours/hand AS: copy / zero-copy (≤ 1.3)", "best peer (its time / ours)", "first call ms: create + 1st reverse (≤ 30)", "tape"], rows2, 1));
  out.push("", "reverse/primal and fwd/primal: medians of per-round ratios (copy API, kernel.call as primal). ours/hand AS: our gradient / the hand-written AS adjoint (assembly/hand/), copy API and zero-copy; the target is judged on zero-copy (both on resident data).",
    `first call: a fresh Program.fromWasm on the kernel's asc output (lift + instantiate) + its first autodiff(Reverse) call (compile = r.stats.compileMs: differentiate + optimize + instantiate), median of ${meta.firstCallRepeats}; asc itself (what Program.fromAssemblyScript adds) is in JSON firstCall.ascMs.`,
    "tape: r.stats.tapeBytes of one reverse call.");

  // 3. headline figures
  const v = verdicts(results);
  out.push("", `Median over ${v.medianBestPeerOverOurs.over.length} kernel cases of (best peer's gradient time / ours): ${num(v.medianBestPeerOverOurs.value)}× (target ≥ 3: ${met(v.medianBestPeerOverOurs.met)}).`);
  out.push(`Ours faster than every peer that ran: ${v.slowerThanSomePeer.length === 0 ? "on every kernel case (met)" : `MISSED on ${v.slowerThanSomePeer.join("; ")}`}.`);
  const count = (f: (x: (typeof v.cases)[number]) => boolean | undefined) => {
    const judged = v.cases.filter((x) => f(x) !== undefined);
    return `${judged.filter((x) => f(x)).length} of ${judged.length}`;
  };
  out.push(`Targets met: reverse/primal ${count((x) => x.gradOverPrimal.met)}; ours ≤ 1.3 × hand-written AS (zero-copy) ${count((x) => x.oursOverHand.met)}; first call ≤ 30 ms ${count((x) => x.firstCall.met)}.`);
  for (const c of results) {
    if (c.error) { out.push(`${label(c)}: OUR SIDE FAILED: ${c.error}`); continue; }
    if (c.consistency !== undefined && c.consistency > 1e-9) out.push(`${label(c)}: WARNING forward tangent vs reverse gradient · direction differ by ${c.consistency.toExponential(1)}`);
  }

  // 4. what could not be timed, and why
  const bad = results.flatMap((c) => c.rows.filter((r) => r.status !== "ok").map((r) => `${label(c)}, ${r.system}: ${r.status}: ${r.reason}`));
  if (bad.length) out.push("", "Not timed:", ...bad.map((b) => `  ${b}`));
  const ios = new Map<string, Set<string>>();
  for (const c of results) for (const r of c.rows) if (r.io) ios.set(r.system, (ios.get(r.system) ?? new Set()).add(r.io));
  out.push("", "Inputs/outputs (per kernel in JSON):", ...[...ios].map(([s, io]) => `  ${s}: ${[...io].join(" | ")}`));
  out.push(`Math in ours and the hand-written adjoints: ${meta.math === "wasm" ? "AssemblyScript's NativeMath compiled into each module (--math wasm)" : "imports of JS Math (--math js)"}.`);
  out.push(`Measured on src at ${meta.src}.`);
  out.push("Library start-up, excluded above: " + Object.entries(meta.libraryStartupMs).map(([k, v]) => `${k} ${time(v)}`).join("; ") + ".");
  if (Math.max(meta.loadavg.start, meta.loadavg.end) > 0.5)
    out.push(`Load average ${meta.loadavg.start.toFixed(2)} → ${meta.loadavg.end.toFixed(2)} on ${meta.cpus} cpus: other processes were running, expect noisy figures.`);
  if (meta.quick) out.push("--quick: a smoke test of the harness; do not quote these figures.");
  console.log(out.join("\n"));
}
