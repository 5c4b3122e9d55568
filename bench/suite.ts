// `npm run bench`: the whole benchmark suite in one command, each part in a fresh process
// (timing wants V8 in the same state for every part, and the peers keep handles alive):
//   1. bench/peers.ts (`npm run bench:peers`): our gradient against Rose, jax-js, tfjs, the
//      hand-written AssemblyScript adjoints and finite differences on issue 6's kernels, with
//      the chart bench/peers.svg;
//   2. bench/run.ts (`npm run bench:ratios`): primal, reverse and forward through the public
//      API on the ratio kernels of the first issues (Rosenbrock n = 200 000, heat 200 × 2000,
//      GMM, LSTM), against their targets.
// Both print their tables on stdout. `--json FILE` writes one document with both parts'
// figures ({ peers, ratios }); `--quick` and `--rounds N` go to both parts, every other option
// (kernel sizes, --only, --svg, --math, --trace-limit) to the peers part.
//
//   node dist/bench/suite.js [--quick] [--rounds N] [--json FILE] [peers options]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { USAGE as PEERS_USAGE } from "./peers/cli.js";

const USAGE = `usage: node dist/bench/suite.js [--quick] [--rounds N] [--json FILE] [peers options]
  runs bench:peers, then bench:ratios; --quick and --rounds go to both, --json FILE writes
  both parts' figures as { peers, ratios }, the other options go to bench:peers:
${PEERS_USAGE.split("\n").slice(1).join("\n")}`;

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) { console.log(USAGE); process.exit(0); }
let json: string | null = null;
const both: string[] = [], peersOnly: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--json" || a === "--rounds") {
    const v = argv[i + 1];
    if (v === undefined) { console.error(`${USAGE}\n${a} needs a value`); process.exit(2); }
    if (a === "--json") json = v; else both.push(a, v);
    i++;
  } else if (a === "--quick") both.push(a);
  else peersOnly.push(a);
}

const tmp = mkdtempSync(join(tmpdir(), "wasm-autodiff-bench-"));
const parts = [
  { name: "peers", script: "peers.js", args: [...both, ...peersOnly] },
  { name: "ratios", script: "run.js", args: both },
] as const;
const doc: Record<string, unknown> = {};
let failed = 0, usageError = false;
try {
  for (const p of parts) {
    const out = join(tmp, `${p.name}.json`);
    const script = fileURLToPath(new URL(p.script, import.meta.url));
    process.stderr.write(`bench: ${p.name} (node ${p.script} ${p.args.join(" ")})\n`);
    const r = spawnSync(process.execPath, [script, ...p.args, "--json", out], { stdio: "inherit" });
    // (2: a usage error, already printed: nothing else to run)
    if (r.status === 2) { usageError = true; break; }
    if (r.status !== 0) {
      failed++;
      process.stderr.write(`bench: the ${p.name} part failed (${r.error ? r.error.message : r.signal ?? `exit status ${r.status}`})\n`);
      continue;
    }
    doc[p.name] = JSON.parse(readFileSync(out, "utf8"));
    console.log();
  }
  if (json && !usageError) {
    writeFileSync(json, JSON.stringify(doc, null, 2) + "\n");
    process.stderr.write(`bench: wrote ${json}${failed ? ` (without the ${failed} failed part${failed > 1 ? "s" : ""})` : ""}\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(usageError ? 2 : failed ? 1 : 0);
