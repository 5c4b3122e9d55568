// bench:peers' command line: what to run (kernels and their sizes), how long to measure, and
// where to write the JSON and the chart. Every size has a flag; the defaults are issue 6's.
import { type TimingOptions, timingFor } from "../measure.js";

export const USAGE = `usage: node dist/bench/peers.js [options]
  --quick                 smoke test: 3 short rounds (not a measurement)
  --rounds N              interleaved rounds (default 15)
  --only K[,K...]         kernels: rosenbrock, mlp, mlp-batch, heat, gmm, ba, lstm, rk4
  --json FILE             write every figure
  --svg FILE              the chart (default bench/peers.svg; --svg none: no chart)
  --rosenbrock N[,N...]   sizes (default 1000,100000)
  --mlp-batch N           batch size (default 1000)
  --heat NxSTEPS          grid and steps (default 100x1000)
  --gmm DxKxN[,DxKxN...]  (default 2x5x1000,10x25x1000)
  --ba P                  observations (default 1000)
  --lstm LxHxT            layers, hidden size, steps (default 2x16x50)
  --rk4 STEPS             (default 10000)
  --math js|wasm          where AssemblyScript's Math comes from, in ours and in the hand-written
                          adjoints alike (Program.fromAssemblyScript's math; default wasm)
  --trace-limit S         a peer whose first call (trace + compile + run) exceeds S seconds,
                          measured or predicted from a smaller trace, is reported as too slow (default 20)`;

export const KERNEL_IDS = ["rosenbrock", "mlp", "mlp-batch", "heat", "gmm", "ba", "lstm", "rk4"] as const;

export interface Cli {
  quick: boolean;
  rounds: number;
  only: Set<string>;
  json: string | null;
  svg: string | null;
  rosenbrock: number[];
  mlpBatch: number;
  heat: [number, number];
  gmm: [number, number, number][];
  ba: number;
  lstm: [number, number, number];
  rk4: number;
  traceLimitMs: number;
  math: "js" | "wasm";
  timing: TimingOptions;
}

function fail(msg: string): never {
  console.error(`${USAGE}\n${msg}`);
  process.exit(2);
}
const int = (s: string, what: string) => {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) fail(`${what}: expected a positive integer, got ${s}`);
  return v;
};
const tuple = (s: string, k: number, what: string) => {
  const parts = s.split("x");
  if (parts.length !== k) fail(`${what}: expected ${k} numbers separated by x, got ${s}`);
  return parts.map((p) => int(p, what));
};

export function parseCli(argv: string[], defaultSvg: string): Cli {
  const cli: Omit<Cli, "timing" | "rounds"> & { rounds: number | null } = {
    quick: false, rounds: null, only: new Set(KERNEL_IDS), json: null, svg: defaultSvg,
    rosenbrock: [1000, 100_000], mlpBatch: 1000, heat: [100, 1000], gmm: [[2, 5, 1000], [10, 25, 1000]],
    ba: 1000, lstm: [2, 16, 50], rk4: 10_000, traceLimitMs: 20_000, math: "wasm",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") { cli.quick = true; continue; }
    if (a === "--help" || a === "-h") { console.log(USAGE); process.exit(0); }
    const v = argv[i + 1];
    if (v === undefined || !a.startsWith("--")) fail(`unknown or incomplete argument: ${a}`);
    i++;
    switch (a) {
      case "--rounds": cli.rounds = int(v, a); break;
      case "--only": {
        const ids = v.split(",");
        for (const id of ids) if (!(KERNEL_IDS as readonly string[]).includes(id)) fail(`--only: unknown kernel ${id}`);
        cli.only = new Set(ids);
        break;
      }
      case "--json": cli.json = v; break;
      case "--svg": cli.svg = v === "none" ? null : v; break;
      case "--rosenbrock": cli.rosenbrock = v.split(",").map((s) => int(s, a)); break;
      case "--mlp-batch": cli.mlpBatch = int(v, a); break;
      case "--heat": cli.heat = tuple(v, 2, a) as [number, number]; break;
      case "--gmm": cli.gmm = v.split(",").map((s) => tuple(s, 3, a) as [number, number, number]); break;
      case "--ba": cli.ba = int(v, a); break;
      case "--lstm": cli.lstm = tuple(v, 3, a) as [number, number, number]; break;
      case "--rk4": cli.rk4 = int(v, a); break;
      case "--trace-limit": cli.traceLimitMs = 1000 * int(v, a); break;
      case "--math": if (v !== "js" && v !== "wasm") fail(`--math: js or wasm, got ${v}`); cli.math = v; break;
      default: fail(`unknown argument: ${a}`);
    }
  }
  const timing: TimingOptions = timingFor(cli.quick, cli.rounds);
  return { ...cli, rounds: timing.rounds, timing };
}
