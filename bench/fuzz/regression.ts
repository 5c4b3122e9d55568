// Regression files (test/fuzz/regressions/<hash>.wat): a saved failing kernel as WAT, with
// a first line `;; fuzz-regression {JSON}` holding the input seed and the kernel signature
// (what checkProgram needs besides the WAT), then the failure as `;;` comment lines.
import type { FuzzProgram } from "./generator.js";
import { sigOf, toWat } from "./generator.js";
import type { SavedCase } from "./property.js";

const TAG = ";; fuzz-regression ";

export interface Regression { seed: number; case: SavedCase; header: Record<string, unknown> }

/** The text of a regression file. `origin` adds fields to the header (fast-check seed, path...). */
export function regressionText(program: FuzzProgram, seed: number, failure: string, origin: Record<string, unknown> = {}): string {
  const header = JSON.stringify({ seed, sig: sigOf(program), ...origin });
  const why = failure.split("\n").map((l) => `;; ${l}`).join("\n");
  return `${TAG}${header}\n${why}\n${toWat(program)}\n`;
}

/** Parses a regression file; throws if the header is missing or malformed. */
export function parseRegression(text: string): Regression {
  const first = text.split("\n", 1)[0];
  if (!first.startsWith(TAG)) throw new Error(`a regression file starts with "${TAG}{json}"`);
  const header = JSON.parse(first.slice(TAG.length)) as Record<string, unknown>;
  const { seed, sig } = header as { seed: unknown; sig: SavedCase["sig"] };
  if (typeof seed !== "number" || !sig || !Array.isArray(sig.params)) throw new Error("the regression header needs a numeric seed and a sig");
  return { seed, case: { wat: text, sig }, header };
}
