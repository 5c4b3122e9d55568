// Which loads read memory that nothing writes during a derivative call. Such "stable"
// loads can be evaluated again in the reverse sweep instead of being recorded. For the
// entry function provenance is precise (a buffer is stable when no store, bulk memory
// op or storing callee touches it); inside callees every load counts as stable only when
// nothing reachable from the entry stores at all.
import type { Expr, IRFunction, IRModule } from "../ir/types.js";
import { mathImportName } from "../ir/math-imports.js";
import { forEachNode } from "../ir/walk.js";
import type { PointerAnalysis } from "./pointers.js";
import { SHADOW_ALLOC, SHADOW_REALLOC, SHADOW_UNREALLOC } from "./allocators.js";

const WRITES = new Set(["store", "memory.copy", "memory.fill"]);

export class StoreSummary {
  private readonly memo = new Map<string, boolean>();
  constructor(private readonly mod: IRModule) {}

  /** Whether calling fn can write memory (itself or through anything it calls). */
  mayStore(name: string, visiting = new Set<string>()): boolean {
    const known = this.memo.get(name);
    if (known !== undefined) return known;
    // the shadow allocator writes the tape only, which no load of a kernel reads
    if (visiting.has(name) || name === SHADOW_ALLOC || name === SHADOW_REALLOC || name === SHADOW_UNREALLOC) return false;
    visiting.add(name);
    const fn = this.mod.functions.find((f) => f.name === name);
    let stores = false;
    // JS Math functions (imported from "Math", or AssemblyScript's env."Math.*" bindings) touch no memory
    if (!fn || fn.import) stores = !fn || mathImportName(fn.import!) === null;
    else forEachNode(fn.body as Expr, (n) => {
      if (stores) return;
      if (WRITES.has(n.kind) || n.kind === "call_indirect") stores = true;
      else if (n.kind === "call" && this.mayStore(n.func, visiting)) stores = true;
    });
    visiting.delete(name);
    this.memo.set(name, stores);
    return stores;
  }
}

export class StableMemory {
  private readonly writtenParams = new Set<number>();
  private writesOther = false;
  private allWritten = false;

  /**
   * `entry`: the function the runtime calls. Its own loads are judged precisely when fn is the
   * entry and nothing calls it back; any other function's loads are stable only if nothing
   * reachable from the entry stores.
   */
  constructor(readonly fn: IRFunction, private readonly ptr: PointerAnalysis, stores: StoreSummary, entry: string | null, entryIsCalled: boolean) {
    if (fn.name !== entry || entryIsCalled) { this.allWritten = stores.mayStore(entry ?? fn.name); return; }
    const mark = (addr: Expr) => {
      const p = ptr.of(addr);
      if (p.kind === "arg") this.writtenParams.add(p.param);
      else if (p.kind === "int") this.writesOther = true;
      else this.allWritten = true;
    };
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "store" || n.kind === "memory.fill") mark(n.kind === "store" ? n.addr : n.dest);
      else if (n.kind === "memory.copy") mark(n.dest);
      else if (n.kind === "call_indirect") this.allWritten = true;
      else if (n.kind === "call" && stores.mayStore(n.func)) {
        // a storing callee may write through any pointer it receives, and module memory
        this.writesOther = true;
        for (const a of n.args) if (a.type === "i32") { const p = ptr.of(a); if (p.kind === "arg") this.writtenParams.add(p.param); else if (p.kind === "unknown") this.allWritten = true; }
      }
    });
  }

  /** What the function writes: argument buffers by parameter, other module memory, or anything (untraced). */
  written(): { params: Set<number>; other: boolean; all: boolean } {
    return { params: new Set(this.writtenParams), other: this.writesOther, all: this.allWritten };
  }

  /** Whether the memory a load reads is never written during the call. */
  isStable(load: Expr): boolean {
    if (load.kind !== "load" || this.allWritten) return false;
    const p = this.ptr.of(load.addr);
    if (p.kind === "arg") return !this.writtenParams.has(p.param);
    if (p.kind === "int") return !this.writesOther;
    // a block the kernel allocated may be freed and its memory handed out again (a GC step in
    // a later allocation, free then malloc): never read it again in the reverse sweep
    return false;
  }
}
