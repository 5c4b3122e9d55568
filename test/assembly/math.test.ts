// AssemblyScript's own math: Mathf (f32) goes to JS Math with f32 signatures (JSMathf, as
// Math goes to JSMath), and NativeMath/NativeMathf functions that the module keeps as
// functions are recognised by name and differentiated by their rules, not through their bit
// tricks. Every function of the issue's list is checked: reverse and forward against finite
// differences and against each other, at points away from kinks.
import { describe, expect, it } from "vitest";
import { Active, Program, Reverse, UnsupportedError, autodiff } from "../../src/index.js";
import { checkScalarKernel } from "../helpers/check.js";

// name, AssemblyScript expression of x (and y), arguments
const unary: [string, string, number][] = [
  ["exp", "exp(x)", 0.7], ["exp2", "exp2(x)", 0.7], ["expm1", "expm1(x)", 0.3], ["log", "log(x)", 1.7], ["log2", "log2(x)", 1.7],
  ["log10", "log10(x)", 1.7], ["log1p", "log1p(x)", 0.4], ["sin", "sin(x)", 0.9], ["cos", "cos(x)", 0.9], ["tan", "tan(x)", 0.6],
  ["asin", "asin(x)", 0.4], ["acos", "acos(x)", 0.4], ["atan", "atan(x)", 0.8], ["sinh", "sinh(x)", 0.8], ["cosh", "cosh(x)", 0.8],
  ["tanh", "tanh(x)", 0.8], ["asinh", "asinh(x)", 0.8], ["acosh", "acosh(x)", 1.8], ["atanh", "atanh(x)", 0.4], ["cbrt", "cbrt(x)", 1.9],
  ["sqrt", "sqrt(x)", 1.9], ["abs", "abs(x)", -1.3], ["floor", "floor(x) + x", 1.3], ["ceil", "ceil(x) + x", 1.3],
  ["round", "round(x) + x", 1.3], ["sign", "sign(x) + x", -1.3], ["trunc", "trunc(x) + x", 1.3],
];
const binary: [string, string, number, number][] = [
  ["pow", "pow(x, y)", 1.3, 0.7], ["atan2", "atan2(x, y)", 0.6, 1.1], ["hypot", "hypot(x, y)", 0.6, 1.1], ["min", "min(x, y)", 0.6, 1.1], ["max", "max(x, y)", 0.6, 1.1],
];

const source = (ns: string, t: string) => [
  ...unary.map(([n, e]) => `export function ${n}_k(x: ${t}): ${t} { return ${e.replace(/\b([a-z0-9]+)\(/g, `${ns}.$1(`)} * <${t}>1.5; }`),
  ...binary.map(([n, e]) => `export function ${n}_k(x: ${t}, y: ${t}): ${t} { return ${e.replace(/\b([a-z0-9]+)\(/g, `${ns}.$1(`)} * <${t}>1.5; }`),
].join("\n");

describe("Mathf (f32): JS Math with f32 signatures and derivative rules", () => {
  it.each([...unary.map(([n, , x]) => [n, [x]] as const), ...binary.map(([n, , x, y]) => [n, [x, y]] as const)])("Mathf.%s", async (name, args) => {
    const p = await mathfProgram();
    await checkScalarKernel(p, `${name}_k`, [...args], { label: `Mathf.${name}` });
  });
});

describe("Math (f64) through JSMath", () => {
  it.each([...unary.filter(([n]) => n !== "exp2").map(([n, , x]) => [n, [x]] as const), ...binary.map(([n, , x, y]) => [n, [x, y]] as const)])("Math.%s", async (name, args) => {
    const p = await mathProgram();
    await checkScalarKernel(p, `${name}_k`, [...args], { label: `Math.${name}` });
  });
});

describe("NativeMath kept as functions of the module", () => {
  it("calls to NativeMath.* functions are differentiated by their rules", async () => {
    // sin, cos, log and pow are large enough that asc -O3 keeps them as functions
    const src = `export function k(x: f64, y: f64): f64 { return NativeMath.sin(x) * NativeMath.cos(y) + NativeMath.log(x + y) + NativeMath.pow(x, y); }`;
    const p = await Program.fromAssemblyScript(src);
    const kept = p.ir.functions.filter((f) => f.name.startsWith("~lib/math/NativeMath.")).map((f) => f.name.slice(21));
    expect(kept).toEqual(expect.arrayContaining(["sin", "cos", "log", "pow"]));
    await checkScalarKernel(p, "k", [0.7, 1.3], { label: "NativeMath" });
  });

  it("NativeMath code inlined into a kernel is refused at its bit reads, naming the remedy", async () => {
    const p = await Program.fromAssemblyScript(`export function k(x: f64): f64 { return NativeMath.exp(x) * 2.0; }`);
    expect(p.ir.functions.some((f) => f.name === "~lib/math/NativeMath.exp")).toBe(false); // asc -O3 inlined it
    await expect(autodiff(Reverse, p.kernel("k"), Active(0.5))).rejects.toThrow(UnsupportedError);
    await expect(autodiff(Reverse, p.kernel("k"), Active(0.5))).rejects.toThrow(/NativeMath.*Mathf \(Program\.fromAssemblyScript maps them to JS Math\)/);
  });
});

describe("math: \"wasm\": AssemblyScript's NativeMath/NativeMathf compiled into the module, kept as functions", () => {
  it.each([...unary.map(([n, , x]) => [n, [x]] as const), ...binary.map(([n, , x, y]) => [n, [x, y]] as const)])("Math.%s and Mathf.%s", async (name, args) => {
    for (const [ns, t] of [["Math", "f64"], ["Mathf", "f32"]] as const) {
      const p = await (nativePrograms[ns] ??= Program.fromAssemblyScript(source(ns, t), { math: "wasm" }));
      await checkScalarKernel(p, `${name}_k`, [...args], { label: `${ns}.${name} (math: "wasm")` });
    }
  });

  it("no JS Math is imported, and the software math asc would inline stays a function the rules reach", async () => {
    const p = await Program.fromAssemblyScript(`export function k(x: f64): f64 { return Math.exp(x) * Math.tanh(x); }`, { math: "wasm" });
    expect(p.ir.functions.filter((f) => f.import).map((f) => f.name)).toEqual([]);
    expect(p.ir.functions.map((f) => f.name)).toEqual(expect.arrayContaining(["~lib/math/NativeMath.exp", "~lib/math/NativeMath.tanh"]));
    const x = 0.4, r = await autodiff(Reverse, p.kernel("k"), Active(x));
    expect(r.derivs[0]).toBeCloseTo(Math.exp(x) * Math.tanh(x) + Math.exp(x) * (1 - Math.tanh(x) ** 2), 14);
  });

  it("any other value of math is a ParseError", async () => {
    await expect(Program.fromAssemblyScript("export function k(x: f64): f64 { return x; }", { math: "native" as never })).rejects.toThrow(/math option .* "js" or "wasm", got native/);
  });
});

const nativePrograms: Record<string, Promise<Program> | undefined> = {};
let mathf: Promise<Program> | null = null, math: Promise<Program> | null = null;
const mathfProgram = () => (mathf ??= Program.fromAssemblyScript(source("Mathf", "f32")));
const mathProgram = () => (math ??= Program.fromAssemblyScript(source("Math", "f64").split("\n").filter((l) => !l.includes("exp2")).join("\n")));
