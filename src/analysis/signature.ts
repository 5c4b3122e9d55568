// Activity signatures: how each parameter of a function is differentiated at a call site.
// The runtime derives the entry's signature from the user's annotations; call sites derive
// callees' signatures from their own analyses. One derivative function exists per signature.

/**
 * - "active": a float parameter that carries a derivative (tangent in forward mode, adjoint out in reverse);
 * - "dup": an i32 pointer to memory that has a shadow (the shadow pointer is passed beside it);
 * - "const-ptr": an i32 pointer to memory without a shadow (a Const buffer);
 * - "const": any other parameter (integers, Const floats);
 * - "unknown": an i32 whose provenance the caller cannot tell (loaded from memory, returned by a call):
 *   the callee may use it as an integer, but an active access through it is refused.
 */
export type ParamActivity = "active" | "dup" | "const-ptr" | "const" | "unknown";

export interface ActivitySignature {
  params: ParamActivity[];
  /** Whether the (single, float) result carries a derivative. */
  resultActive: boolean;
}

const LETTER: Record<ParamActivity, string> = { active: "A", dup: "D", "const-ptr": "P", const: "C", unknown: "U" };
export const signatureKey = (s: ActivitySignature): string => {
  let k = "";
  for (const p of s.params) k += LETTER[p];
  return k + (s.resultActive ? ">A" : ">C");
};
