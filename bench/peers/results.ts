// The figures bench:peers collects, one CaseResult per kernel case with one Row per system,
// and the derived ratios (per-round ratios, then medians) that the table, the chart and the
// JSON all read. Kept apart from the driver so report.ts and svg.ts need nothing else.
import type { FirstCall } from "./ours.js";
import { median, perRound, quantile } from "./timing.js";

export type Status = "ok" | "not expressible" | "not implemented" | "error" | "too slow" | "wrong gradient";

export interface Row {
  system: string;
  /** ours: the copy API, the reference; ours-zc: zero-copy buffers; hand: hand-written AS adjoint. */
  kind: "ours" | "ours-zc" | "hand" | "fd" | "peer";
  status: Status;
  reason?: string;
  io?: string;
  /** Trace/compile + first gradient call (peers); for ours see CaseResult.firstCall. */
  firstCallMs?: number;
  /** Too slow: the first call predicted from a smaller case (ms, lower bound). */
  predictedMs?: number;
  maxRelErr?: number;
  tolerance?: number;
  /** Finite differences on a subset of the coordinates, time scaled to all of them. */
  estimated?: { of: number; total: number };
  gradPerCallMs?: number[];
  primalPerCallMs?: number[];
  forwardPerCallMs?: number[];
  samples?: number;
  gradMs?: number;
  primalMs?: number;
  forwardMs?: number;
  /** Median of per-round (this gradient / our gradient). */
  vsOurs?: number;
  vsOursIqr?: [number, number];
  gradOverPrimal?: number;
  forwardOverPrimal?: number;
}

export interface CaseResult {
  id: string;
  size: string;
  params: Record<string, number>;
  objective: string;
  target?: number;
  error?: string;
  firstCall?: FirstCall & { totalMsAll: number[] };
  tapeBytes?: number;
  /** Forward tangent vs reverse gradient · direction (relative difference). */
  consistency?: number;
  rows: Row[];
  summary?: Summary;
}

export interface Summary {
  /** Our reverse / our primal (copy API), per-round median. */
  gradOverPrimal?: number;
  forwardOverPrimal?: number;
  /** Our gradient / the hand-written AS adjoint: copy API and zero-copy. */
  oursOverHand?: number;
  oursZcOverHand?: number;
  bestPeer?: string;
  /** Best peer's gradient time / ours (per-round median). */
  bestPeerOverOurs?: number;
  /** Whether every peer that ran is slower than ours. */
  fasterThanEveryPeer?: boolean;
}

/** Run-wide facts the report, the chart and the JSON print. */
export interface Meta {
  date: string;
  node: string;
  cpus: number;
  quick: boolean;
  timing: { rounds: number; minSampleMs: number; warmupMs: number; warmupCalls: number };
  firstCallRepeats: number;
  /** Where AssemblyScript's Math came from in ours and the hand-written adjoints (--math). */
  math: "js" | "wasm";
  tolerances: Record<string, number>;
  loadavg: { start: number; end: number };
  libraryStartupMs: Record<string, number>;
  wallSeconds: number;
  /** git commit of the working tree measured, "+ uncommitted src changes" when src/ was dirty. */
  src: string;
}

/** Fills medians and ratios from the per-round series (the FD estimate scales its series first). */
export function derive(c: CaseResult): void {
  const ours = c.rows.find((r) => r.kind === "ours");
  for (const r of c.rows) {
    if (r.gradPerCallMs) r.gradMs = median(r.gradPerCallMs);
    if (r.primalPerCallMs) r.primalMs = median(r.primalPerCallMs);
    if (r.forwardPerCallMs) r.forwardMs = median(r.forwardPerCallMs);
    if (r.gradPerCallMs && ours?.gradPerCallMs) {
      const v = perRound(r.gradPerCallMs, ours.gradPerCallMs);
      if (v.length) { r.vsOurs = median(v); r.vsOursIqr = [quantile(v, 0.25), quantile(v, 0.75)]; }
    }
    if (r.gradPerCallMs && r.primalPerCallMs) r.gradOverPrimal = median(perRound(r.gradPerCallMs, r.primalPerCallMs));
    if (r.forwardPerCallMs && r.primalPerCallMs) r.forwardOverPrimal = median(perRound(r.forwardPerCallMs, r.primalPerCallMs));
  }
  const s: Summary = {};
  if (ours) { s.gradOverPrimal = ours.gradOverPrimal; s.forwardOverPrimal = ours.forwardOverPrimal; }
  const hand = c.rows.find((r) => r.kind === "hand" && r.status === "ok");
  const zc = c.rows.find((r) => r.kind === "ours-zc");
  if (hand?.gradPerCallMs && ours?.gradPerCallMs) s.oursOverHand = median(perRound(ours.gradPerCallMs, hand.gradPerCallMs));
  if (hand?.gradPerCallMs && zc?.gradPerCallMs) s.oursZcOverHand = median(perRound(zc.gradPerCallMs, hand.gradPerCallMs));
  const peers = c.rows.filter((r) => r.kind === "peer" && r.status === "ok" && r.vsOurs !== undefined);
  if (peers.length) {
    const best = peers.reduce((a, b) => (b.vsOurs! < a.vsOurs! ? b : a));
    s.bestPeer = best.system;
    s.bestPeerOverOurs = best.vsOurs;
    s.fasterThanEveryPeer = peers.every((p) => p.vsOurs! > 1);
  }
  c.summary = s;
}
