// bench:peers' chart: gradient time per kernel case for every system, grouped bars on a log
// scale, as a plain string-built SVG (no dependencies). A system without a time (not
// expressible, error, too slow, wrong gradient) gets a cross at the foot of its slot, with the
// reason as the element's tooltip; an estimated time (finite differences on a subset) is drawn faded.
import { writeFileSync } from "node:fs";
import type { CaseResult, Meta } from "./results.js";

const SYSTEMS: { name: string; color: string }[] = [
  { name: "wasm-autodiff", color: "#d62728" },
  { name: "wasm-autodiff zero-copy", color: "#ff9896" },
  { name: "hand-written AS adjoint", color: "#7f7f7f" },
  { name: "finite differences", color: "#c7c7c7" },
  { name: "Rose (f64)", color: "#9467bd" },
  { name: "jax-js jit (f64, wasm)", color: "#1f77b4" },
  { name: "tfjs cpu (f32)", color: "#2ca02c" },
  { name: "tfjs wasm (f32)", color: "#98df8a" },
];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const tickLabel = (ms: number) => (ms >= 1000 ? `${ms / 1000} s` : ms >= 1 ? `${ms} ms` : `${+(ms * 1000).toPrecision(3)} µs`);

export function svgChart(results: CaseResult[], meta: Meta): string {
  const cases = results; // a case whose our side failed keeps its slot, with a cross for ours
  const times = cases.flatMap((c) => c.rows.map((r) => r.gradMs).filter((x): x is number => x !== undefined && x > 0));
  const lo = Math.floor(Math.log10(Math.min(...times, 1e-3))), hi = Math.ceil(Math.log10(Math.max(...times, 1)));
  const slot = 12, groupW = SYSTEMS.length * slot + 20;
  const left = 72, right = 16, top = 86, plotH = 380, bottom = 70;
  const width = Math.max(860, left + cases.length * groupW + right), height = top + plotH + bottom;
  const y = (ms: number) => top + plotH - ((Math.log10(ms) - lo) / (hi - lo)) * plotH;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  o.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  o.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">Gradient time per kernel (log scale; lower is faster)</text>`);
  o.push(`<text x="${left}" y="34" fill="#555">${esc(`median of ${meta.timing.rounds} interleaved rounds, ${meta.date.slice(0, 10)}, node ${meta.node}, ${meta.cpus} cpus, load ${meta.loadavg.start.toFixed(1)}–${meta.loadavg.end.toFixed(1)}${meta.quick ? " (--quick: smoke test)" : ""}; × = no time (hover: reason); faded = estimate`)}</text>`);
  // legend
  SYSTEMS.forEach((s, i) => {
    const lx = left + (i % 4) * 200, ly = 50 + Math.floor(i / 4) * 16;
    o.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`);
  });
  // axis, decade grid lines
  for (let e = lo; e <= hi; e++) {
    const ms = 10 ** e, yy = y(ms).toFixed(1);
    o.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    o.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${tickLabel(ms)}</text>`);
  }
  o.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  o.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  o.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">gradient time per call</text>`);
  // bars
  cases.forEach((c, g) => {
    const gx = left + g * groupW + 10;
    SYSTEMS.forEach((s, i) => {
      const r = c.error && i === 0 ? { status: "error", reason: c.error, gradMs: undefined, estimated: undefined, vsOurs: undefined } : c.rows.find((x) => x.system === s.name);
      const x = gx + i * slot;
      if (!r) return;
      if (r.status === "ok" && r.gradMs !== undefined && r.gradMs > 0) {
        const yy = y(r.gradMs);
        o.push(`<rect x="${x}" y="${yy.toFixed(1)}" width="${slot - 2}" height="${(top + plotH - yy).toFixed(1)}" fill="${s.color}"${r.estimated ? ' fill-opacity="0.45"' : ""}><title>${esc(`${c.id} ${c.size}, ${s.name}: ${r.gradMs.toPrecision(3)} ms${r.estimated ? " (estimated)" : ""}${r.vsOurs ? `, ${r.vsOurs.toFixed(2)}× ours` : ""}`)}</title></rect>`);
      } else {
        const cx = x + (slot - 2) / 2, cy = top + plotH - 8;
        o.push(`<g stroke="${s.color}" stroke-width="2"><title>${esc(`${c.id} ${c.size}, ${s.name}: ${r.status}${r.reason ? `: ${r.reason}` : ""}`)}</title><line x1="${cx - 4}" y1="${cy - 4}" x2="${cx + 4}" y2="${cy + 4}"/><line x1="${cx - 4}" y1="${cy + 4}" x2="${cx + 4}" y2="${cy - 4}"/></g>`);
      }
    });
    const cx = gx + (SYSTEMS.length * slot) / 2;
    o.push(`<text x="${cx}" y="${top + plotH + 16}" text-anchor="middle" font-weight="bold">${esc(c.id)}</text>`);
    // the size on two lines when long ("d=10, k=25, n=1000" → "d=10, k=25" / "n=1000")
    const parts = c.size.split(", ");
    const lines = c.size.length > 14 && parts.length > 1 ? [parts.slice(0, Math.ceil(parts.length / 2)).join(", "), parts.slice(Math.ceil(parts.length / 2)).join(", ")] : [c.size];
    lines.forEach((ln, q) => o.push(`<text x="${cx}" y="${top + plotH + 30 + 13 * q}" text-anchor="middle" fill="#555">${esc(ln)}</text>`));
  });
  o.push("</svg>");
  return o.join("\n") + "\n";
}

export function writeSvg(file: string, results: CaseResult[], meta: Meta): void {
  writeFileSync(file, svgChart(results, meta));
}
