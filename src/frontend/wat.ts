// WAT text to Wasm bytes through wabt (one instance per process: creating one costs ~10 ms).
import { ParseError } from "../errors.js";

type Wabt = Awaited<ReturnType<typeof import("wabt")>>;
let wabtPromise: Promise<Wabt> | null = null;

const FEATURES = { mutable_globals: true, sat_float_to_int: true, sign_extension: true, multi_value: true, bulk_memory: true };

export async function watToWasm(text: string): Promise<Uint8Array> {
  // wabt is CommonJS (`export =`): its factory is the default export at run time
  wabtPromise ??= import("wabt").then((m) => ((m as unknown as { default: () => Promise<Wabt> }).default ?? (m as unknown as () => Promise<Wabt>))());
  const wabt = await wabtPromise;
  let mod: ReturnType<Wabt["parseWat"]> | null = null;
  try {
    mod = wabt.parseWat("input.wat", text, FEATURES);
    mod.resolveNames();
    mod.validate();
    return new Uint8Array(mod.toBinary({ write_debug_names: true }).buffer);
  } catch (e) {
    throw new ParseError(`invalid WAT: ${(e as Error).message ?? String(e)}`);
  } finally {
    mod?.destroy();
  }
}
