// Which imports stand for JS Math: `Math.exp` (module "Math") or AssemblyScript's
// `--use Math=JSMath` bindings (`env."Math.exp"`, constants like `env."Math.PI"`). One
// answer for the derivative rules, the store analysis and the runtime that supplies them.

/** The JS Math member an import stands for, or null for any other import. */
export function mathImportName(imp: { module: string; base: string }): string | null {
  if (imp.module === "Math") return imp.base;
  if (imp.module === "env" && imp.base.startsWith("Math.")) return imp.base.slice(5);
  return null;
}
