// The "Math" import namespace every program gets: JS Math's functions, the intrinsics
// whose derivative rules live in src/ad/rules/math.ts, plus exp2.
export const hostMath: Record<string, (...a: number[]) => number> = {
  ...Object.fromEntries(
    Object.getOwnPropertyNames(Math)
      .filter((k) => typeof (Math as unknown as Record<string, unknown>)[k] === "function")
      .map((k) => [k, (Math as unknown as Record<string, (...a: number[]) => number>)[k]]),
  ),
  // not in JS Math, but a rule of ours (AssemblyScript's exp2): importable from "Math" too
  exp2: (x: number) => 2 ** x,
};
